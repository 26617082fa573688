/* stats.h - room-wide statistics shared by every gateway and validator.
 *
 * Each process counts what it sees per room (orders received, accepted,
 * confirmed, ..., latency samples) in memory, and about once a second hands
 * the deltas to Redis with one stats_flush.lua call per room: cheap on the
 * hot path, and the room's figures still add up across every process. A
 * reader (the monitor, /metrics) gets a room's figures back with one
 * stats_read.lua call, as a JSON document parsed into a lg_stats_view.
 *
 * Counters are totals since the room opened; latency percentiles cover the
 * last LG_STATS_WINDOW_S seconds (one bucket hash per second, expiring). */
#ifndef LG_QUEUE_STATS_H
#define LG_QUEUE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livegate/histogram.h"
#include "livegate/text.h"
#include "redis_conn.h"

/* Seconds of latency samples the percentiles cover. */
#define LG_STATS_WINDOW_S 30
/* A latency-second hash outlives the window by this much, then expires. */
#define LG_STATS_LATENCY_TTL_S 90
/* Totals of a room nobody touched for this long expire (the order TTL). */
#define LG_STATS_TOTALS_TTL_S (7 * 86400)
/* A gateway whose connection count is older than this is not counted. */
#define LG_STATS_CONN_STALE_MS 5000
/* ... and its field is deleted after this long. */
#define LG_STATS_CONN_FORGET_MS 60000
#define LG_STATS_MAX_CODES 16
#define LG_STATS_CODE_MAX 31

enum lg_stat {
    LG_STAT_RECEIVED,
    LG_STAT_ACCEPTED,
    LG_STAT_DUPLICATES,
    LG_STAT_CONFIRMED,
    LG_STAT_REJECTED,
    LG_STAT_BUSY,
    LG_STAT_RATE_LIMITED,
    LG_STAT_GMV_FEN,
    LG_STAT_SLA_VIOLATIONS,
    /* Orders cancelled unpaid at their payment deadline: counted by
     * pay_timeout.lua itself, with the cancel, not through a delta. */
    LG_STAT_PAY_TIMEOUTS,
    LG_STAT_COUNT
};

/* Field names in lg:{room}:stats; rejections per code are "rej:<CODE>". */
extern const char *const lg_stat_names[LG_STAT_COUNT];

struct lg_stats_code {
    char code[LG_STATS_CODE_MAX + 1];
    unsigned long long n;
};

/* What one process saw in one room since its last flush. */
struct lg_stats_delta {
    char room[LG_ID_MAX + 1];
    unsigned long long counters[LG_STAT_COUNT];
    struct lg_stats_code codes[LG_STATS_MAX_CODES];
    size_t ncodes;
    struct lg_hist *accept_us, *confirm_us; /* allocated at the first sample */
    uint64_t confirm_max_us;
    long connections;          /* live now (gateways) */
    long reported_connections; /* the value Redis holds for this process; -1: none yet */
    bool dirty;
    struct lg_stats_delta *next;
};

void lg_stats_delta_init(struct lg_stats_delta *d, const char *room);
void lg_stats_delta_count(struct lg_stats_delta *d, enum lg_stat stat, unsigned long long n);
/* Counts a rejection with code; codes past LG_STATS_MAX_CODES in one delta
 * are counted as "OTHER". */
void lg_stats_delta_reject_code(struct lg_stats_delta *d, const char *code);
void lg_stats_delta_accept_us(struct lg_stats_delta *d, uint64_t us);
void lg_stats_delta_confirm_us(struct lg_stats_delta *d, uint64_t us);
/* Forgets the deltas (after a flush); keeps the connection figures. */
void lg_stats_delta_clear(struct lg_stats_delta *d);
void lg_stats_delta_free_hists(struct lg_stats_delta *d);

/* A growing list of owned strings: the ARGV of a script call. */
struct lg_strvec {
    char **v;
    size_t n, cap;
};
void lg_strvec_free(struct lg_strvec *sv);

