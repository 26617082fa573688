/* expiry.c - the deadline sweep (see expiry.h). The rooms to sweep are
 * remembered in memory, each with the time of its last submit here, and
 * forgotten two deadlines after it: by then every order this gateway
 * accepted in the room is past its deadline and answered. A gateway that
 * restarts forgets its rooms; the other gateways in the room still sweep
 * it, and a validator still expires what it reaches.
 *
 * Each room has at most one expire.lua call in flight; a call that stopped
 * at LG_EXPIRY_BATCH entries is followed by the next at once. The results
 * are grouped per target gateway (the accepting one and the watchers) and
 * sent with one reply.lua call per target, in the validator's reply-entry
 * layout, so the reply-stream reader cannot tell who expired an order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/expiry.h"
#include "keys.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "livegate/text.h"
#include "result_layout.h"
#include "scripts.h"
#include "stats.h"

/* watch.lua keeps at most this many watchers per order (its MAX_WATCHERS). */
#define MAX_WATCHERS 8
/* The sweep hash outlives the last sweep of its room by this much. */
#define SWEEP_STATE_TTL_MS "3600000"

/* The record fields expire.lua returns per order: the result layout, then
 * what routing the result needs. */
enum { EX_ORDER_ID = LG_RESULT_NRECORD, EX_USER, EX_GW, EX_NFIELDS };
static const char *const extra_fields[EX_NFIELDS - LG_RESULT_NRECORD] = {"order_id", "user", "gw"};

struct sweep_room {
    struct lg_list node; /* lg_expiry.rooms */
    struct lg_expiry *e;
    char room[LG_ID_MAX + 1];
    uint64_t noted_ms; /* uv_now of the last submit here */
    bool in_flight;
};

struct lg_expiry {
    struct lg_gateway *gw;
    uv_timer_t timer;
    struct lg_strmap *by_room; /* room -> struct sweep_room */
    struct lg_list rooms;
    size_t in_flight; /* expire.lua and reply.lua calls not yet answered */
    bool closing;
    bool timer_open;
};

static void sweep_room(struct sweep_room *r);

static void free_if_done(struct lg_expiry *e)
{
    if (e->closing && !e->timer_open && e->in_flight == 0) {
        lg_strmap_free(e->by_room);
        free(e);
    }
}

static void forget_room(struct sweep_room *r)
{
    lg_strmap_del(r->e->by_room, r->room);
    lg_list_remove(&r->node);
    free(r);
}

/* ---- counting ---------------------------------------------------------- */

/* As the validator counts an EXPIRED decision: a rejection with its code,
 * its decision latency, and an SLA violation only past the deadline. */
static void count_expired(struct lg_expiry *e, const char *room, char *const *v)
{
    struct lg_stats_delta *d = e->gw->stats ? lg_stats_room(e->gw->stats, room) : NULL;
    if (!d)
        return;
    lg_stats_delta_count(d, LG_STAT_REJECTED, 1);
    lg_stats_delta_reject_code(d, "EXPIRED");
    long long decided = strtoll(v[LG_RESULT_DECIDED_AT], NULL, 10);
    long long accepted = strtoll(v[LG_RESULT_ACCEPTED_AT], NULL, 10);
    if (decided > 0 && accepted > 0) {
        long long ms = decided > accepted ? decided - accepted : 0;
        lg_stats_delta_confirm_us(d, (uint64_t)ms * 1000);
        if (ms > e->gw->cfg.deadline_ms)
            lg_stats_delta_count(d, LG_STAT_SLA_VIOLATIONS, 1);
    }
}

/* ---- sending the results ----------------------------------------------- */

static void on_replies_sent(redisReply *reply, void *arg)
{
    struct lg_expiry *e = arg;
    e->in_flight--;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        lg_log(LG_LOG_WARN, "expiry.reply_failed",
               json_pack("{s:s}", "detail", reply ? reply->str : "connection lost"));
    free_if_done(e);
}

