/* metrics.c - GET /metrics (see metrics.h). The counters are this
 * process's own; the queue figures are the validators' backlog over every
 * room, read from Redis per scrape (one stats_read.lua per room), so any
 * gateway's scrape shows the same queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/bus.h"
#include "core/gateway.h"
#include "conn/http.h"
#include "keys.h"
#include "features/metrics.h"
#include "features/results.h"
#include "stats.h"

const char *const lg_metrics_outcome_names[LG_OUT_COUNT] = {
    "received", "accepted", "duplicate", "conflict", "invalid", "unavailable", "busy", "forbidden"};

/* Rooms a scrape reads the queue of, at most. */
#define METRICS_MAX_ROOMS 1000

/* ---- rendering (pure) ------------------------------------------------- */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(FILE *f, const char *name, const char *help, const struct lg_prom_hist *h)
{
    static const struct lg_prom_hist empty;
    if (!h)
        h = &empty;
    head(f, name, "histogram", help);
    uint64_t cumulative = 0;
    for (int i = 0; i < LG_PROM_NBUCKETS; i++) {
        cumulative += h->buckets[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, lg_prom_bounds[i],
                (unsigned long long)cumulative);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    fprintf(f, "%s_sum %.6f\n", name, h->sum);
    fprintf(f, "%s_count %llu\n", name, (unsigned long long)h->count);
}

static void redis_family(FILE *f, const struct lg_metrics *m, const char *name, const char *type,
                         const char *help, int which)
{
    head(f, name, type, help);
    for (size_t i = 0; i < m->nredis; i++) {
        const struct lg_metrics_redis *r = &m->redis[i];
        unsigned long long v = which == 0   ? r->up
                               : which == 1 ? r->stats.commands
                               : which == 2 ? r->stats.errors
                               : which == 3 ? r->stats.failures
                                            : r->stats.reconnects;
        fprintf(f, "%s{conn=\"%s\"} %llu\n", name, r->conn, v);
    }
    if (which == 4 && m->bus_known)
        fprintf(f, "%s{conn=\"bus\"} %llu\n", name, m->bus_reconnects);
}

char *lg_metrics_render(const struct lg_metrics *m, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    head(f, "livegate_info", "gauge", "This gateway process; the value is always 1.");
    fprintf(f, "livegate_info{gateway_id=\"%s\"} 1\n", m->gateway_id ? m->gateway_id : "");

    head(f, "livegate_connections", "gauge", "Open WebSocket connections.");
    fprintf(f, "livegate_connections %llu\n", m->connections);
    head(f, "livegate_monitor_subscribers", "gauge", "Connections subscribed to the monitor.");
    fprintf(f, "livegate_monitor_subscribers %llu\n", m->monitors);

    head(f, "livegate_orders_total", "counter", "Order submits by outcome.");
    for (int i = 0; i < LG_OUT_COUNT; i++)
        fprintf(f, "livegate_orders_total{outcome=\"%s\"} %llu\n", lg_metrics_outcome_names[i],
                m->orders[i]);
    head(f, "livegate_orders_accepted_total", "counter", "New orders accepted, by priority.");
    fprintf(f, "livegate_orders_accepted_total{priority=\"high\"} %llu\n", m->accepted_high);
    fprintf(f, "livegate_orders_accepted_total{priority=\"normal\"} %llu\n", m->accepted_normal);

    head(f, "livegate_results_total", "counter",
         "Final results from the reply stream: read, pushed to connections, repeats dropped.");
    fprintf(f, "livegate_results_total{kind=\"in\"} %llu\n", m->results_in);
    fprintf(f, "livegate_results_total{kind=\"delivered\"} %llu\n", m->results_delivered);
    fprintf(f, "livegate_results_total{kind=\"repeated\"} %llu\n", m->results_repeated);

    hist(f, "livegate_accept_latency_seconds",
         "From an order.submit frame received to its order.accepted queued for sending.",
         m->accept);
    hist(f, "livegate_confirm_latency_seconds",
         "From accepted_at_ms to the final result arriving at this gateway.", m->confirm);

    if (m->queue_known) {
        head(f, "livegate_queue_depth", "gauge",
             "Entries not yet decided (pending plus undelivered), every room, by priority.");
        fprintf(f, "livegate_queue_depth{priority=\"high\"} %lld\n", m->queue_high);
        fprintf(f, "livegate_queue_depth{priority=\"normal\"} %lld\n", m->queue_normal);
        head(f, "livegate_queue_oldest_age_seconds", "gauge",
             "Age of the oldest undecided entry, by priority (0: none).");
        fprintf(f, "livegate_queue_oldest_age_seconds{priority=\"high\"} %.3f\n", m->oldest_high_s);
        fprintf(f, "livegate_queue_oldest_age_seconds{priority=\"normal\"} %.3f\n",
                m->oldest_normal_s);
    }

    redis_family(f, m, "livegate_redis_up", "gauge", "1 while the connection is usable.", 0);
    redis_family(f, m, "livegate_redis_commands_total", "counter", "Commands sent.", 1);
    redis_family(f, m, "livegate_redis_errors_total", "counter", "Error replies.", 2);
    redis_family(f, m, "livegate_redis_failures_total", "counter",
                 "Commands lost with their connection or timed out.", 3);
    redis_family(f, m, "livegate_redis_reconnects_total", "counter",
                 "Successful connections after the first.", 4);

    if (m->bus_known) {
        head(f, "livegate_bus_messages_total", "counter",
             "Pub/Sub messages received on the event bus.");
        fprintf(f, "livegate_bus_messages_total %llu\n", m->bus_messages);
    }
    head(f, "livegate_frames_total", "counter", "WebSocket messages received and sent.");
    fprintf(f, "livegate_frames_total{direction=\"in\"} %llu\n", m->frames_in);
    fprintf(f, "livegate_frames_total{direction=\"out\"} %llu\n", m->frames_out);
    head(f, "livegate_monitor_feed_dropped_total", "counter",
         "monitor.order frames dropped by sampling or for a slow monitor.");
    fprintf(f, "livegate_monitor_feed_dropped_total %llu\n", m->feed_dropped);
    head(f, "livegate_stats_flush_failures_total", "counter",
         "Room statistics flushes Redis refused or lost; a delta that could not be sent at all is "
         "kept for the next flush, one sent and lost is not.");
    fprintf(f, "livegate_stats_flush_failures_total %llu\n", m->stats_flush_failures);

    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}

/* ---- serving (event-loop glue) ----------------------------------------- */

struct scrape {
    struct lg_waiter w; /* owner: the HTTP request */
    struct lg_gateway *gw;
};

static void gather(struct lg_gateway *gw, struct lg_metrics *m)
{
    const struct lg_gateway_counters *c = &gw->counters;
    memset(m, 0, sizeof(*m));
    m->gateway_id = gw->cfg.gateway_id;
    m->connections = gw->n_sessions;
    m->monitors = gw->n_monitors;
    m->orders[LG_OUT_RECEIVED] = c->orders_received;
    m->orders[LG_OUT_ACCEPTED] = c->orders_accepted;
    m->orders[LG_OUT_DUPLICATE] = c->orders_duplicate;
    m->orders[LG_OUT_CONFLICT] = c->orders_conflict;
    m->orders[LG_OUT_INVALID] = c->orders_invalid;
    m->orders[LG_OUT_UNAVAILABLE] = c->orders_unavailable;
    m->orders[LG_OUT_BUSY] = c->orders_busy;
    m->orders[LG_OUT_FORBIDDEN] = c->orders_forbidden;
    m->accepted_high = c->accepted_high;
    m->accepted_normal = c->accepted_normal;
    m->frames_in = c->frames_in;
    m->frames_out = c->frames_out;
    m->results_in = c->results_in;
    m->results_delivered = c->results_delivered;
    m->results_repeated = c->results_repeated;
    m->feed_dropped = c->feed_dropped;
    m->stats_flush_failures = lg_stats_flush_failures(gw->stats);
    m->accept = &gw->latency.accept;
    m->confirm = &gw->latency.confirm;
    struct lg_redis *conns[] = {gw->redis, gw->results ? lg_results_conn(gw->results) : NULL};
    const char *names[] = {"main", "replies"};
    for (size_t i = 0; i < sizeof(conns) / sizeof(conns[0]); i++) {
        if (!conns[i])
            continue;
        struct lg_metrics_redis *r = &m->redis[m->nredis++];
        r->conn = names[i];
        r->up = lg_redis_is_up(conns[i]);
        lg_redis_get_stats(conns[i], &r->stats);
    }
    if (gw->bus) {
        struct lg_bus_stats bs;
        lg_bus_get_stats(gw->bus, &bs);
        m->bus_known = true;
        m->bus_messages = bs.messages;
        m->bus_reconnects = bs.reconnects;
    }
}

/* total: the queue figures of every room, NULL when Redis could not say. */
static void answer(const struct lg_stats_view *total, void *arg)
{
    struct scrape *sc = arg;
    struct lg_http *h = sc->w.owner;
    if (h) {
        lg_waiter_detach(&h->waiters, &sc->w);
        struct lg_metrics m;
        gather(sc->gw, &m);
        if (total) {
            m.queue_known = true;
            m.queue_high = total->queue_high;
            m.queue_normal = total->queue_normal;
            m.oldest_high_s = (double)total->oldest_high_ms / 1000.0;
            m.oldest_normal_s = (double)total->oldest_normal_ms / 1000.0;
        }
        size_t len = 0;
        char *text = lg_metrics_render(&m, &len);
        if (text)
            lg_http_respond_text(h, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
        else
            lg_http_error(h, 503, "UNAVAILABLE", "out of memory", NULL);
        free(text);
    }
    free(sc);
}

void lg_metrics_serve(struct lg_http *h)
{
    struct scrape *sc = malloc(sizeof(*sc));
    if (!sc) {
        lg_http_error(h, 503, "UNAVAILABLE", "out of memory", NULL);
        return;
    }
    memset(&sc->w, 0, sizeof(sc->w));
    sc->gw = h->gw;
    lg_waiter_attach(&h->waiters, &sc->w, h);
    /* Redis down: the process's own figures are still worth a scrape. */
    if (lg_stats_read_rooms(h->gw->redis, "*", METRICS_MAX_ROOMS, false, answer, sc) != 0)
        answer(NULL, sc);
}
