/* metrics.c - GET /metrics (see metrics.h). Two documents:
 *
 * - this process's own counters, on its LIVEGATE_METRICS_LISTEN address,
 *   rendered at each scrape (no Redis call): a scraper that reaches one
 *   address always sees one process, so its counters never jump;
 * - the room totals, on the shared port: the rooms' statistics and queue
 *   read from Redis over the rooms of the registry (one stats_read.lua per
 *   room, METRICS_MAX_ROOMS at most), the same whichever gateway answers.
 *   Rendered at most once per METRICS_REFRESH_MS and served from a cache
 *   in between: however many scrapers there are, the Redis connection that
 *   carries the orders pays for one refresh a second. A gateway without a
 *   metrics address adds its own counters to this document, as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/clock.h"
#include "livegate/list.h"

#include "features/bus.h"
#include "core/gateway.h"
#include "conn/http.h"
#include "keys.h"
#include "features/metrics.h"
#include "features/results.h"
#include "stats.h"

/* Rooms a refresh reads the queue of, at most: those of the active-room
 * index (lg:rooms:active) with the newest activity. One Redis call each. */
#define METRICS_MAX_ROOMS 100
/* How long a rendered document is served before it is rendered again. */
#define METRICS_REFRESH_MS 1000

/* ---- rendering (pure) ------------------------------------------------- */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter family: one sample per gateway counter, told apart by a label
 * (none for a family of one). */
struct counter_sample {
    const char *label_value;
    int counter; /* an enum lg_counter */
};

struct counter_family {
    const char *name, *help, *label;
    struct counter_sample samples[9];
    int n;
};

static const struct counter_family ORDERS = {"livegate_orders_total",
                                             "Order submits by outcome.",
                                             "outcome",
                                             {{"received", LG_CTR_ORDERS_RECEIVED},
                                              {"accepted", LG_CTR_ORDERS_ACCEPTED},
                                              {"duplicate", LG_CTR_ORDERS_DUPLICATE},
                                              {"conflict", LG_CTR_ORDERS_CONFLICT},
                                              {"invalid", LG_CTR_ORDERS_INVALID},
                                              {"unavailable", LG_CTR_ORDERS_UNAVAILABLE},
                                              {"busy", LG_CTR_ORDERS_BUSY},
                                              {"rate_limited", LG_CTR_ORDERS_RATE_LIMITED},
                                              {"forbidden", LG_CTR_ORDERS_FORBIDDEN}},
                                             9};

static const struct counter_family ACCEPTED = {
    "livegate_orders_accepted_total",
    "New orders accepted, by priority.",
    "priority",
    {{"high", LG_CTR_ACCEPTED_HIGH}, {"normal", LG_CTR_ACCEPTED_NORMAL}},
    2};

static const struct counter_family RESULTS = {
    "livegate_results_total",
    "Final results from the reply stream: read, pushed to connections, repeats dropped.",
    "kind",
    {{"in", LG_CTR_RESULTS_IN},
     {"delivered", LG_CTR_RESULTS_DELIVERED},
     {"repeated", LG_CTR_RESULTS_REPEATED}},
    3};

static const struct counter_family FRAMES = {"livegate_frames_total",
                                             "WebSocket messages received and sent.",
                                             "direction",
                                             {{"in", LG_CTR_FRAMES_IN}, {"out", LG_CTR_FRAMES_OUT}},
                                             2};

static const struct counter_family FEED_DROPPED = {
    "livegate_monitor_feed_dropped_total",
    "monitor.order frames dropped by sampling or for a slow monitor.",
    NULL,
    {{NULL, LG_CTR_FEED_DROPPED}},
    1};

/* Of the BUSY refusals, those the gateway answered because Redis was too
 * far behind to send the order at all. */
static const struct counter_family LAG_SHED = {
    "livegate_orders_busy_lagging_total",
    "Submits refused BUSY without being sent: the oldest enqueue call waited over a fifth of "
    "LIVEGATE_ADMIT_WAIT_MS.",
    NULL,
    {{NULL, LG_CTR_ORDERS_LAG_SHED}},
    1};