/* One result, v being expire.lua's fields for the order. */
static int pack_result(struct lg_reply_pack *p, const char *room, char *const *v)
{
    const char *values[LG_REPLY_NFIELDS] = {v[EX_ORDER_ID],
                                            room,
                                            v[EX_USER],
                                            v[LG_RESULT_STATUS],
                                            v[LG_RESULT_CODE],
                                            v[LG_RESULT_FIELD],
                                            v[LG_RESULT_MESSAGE],
                                            v[LG_RESULT_AMOUNT],
                                            v[LG_RESULT_CONFIRMED_AT],
                                            v[LG_RESULT_PAY_DEADLINE],
                                            v[LG_RESULT_CLIENT_ORDER_ID],
                                            v[LG_RESULT_REQ],
                                            v[LG_RESULT_ACCEPTED_AT],
                                            v[LG_RESULT_UPDATED_AT]};
    return lg_reply_pack_add(p, values);
}

/* One reply.lua call: the results of rows[0..n-1] to gateway_id's stream. */
static void send_replies(struct lg_expiry *e, const char *room, const char *gateway_id,
                         char *const *const *rows, size_t n)
{
    char key[LG_KEY_MAX];
    if (lg_key_reply_stream(key, sizeof(key), gateway_id) < 0)
        return;
    struct lg_reply_pack pack = {0};
    for (size_t i = 0; i < n; i++) {
        if (pack_result(&pack, room, rows[i]) != 0) {
            lg_log(LG_LOG_WARN, "expiry.reply_failed",
                   json_pack("{s:s}", "detail", "out of memory"));
            lg_reply_pack_free(&pack);
            return;
        }
    }
    lg_reply_pack_args(&pack, key);
    if (lg_script_call(e->gw->redis, &lg_script_reply, on_replies_sent, e, 1, LG_REPLY_ARGC,
                       pack.args, pack.lens) == 0)
        e->in_flight++;
    else
        lg_log(LG_LOG_WARN, "expiry.reply_failed",
               json_pack("{s:s}", "detail", "connection not up"));
    lg_reply_pack_free(&pack);
}

/* Whether gateway id (len bytes) is a target of the order v. */
static bool targets(char *const *v, const char *id, size_t len)
{
    if (strlen(v[EX_GW]) == len && memcmp(v[EX_GW], id, len) == 0)
        return true;
    for (const char *p = v[LG_RESULT_WATCHERS]; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, id, len) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Adds gateway id (len bytes) to ids[0..n-1] unless it is there or ids is
 * full (cap). */
static size_t add_target(char (*ids)[LG_ID_MAX + 1], size_t n, size_t cap, const char *id,
                         size_t len)
{
    if (len == 0 || len > LG_ID_MAX || n == cap)
        return n;
    for (size_t k = 0; k < n; k++)
        if (strlen(ids[k]) == len && memcmp(ids[k], id, len) == 0)
            return n;
    memcpy(ids[n], id, len);
    ids[n][len] = 0;
    return n + 1;
}

/* The accepting gateway of every row and each watcher, once each. */
static size_t gather_targets(char *const *const *rows, size_t n, char (*ids)[LG_ID_MAX + 1],
                             size_t cap)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        m = add_target(ids, m, cap, rows[i][EX_GW], strlen(rows[i][EX_GW]));
        for (const char *p = rows[i][LG_RESULT_WATCHERS]; *p;) {
            size_t len = strcspn(p, ",");
            m = add_target(ids, m, cap, p, len);
            p += len;
            if (*p == ',')
                p++;
        }
    }
    return m;
}

/* Every result to each gateway that asked for it, one reply.lua call per
 * gateway; a gateway pushes a result at most once per order. */
