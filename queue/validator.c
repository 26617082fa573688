/* validator.c - the validation worker (see validator.h).
 *
 * One cycle at a time: refresh the room list, claim entries a dead
 * consumer left behind, read a batch (high streams first, normal streams
 * with whatever capacity is left, and a short blocking read on both when
 * everything is empty), decide every entry with validate.lua, then send the
 * results and acknowledge. Because an entry is acknowledged only after its
 * result was written, a crash anywhere leaves it pending; another validator
 * claims it and validate.lua, which never decides an order twice, returns
 * the stored result. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "redis_conn.h"
#include "scripts.h"
#include "sku_notify.h"
#include "stats.h"
#include "validator.h"

#define ROOMS_EVERY_MS 1000
#define CLAIM_EVERY_MS 1000
#define TRIM_EVERY_MS 10000
#define STATS_EVERY_MS 10000
#define REPLY_STREAM_MAXLEN "10000"
/* A gone gateway's reply stream disappears an hour after the last result. */
#define REPLY_STREAM_TTL_MS "3600000"
#define NRESULT 14 /* fields validate.lua returns */
#define RESULT_STATUS 0
#define RESULT_STOCK_LEFT 10
#define RESULT_DECIDED_AT 11
#define RESULT_ACCEPTED_AT 12
#define RESULT_WATCHERS 13
#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

enum outcome { OUT_PENDING, OUT_DECIDED, OUT_MISSING, OUT_FAILED, OUT_MALFORMED };

struct entry {
    char stream[LG_KEY_MAX];
    char room[LG_ID_MAX + 1];
    char id[48];
    char order_id[LG_ID_MAX + 1];
    char user[LG_ID_MAX + 1];
    char sku[LG_ID_MAX + 1];
    char coupon[LG_ID_MAX + 1];
    char gw[LG_ID_MAX + 1];
    long long deliveries;
    bool force_expire;
    bool answer_failed; /* the result could not be written: do not acknowledge */
    enum outcome outcome;
    char *result[NRESULT];
};

struct lg_validator {
    uv_loop_t *loop;
    struct lg_validator_config cfg;
    struct lg_redis *redis;
    struct lg_sku_notifier *sku_notifier; /* sku.update after confirmations */
    uv_timer_t timer;
    struct lg_stats *stats; /* room-wide statistics, flushed every second */

    char (*rooms)[LG_ID_MAX + 1];
    size_t nrooms, rooms_cap;
    struct lg_strmap *room_set;

    struct entry *batch;
    size_t nbatch, batch_cap;
    size_t got_high;

    int pending; /* replies outstanding in the current step */
    void (*after)(struct lg_validator *v);
    bool stopping, stopped;

    int64_t last_rooms_ms, last_claim_ms, last_trim_ms, last_stats_ms;
    unsigned long long decided, confirmed, rejected, expired, dead_lettered, resent;
};

static void cycle(struct lg_validator *v);

/* ---- small helpers -------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    cycle(t->data);
}

static void schedule(struct lg_validator *v, int delay_ms)
{
    uv_timer_start(&v->timer, on_timer, (uint64_t)delay_ms, 0);
}

/* Every step counts its outstanding replies; the last one moves on. */
static void step_reply(struct lg_validator *v)
{
    if (--v->pending == 0)
        v->after(v);
}

static void begin_step(struct lg_validator *v, void (*after)(struct lg_validator *))
{
    v->pending = 1; /* held until end_step, so no reply can finish the step early */
    v->after = after;
}

static void end_step(struct lg_validator *v)
{
    step_reply(v);
}

static void send_cmd(struct lg_validator *v, lg_redis_reply_fn fn, void *arg, int argc,
                     const char **argv)
{
    v->pending++;
    if (lg_redis_argv(v->redis, fn, arg, argc, argv, NULL) != 0)
        v->pending--;
}

static void next_cycle(struct lg_validator *v)
{
    schedule(v, 0);
}

static void copy_str(char *dst, size_t n, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, n, "%s", r->str);
    else
        dst[0] = 0;
}

static void clear_batch(struct lg_validator *v)
{
    for (size_t i = 0; i < v->nbatch; i++)
        for (int k = 0; k < NRESULT; k++)
            free(v->batch[i].result[k]);
    v->nbatch = 0;
    v->got_high = 0;
}