/* Orders per call is what an enqueue costs Redis (a call's set-up is paid
 * once, BENCHMARKS.md "What an enqueue call costs"): the two families give
 * it, per priority, without a profiler. */
static const struct counter_family INTAKE_CALLS = {
    "livegate_intake_calls_total",
    "enqueue.lua calls sent to Redis, by the priority of the batch.",
    "priority",
    {{"high", LG_CTR_INTAKE_CALLS_HIGH}, {"normal", LG_CTR_INTAKE_CALLS_NORMAL}},
    2};

static const struct counter_family INTAKE_CALL_ORDERS = {
    "livegate_intake_call_orders_total",
    "Orders carried by those calls, by the priority of the batch.",
    "priority",
    {{"high", LG_CTR_INTAKE_CALL_ORDERS_HIGH}, {"normal", LG_CTR_INTAKE_CALL_ORDERS_NORMAL}},
    2};

/* Counted when queued, so a scrape shows how far a room fan-out has got. */
static const struct counter_family SKU_UPDATES = {"livegate_sku_updates_total",
                                                  "sku.update frames queued to viewers.",
                                                  NULL,
                                                  {{NULL, LG_CTR_SKU_UPDATES_OUT}},
                                                  1};

static void counters(FILE *f, const struct lg_metrics *m, const struct counter_family *fam)
{
    head(f, fam->name, "counter", fam->help);
    for (int i = 0; i < fam->n; i++) {
        const struct counter_sample *cs = &fam->samples[i];
        unsigned long long v = m->counters[cs->counter];
        if (fam->label)
            fprintf(f, "%s{%s=\"%s\"} %llu\n", fam->name, fam->label, cs->label_value, v);
        else
            fprintf(f, "%s %llu\n", fam->name, v);
    }
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

    counters(f, m, &ORDERS);
    counters(f, m, &ACCEPTED);
    counters(f, m, &RESULTS);

    hist(f, "livegate_accept_latency_seconds",
         "From an order.submit frame received to its order.accepted queued for sending.",
         m->accept);
    hist(f, "livegate_confirm_latency_seconds",
         "From accepted_at_ms to the final result arriving at this gateway.", m->confirm);

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
    counters(f, m, &FRAMES);
    counters(f, m, &FEED_DROPPED);
    counters(f, m, &LAG_SHED);
    counters(f, m, &INTAKE_CALLS);
    counters(f, m, &INTAKE_CALL_ORDERS);
    counters(f, m, &SKU_UPDATES);
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

/* Label values come from Redis (rejection codes): quoted as the format
 * wants, whatever they hold. */
static void label_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void queue_families(FILE *f, const struct lg_stats_view *v)
{
    head(f, "livegate_queue_depth", "gauge",
         "Entries not yet decided (pending plus undelivered), every room, by priority.");
    fprintf(f, "livegate_queue_depth{priority=\"high\"} %lld\n", v->queue_high);
    fprintf(f, "livegate_queue_depth{priority=\"normal\"} %lld\n", v->queue_normal);
    head(f, "livegate_queue_oldest_age_seconds", "gauge",
         "Age of the oldest undecided entry, by priority (0: none).");
    fprintf(f, "livegate_queue_oldest_age_seconds{priority=\"high\"} %.3f\n",
            (double)v->oldest_high_ms / 1000.0);
    fprintf(f, "livegate_queue_oldest_age_seconds{priority=\"normal\"} %.3f\n",
            (double)v->oldest_normal_ms / 1000.0);
    head(f, "livegate_pay_timeouts_total", "counter",
         "Orders cancelled unpaid at their payment deadline, every room (room statistics).");
    fprintf(f, "livegate_pay_timeouts_total %lld\n", v->counters[LG_STAT_PAY_TIMEOUTS]);
}

/* The order counters of the room totals, as livegate_room_orders{outcome}. */
static const enum lg_stat ROOM_OUTCOMES[] = {
    LG_STAT_RECEIVED, LG_STAT_ACCEPTED, LG_STAT_DUPLICATES,   LG_STAT_CONFIRMED,
    LG_STAT_REJECTED, LG_STAT_BUSY,     LG_STAT_RATE_LIMITED, LG_STAT_PAY_TIMEOUTS};

static void room_totals(FILE *f, const struct lg_stats_view *v)
{
    head(f, "livegate_room_orders", "gauge",
         "Orders of every room since the room opened, by outcome. Room totals from Redis, "
         "cached up to 1 s; a gauge, since a room that reopens restarts its own.");
    for (size_t i = 0; i < sizeof(ROOM_OUTCOMES) / sizeof(ROOM_OUTCOMES[0]); i++)
        fprintf(f, "livegate_room_orders{outcome=\"%s\"} %lld\n", lg_stat_names[ROOM_OUTCOMES[i]],
                v->counters[ROOM_OUTCOMES[i]]);
    head(f, "livegate_room_rejections", "gauge",
         "Rejections of every room since the room opened, by code. Room totals from Redis, "
         "cached up to 1 s.");
    for (size_t i = 0; i < v->ncodes; i++) {
        fputs("livegate_room_rejections{code=\"", f);
        label_value(f, v->codes[i].code);
        fprintf(f, "\"} %llu\n", v->codes[i].n);
    }
    head(f, "livegate_room_gmv_fen", "gauge",
         "Confirmed order value of every room since it opened, in fen. Room totals from Redis, "
         "cached up to 1 s.");
    fprintf(f, "livegate_room_gmv_fen %lld\n", v->counters[LG_STAT_GMV_FEN]);
    head(f, "livegate_room_sla_violations", "gauge",
         "Orders decided after the deadline, every room since it opened. Room totals from "
         "Redis, cached up to 1 s.");
    fprintf(f, "livegate_room_sla_violations %lld\n", v->counters[LG_STAT_SLA_VIOLATIONS]);
    head(f, "livegate_room_connections", "gauge",
         "Viewer connections of every gateway, as each last reported them to Redis.");
    fprintf(f, "livegate_room_connections %lld\n", v->connections);
}

char *lg_metrics_render_rooms(const struct lg_metrics_rooms *r, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    /* The HELP says where the figures come from: a free comment line would
     * trip strict parsers of the format. */
    fprintf(f,
            "# HELP livegate_room_totals_up The room figures that follow are read from Redis over "
            "the rooms in use, lg:rooms:active (at most %d), and cached up to %d ms, so every "
            "gateway answers "
            "the same; %s 1 when the last refresh read every room, 0 when the room figures are "
            "left out.\n# TYPE livegate_room_totals_up gauge\n",
            METRICS_MAX_ROOMS, METRICS_REFRESH_MS,
            r->process_elsewhere
                ? "each process's own counters are on its LIVEGATE_METRICS_LISTEN address."
                : "the counters before them are those of the gateway process that answered.");
    fprintf(f, "livegate_room_totals_up %d\n", r->total ? 1 : 0);
    if (r->total) {
        queue_families(f, r->total);
        room_totals(f, r->total);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}

/* ---- serving (event-loop glue) ----------------------------------------- */

/* A scrape waiting for the refresh in flight. */
struct scrape {
    struct lg_waiter w;  /* owner: the HTTP request; NULL once it is gone */
    struct lg_list node; /* on the cache's waiting list */
};

/* The last document and the scrapes waiting for the next. One gateway per
 * process, so one cache. */
static struct {
    char *text; /* NULL before the first refresh, or when it ran out of memory */
    size_t len;
    int64_t started_ms; /* monotonic: when the refresh that rendered text began */
    bool refreshing;
    struct lg_list waiting; /* struct scrape */
} cache = {.waiting = {&cache.waiting, &cache.waiting}};

static void gather(struct lg_gateway *gw, struct lg_metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->gateway_id = gw->cfg.gateway_id;
    m->connections = gw->n_sessions;
    m->monitors = gw->n_monitors;
    for (int i = 0; i < LG_CTR_COUNT; i++)
        m->counters[i] = gw->counters[i];
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

static void respond(struct lg_http *h)
{
    if (cache.text)
        lg_http_respond_text(h, 200, "text/plain; version=0.0.4; charset=utf-8", cache.text,
                             cache.len);
    else
        lg_http_error(h, 503, "UNAVAILABLE", "out of memory", NULL);
}

/* Every scrape that waited gets the new document; those whose request is
 * gone are only freed. */
static void answer_waiting(void)
{
    while (!lg_list_empty(&cache.waiting)) {
        struct lg_list *q = lg_list_first(&cache.waiting);
        lg_list_remove(q);
        struct scrape *sc = lg_list_entry(q, struct scrape, node);
        struct lg_http *h = sc->w.owner;
        if (h) {
            lg_waiter_detach(&sc->w);
            respond(h);
        }
        free(sc);
    }
}

/* Joins two rendered documents; NULL when either is. Frees both. */
static char *join(char *a, size_t alen, char *b, size_t blen, size_t *len)
{
    char *both = a && b ? realloc(a, alen + blen + 1) : NULL;
    if (both) {
        memcpy(both + alen, b, blen + 1);
        *len = alen + blen;
    } else {
        free(a);
    }
    free(b);
    return both;
}

/* The shared port's document: the room totals, after this process's own
 * counters when it has no address of its own for them. */
static void render_into_cache(struct lg_gateway *gw, const struct lg_stats_view *total)
{
    struct lg_metrics_rooms rooms = {.total = total,
                                     .process_elsewhere = gw->metrics_vhost != NULL};
    size_t rlen = 0;
    char *rtext = lg_metrics_render_rooms(&rooms, &rlen);
    free(cache.text);
    cache.text = NULL;
    cache.len = 0;
    if (gw->metrics_vhost) {
        cache.text = rtext;
        cache.len = rtext ? rlen : 0;
        return;
    }
    struct lg_metrics m;
    gather(gw, &m);
    size_t plen = 0;
    char *ptext = lg_metrics_render(&m, &plen);
    cache.text = join(ptext, plen, rtext, rlen, &cache.len);
}

/* total: the queue figures of the rooms read, NULL when Redis could not say. */
static void on_refreshed(const struct lg_stats_view *total, void *arg)
{
    render_into_cache(arg, total);
    cache.refreshing = false;
    answer_waiting();
}

static void start_refresh(struct lg_gateway *gw)
{
    cache.refreshing = true;
    cache.started_ms = lg_mono_ms();
    /* Redis down: the process's own figures are still worth a scrape. */
    if (lg_stats_read_rooms(gw->redis, "*", METRICS_MAX_ROOMS, false, on_refreshed, gw) != 0)
        on_refreshed(NULL, gw);
}

/* A document younger than METRICS_REFRESH_MS is served as it is; an older
 * one is refreshed, and scrapes that come while a refresh is in flight
 * wait for it rather than start another. */
void lg_metrics_serve(struct lg_http *h)
{
    if (cache.text && !cache.refreshing && lg_mono_ms() - cache.started_ms < METRICS_REFRESH_MS) {
        respond(h);
        return;
    }
    struct scrape *sc = calloc(1, sizeof(*sc));
    if (!sc) {
        lg_http_error(h, 503, "UNAVAILABLE", "out of memory", NULL);
        return;
    }
    lg_waiter_attach(&h->waiters, &sc->w, h);
    lg_list_insert_tail(&cache.waiting, &sc->node);
    if (!cache.refreshing)
        start_refresh(h->gw);
}

void lg_metrics_serve_process(struct lg_http *h)
{
    struct lg_metrics m;
    gather(h->gw, &m);
    size_t len = 0;
    char *text = lg_metrics_render(&m, &len);
    if (!text) {
        lg_http_error(h, 503, "UNAVAILABLE", "out of memory", NULL);
        return;
    }
    lg_http_respond_text(h, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
