/* monitor.h - the back office's monitor channel on one gateway:
 * monitor.subscribe, a monitor.stats frame per second per subscribed room
 * (read once from Redis and sent to every monitor of that room), and the
 * monitor.order live feed, heard on the bus (bus.h). "*" is a room of its
 * own for admins: every room's figures merged, every room's feed. The room
 * statistics it reads are flushed by every process on its own timer
 * (lg_stats_start in stats.h). */
#ifndef LG_FEATURES_MONITOR_H
#define LG_FEATURES_MONITOR_H

#include <jansson.h>
#include <stdint.h>

#include "core/gateway.h"

struct lg_session;

struct lg_monitors *lg_monitor_new(struct lg_gateway *gw);
/* Starts the one-second timer. */
void lg_monitor_start(struct lg_monitors *m);
/* Stops the timer and closes its handle (a stopping gateway); m itself is
 * freed by lg_monitor_free, after the loop has ended. */
void lg_monitor_stop(struct lg_monitors *m);
void lg_monitor_free(struct lg_monitors *m);

/* Handles {"type":"monitor.subscribe","room_id":..}; the caller has
 * refused viewer tokens already. */
void lg_monitor_subscribe(struct lg_session *s, json_t *root, const char *req);
/* The session is closing: forgets its subscription. Called from the
 * session's close hook (dispatch.c), before the session is freed. */
void lg_monitor_session_gone(struct lg_session *s);

/* A feed or status event (the JSON published on lg:ev:feed:<room> or
 * lg:ev:status: one object, or an array of them, which the feed scripts
 * publish once per call) for this gateway's monitors of its room, and of
 * "*" when to_all. Each object is gated and sent as a monitor.order. */
void lg_monitor_deliver(struct lg_monitors *m, const char *payload, size_t len, bool to_room,
                        bool to_all);

#endif