/* The ARGV of stats_flush.lua for d (see the script's header). With
 * report_connections the process's connection count goes along. Returns 0,
 * or -1 when out of memory (sv is then freed). Pure. */
int lg_stats_flush_args(const struct lg_stats_delta *d, const char *process_id,
                        bool report_connections, struct lg_strvec *sv);

/* A room's figures as stats_read.lua answered them (or a merge of rooms). */
struct lg_stats_view {
    long long opened_at_ms; /* when the totals started (room_open.lua); 0: at first use */
    long long connections;
    long long counters[LG_STAT_COUNT];
    struct lg_stats_code codes[2 * LG_STATS_MAX_CODES];
    size_t ncodes;
    /* Accepted and not yet decided: the load hash's counts, or the
     * streams' backlog for a room whose load has none. */
    long long queue_high, queue_normal;
    long long oldest_high_ms, oldest_normal_ms; /* age of the oldest undecided entry, 0: none */
    double drain_per_s; /* the validators' measured rate (sum over rooms); 0: not known */
    /* Predicted wait of a new order per priority; -1: not known. Merged,
     * the longest of the rooms whose wait is known. */
    long long wait_high_ms, wait_normal_ms;
    struct lg_hist accept_us, confirm_us;
    uint64_t confirm_max_us;
};

void lg_stats_view_init(struct lg_stats_view *v);
/* Parses the JSON of stats_read.lua. Returns 0, or -1 when it is not that
 * document (v is then zeroed). Pure. */
int lg_stats_view_parse(const char *json, size_t len, struct lg_stats_view *v);
/* Adds src's figures to dst ("*": every room together). */
void lg_stats_view_merge(struct lg_stats_view *dst, const struct lg_stats_view *src);
/* The oldest undecided entry of either priority, in ms (0: none). */
long long lg_stats_view_oldest_ms(const struct lg_stats_view *v);
/* The wait of a new order with ahead undecided orders in front of it
 * (high: the high ones; normal: high + normal) at rate decisions a
 * second, in ms rounded up; -1 when rate is not known (missing, 0, not a
 * finite positive number). Pure. */
long long lg_stats_predicted_wait_ms(long long ahead, double rate);

/* ---- the per-process accumulator (event-loop glue) ------------------------ */

struct lg_stats;
/* process_id names this process's connection field; report_connections is
 * true for gateways. */
struct lg_stats *lg_stats_new(const char *process_id, bool report_connections);
/* Flushes to r every LG_STATS_FLUSH_MS on loop, whatever else the process
 * runs (monitors or not). lg_stats_stop flushes a last time and closes the
 * timer; free st only after the loop has run down. */
#define LG_STATS_FLUSH_MS 1000
void lg_stats_start(struct lg_stats *st, uv_loop_t *loop, struct lg_redis *r);
void lg_stats_stop(struct lg_stats *st);
void lg_stats_free(struct lg_stats *st);
/* The delta of room, created on first use; NULL when out of memory. */
struct lg_stats_delta *lg_stats_room(struct lg_stats *st, const char *room);
/* Sends one stats_flush.lua per room with something to say, then clears
 * the deltas. A delta that cannot be sent is kept for the next flush. */
void lg_stats_flush(struct lg_stats *st, struct lg_redis *r);
unsigned long long lg_stats_flush_failures(const struct lg_stats *st);

/* Reads room's figures; with_latency also merges the last
 * LG_STATS_WINDOW_S latency seconds (by this process's clock). fn gets the
 * view (NULL when Redis failed), valid during the call only. Returns 0, or
 * -1 when the call could not be sent (fn is not called). */
typedef void (*lg_stats_read_fn)(const struct lg_stats_view *v, void *arg);
int lg_stats_read(struct lg_redis *r, const char *room, bool with_latency, lg_stats_read_fn fn,
                  void *arg);
/* As lg_stats_read, for one room or for "*": every room of the registry
 * (at most max_rooms), merged into one view; NULL when any read failed. */
int lg_stats_read_rooms(struct lg_redis *r, const char *room, size_t max_rooms, bool with_latency,
                        lg_stats_read_fn fn, void *arg);

#endif
