/* monitor_frames.h - the pure parts of the monitor channel: the
 * monitor.stats and monitor.order frames, the per-connection sampling of
 * the feed, and splicing a per-connection count into a frame built once
 * for every monitor. Unit-tested without sockets or Redis. */
#ifndef LG_RULES_MONITOR_FRAMES_H
#define LG_RULES_MONITOR_FRAMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* Bytes a monitor may have queued unread before feed frames are dropped... */
#define LG_MONITOR_FEED_MAX_QUEUED (256u * 1024)
/* ... and before monitor.stats frames are skipped too (the next second
 * brings a fresh one). A monitor is never cut off for being slow. */
#define LG_MONITOR_STATS_MAX_QUEUED (1024u * 1024)

/* The dump flags of every monitor frame: latencies keep microseconds. */
#define LG_MONITOR_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

/* monitor.stats for room ("*": every room) at ts_ms; req may be NULL.
 * Every field of the contract is present, zero when nothing happened. */
json_t *lg_monframe_stats(const char *room, int64_t ts_ms, const struct lg_stats_view *v,
                          const char *req);

/* monitor.order from a feed or status event (JSON as published on
 * lg:ev:feed:<room> or lg:ev:status). Only listed fields are copied, and
 * buyer and phone only when they are masked (otherwise "*" / "****"), so
 * a careless publisher cannot leak personal data. NULL when the event has
 * no room or order id. */
json_t *lg_monframe_order(json_t *event);

/* One-second windows of at most limit frames; past it frames are dropped
 * and counted until a frame is let through again. */
struct lg_monframe_gate {
    int64_t window_start_ms;
    unsigned sent;
    unsigned long long dropped_since_sent; /* reported as "dropped" by the next frame */
    unsigned long long dropped_total;      /* reported as "feed_dropped" by monitor.stats */
};

/* True when a frame may go now (the caller then sends it with
 * dropped_since_sent and calls lg_monframe_gate_sent); false: it was counted
 * as dropped. */
bool lg_monframe_gate_admit(struct lg_monframe_gate *g, int64_t now_ms, unsigned limit);
void lg_monframe_gate_sent(struct lg_monframe_gate *g);
/* Counts a frame that was admitted but could not be queued. */
void lg_monframe_gate_drop(struct lg_monframe_gate *g);

/* text is a JSON object ending in '}'. Returns a malloc'd copy with
 * ,"field":n inserted before the closing brace (or a plain copy when
 * always is false and n is 0), and its length in *out_len. NULL when text
 * is not an object or out of memory. */
char *lg_monframe_splice(const char *text, size_t len, const char *field, unsigned long long n,
                         bool always, size_t *out_len);

#endif