static struct entry *add_entry(struct lg_validator *v)
{
    if (v->nbatch == v->batch_cap) {
        size_t cap = v->batch_cap ? v->batch_cap * 2 : 256;
        struct entry *grown = realloc(v->batch, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        v->batch = grown;
        v->batch_cap = cap;
    }
    struct entry *e = &v->batch[v->nbatch++];
    memset(e, 0, sizeof(*e));
    return e;
}

/* Adds the entries of one stream from an XREADGROUP/XAUTOCLAIM reply. */
static size_t add_entries(struct lg_validator *v, const char *stream, const redisReply *entries)
{
    char room[LG_ID_MAX + 1];
    bool high;
    if (!entries || entries->type != REDIS_REPLY_ARRAY ||
        lg_key_parse_stream(stream, room, sizeof(room), &high) != 0)
        return 0;
    size_t added = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *item = entries->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
            item->element[0]->type != REDIS_REPLY_STRING)
            continue; /* an entry trimmed while pending */
        struct entry *e = add_entry(v);
        if (!e)
            break;
        snprintf(e->stream, sizeof(e->stream), "%s", stream);
        snprintf(e->room, sizeof(e->room), "%s", room);
        copy_str(e->id, sizeof(e->id), item->element[0]);
        const redisReply *fields = item->element[1];
        for (size_t f = 0; fields->type == REDIS_REPLY_ARRAY && f + 1 < fields->elements; f += 2) {
            const char *name = fields->element[f]->str;
            const redisReply *val = fields->element[f + 1];
            if (!name)
                continue;
            if (strcmp(name, "order_id") == 0)
                copy_str(e->order_id, sizeof(e->order_id), val);
            else if (strcmp(name, "user") == 0)
                copy_str(e->user, sizeof(e->user), val);
            else if (strcmp(name, "sku_id") == 0)
                copy_str(e->sku, sizeof(e->sku), val);
            else if (strcmp(name, "coupon_id") == 0)
                copy_str(e->coupon, sizeof(e->coupon), val);
            else if (strcmp(name, "gw") == 0)
                copy_str(e->gw, sizeof(e->gw), val);
        }
        if (!e->order_id[0] || !e->user[0] || !e->sku[0] || !e->gw[0])
            e->outcome = OUT_MALFORMED;
        added++;
    }
    return added;
}

/* XREADGROUP answers [[stream, entries], ...] or nil. */
static size_t add_read_reply(struct lg_validator *v, const redisReply *reply)
{
    size_t added = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *s = reply->element[i];
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 && s->element[0]->str)
            added += add_entries(v, s->element[0]->str, s->element[1]);
    }
    return added;
}

/* ---- rooms ------------------------------------------------------------------ */

static void on_group_created(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
        lg_log(LG_LOG_ERROR, "validator.group_failed", json_pack("{s:s}", "detail", reply->str));
    step_reply(v);
}

static void add_room(struct lg_validator *v, const char *room)
{
    if (v->nrooms == v->rooms_cap) {
        size_t cap = v->rooms_cap ? v->rooms_cap * 2 : 16;
        void *grown = realloc(v->rooms, cap * sizeof(*v->rooms));
        if (!grown)
            return;
        v->rooms = grown;
        v->rooms_cap = cap;
    }
    snprintf(v->rooms[v->nrooms++], LG_ID_MAX + 1, "%s", room);
    lg_strmap_put(v->room_set, room, v);
    /* Group at 0, not $: orders queued before this validator ever ran are
     * still read. MKSTREAM lets a room with no order yet be watched. */
    for (int high = 0; high < 2; high++) {
        char key[LG_KEY_MAX];
        lg_key_stream(key, sizeof(key), room, high);
        const char *argv[] = {"XGROUP", "CREATE", key, LG_VALIDATOR_GROUP, "0", "MKSTREAM"};
        send_cmd(v, on_group_created, v, ARGC(argv), argv);
    }
    lg_log(LG_LOG_INFO, "validator.room", json_pack("{s:s}", "room", room));
}

static void on_rooms(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            const char *room = reply->element[i]->str;
            if (room && lg_text_is_id(room, strlen(room)) && !lg_strmap_get(v->room_set, room))
                add_room(v, room);
        }
    }
    step_reply(v);
}