static void send_results(struct lg_expiry *e, const char *room, char *const *const *rows, size_t n)
{
    /* Each order names its gateway and at most MAX_WATCHERS watchers. */
    size_t cap = n * (1 + MAX_WATCHERS);
    char(*ids)[LG_ID_MAX + 1] = malloc(cap * sizeof(*ids));
    char *const **batch = malloc(n * sizeof(*batch));
    if (!ids || !batch) {
        lg_log(LG_LOG_WARN, "expiry.reply_failed", json_pack("{s:s}", "detail", "out of memory"));
        free(ids);
        free(batch);
        return;
    }
    size_t nids = gather_targets(rows, n, ids, cap);
    for (size_t t = 0; t < nids; t++) {
        size_t m = 0, len = strlen(ids[t]);
        for (size_t i = 0; i < n; i++)
            if (targets(rows[i], ids[t], len))
                batch[m++] = rows[i];
        send_replies(e, room, ids[t], batch, m);
    }
    free(ids);
    free(batch);
}

/* ---- the sweep call ------------------------------------------------------ */

/* Whether row is one expired order's fields as expire.lua returns them. */
static bool row_ok(const redisReply *row)
{
    if (row->type != REDIS_REPLY_ARRAY || row->elements != EX_NFIELDS)
        return false;
    for (size_t k = 0; k < EX_NFIELDS; k++)
        if (row->element[k]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

static void handle_expired(struct sweep_room *r, const redisReply *reply)
{
    size_t n = reply->elements - 1;
    char *const **rows = malloc((n ? n : 1) * sizeof(*rows));
    char **cells = malloc((n ? n : 1) * EX_NFIELDS * sizeof(*cells));
    size_t m = 0;
    for (size_t i = 0; rows && cells && i < n; i++) {
        const redisReply *row = reply->element[i + 1];
        if (!row_ok(row))
            continue;
        char **v = &cells[m * EX_NFIELDS];
        for (size_t k = 0; k < EX_NFIELDS; k++)
            v[k] = row->element[k]->str;
        rows[m++] = v;
        count_expired(r->e, r->room, v);
    }
    if (m > 0) {
        send_results(r->e, r->room, rows, m);
        lg_log(LG_LOG_DEBUG, "expiry.expired",
               json_pack("{s:s,s:I}", "room", r->room, "orders", (json_int_t)m));
    }
    free(rows);
    free(cells);
}

static void on_swept(redisReply *reply, void *arg)
{
    struct sweep_room *r = arg;
    struct lg_expiry *e = r->e;
    r->in_flight = false;
    e->in_flight--;
    if (e->closing) {
        free(r); /* already off the list: see lg_expiry_close */
        free_if_done(e);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            lg_log(LG_LOG_WARN, "expiry.sweep_failed",
                   json_pack("{s:s,s:s}", "room", r->room, "detail", reply->str));
        return;
    }
    const char *state = reply->element[0]->str;
    if (strcmp(state, "busy") == 0)
        return;
    handle_expired(r, reply);
    if (strcmp(state, "more") == 0)
        sweep_room(r);
}

static void sweep_room(struct sweep_room *r)
{
    struct lg_gateway *gw = r->e->gw;
    enum { NKEYS = 5, HEAD = 10 };
    char k_high[LG_KEY_MAX], k_normal[LG_KEY_MAX], k_load[LG_KEY_MAX], k_sweep[LG_KEY_MAX];
    char k_watched[LG_KEY_MAX], feed[LG_KEY_MAX], prefix[LG_KEY_MAX];
    if (lg_key_stream(k_high, sizeof(k_high), r->room, true) < 0 ||
        lg_key_stream(k_normal, sizeof(k_normal), r->room, false) < 0 ||
        lg_key_room_load(k_load, sizeof(k_load), r->room) < 0 ||
        lg_key_room_sweep(k_sweep, sizeof(k_sweep), r->room) < 0 ||
        lg_key_feed_watched(k_watched, sizeof(k_watched), r->room) < 0 ||
        lg_chan_feed(feed, sizeof(feed), r->room) < 0 ||
        lg_key_order(prefix, sizeof(prefix), r->room, "") < 0)
        return;
    char deadline[16], margin[16], guard[16], batch[16], nnames[16];
    snprintf(deadline, sizeof(deadline), "%d", gw->cfg.deadline_ms);
    snprintf(margin, sizeof(margin), "%d", gw->cfg.margin_ms);
    snprintf(guard, sizeof(guard), "%d", LG_EXPIRY_GUARD_MS);
    snprintf(batch, sizeof(batch), "%d", LG_EXPIRY_BATCH);
    snprintf(nnames, sizeof(nnames), "%d", EX_NFIELDS);
    const char *args[NKEYS + HEAD + EX_NFIELDS] = {
        k_high, k_normal,           k_load, k_sweep, k_watched, deadline,
        margin, gw->cfg.gateway_id, guard,  batch,   feed,      r->room,
        prefix, SWEEP_STATE_TTL_MS, nnames};
    for (int i = 0; i < LG_RESULT_NRECORD; i++)
        args[NKEYS + HEAD + i] = lg_result_record_fields[i];
    for (int i = LG_RESULT_NRECORD; i < EX_NFIELDS; i++)
        args[NKEYS + HEAD + i] = extra_fields[i - LG_RESULT_NRECORD];
    if (lg_script_call(gw->redis, &lg_script_expire, on_swept, r, NKEYS, NKEYS + HEAD + EX_NFIELDS,
                       args, NULL) == 0) {
        r->in_flight = true;
        r->e->in_flight++;
    }
}

/* ---- the timer and the rooms -------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    struct lg_expiry *e = t->data;
    uint64_t now = uv_now(e->gw->loop);
    uint64_t keep_ms = 2 * (uint64_t)e->gw->cfg.deadline_ms;
    bool up = lg_redis_is_up(e->gw->redis);
    for (struct lg_list *q = e->rooms.next, *next; q != &e->rooms; q = next) {
        next = q->next;
        struct sweep_room *r = lg_list_entry(q, struct sweep_room, node);
        if (r->in_flight)
            continue;
        if (now - r->noted_ms > keep_ms)
            forget_room(r);
        else if (up)
            sweep_room(r);
    }
}

void lg_expiry_note_room(struct lg_expiry *e, const char *room)
{
    if (!e || e->closing)
        return;
    struct sweep_room *r = lg_strmap_get(e->by_room, room);
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return;
        r->e = e;
        snprintf(r->room, sizeof(r->room), "%s", room);
        if (lg_strmap_put(e->by_room, r->room, r) != 0) {
            free(r);
            return;
        }
        lg_list_insert_tail(&e->rooms, &r->node);
    }
    r->noted_ms = uv_now(e->gw->loop);
}

struct lg_expiry *lg_expiry_new(struct lg_gateway *gw)
{
    struct lg_expiry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->by_room = lg_strmap_new();
    if (!e->by_room) {
        free(e);
        return NULL;
    }
    e->gw = gw;
    lg_list_init(&e->rooms);
    uv_timer_init(gw->loop, &e->timer);
    e->timer.data = e;
    e->timer_open = true;
    return e;
}

void lg_expiry_start(struct lg_expiry *e)
{
    uv_timer_start(&e->timer, on_tick, LG_EXPIRY_TICK_MS, LG_EXPIRY_TICK_MS);
    /* A stopping gateway's loop ends when its connections do. */
    uv_unref((uv_handle_t *)&e->timer);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lg_expiry *e = h->data;
    e->timer_open = false;
    free_if_done(e);
}

void lg_expiry_close(struct lg_expiry *e)
{
    if (!e)
        return;
    e->closing = true;
    /* A room with a call in flight is freed by its answer. */
    while (!lg_list_empty(&e->rooms)) {
        struct sweep_room *r = lg_list_entry(lg_list_first(&e->rooms), struct sweep_room, node);
        lg_strmap_del(e->by_room, r->room);
        lg_list_remove(&r->node);
        if (!r->in_flight)
            free(r);
    }
    uv_timer_stop(&e->timer);
    uv_close((uv_handle_t *)&e->timer, on_timer_closed);
}
