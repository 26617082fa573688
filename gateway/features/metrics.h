/* metrics.h - GET /metrics: this gateway's figures and the rooms' totals in
 * the Prometheus text exposition format (version 0.0.4). Rendering is a pure function of a
 * snapshot so the exact text is unit-tested; metrics.c's other half
 * gathers the snapshot (the queue figures need Redis) and answers. */
#ifndef LG_FEATURES_METRICS_H
#define LG_FEATURES_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/gateway.h"
#include "core/prom_hist.h"
#include "redis_conn.h"
#include "stats.h"

struct lg_metrics_redis {
    const char *conn; /* "main", "replies", "bus" */
    bool up;
    struct lg_redis_stats stats;
};

struct lg_metrics {
    const char *gateway_id;
    unsigned long long connections, monitors;
    unsigned long long counters[LG_CTR_COUNT]; /* gw->counters at the scrape */
    unsigned long long stats_flush_failures;
    const struct lg_prom_hist *accept, *confirm;
    struct lg_metrics_redis redis[4];
    size_t nredis;
    bool bus_known; /* the bus connection: its own counters */
    unsigned long long bus_messages, bus_reconnects;
};

/* The exposition text of m; the caller frees it. NULL when out of memory. */
char *lg_metrics_render(const struct lg_metrics *m, size_t *len);

/* The room totals document (see metrics.c). */
struct lg_metrics_rooms {
    const struct lg_stats_view *total; /* every room read, merged; NULL: Redis failed */
    bool process_elsewhere;            /* the process's counters are on its own address */
};

/* The exposition text of r; the caller frees it. NULL when out of memory. */
char *lg_metrics_render_rooms(const struct lg_metrics_rooms *r, size_t *len);

struct lg_http;
/* Answers GET /metrics on h: from the cache when it is less than a second
 * old, else after the refresh that is in flight or that this starts. */
void lg_metrics_serve(struct lg_http *h);
/* Answers GET /metrics on the process's own address: its counters,
 * rendered now, without a Redis call. */
void lg_metrics_serve_process(struct lg_http *h);

#endif