static void refresh_rooms(struct lg_validator *v)
{
    begin_step(v, next_cycle);
    const char *argv[] = {"SMEMBERS", LG_KEY_ROOMS};
    send_cmd(v, on_rooms, v, ARGC(argv), argv);
    end_step(v);
}

/* ---- trimming ----------------------------------------------------------- */

/* A reply that only needs to have arrived: a failed trim is retried on the
 * next round, a failed acknowledgement leaves the entry pending and the
 * claim path re-sends its stored result. */
static void on_reply_counted(redisReply *reply, void *arg)
{
    (void)reply;
    step_reply(arg);
}

/* Entries older than the retention are far past their 10 s deadline and
 * answered; trimming them keeps a long live session's memory flat. */
static void trim_streams(struct lg_validator *v)
{
    begin_step(v, next_cycle);
    char minid[32];
    snprintf(minid, sizeof(minid), "%lld-0", (long long)(lg_wall_ms() - v->cfg.retention_ms));
    for (size_t i = 0; i < v->nrooms; i++) {
        for (int high = 0; high < 2; high++) {
            char key[LG_KEY_MAX];
            lg_key_stream(key, sizeof(key), v->rooms[i], high);
            const char *argv[] = {"XTRIM", key, "MINID", "~", minid};
            send_cmd(v, on_reply_counted, v, ARGC(argv), argv);
        }
    }
    end_step(v);
}

/* ---- deciding and answering ------------------------------------------------ */

static void after_acks(struct lg_validator *v)
{
    clear_batch(v);
    next_cycle(v);
}

static bool ackable(const struct entry *e)
{
    return e->outcome != OUT_FAILED && !e->answer_failed;
}

/* Second round: acknowledge what was answered, one XACK per stream with all
 * of its ids. An entry whose result could not be written stays pending and
 * is retried after the claim delay; so does the whole batch if the argument
 * lists cannot be allocated. */
static void ack_batch(struct lg_validator *v)
{
    begin_step(v, after_acks);
    const char **argv = malloc((3 + v->nbatch) * sizeof(*argv));
    bool *grouped = calloc(v->nbatch ? v->nbatch : 1, sizeof(*grouped));
    for (size_t i = 0; argv && grouped && i < v->nbatch; i++) {
        const struct entry *e = &v->batch[i];
        if (grouped[i] || !ackable(e))
            continue;
        int argc = 0;
        argv[argc++] = "XACK";
        argv[argc++] = e->stream;
        argv[argc++] = LG_VALIDATOR_GROUP;
        for (size_t k = i; k < v->nbatch; k++) {
            const struct entry *o = &v->batch[k];
            if (!grouped[k] && ackable(o) && strcmp(o->stream, e->stream) == 0) {
                grouped[k] = true;
                argv[argc++] = o->id;
            }
        }
        send_cmd(v, on_reply_counted, v, argc, argv);
    }
    free(argv);
    free(grouped);
    end_step(v);
}

struct answer_ctx {
    struct lg_validator *v;
    size_t index;
};

static void on_answer_sent(redisReply *reply, void *arg)
{
    struct answer_ctx *ctx = arg;
    struct lg_validator *v = ctx->v;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        v->batch[ctx->index].answer_failed = true;
        lg_log(LG_LOG_WARN, "validator.answer_failed",
               json_pack("{s:s}", "detail", reply ? reply->str : "connection lost"));
    }
    free(ctx);
    step_reply(v);
}

static void send_answer(struct lg_validator *v, size_t index, int argc, const char **argv)
{
    struct answer_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx) {
        v->batch[index].answer_failed = true;
        return;
    }
    ctx->v = v;
    ctx->index = index;
    v->pending++;
    if (lg_redis_argv(v->redis, on_answer_sent, ctx, argc, argv, NULL) != 0) {
        v->pending--;
        v->batch[index].answer_failed = true;
        free(ctx);
    }
}

