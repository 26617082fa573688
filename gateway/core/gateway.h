/* gateway.h - the state of one gateway process: its event loop, the
 * libwebsockets context, the Redis connection and the per-process indexes.
 * There is exactly one per process and it lives for the whole run; every
 * callback reaches it through lws_context_user() or a back pointer. */
#ifndef LG_CORE_GATEWAY_H
#define LG_CORE_GATEWAY_H

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

#include "core/gateway_config.h"
#include "core/prom_hist.h"
#include "livegate/list.h"
#include "livegate/strmap.h"
#include "redis_conn.h"

struct lg_session_hooks;
struct lg_http;
struct lg_results;
struct lg_stats;
struct lg_monitors;
struct lg_bus;
struct lg_sku_notifier;
struct lg_fanout;
struct lg_intake;
struct lg_expiry;

/* This process's event counters since it started, gw->counters[LG_CTR_...],
 * shown by /metrics. An enum rather than named fields so /metrics gathers
 * and renders them in loops. */
enum lg_counter {
    LG_CTR_FRAMES_IN,
    LG_CTR_FRAMES_OUT,
    LG_CTR_ORDERS_RECEIVED,
    LG_CTR_ORDERS_ACCEPTED,
    LG_CTR_ORDERS_DUPLICATE,
    LG_CTR_ORDERS_CONFLICT,
    LG_CTR_ORDERS_INVALID,
    LG_CTR_ORDERS_UNAVAILABLE,
    LG_CTR_ORDERS_FORBIDDEN,
    LG_CTR_ORDERS_BUSY,         /* refused BUSY: the deadline could not be met */
    LG_CTR_ORDERS_RATE_LIMITED, /* refused RATE_LIMITED: user rate or in-flight cap */
    LG_CTR_ORDERS_LAG_SHED,     /* of the BUSY: Redis too far behind to send them */
    LG_CTR_ACCEPTED_HIGH,
    LG_CTR_ACCEPTED_NORMAL,
    LG_CTR_RESULTS_IN,
    LG_CTR_RESULTS_DELIVERED,
    LG_CTR_RESULTS_REPEATED,
    LG_CTR_FEED_DROPPED,      /* monitor.order frames not sent (sampling, slow monitor) */
    LG_CTR_SKU_UPDATES_OUT,   /* sku.update frames queued to viewers */
    LG_CTR_INTAKE_CALLS_HIGH, /* enqueue.lua calls sent, and the orders they carried */
    LG_CTR_INTAKE_CALLS_NORMAL,
    LG_CTR_INTAKE_CALL_ORDERS_HIGH,
    LG_CTR_INTAKE_CALL_ORDERS_NORMAL,
    LG_CTR_COUNT
};

/* Latency histograms for /metrics, since the process started. */
struct lg_gateway_latency {
    struct lg_prom_hist accept;  /* order.submit received -> order.accepted queued */
    struct lg_prom_hist confirm; /* accepted_at_ms -> result read from the reply stream */
};

struct lg_gateway {
    struct lg_gateway_config cfg;
    uv_loop_t *loop;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    /* LIVEGATE_METRICS_LISTEN's: this process's own /metrics, nothing else */
    struct lws_vhost *metrics_vhost;
    int listen_fd; /* ours, shared with sibling processes: see listener.h */
    uv_poll_t listen_poll;
    struct lg_redis *redis;
    struct lg_bus *bus; /* Pub/Sub events from other processes: see bus.h */
    /* sku.update announcements (coalesced) through gw->redis: call
     * lg_sku_notifier_touch after changing a SKU's stock, price or sale state */
    struct lg_sku_notifier *sku_notifier;
    struct lg_fanout *fanout; /* bus events to sessions: see fanout.h */

    struct lg_strmap *conns_per_ip;     /* peer address -> (intptr_t) count */
    struct lg_strmap *registered_rooms; /* rooms this connection put in lg:rooms */
    struct lg_strmap *sessions_by_user; /* "room/user" -> its sessions (lg_session_bucket) */
    struct lg_strmap *sessions_by_room; /* room -> its viewer sessions (lg_session_bucket) */
    struct lg_results *results;         /* the reader of this gateway's reply stream */
    struct lg_intake *intake;           /* order.submit batches waiting for the turn's end */
    struct lg_expiry *expiry;           /* the deadline sweep of the rooms submitted to */
    struct lg_list sessions;            /* every open WebSocket session (lg_session.node) */
    /* Sessions with frames queued this loop turn, written at its end by
     * write_check (lg_session_write_soon, conn/ws.c). */
    struct lg_list write_soon;
    uv_check_t write_check;
    /* Active while write_soon holds sessions: a frame queued after the
     * check ran (by a later check handle) must not wait in a blocked poll. */
    uv_idle_t write_idle;
    bool write_soon_on; /* set up and not taken down: else frames ask lws */
    unsigned long n_sessions;
    uint64_t next_session_id;

    /* What the layers above the connections do with them, installed at
     * startup by dispatch/ (see session.h and http.h): the connection layer
     * calls up only through these. */
    const struct lg_session_hooks *session_hooks;
    void (*http_handler)(struct lg_http *h);

    bool stopping;
    uv_signal_t sig_int, sig_term;
    uv_timer_t stop_timer;

    unsigned long long counters[LG_CTR_COUNT];
    struct lg_gateway_latency latency;
    struct lg_stats *stats;             /* per-room deltas, flushed to Redis every second */
    struct lg_monitors *monitors;       /* monitor.subscribe sessions and their timer */
    struct lg_token_watch *token_watch; /* closes sessions whose token expired */
    unsigned long n_monitors;
};

#endif