static void send_result_to(struct lg_validator *v, size_t index, const char *gateway_id)
{
    struct entry *e = &v->batch[index];
    char key[LG_KEY_MAX];
    if (lg_key_reply_stream(key, sizeof(key), gateway_id) < 0)
        return;
    char **r = e->result;
    const char *argv[] = {"XADD",
                          key,
                          "MAXLEN",
                          "~",
                          REPLY_STREAM_MAXLEN,
                          "*",
                          "order_id",
                          e->order_id,
                          "room",
                          e->room,
                          "user",
                          e->user,
                          "status",
                          r[0],
                          "code",
                          r[1],
                          "field",
                          r[2],
                          "message",
                          r[3],
                          "amount",
                          r[4],
                          "confirmed_at_ms",
                          r[5],
                          "pay_deadline_ms",
                          r[6],
                          "client_order_id",
                          r[7],
                          "req",
                          r[8],
                          "accepted_at_ms",
                          r[RESULT_ACCEPTED_AT]};
    send_answer(v, index, ARGC(argv), argv);
    const char *expire[] = {"PEXPIRE", key, REPLY_STREAM_TTL_MS};
    send_answer(v, index, ARGC(expire), expire);
}

/* The accepting gateway, and every gateway a duplicate submit registered
 * while the order was queued (watch.lua): the buyer may have reconnected
 * there. Gateways push a result at most once per order, so a target that
 * hears it twice shows it once. */
static void send_result(struct lg_validator *v, size_t index)
{
    struct entry *e = &v->batch[index];
    send_result_to(v, index, e->gw);
    const char *p = e->result[RESULT_WATCHERS];
    while (*p) {
        size_t n = strcspn(p, ",");
        char id[LG_ID_MAX + 1];
        if (n > 0 && n <= LG_ID_MAX) {
            memcpy(id, p, n);
            id[n] = 0;
            if (strcmp(id, e->gw) != 0)
                send_result_to(v, index, id);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

static void send_dead_letter(struct lg_validator *v, size_t index)
{
    struct entry *e = &v->batch[index];
    char key[LG_KEY_MAX], deliveries[24];
    lg_key_dead_letter(key, sizeof(key), e->room);
    snprintf(deliveries, sizeof(deliveries), "%lld", e->deliveries);
    const char *argv[] = {"XADD",   key,        "MAXLEN",     "~",       "10000",
                          "*",      "order_id", e->order_id,  "entry",   e->id,
                          "stream", e->stream,  "deliveries", deliveries};
    send_answer(v, index, ARGC(argv), argv);
    v->dead_lettered++;
}

/* Only a decision made now counts in the room's statistics: a re-sent
 * result was counted when it was decided. EXPIRED counts as a rejection. */
static void count_room_stats(struct lg_validator *v, const struct entry *e, bool confirmed)
{
    struct lg_stats_delta *d = lg_stats_room(v->stats, e->room);
    if (!d)
        return;
    if (confirmed) {
        lg_stats_delta_count(d, LG_STAT_CONFIRMED, 1);
        long long amount = strtoll(e->result[4], NULL, 10);
        if (amount > 0)
            lg_stats_delta_count(d, LG_STAT_GMV_FEN, (unsigned long long)amount);
    } else {
        lg_stats_delta_count(d, LG_STAT_REJECTED, 1);
        lg_stats_delta_reject_code(d, e->result[1]);
    }
    long long decided = strtoll(e->result[RESULT_DECIDED_AT], NULL, 10);
    long long accepted = strtoll(e->result[RESULT_ACCEPTED_AT], NULL, 10);
    if (decided > 0 && accepted > 0) {
        long long ms = decided > accepted ? decided - accepted : 0;
        lg_stats_delta_confirm_us(d, (uint64_t)ms * 1000);
        if (ms > v->cfg.deadline_ms)
            lg_stats_delta_count(d, LG_STAT_SLA_VIOLATIONS, 1);
    }
}

static void count_result(struct lg_validator *v, const struct entry *e)
{
    if (strcmp(e->result[9], "1") != 0) {
        v->resent++;
        return;
    }
    v->decided++;
    bool confirmed = strcmp(e->result[0], "rejected") != 0;
    if (confirmed)
        v->confirmed++;
    else if (strcmp(e->result[1], "EXPIRED") == 0)
        v->expired++;
    else
        v->rejected++;
    count_room_stats(v, e, confirmed);
}

/* A confirmation took stock: the room's viewers hear of it, coalesced, and
 * at once when it took the last unit. (A re-sent confirmation touches again;
 * the script finds that state already published.) */
static void announce_stock(struct lg_validator *v, const struct entry *e)
{
    if (strcmp(e->result[RESULT_STATUS], "rejected") == 0)
        return;
    bool sold_out = strcmp(e->result[RESULT_STOCK_LEFT], "0") == 0;
    lg_sku_notifier_touch(v->sku_notifier, e->room, e->sku, sold_out);
}

static void answer_batch(struct lg_validator *v)
{
    begin_step(v, ack_batch);
    for (size_t i = 0; i < v->nbatch; i++) {
        struct entry *e = &v->batch[i];
        if (e->outcome == OUT_FAILED)
            continue; /* stays pending; claimed and retried later */
        if (e->outcome == OUT_DECIDED) {
            count_result(v, e);
            send_result(v, i);
            announce_stock(v, e);
        }
        if (e->force_expire)
            send_dead_letter(v, i);
        if (e->outcome == OUT_MISSING || e->outcome == OUT_MALFORMED)
            lg_log(LG_LOG_WARN, "validator.entry_dropped",
                   json_pack("{s:s,s:s,s:s}", "stream", e->stream, "entry", e->id, "reason",
                             e->outcome == OUT_MISSING ? "order record gone" : "malformed entry"));
    }
    end_step(v);
}

struct decide_ctx {
    struct lg_validator *v;
    size_t index;
};

static void on_decided(redisReply *reply, void *arg)
{
    struct decide_ctx *ctx = arg;
    struct lg_validator *v = ctx->v;
    struct entry *e = &v->batch[ctx->index];
    free(ctx);
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        e->outcome = OUT_FAILED;
        if (reply)
            lg_log(LG_LOG_ERROR, "validator.script_error",
                   json_pack("{s:s,s:s}", "order_id", e->order_id, "detail",
                             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
    } else if (reply->elements == 1) {
        e->outcome = OUT_MISSING;
    } else if (reply->elements == NRESULT) {
        e->outcome = OUT_DECIDED;
        for (int k = 0; k < NRESULT; k++)
            e->result[k] = strdup(reply->element[k]->str ? reply->element[k]->str : "");
    } else {
        e->outcome = OUT_FAILED;
    }
    step_reply(v);
}

static void decide(struct lg_validator *v, size_t index)
{
    struct entry *e = &v->batch[index];
    char k_order[LG_KEY_MAX], k_room[LG_KEY_MAX], k_sku[LG_KEY_MAX], k_coupon[LG_KEY_MAX],
        k_coupon_users[LG_KEY_MAX], k_live[LG_KEY_MAX];
    char deadline[16], margin[16], pay[16], feed[LG_KEY_MAX];
    lg_key_order(k_order, sizeof(k_order), e->room, e->order_id);
    if (lg_chan_feed(feed, sizeof(feed), e->room) < 0)
        feed[0] = 0;
    lg_key_room(k_room, sizeof(k_room), e->room);
    lg_key_sku(k_sku, sizeof(k_sku), e->room, e->sku);
    lg_key_coupon(k_coupon, sizeof(k_coupon), e->room, e->coupon);
    lg_key_coupon_users(k_coupon_users, sizeof(k_coupon_users), e->room, e->coupon);
    lg_key_user_live(k_live, sizeof(k_live), e->room, e->user);
    snprintf(deadline, sizeof(deadline), "%d", v->cfg.deadline_ms);
    snprintf(margin, sizeof(margin), "%d", v->cfg.margin_ms);
    snprintf(pay, sizeof(pay), "%d", v->cfg.pay_window_ms);
    const char *args[] = {k_order, k_room,   k_sku,  k_coupon, k_coupon_users,
                          k_live,  deadline, margin, pay,      e->force_expire ? "1" : "0",
                          feed};

    struct decide_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx) {
        e->outcome = OUT_FAILED;
        return;
    }
    ctx->v = v;
    ctx->index = index;
    v->pending++;
    if (lg_script_call(v->redis, &lg_script_validate, on_decided, ctx, 6, 11, args, NULL) != 0) {
        v->pending--;
        e->outcome = OUT_FAILED;
        free(ctx);
    }
}

static void process_batch(struct lg_validator *v)
{
    if (v->nbatch == 0) {
        next_cycle(v);
        return;
    }
    begin_step(v, answer_batch);
    for (size_t i = 0; i < v->nbatch; i++) {
        struct entry *e = &v->batch[i];
        if (e->deliveries > v->cfg.max_deliveries)
            e->force_expire = true;
        if (e->outcome == OUT_PENDING)
            decide(v, i);
    }
    end_step(v);
}

/* ---- claiming ----------------------------------------------------------- */

struct claim_ctx {
    struct lg_validator *v;
    char stream[LG_KEY_MAX];
};

static void on_claimed(redisReply *reply, void *arg)
{
    struct claim_ctx *ctx = arg;
    /* XAUTOCLAIM answers [next cursor, entries, deleted ids]. */
    struct lg_validator *v = ctx->v;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2)
        add_entries(v, ctx->stream, reply->element[1]);
    free(ctx);
    step_reply(v);
}

/* XPENDING (extended form) answers [[id, consumer, idle ms, deliveries], ...]:
 * how often each claimed entry has been handed out. */
static void on_pending(redisReply *reply, void *arg)
{
    struct claim_ctx *ctx = arg;
    struct lg_validator *v = ctx->v;
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        const redisReply *p = reply->element[i];
        if (p->type != REDIS_REPLY_ARRAY || p->elements != 4 || !p->element[0]->str)
            continue;
        for (size_t k = 0; k < v->nbatch; k++) {
            struct entry *e = &v->batch[k];
            if (strcmp(e->id, p->element[0]->str) == 0 && strcmp(e->stream, ctx->stream) == 0)
                e->deliveries = p->element[3]->integer;
        }
    }
    free(ctx);
    step_reply(v);
}

static void after_claim(struct lg_validator *v)
{
    if (v->nbatch)
        lg_log(LG_LOG_INFO, "validator.claimed",
               json_pack("{s:I}", "entries", (json_int_t)v->nbatch));
    process_batch(v);
}

static void claim(struct lg_validator *v)
{
    begin_step(v, after_claim);
    char idle[16], count[16];
    snprintf(idle, sizeof(idle), "%d", v->cfg.claim_idle_ms);
    snprintf(count, sizeof(count), "%d", v->cfg.batch);
    for (size_t i = 0; i < v->nrooms; i++) {
        for (int high = 1; high >= 0; high--) {
            struct claim_ctx *c1 = malloc(sizeof(*c1)), *c2 = malloc(sizeof(*c2));
            if (!c1 || !c2) {
                free(c1);
                free(c2);
                continue;
            }
            c1->v = c2->v = v;
            lg_key_stream(c1->stream, sizeof(c1->stream), v->rooms[i], high);
            memcpy(c2->stream, c1->stream, sizeof(c2->stream));
            const char *xautoclaim[] = {"XAUTOCLAIM",    c1->stream, LG_VALIDATOR_GROUP,
                                        v->cfg.consumer, idle,       "0-0",
                                        "COUNT",         count};
            v->pending++;
            if (lg_redis_argv(v->redis, on_claimed, c1, 8, xautoclaim, NULL) != 0) {
                v->pending--;
                free(c1);
                free(c2);
                continue;
            }
            const char *xpending[] = {"XPENDING", c2->stream, LG_VALIDATOR_GROUP, "-",
                                      "+",        count,      v->cfg.consumer};
            v->pending++;
            if (lg_redis_argv(v->redis, on_pending, c2, 7, xpending, NULL) != 0) {
                v->pending--;
                free(c2);
            }
        }
    }
    end_step(v);
}

/* ---- reading ------------------------------------------------------------- */

static void on_read_blocking(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    add_read_reply(v, reply);
    process_batch(v);
}

static void on_read_normal(redisReply *reply, void *arg);

/* XREADGROUP GROUP g consumer COUNT n [BLOCK ms] STREAMS k... >... */
static int send_read(struct lg_validator *v, int count, bool high, bool normal, int block_ms,
                     lg_redis_reply_fn fn)
{
    size_t nstreams = v->nrooms * ((high ? 1 : 0) + (normal ? 1 : 0));
    int argc = 0;
    const char **argv = malloc((10 + 2 * nstreams) * sizeof(*argv));
    char(*keys)[LG_KEY_MAX] = malloc((nstreams ? nstreams : 1) * sizeof(*keys));
    if (!argv || !keys) {
        free(argv);
        free(keys);
        return -1;
    }
    char count_s[16], block_s[16];
    snprintf(count_s, sizeof(count_s), "%d", count);
    snprintf(block_s, sizeof(block_s), "%d", block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = LG_VALIDATOR_GROUP;
    argv[argc++] = v->cfg.consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count_s;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block_s;
    }
    argv[argc++] = "STREAMS";
    size_t k = 0;
    for (int pass = 1; pass >= 0; pass--) {
        if ((pass == 1 && !high) || (pass == 0 && !normal))
            continue;
        for (size_t i = 0; i < v->nrooms; i++) {
            lg_key_stream(keys[k], LG_KEY_MAX, v->rooms[i], pass == 1);
            argv[argc++] = keys[k++];
        }
    }
    for (size_t i = 0; i < nstreams; i++)
        argv[argc++] = ">";
    int rc = lg_redis_argv(v->redis, fn, v, argc, argv, NULL);
    free(argv);
    free(keys);
    return rc;
}

static void on_read_normal(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    size_t got = add_read_reply(v, reply);
    if (!reply) {
        next_cycle(v);
        return;
    }
    if (got == 0 && v->got_high == 0 && !v->stopping) {
        if (send_read(v, v->cfg.batch, true, true, v->cfg.block_ms, on_read_blocking) != 0)
            schedule(v, 100);
        return;
    }
    process_batch(v);
}

static void on_read_high(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (!reply) {
        next_cycle(v);
        return;
    }
    v->got_high = add_read_reply(v, reply);
    int room_left = v->cfg.batch - (int)v->got_high;
    if (room_left <= 0) {
        process_batch(v); /* high leaves no capacity this round */
        return;
    }
    if (send_read(v, room_left, false, true, 0, on_read_normal) != 0)
        process_batch(v);
}

/* ---- the cycle ------------------------------------------------------------- */

static void log_stats(struct lg_validator *v)
{
    lg_log(LG_LOG_INFO, "validator.stats",
           json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "consumer", v->cfg.consumer, "rooms",
                     (json_int_t)v->nrooms, "decided", (json_int_t)v->decided, "confirmed",
                     (json_int_t)v->confirmed, "rejected", (json_int_t)v->rejected, "expired",
                     (json_int_t)v->expired, "dead_lettered", (json_int_t)v->dead_lettered,
                     "resent", (json_int_t)v->resent));
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void finish(struct lg_validator *v)
{
    if (v->stopped)
        return;
    v->stopped = true;
    log_stats(v);
    lg_stats_stop(v->stats);
    uv_close((uv_handle_t *)&v->timer, on_closed);
    lg_sku_notifier_free(v->sku_notifier);
    v->sku_notifier = NULL;
    lg_redis_close(v->redis);
    lg_log(LG_LOG_INFO, "validator.stopped", NULL);
}

static void cycle(struct lg_validator *v)
{
    if (v->stopping) {
        finish(v);
        return;
    }
    if (!lg_redis_is_up(v->redis)) {
        schedule(v, 100);
        return;
    }
    int64_t now = lg_mono_ms();
    if (now - v->last_stats_ms >= STATS_EVERY_MS) {
        v->last_stats_ms = now;
        log_stats(v);
    }
    if (now - v->last_rooms_ms >= ROOMS_EVERY_MS) {
        v->last_rooms_ms = now;
        refresh_rooms(v);
        return;
    }
    if (v->nrooms == 0) {
        schedule(v, v->cfg.block_ms);
        return;
    }
    if (now - v->last_trim_ms >= TRIM_EVERY_MS) {
        v->last_trim_ms = now;
        trim_streams(v);
        return;
    }
    if (now - v->last_claim_ms >= CLAIM_EVERY_MS) {
        v->last_claim_ms = now;
        claim(v);
        return;
    }
    if (send_read(v, v->cfg.batch, true, false, 0, on_read_high) != 0)
        schedule(v, 100);
}

/* ---- public ------------------------------------------------------------------ */

static void on_redis_state(struct lg_redis *r, bool up, void *arg)
{
    (void)arg;
    if (up)
        lg_scripts_load_all(r);
}

struct lg_validator *lg_validator_new(uv_loop_t *loop, const struct lg_validator_config *cfg)
{
    struct lg_validator *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->loop = loop;
    v->cfg = *cfg;
    v->room_set = lg_strmap_new();
    char name[96];
    snprintf(name, sizeof(name), "livegate-validator:%s", cfg->consumer);
    v->redis = lg_redis_new(loop, &cfg->redis, name, cfg->redis_timeout_ms);
    lg_redis_on_state(v->redis, on_redis_state, v);
    v->sku_notifier = lg_sku_notifier_new(loop, v->redis);
    uv_timer_init(loop, &v->timer);
    v->timer.data = v;
    v->stats = lg_stats_new(cfg->consumer, false);
    return v;
}

void lg_validator_start(struct lg_validator *v)
{
    lg_redis_start(v->redis);
    v->last_stats_ms = lg_mono_ms();
    lg_stats_start(v->stats, v->loop, v->redis);
    schedule(v, 0);
}

void lg_validator_stop(struct lg_validator *v)
{
    v->stopping = true;
}

void lg_validator_free(struct lg_validator *v)
{
    clear_batch(v);
    free(v->batch);
    free(v->rooms);
    lg_strmap_free(v->room_set);
    lg_stats_free(v->stats);
    free(v);
}

/* ---- configuration ---------------------------------------------------------- */

static int env_int(const char *name, int fallback, int lo, int hi, int *out, char *err, size_t n)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        *out = fallback;
        return 0;
    }
    char *end;
    long val = strtol(s, &end, 10);
    if (*end || val < lo || val > hi) {
        snprintf(err, n, "%s must be an integer from %d to %d", name, lo, hi);
        return -1;
    }
    *out = (int)val;
    return 0;
}

int lg_validator_config_load(struct lg_validator_config *c, char *err, size_t errsz)
{
    memset(c, 0, sizeof(*c));
    const char *url = getenv("LIVEGATE_REDIS_URL");
    char why[160];
    if (lg_redis_url_parse(url && *url ? url : "redis://127.0.0.1:6379/0", &c->redis, why,
                           sizeof(why)) != 0) {
        snprintf(err, errsz, "LIVEGATE_REDIS_URL: %s", why);
        return -1;
    }
    const char *id = getenv("LIVEGATE_VALIDATOR_ID");
    if (id && *id) {
        if (!lg_text_is_id(id, strlen(id))) {
            snprintf(err, errsz,
                     "LIVEGATE_VALIDATOR_ID must be 1-64 characters of [A-Za-z0-9_.:-]");
            return -1;
        }
        snprintf(c->consumer, sizeof(c->consumer), "%s", id);
    } else {
        unsigned char rnd[3] = {0};
        RAND_bytes(rnd, sizeof(rnd));
        snprintf(c->consumer, sizeof(c->consumer), "v-%ld-%02x%02x%02x", (long)getpid(), rnd[0],
                 rnd[1], rnd[2]);
    }
    if (env_int("LIVEGATE_VALIDATOR_BATCH", 128, 64, 4096, &c->batch, err, errsz) ||
        env_int("LIVEGATE_VALIDATOR_BLOCK_MS", 100, 10, 1000, &c->block_ms, err, errsz) ||
        env_int("LIVEGATE_DEADLINE_MS", 10000, 1000, 600000, &c->deadline_ms, err, errsz) ||
        env_int("LIVEGATE_EXPIRE_MARGIN_MS", 1000, 0, 5000, &c->margin_ms, err, errsz) ||
        env_int("LIVEGATE_PAY_WINDOW_MS", 900000, 1000, 86400000, &c->pay_window_ms, err, errsz) ||
        env_int("LIVEGATE_CLAIM_IDLE_MS", 3000, 500, 60000, &c->claim_idle_ms, err, errsz) ||
        env_int("LIVEGATE_MAX_DELIVERIES", 5, 1, 100, &c->max_deliveries, err, errsz) ||
        env_int("LIVEGATE_STREAM_RETENTION_MS", 900000, 60000, 86400000, &c->retention_ms, err,
                errsz) ||
        env_int("LIVEGATE_REDIS_TIMEOUT_MS", 2000, 100, 60000, &c->redis_timeout_ms, err, errsz))
        return -1;
    if (c->margin_ms >= c->deadline_ms) {
        snprintf(err, errsz, "LIVEGATE_EXPIRE_MARGIN_MS must be below LIVEGATE_DEADLINE_MS");
        return -1;
    }
    const char *level = getenv("LIVEGATE_LOG_LEVEL");
    int lv = lg_log_level_parse(level && *level ? level : "info");
    if (lv < 0) {
        snprintf(err, errsz, "LIVEGATE_LOG_LEVEL must be debug, info, warn or error");
        return -1;
    }
    c->log_level = (enum lg_log_level)lv;
    return 0;
}
