/* intake.c - dedup and enqueue (see intake.h). The order record carries
 * only masked personal data in clear; name, phone and address are sealed
 * with AES-256-GCM bound to the order id, so neither Redis, its AOF nor a
 * backup exposes them.
 *
 * Submits are batched per room: each joins its room's batch, and at the end
 * of the loop turn (a uv_check handle, which libuv runs right after the I/O
 * callbacks lws delivers frames from) every batch goes to Redis as one
 * enqueue.lua call, or earlier when a batch reaches LG_INTAKE_BATCH_MAX.
 * The order-id index and the rooms registration go out at the submit, so
 * they still precede the script on the connection.
 *
 * Admission: the script refuses what cannot be decided in time (BUSY) and
 * what passes the user's rate (RATE_LIMITED); this file adds the cap on a
 * connection's submits in flight, the jitter on retry_after_ms, and the
 * shedding of a refusing room's orders without a script call for
 * LG_SHED_HOLD_MS (rules/admission_rules.h says why). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/admission_rules.h"
#include "rules/fingerprint.h"
#include "rules/order_id.h"
#include "features/intake.h"
#include "keys.h"
#include "order_record.h"
#include "livegate/clock.h"
#include "livegate/crypto.h"
#include "livegate/log.h"
#include "livegate/random.h"
#include "livegate/strmap.h"
#include "livegate/text.h"
#include "rules/mask.h"
#include "rules/protocol.h"
#include "features/results.h"
#include "features/rooms.h"
#include "result_layout.h"
#include "scripts.h"
#include "stats.h"

struct intake_req {
    struct lg_waiter w; /* owner: the submitting session */
    struct lg_gateway *gw;
    char client_order_id[LG_ID_MAX + 1];
    char room[LG_ID_MAX + 1];
    char order_id[LG_ID_MAX + 1];
    char req[LG_ID_MAX + 1];
    bool has_req;
    /* open while the enqueue is in flight: a result that overtakes
     * order.accepted waits here and is sent after it (see session.h) */
    struct lg_session_hold hold;
    int64_t started_us; /* for the accept latency */
    long long amount;   /* what the room's threshold is learnt from */
    bool vip;
    bool high;    /* counted in the session's high_in_flight */
    bool indexed; /* the order id names no room: lg:oidx:{order_id} holds it */
};

/* Sends a held result after whatever reply went out, or drops it when the
 * session is gone. */
static void send_held(struct lg_session *s, struct lg_frame *held)
{
    if (held && s)
        lg_session_send_frame(s, held);
    lg_frame_unref(held);
}

bool lg_intake_new_order_id(char out[LG_ID_MAX + 1], const char *room)
{
    unsigned char rnd[LG_ORDER_ID_RANDOM];
    lg_random_fill(rnd, sizeof(rnd));
    return lg_order_id_format(out, (uint64_t)lg_wall_ms(), rnd, room);
}

/* Appends "name":<quoted value> (with a leading comma after the first). */
static char *put_member(char *o, const char *name, const char *value, bool first)
{
    if (!first)
        *o++ = ',';
    o += lg_text_json_quote(o, name);
    *o++ = ':';
    return o + lg_text_json_quote(o, value);
}

/* The personal part of the order, sealed as one JSON document. Written
 * directly rather than through a json_t: once per order, building and
 * dumping the object cost more than the sealing. */
static char *seal_personal_data(struct lg_gateway *gw, const struct lg_order *o,
                                const char *order_id)
{
    const struct lg_address *a = &o->address;
    const char *names[] = {"name",   "phone",    "province",   "city",
                           "detail", "district", "postal_code"};
    const char *values[] = {a->name,
                            a->phone,
                            a->province,
                            a->city,
                            a->detail,
                            a->has_district ? a->district : NULL,
                            a->has_postal_code ? a->postal_code : NULL};
    /* Every value lies within struct lg_address, so the document fits in
     * the quoting bound of that much text plus the names and punctuation:
     * no allocation per order. */
    char plain[LG_TEXT_JSON_QUOTED_MAX(sizeof(struct lg_address)) + 256];
    char *p = plain;
    *p++ = '{';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (values[i])
            p = put_member(p, names[i], values[i], p == plain + 1);
    *p++ = '}';
    size_t len = (size_t)(p - plain);
    char *sealed = lg_crypto_seal(gw->cfg.data_key, order_id, (unsigned char *)plain, len);
    OPENSSL_cleanse(plain, len);
    return sealed;
}

static void reply_unavailable(struct lg_session *s, struct intake_req *r)
{
    r->gw->counters[LG_CTR_ORDERS_UNAVAILABLE]++;
    if (s)
        lg_session_send(s, lg_msg_error("UNAVAILABLE", "the order queue cannot be reached; retry",
                                        r->has_req ? r->req : NULL, r->client_order_id));
}

static void note_room_open(struct intake_req *r, bool high);
static void note_high_amount(struct intake_req *r);
struct busy_answer {
    const char *threshold, *slot_us, *block_ms, *block_n; /* as enqueue.lua sent them */
};
static void note_room_busy(struct intake_req *r, bool high, int64_t retry_ms,
                           const struct busy_answer *a);

#define WHY_BUSY "the room cannot decide more orders within the deadline; retry later"
#define WHY_USER_RATE "too many orders from this user; retry later"
#define WHY_IN_FLIGHT "too many orders waiting for an answer on this connection"

/* The session's turns, made on its first BUSY; NULL when out of memory
 * (then the client is only ever a new one). */
static struct lg_turns *turns_of(struct lg_session *s)
{
    if (!s->turns)
        s->turns = calloc(1, sizeof(*s->turns));
    return s->turns;
}

static void note_turn(struct lg_session *s, const char *client_order_id, int64_t due_ms)
{
    struct lg_turns *t = turns_of(s);
    if (t)
        lg_turns_note(t, lg_turns_id(client_order_id), due_ms);
}

/* Whether the submit is a client back at the turn a BUSY gave it. */
static bool returns_at_turn(struct lg_session *s, const char *client_order_id)
{
    return s->turns && lg_turns_take(s->turns, lg_turns_id(client_order_id), lg_mono_ms());
}

/* BUSY or RATE_LIMITED (why says which limit), with base_ms of
 * retry_after_ms before jitter. */
static void reply_refusal(struct lg_session *s, struct intake_req *r, const char *code,
                          const char *why, int64_t base_ms)
{
    struct lg_gateway *gw = r->gw;
    bool busy = strcmp(code, "BUSY") == 0;
    gw->counters[busy ? LG_CTR_ORDERS_BUSY : LG_CTR_ORDERS_RATE_LIMITED]++;
    struct lg_stats_delta *d = lg_stats_room(gw->stats, r->room);
    if (d)
        lg_stats_delta_count(d, busy ? LG_STAT_BUSY : LG_STAT_RATE_LIMITED, 1);
    if (!s)
        return;
    uint32_t rnd = 0;
    lg_random_fill(&rnd, sizeof(rnd));
    int64_t retry_ms = lg_admission_retry_after(base_ms, rnd);
    if (busy)
        note_turn(s, r->client_order_id, lg_mono_ms() + retry_ms);
    char text[LG_MSG_REFUSAL_MAX];
    lg_session_send_copy(s, text,
                         lg_msg_refusal_text(text, code, why, retry_ms, r->has_req ? r->req : NULL,
                                             r->client_order_id));
}

static void drop_index(struct intake_req *r)
{
    char key[LG_KEY_MAX];
    const char *argv[] = {"DEL", key};
    if (r->indexed && lg_key_order_index(key, sizeof(key), r->order_id) > 0)
        lg_redis_argv(r->gw->redis, lg_redis_ignore_reply, NULL, 2, argv, NULL);
}

static const char *str_or_empty(const redisReply *r)
{
    return (r && r->type == REDIS_REPLY_STRING) ? r->str : "";
}

/* A duplicate of an order that already has a result gets the result again,
 * and an order.status when the order has moved on since (paid, ...). */
static void on_duplicate_record(redisReply *reply, void *arg)
{
    struct intake_req *r = arg;
    struct lg_session *s = r->w.owner;
    if (s)
        lg_waiter_detach(&r->w);
    if (s && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == LG_RESULT_NRECORD) {
        redisReply **e = reply->element;
        const char *status = str_or_empty(e[LG_RESULT_STATUS]);
        if (*status && strcmp(status, "queued") != 0) {
            struct lg_result res = {
                .order_id = r->order_id,
                .client_order_id = r->client_order_id,
                .status = status,
                .code = str_or_empty(e[LG_RESULT_CODE]),
                .field = str_or_empty(e[LG_RESULT_FIELD]),
                .message = str_or_empty(e[LG_RESULT_MESSAGE]),
                .req = r->has_req ? r->req : "",
                .amount = strtoll(str_or_empty(e[LG_RESULT_AMOUNT]), NULL, 10),
                .confirmed_at_ms = strtoll(str_or_empty(e[LG_RESULT_CONFIRMED_AT]), NULL, 10),
                .pay_deadline_ms = strtoll(str_or_empty(e[LG_RESULT_PAY_DEADLINE]), NULL, 10),
            };
            struct lg_frame *f = lg_results_frame(&res);
            lg_session_send_frame(s, f);
            lg_frame_unref(f);
            if (!lg_result_as_decided(&res))
                lg_session_send(
                    s, lg_msg_order_status(r->order_id, r->client_order_id, status,
                                           strtoll(str_or_empty(e[LG_RESULT_UPDATED_AT]), NULL, 10),
                                           r->has_req ? r->req : NULL));
        }
    }
    free(r);
}

/* Returns true when r now waits for the first order's record. */
static bool fetch_duplicate_result(struct lg_session *s, struct intake_req *r)
{
    char key[LG_KEY_MAX];
    if (lg_key_order(key, sizeof(key), r->room, r->order_id) < 0)
        return false;
    /* watch.lua, not HMGET: while the order is still queued this gateway
     * becomes one of its reply targets, so the result reaches a viewer who
     * reconnected to another gateway process and resubmitted. */
    const char *args[2 + LG_RESULT_NRECORD] = {key, r->gw->cfg.gateway_id};
    for (int i = 0; i < LG_RESULT_NRECORD; i++)
        args[2 + i] = lg_result_record_fields[i];
    if (lg_script_call(r->gw->redis, &lg_script_watch, on_duplicate_record, r, 1,
                       2 + LG_RESULT_NRECORD, args, NULL) != 0)
        return false;
    lg_waiter_attach(&s->waiters, &r->w, s);
    return true;
}

/* Accept latency runs from the submit frame to order.accepted being queued
 * for the socket, for new orders and duplicates alike. */
static void count_accept(struct intake_req *r, bool duplicate)
{
    struct lg_gateway *gw = r->gw;
    int64_t us = lg_mono_us() - r->started_us;
    if (us < 0)
        us = 0;
    lg_prom_hist_observe(&gw->latency.accept, (double)us / 1e6);
    struct lg_stats_delta *d = lg_stats_room(gw->stats, r->room);
    if (d) {
        lg_stats_delta_count(d, duplicate ? LG_STAT_DUPLICATES : LG_STAT_ACCEPTED, 1);
        lg_stats_delta_accept_us(d, (uint64_t)us);
    }
}

static bool all_strings(const redisReply *reply, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

/* Answers one order of a batch from its element of the script's reply
 * (NULL when the call failed) and frees r, unless a duplicate's result is
 * still to be fetched. True when the script admitted the order (accepted,
 * or a duplicate of one it had): what the gateway's line is spaced by. */
static bool answer_order(struct intake_req *r, const redisReply *reply)
{
    struct lg_session *s = r->w.owner;
    const char *req = r->has_req ? r->req : NULL;
    if (s) {
        lg_waiter_detach(&r->w);
        s->submits_in_flight--;
        if (r->high)
            s->high_in_flight--;
    }
    struct lg_frame *held = lg_session_hold_close(&r->hold);

    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        reply_unavailable(s, r);
        send_held(s, held);
        free(r);
        return false;
    }
    bool admitted = false;
    const char *kind = reply->element[0]->str;
    const char *order_id = reply->element[1]->str;
    unsigned long long *c = r->gw->counters;

    if (strcmp(kind, "busy") == 0 || strcmp(kind, "rate_limited") == 0) {
        bool busy = kind[0] == 'b';
        int64_t retry_ms = strtoll(order_id, NULL, 10);
        if (busy && reply->elements >= 7 && all_strings(reply, 2, 7)) {
            struct busy_answer a = {reply->element[3]->str, reply->element[4]->str,
                                    reply->element[5]->str, reply->element[6]->str};
            note_room_busy(r, strcmp(reply->element[2]->str, "high") == 0, retry_ms, &a);
        }
        drop_index(r);
        if (busy)
            reply_refusal(s, r, "BUSY", WHY_BUSY, retry_ms);
        else
            reply_refusal(s, r, "RATE_LIMITED", WHY_USER_RATE, retry_ms);
    } else if (strcmp(kind, "conflict") == 0) {
        c[LG_CTR_ORDERS_CONFLICT]++;
        drop_index(r);
        if (s)
            lg_session_send(s, lg_msg_error("IDEMPOTENCY_CONFLICT",
                                            "this client_order_id was used for a different order",
                                            req, r->client_order_id));
    } else if (reply->elements >= 4) {
        bool duplicate = strcmp(kind, "duplicate") == 0;
        admitted = true;
        const char *priority = reply->element[2]->str;
        long long accepted_at = strtoll(reply->element[3]->str, NULL, 10);
        note_room_open(r, strcmp(priority, "high") == 0);
        if (!duplicate && !r->vip && strcmp(priority, "high") == 0)
            note_high_amount(r);
        if (duplicate) {
            c[LG_CTR_ORDERS_DUPLICATE]++;
            drop_index(r);
            snprintf(r->order_id, sizeof(r->order_id), "%s", order_id);
        } else {
            c[LG_CTR_ORDERS_ACCEPTED]++;
            if (strcmp(priority, "high") == 0)
                c[LG_CTR_ACCEPTED_HIGH]++;
            else
                c[LG_CTR_ACCEPTED_NORMAL]++;
        }
        if (s) {
            char text[LG_MSG_ACCEPTED_MAX];
            lg_session_send_copy(s, text,
                                 lg_msg_accepted_text(text, r->client_order_id, order_id, priority,
                                                      duplicate, accepted_at, req));
        }
        count_accept(r, duplicate);
        send_held(s, held);
        held = NULL;
        if (s && duplicate && fetch_duplicate_result(s, r))
            return true;
    } else {
        if (strcmp(kind, "error") == 0)
            lg_log(LG_LOG_ERROR, "intake.order_write_failed",
                   json_pack("{s:s}", "detail", order_id));
        drop_index(r);
        reply_unavailable(s, r);
    }
    send_held(s, held);
    free(r);
    return admitted;
}

/* ---- the batch of one room ------------------------------------------------
 * The arguments of one EVALSHA, grown as orders join: bytes in one block,
 * each argument an offset and a length into it (the block moves as it
 * grows, so pointers are made only when the call is sent). */
struct arg_list {
    char *bytes;
    size_t used, cap;
    size_t *off, *len;
    int n, cap_n;
};

/* Room for one more argument of up to len bytes: where to write it, NULL
 * when out of memory. arg_list_commit then makes it the argument. */
static char *arg_list_reserve(struct arg_list *a, size_t len)
{
    if (a->used + len > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->used + len)
            cap *= 2;
        char *bytes = realloc(a->bytes, cap);
        if (!bytes)
            return NULL;
        a->bytes = bytes;
        a->cap = cap;
    }
    if (a->n == a->cap_n) {
        int cap_n = a->cap_n ? a->cap_n * 2 : 64;
        size_t *off = realloc(a->off, (size_t)cap_n * sizeof(*off));
        if (!off)
            return NULL;
        a->off = off;
        size_t *lens = realloc(a->len, (size_t)cap_n * sizeof(*lens));
        if (!lens)
            return NULL;
        a->len = lens;
        a->cap_n = cap_n;
    }
    return a->bytes + a->used;
}

/* The len bytes written where arg_list_reserve pointed are the next argument. */
static void arg_list_commit(struct arg_list *a, size_t len)
{
    a->off[a->n] = a->used;
    a->len[a->n] = len;
    a->used += len;
    a->n++;
}

static int arg_list_add_len(struct arg_list *a, const char *v, size_t len)
{
    char *to = arg_list_reserve(a, len);
    if (!to)
        return -1;
    memcpy(to, v, len);
    arg_list_commit(a, len);
    return 0;
}

static int arg_list_add(struct arg_list *a, const char *v)
{
    return arg_list_add_len(a, v, strlen(v));
}

/* Drops the arguments from the n-th on. */
static void arg_list_truncate(struct arg_list *a, int n)
{
    a->n = n;
    a->used = n ? a->off[n - 1] + a->len[n - 1] : 0;
}

static void arg_list_free(struct arg_list *a)
{
    free(a->bytes);
    free(a->off);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

/* The submits of one room in this loop turn. Owned by the intake's pending
 * list until it is sent, then by the script call's reply; each order in it
 * is owned by the batch until answered. */
struct batch {
    struct lg_list node; /* on lg_intake.pending until sent */
    struct lg_intake *in;
    char room[LG_ID_MAX + 1];
    struct arg_list keys, args; /* KEYS and ARGV of enqueue.lua */
    int n;
    bool sent;       /* the call went out: its reply counts in the intake's lag */
    bool in_map;     /* still the room's batch in by_room / high_by_room (not full) */
    bool high;       /* high-value orders only: sent before the others */
    int64_t born_ms; /* when its first order joined: how long it has waited */
    struct intake_req *orders[LG_INTAKE_BATCH_MAX];
};

/* Enqueue calls whose send times the intake remembers; more in flight than
 * this counts as lagging whatever their age. */
#define SENT_RING 1024

/* A room's last refusals (see admission_rules.h); owned by the intake's
 * list and map, forgotten once nothing is held. */
struct shed_entry {
    struct lg_list node; /* on lg_intake.sheds */
    struct lg_shed shed;
    char room[LG_ID_MAX + 1];
};

struct lg_intake {
    struct lg_gateway *gw;
    uv_check_t flush_check;         /* runs once per loop turn while batches wait */
    uv_timer_t high_wait;           /* when a waiting high-value batch may take an extra call */
    struct lg_list pending;         /* struct batch, in the order their rooms arrived */
    struct lg_strmap *by_room;      /* room -> its batch of normal orders being filled */
    struct lg_strmap *high_by_room; /* room -> its batch of high-value orders */
    struct lg_fingerprinter *fingerprinter;
    /* When the first order of each enqueue call in flight arrived, oldest
     * call at replied % ring: one connection answers in order, so the
     * oldest unanswered call holds the order that has waited longest. */
    int64_t sent_born_ms[SENT_RING];
    uint64_t sent, replied;
    int orders_in_flight; /* orders in batches, waiting or sent, not yet answered */
    /* How fast enqueue calls admit orders (per ms, 0 until measured):
     * the best rate of late, from the orders admitted since
     * admitted_at_ms; and the line of the submits refused because Redis
     * is behind (lagging_wait). */
    double admitted_per_ms;
    int admitted_n;
    int64_t admitted_at_ms;
    double lag_line_ms;
    struct lg_list sheds;           /* struct shed_entry */
    struct lg_strmap *shed_by_room; /* room -> struct shed_entry */
    int64_t sheds_pruned_ms;
};

static void shed_forget(struct lg_intake *in, struct shed_entry *e)
{
    lg_list_remove(&e->node);
    lg_strmap_del(in->shed_by_room, e->room);
    free(e);
}

/* Forgets the rooms that hold nothing any more, at most once a second. */
static void sheds_prune(struct lg_intake *in, int64_t now_ms)
{
    if (now_ms - in->sheds_pruned_ms < 1000)
        return;
    in->sheds_pruned_ms = now_ms;
    for (struct lg_list *q = in->sheds.next, *next; q != &in->sheds; q = next) {
        next = q->next;
        struct shed_entry *e = lg_list_entry(q, struct shed_entry, node);
        if (lg_shed_idle(&e->shed, now_ms))
            shed_forget(in, e);
    }
}

/* The room's state here, made when missing; NULL when out of memory. */
static struct shed_entry *shed_entry_of(struct lg_intake *in, const char *room)
{
    struct shed_entry *e = lg_strmap_get(in->shed_by_room, room);
    if (e)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->room, sizeof(e->room), "%s", room);
    if (lg_strmap_put(in->shed_by_room, e->room, e) != 0) {
        free(e);
        return NULL;
    }
    lg_list_insert_tail(&in->sheds, &e->node);
    return e;
}

static void note_room_busy(struct intake_req *r, bool high, int64_t retry_ms,
                           const struct busy_answer *a)
{
    struct lg_intake *in = r->gw->intake;
    if (!in)
        return;
    struct shed_entry *e = shed_entry_of(in, r->room);
    if (!e)
        return;
    int64_t now = lg_mono_ms();
    enum lg_shed_priority p = high ? LG_SHED_HIGH : LG_SHED_NORMAL;
    lg_shed_note_busy(&e->shed, now, p, retry_ms, a->threshold, a->slot_us);
    lg_shed_note_block(&e->shed, now, p, a->block_ms, a->block_n);
}

/* The script admitted an order of the room: its local refusals end. */
static void note_room_open(struct intake_req *r, bool high)
{
    struct lg_intake *in = r->gw->intake;
    struct shed_entry *e = in ? lg_strmap_get(in->shed_by_room, r->room) : NULL;
    if (e)
        lg_shed_note_open(&e->shed, high ? LG_SHED_HIGH : LG_SHED_NORMAL);
}

/* An order of r's amount was admitted high, not for a vip token: the
 * room's threshold is at most that amount, so orders of it or more are
 * high too, and wait in the high batches before the script says so (a
 * burst has no refusal yet to learn the threshold from). */
static void note_high_amount(struct intake_req *r)
{
    struct shed_entry *e = r->gw->intake ? shed_entry_of(r->gw->intake, r->room) : NULL;
    if (e)
        lg_shed_note_high_amount(&e->shed, lg_mono_ms(), r->amount);
}

/* The room's shed state here (NULL: the room is neither refusing nor has a
 * threshold learnt) and the order's priority as far as the gateway can
 * tell: vip, or the amount against the threshold the script said or the
 * admissions showed. Looked up once per submit. */
static struct shed_entry *shed_of(struct lg_intake *in, const struct lg_order *o, bool vip,
                                  enum lg_shed_priority *p)
{
    struct shed_entry *e = in ? lg_strmap_get(in->shed_by_room, o->room_id) : NULL;
    *p = e ? lg_shed_priority_of(&e->shed, o->amount, vip) : vip ? LG_SHED_HIGH : LG_SHED_NORMAL;
    return e;
}

static int64_t intake_lag_ms(const struct lg_intake *in, int64_t now_ms);

/* How long a connection's submits take to be answered now: about as long
 * as the oldest order this gateway holds has waited so far, and
 * LG_RETRY_INFLIGHT_MS at least. */
static int64_t in_flight_wait(const struct lg_intake *in)
{
    int64_t lag = in ? intake_lag_ms(in, lg_mono_ms()) : 0;
    if (lag > LG_RETRY_MAX_MS)
        lag = LG_RETRY_MAX_MS;
    return lag > LG_RETRY_INFLIGHT_MS ? lag : LG_RETRY_INFLIGHT_MS;
}

/* The retry_after_ms (before jitter) of a submit past the connection's
 * cap: its place in the connection's line (admission_rules.h), the places
 * a lag apart shared out over the cap. */
static int64_t cap_wait(struct lg_session *s, bool high)
{
    struct lg_gateway *gw = s->gw;
    int64_t lag = in_flight_wait(gw->intake);
    struct lg_turns *t = turns_of(s);
    return t ? lg_admission_cap_turn(t, lg_mono_ms(), lag, gw->cfg.conn_inflight, high) : lag;
}

/* How long the oldest order may wait before the gateway counts as behind
 * Redis: a fifth of LIVEGATE_ADMIT_WAIT_MS. */
static int64_t lag_bound_ms(const struct lg_intake *in)
{
    return in->gw->cfg.admit_wait_ms / 5;
}

/* Whether a submit is refused because this gateway is too far behind Redis
 * (see lg_intake_submit); a client back at its turn passes the cap on the
 * orders held, which was counted when it was first refused. */
static bool lagging(struct lg_intake *in, enum lg_shed_priority p, bool returning)
{
    if (!returning && in->orders_in_flight >= in->gw->cfg.intake_in_flight)
        return true;
    return lg_admission_lagging(intake_lag_ms(in, lg_mono_ms()), lag_bound_ms(in),
                                p == LG_SHED_HIGH, returning);
}

/* The retry_after_ms (before jitter) of an order refused because Redis is
 * behind: its turn when the room is refusing anyway, else its turn in the
 * gateway's own line, else (no admission rate measured yet) a random wait
 * that doubles with each refusal the order has had (admission_rules.h). */
static int64_t lagging_wait(struct lg_intake *in, struct lg_session *s, const struct lg_order *o,
                            struct shed_entry *e, enum lg_shed_priority p)
{
    int64_t now = lg_mono_ms();
    int64_t turn = e ? lg_shed_turn_only(&e->shed, now, p) : 0;
    if (turn)
        return turn;
    /* The gateway's own line: after the orders it holds, one place per
     * order the script admits. */
    if (in->admitted_per_ms > 0) {
        double rate = lg_admission_line_rate(in->admitted_per_ms, in->orders_in_flight,
                                             intake_lag_ms(in, now), lag_bound_ms(in));
        return lg_admission_line_turn(&in->lag_line_ms, now, (int64_t)(in->orders_in_flight / rate),
                                      1.0 / rate);
    }
    int refused = s->turns ? lg_turns_refused(s->turns, lg_turns_id(o->client_order_id)) : 0;
    uint32_t rnd = 0;
    lg_random_fill(&rnd, sizeof(rnd));
    return lg_admission_lag_retry(in->gw->cfg.admit_wait_ms, refused, rnd);
}

static void batch_free(struct batch *b)
{
    arg_list_free(&b->keys);
    arg_list_free(&b->args);
    free(b);
}

/* The keys and arguments every order of the room shares, in the layout of
 * enqueue.lua. */
static int batch_add_room_args(struct batch *b, const struct lg_gateway *gw)
{
    char k_room[LG_KEY_MAX], k_high[LG_KEY_MAX], k_normal[LG_KEY_MAX], k_watched[LG_KEY_MAX];
    char k_load[LG_KEY_MAX], feed[LG_KEY_MAX];
    char idem_ttl[16], order_ttl[16], wait[16], stall[16], rate[16], burst[16], reserve[16];
    if (lg_key_room(k_room, sizeof(k_room), b->room) < 0 ||
        lg_key_stream(k_high, sizeof(k_high), b->room, true) < 0 ||
        lg_key_stream(k_normal, sizeof(k_normal), b->room, false) < 0 ||
        lg_key_feed_watched(k_watched, sizeof(k_watched), b->room) < 0 ||
        lg_key_room_load(k_load, sizeof(k_load), b->room) < 0)
        return -1;
    if (lg_chan_feed(feed, sizeof(feed), b->room) < 0)
        feed[0] = 0;
    const struct lg_gateway_config *c = &gw->cfg;
    snprintf(idem_ttl, sizeof(idem_ttl), "%d", c->idem_ttl_s);
    snprintf(order_ttl, sizeof(order_ttl), "%d", c->order_ttl_s);
    snprintf(wait, sizeof(wait), "%d", c->admit_wait_ms);
    snprintf(stall, sizeof(stall), "%d", c->admit_stall_ms);
    snprintf(rate, sizeof(rate), "%d", c->user_rate);
    snprintf(burst, sizeof(burst), "%d", c->user_burst);
    /* The places to set aside should the script refuse: what this
     * gateway's last hold of the room handed out (see admission_rules.h). */
    struct shed_entry *e = lg_strmap_get(b->in->shed_by_room, b->room);
    snprintf(reserve, sizeof(reserve), "%d", e ? lg_shed_reserve(&e->shed) : LG_SHED_RESERVE_MIN);
    const char *keys[] = {k_room, k_high, k_normal, k_watched, k_load};
    const char *args[] = {idem_ttl, order_ttl, gw->cfg.gateway_id, b->room, feed, wait, stall, rate,
                          burst,    reserve};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (arg_list_add(&b->keys, keys[i]) != 0)
            return -1;
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        if (arg_list_add(&b->args, args[i]) != 0)
            return -1;
    return 0;
}

static void on_flush_check(uv_check_t *h);

/* Where a new batch waits: a normal one at the end, a high-value one after
 * the high-value ones already waiting, ahead of every normal one, so a
 * high order's call goes out first however many normal ones wait. */
static void queue_batch(struct lg_intake *in, struct batch *b)
{
    struct lg_list *at = &in->pending;
    if (b->high) {
        for (struct lg_list *q = lg_list_first(&in->pending); q;
             q = lg_list_next(&in->pending, q)) {
            if (!lg_list_entry(q, struct batch, node)->high)
                break;
            at = q;
        }
        lg_list_insert_after(at, &b->node);
    } else {
        lg_list_insert_tail(&in->pending, &b->node);
    }
}

static struct batch *batch_of_room(struct lg_intake *in, const char *room, bool high)
{
    struct lg_strmap *map = high ? in->high_by_room : in->by_room;
    struct batch *b = lg_strmap_get(map, room);
    if (b)
        return b;
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->in = in;
    b->high = high;
    b->born_ms = lg_mono_ms();
    snprintf(b->room, sizeof(b->room), "%s", room);
    if (batch_add_room_args(b, in->gw) != 0 || lg_strmap_put(map, room, b) != 0) {
        batch_free(b);
        return NULL;
    }
    b->in_map = true;
    if (lg_list_empty(&in->pending))
        uv_check_start(&in->flush_check, on_flush_check);
    queue_batch(in, b);
    return b;
}

static void batch_leave_map(struct lg_intake *in, struct batch *b)
{
    if (b->in_map)
        lg_strmap_del(b->high ? in->high_by_room : in->by_room, b->room);
    b->in_map = false;
}

/* How long the oldest order not yet answered has waited: in the oldest
 * enqueue call in flight, or in a batch waiting for its turn to be sent
 * (LIVEGATE_INTAKE_CALLS). Both count: under a flood the batches waiting
 * hold more than the calls, and a call's own age (since it was sent) would
 * leave out the time its orders waited before it. */
static int64_t intake_lag_ms(const struct lg_intake *in, int64_t now_ms)
{
    if (in->sent - in->replied > SENT_RING)
        return INT64_MAX;
    int64_t oldest = now_ms;
    if (in->sent != in->replied)
        oldest = in->sent_born_ms[in->replied % SENT_RING];
    /* The list holds the high-value batches, then the others, each in the
     * order they were made (queue_batch): the first normal one is the
     * oldest that can follow. */
    for (struct lg_list *q = lg_list_first(&in->pending); q; q = lg_list_next(&in->pending, q)) {
        const struct batch *b = lg_list_entry(q, struct batch, node);
        if (b->born_ms < oldest)
            oldest = b->born_ms;
        if (!b->high)
            break;
    }
    return now_ms - oldest;
}

static void flush_pending(struct lg_intake *in);

/* The admission rate, measured over windows of ADMIT_WINDOW_MS: the best
 * window of late, which loses ADMIT_DECAY of itself each window. Turns
 * are handed out while the gateway is behind, when the refusals
 * themselves take CPU and the rate measured then is low; once the flood
 * is over the places free at the rate the calls go at when not starved,
 * and turns spaced at the low rate would leave it idle. */
#define ADMIT_WINDOW_MS 250
#define ADMIT_DECAY 0.03
static void note_admitted(struct lg_intake *in, int n)
{
    int64_t now = lg_mono_ms();
    in->admitted_n += n;
    if (in->admitted_at_ms == 0) {
        in->admitted_at_ms = now;
        in->admitted_n = 0;
        return;
    }
    if (now - in->admitted_at_ms < ADMIT_WINDOW_MS)
        return;
    double measured = (double)in->admitted_n / (double)(now - in->admitted_at_ms);
    double kept = in->admitted_per_ms * (1 - ADMIT_DECAY);
    in->admitted_per_ms = measured > kept ? measured : kept;
    in->admitted_n = 0;
    in->admitted_at_ms = now;
}

static void on_batch_reply(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    struct lg_intake *in = b->in;
    bool sent = b->sent;
    if (sent)
        in->replied++;
    in->orders_in_flight -= b->n;
    bool whole = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == (size_t)b->n;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        lg_log(LG_LOG_ERROR, "intake.script_error", json_pack("{s:s}", "detail", reply->str));
    else if (reply && !whole)
        lg_log(LG_LOG_ERROR, "intake.script_reply_malformed", NULL);
    /* High-priority orders hear first, as they were written first. The
     * gateway's line places refused orders at the rate the script admits
     * them, not at the rate it answers (its refusals included). */
    int admitted = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < b->n; i++) {
            const redisReply *e = whole ? reply->element[i] : NULL;
            bool high = e && e->type == REDIS_REPLY_ARRAY && e->elements >= 3 &&
                        e->element[2]->type == REDIS_REPLY_STRING &&
                        strcmp(e->element[2]->str, "high") == 0;
            if (b->orders[i] && high == (pass == 0)) {
                admitted += answer_order(b->orders[i], e);
                b->orders[i] = NULL;
            }
        }
    }
    note_admitted(in, admitted);
    batch_free(b);
    /* A call's place is free: the batches that waited for it go now. */
    if (sent)
        flush_pending(in);
}

/* Sends b as one script call; every order in it is answered UNAVAILABLE
 * when the call cannot be sent. */
static void batch_send(struct batch *b)
{
    struct lg_intake *in = b->in;
    lg_list_remove(&b->node);
    batch_leave_map(in, b);
    if (lg_list_empty(&in->pending))
        uv_check_stop(&in->flush_check);
    if (b->n == 0) {
        batch_free(b);
        return;
    }

    int nkeys = b->keys.n, argc = b->keys.n + b->args.n;
    const char **argv = malloc((size_t)argc * sizeof(*argv));
    size_t *lens = malloc((size_t)argc * sizeof(*lens));
    int rc = -1;
    if (argv && lens) {
        for (int i = 0; i < b->keys.n; i++) {
            argv[i] = b->keys.bytes + b->keys.off[i];
            lens[i] = b->keys.len[i];
        }
        for (int i = 0; i < b->args.n; i++) {
            argv[nkeys + i] = b->args.bytes + b->args.off[i];
            lens[nkeys + i] = b->args.len[i];
        }
        rc = lg_script_call(in->gw->redis, &lg_script_enqueue, on_batch_reply, b, nkeys, argc, argv,
                            lens);
    }
    free(argv);
    free(lens);
    if (rc != 0) {
        on_batch_reply(NULL, b);
        return;
    }
    b->sent = true;
    unsigned long long *ctr = in->gw->counters;
    ctr[b->high ? LG_CTR_INTAKE_CALLS_HIGH : LG_CTR_INTAKE_CALLS_NORMAL]++;
    ctr[b->high ? LG_CTR_INTAKE_CALL_ORDERS_HIGH : LG_CTR_INTAKE_CALL_ORDERS_NORMAL] +=
        (unsigned long long)b->n;
    in->sent_born_ms[in->sent % SENT_RING] = b->born_ms;
    in->sent++;
    /* The script call holds a copy of the arguments. */
    arg_list_free(&b->keys);
    arg_list_free(&b->args);
}

static void on_high_wait(uv_timer_t *t);

/* Sends the waiting batches, high-value ones first, while fewer than
 * LIVEGATE_INTAKE_CALLS enqueue calls are in flight (twice as many for a
 * high-value batch that has waited, lg_admission_call_slots says why).
 * Why a cap: Redis runs a client's queued commands back to back, so a
 * gateway with many large scripts queued holds every other client - the
 * validators' reads and decisions above all - behind them, and the orders
 * it has admitted miss their deadline. Batches that wait grow instead (up
 * to LG_INTAKE_BATCH_MAX), which costs Redis less per order. */
static void flush_pending(struct lg_intake *in)
{
    int64_t now = lg_mono_ms();
    int calls = in->gw->cfg.intake_calls;
    while (!lg_list_empty(&in->pending)) {
        struct batch *b = lg_list_entry(lg_list_first(&in->pending), struct batch, node);
        int64_t waited = now - b->born_ms;
        uint64_t in_flight = in->sent - in->replied;
        if (in_flight < (uint64_t)lg_admission_call_slots(calls, b->high, waited)) {
            batch_send(b);
            continue;
        }
        /* A quiet loop may have no turn before the batch has waited long
         * enough to take an extra call: the timer gives it one. */
        bool may_wait_for_extra =
            b->high && in_flight < (uint64_t)lg_admission_call_slots(calls, true, INT64_MAX);
        if (may_wait_for_extra && !uv_is_active((uv_handle_t *)&in->high_wait))
            uv_timer_start(&in->high_wait, on_high_wait, (uint64_t)(LG_HIGH_EXTRA_CALL_MS - waited),
                           0);
        break;
    }
}

static void on_high_wait(uv_timer_t *t)
{
    flush_pending(t->data);
}

/* The end of the loop turn: libuv runs check handles right after polling
 * for I/O, so every submit lws delivered in this turn has joined its batch. */
static void on_flush_check(uv_check_t *h)
{
    struct lg_intake *in = h->data;
    if (!lg_list_empty(&in->sheds))
        sheds_prune(in, lg_mono_ms());
    flush_pending(in);
}

struct lg_intake *lg_intake_new(struct lg_gateway *gw)
{
    struct lg_intake *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->by_room = lg_strmap_new();
    in->high_by_room = lg_strmap_new();
    in->shed_by_room = lg_strmap_new();
    in->fingerprinter = lg_fingerprinter_new(gw->cfg.data_key);
    if (!in->by_room || !in->high_by_room || !in->shed_by_room || !in->fingerprinter) {
        lg_strmap_free(in->by_room);
        lg_strmap_free(in->high_by_room);
        lg_strmap_free(in->shed_by_room);
        lg_fingerprinter_free(in->fingerprinter);
        free(in);
        return NULL;
    }
    in->gw = gw;
    lg_list_init(&in->pending);
    lg_list_init(&in->sheds);
    uv_check_init(gw->loop, &in->flush_check);
    in->flush_check.data = in;
    uv_timer_init(gw->loop, &in->high_wait);
    in->high_wait.data = in;
    return in;
}

static void on_check_closed(uv_handle_t *h)
{
    struct lg_intake *in = h->data;
    while (!lg_list_empty(&in->sheds))
        shed_forget(in, lg_list_entry(lg_list_first(&in->sheds), struct shed_entry, node));
    lg_strmap_free(in->shed_by_room);
    lg_strmap_free(in->by_room);
    lg_strmap_free(in->high_by_room);
    lg_fingerprinter_free(in->fingerprinter);
    free(in);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lg_intake *in = h->data;
    uv_close((uv_handle_t *)&in->flush_check, on_check_closed);
}

void lg_intake_close(struct lg_intake *in)
{
    if (!in)
        return;
    /* Closing: every waiting batch goes now, whatever the cap. */
    while (!lg_list_empty(&in->pending))
        batch_send(lg_list_entry(lg_list_first(&in->pending), struct batch, node));
    /* One handle after the other: the check's close frees the intake, the
     * timer inside it included. */
    uv_close((uv_handle_t *)&in->high_wait, on_timer_closed);
}

/* ---- one submit -------------------------------------------------------- */

/* The record's d (order_record.h) as the next argument, packed straight
 * into the list: no copy, no allocation. */
static int add_record_arg(struct arg_list *a, const char *const fixed[LG_ORDER_NFIXED])
{
    size_t len = lg_order_record_len(fixed);
    char *d = arg_list_reserve(a, len + 1); /* pack writes a NUL after the last value */
    if (!d)
        return -1;
    lg_order_record_pack(d, fixed);
    arg_list_commit(a, len);
    return 0;
}

/* The order's keys and arguments in enqueue.lua's layout: three keys, then
 * the fingerprint, the record's fixed fields as one value (order_record.h),
 * the order id, the stream entry's ids, the tier and the amount. */
static int add_order_args(struct batch *b, struct lg_session *s, const struct lg_order *o,
                          const struct intake_req *r, const char *sealed)
{
    const struct lg_gateway *gw = b->in->gw;
    char k_idem[LG_KEY_MAX], k_order[LG_KEY_MAX], k_rate[LG_KEY_MAX];
    if (lg_key_idem(k_idem, sizeof(k_idem), o->room_id, s->claims.sub, o->client_order_id) < 0 ||
        lg_key_order(k_order, sizeof(k_order), o->room_id, r->order_id) < 0 ||
        lg_key_user_rate(k_rate, sizeof(k_rate), o->room_id, s->claims.sub) < 0)
        return -1;
    char fingerprint[LG_FINGERPRINT_LEN + 1], buyer[64], phone[16];
    if (!lg_fingerprint_order(b->in->fingerprinter, o, fingerprint))
        return -1;
    lg_mask_name(o->address.name, buyer, sizeof(buyer));
    lg_mask_phone(o->address.phone, phone, sizeof(phone));
    char qty[LG_TEXT_I64_MAX], unit_price[LG_TEXT_I64_MAX], amount[LG_TEXT_I64_MAX];
    lg_text_i64(qty, o->qty);
    lg_text_i64(unit_price, o->unit_price);
    lg_text_i64(amount, o->amount);
    const char *coupon = o->has_coupon ? o->coupon_id : "", *tier = s->claims.vip ? "vip" : "";

    const char *fixed[LG_ORDER_NFIXED] = {
        [LG_OF_ORDER_ID] = r->order_id,
        [LG_OF_ROOM_ID] = o->room_id,
        [LG_OF_GW] = gw->cfg.gateway_id,
        [LG_OF_USER] = s->claims.sub,
        [LG_OF_CLIENT_ORDER_ID] = o->client_order_id,
        [LG_OF_SKU_ID] = o->sku_id,
        [LG_OF_QTY] = qty,
        [LG_OF_UNIT_PRICE] = unit_price,
        [LG_OF_AMOUNT] = amount,
        [LG_OF_CURRENCY] = o->currency,
        [LG_OF_PAYMENT_METHOD] = o->payment_method,
        [LG_OF_COUPON_ID] = coupon,
        [LG_OF_TIER] = tier,
        [LG_OF_BUYER] = buyer,
        [LG_OF_PHONE] = phone,
        [LG_OF_PII] = sealed,
        [LG_OF_REQ] = r->has_req ? r->req : "",
    };
    /* The entry's ids: enqueue.lua appends accepted_at_ms and the gateway. */
    char entry[4 * (LG_ID_MAX + 1) + 4];
    int entry_len = lg_text_join(
        entry, sizeof(entry),
        (const char *const[]){r->order_id, "|", s->claims.sub, "|", o->sku_id, "|", coupon}, 7);
    if (entry_len < 0)
        return -1;

    int nkeys = b->keys.n, nargs = b->args.n;
    bool ok = arg_list_add(&b->keys, k_idem) == 0 && arg_list_add(&b->keys, k_order) == 0 &&
              arg_list_add(&b->keys, k_rate) == 0 && arg_list_add(&b->args, fingerprint) == 0 &&
              add_record_arg(&b->args, fixed) == 0 && arg_list_add(&b->args, r->order_id) == 0 &&
              arg_list_add_len(&b->args, entry, (size_t)entry_len) == 0 &&
              arg_list_add(&b->args, tier) == 0 && arg_list_add(&b->args, amount) == 0;
    /* All of the order or none of it, so the layout stays whole. */
    if (!ok) {
        arg_list_truncate(&b->keys, nkeys);
        arg_list_truncate(&b->args, nargs);
        return -1;
    }
    return 0;
}

void lg_intake_submit(struct lg_session *s, const struct lg_order *o, const char *req)
{
    struct lg_gateway *gw = s->gw;
    struct intake_req *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->gw = gw;
    r->started_us = lg_mono_us();
    r->amount = o->amount;
    r->vip = s->claims.vip;
    lg_text_copy(r->client_order_id, sizeof(r->client_order_id), o->client_order_id);
    lg_text_copy(r->room, sizeof(r->room), o->room_id);
    if (req) {
        lg_text_copy(r->req, sizeof(r->req), req);
        r->has_req = true;
    }
    /* Refusals that cost Redis nothing come first. */
    enum lg_shed_priority p;
    struct shed_entry *e = shed_of(gw->intake, o, s->claims.vip, &p);
    if (lg_admission_conn_full(s->submits_in_flight, s->high_in_flight, gw->cfg.conn_inflight,
                               p == LG_SHED_HIGH)) {
        reply_refusal(s, r, "RATE_LIMITED", WHY_IN_FLIGHT, cap_wait(s, p == LG_SHED_HIGH));
        free(r);
        return;
    }
    /* A client back at its turn takes the place kept for it. */
    bool returning = returns_at_turn(s, o->client_order_id);
    int64_t shed_ms = e && !returning ? lg_shed_take_turn(&e->shed, lg_mono_ms(), p) : 0;
    /* Redis so far behind that this order would wait a fifth of the
     * admitted wait just to be enqueued, or this gateway's enqueue calls
     * already hold LIVEGATE_INTAKE_IN_FLIGHT orders: sending more would only
     * lengthen Redis's queue, where the validators' reads and the replies
     * wait behind them, so it is refused here. A high-value order is
     * refused only for the second reason: it is shed last, and the few
     * there are lengthen the queue little. A client back at its turn is
     * refused only when twice as far behind (lg_admission_lagging). */
    if (!shed_ms && gw->intake && lagging(gw->intake, p, returning)) {
        gw->counters[LG_CTR_ORDERS_LAG_SHED]++;
        shed_ms = lagging_wait(gw->intake, s, o, e, p);
    }
    if (shed_ms > 0) {
        reply_refusal(s, r, "BUSY", WHY_BUSY, shed_ms);
        free(r);
        return;
    }
    struct batch *b = NULL;
    if (!gw->intake || !lg_redis_is_up(gw->redis) ||
        !(b = batch_of_room(gw->intake, o->room_id, p == LG_SHED_HIGH))) {
        reply_unavailable(s, r);
        free(r);
        return;
    }
    r->indexed = !lg_intake_new_order_id(r->order_id, o->room_id);

    char *sealed = seal_personal_data(gw, o, r->order_id);
    if (!sealed) {
        lg_log(LG_LOG_ERROR, "intake.seal_failed", NULL);
        reply_unavailable(s, r);
        free(r);
        return;
    }
    int rc = add_order_args(b, s, o, r, sealed);
    free(sealed);
    if (rc != 0) {
        reply_unavailable(s, r);
        free(r);
        return;
    }

    /* An id that cannot name its room has an index. It goes first on the
     * same connection, so by the time the order exists the index does too;
     * a duplicate or conflict deletes it again. */
    if (r->indexed) {
        char k_index[LG_KEY_MAX], order_ttl[16];
        lg_key_order_index(k_index, sizeof(k_index), r->order_id);
        snprintf(order_ttl, sizeof(order_ttl), "%d", gw->cfg.order_ttl_s);
        const char *set_index[] = {"SET", k_index, o->room_id, "EX", order_ttl};
        lg_redis_argv(gw->redis, lg_redis_ignore_reply, NULL, 5, set_index, NULL);
    }
    lg_rooms_note_order(gw, o->room_id);

    b->orders[b->n++] = r;
    gw->intake->orders_in_flight++;
    lg_waiter_attach(&s->waiters, &r->w, s);
    s->submits_in_flight++;
    r->high = p == LG_SHED_HIGH;
    if (r->high)
        s->high_in_flight++;
    lg_session_hold_open(s, &r->hold, r->order_id);
    if (b->n == LG_INTAKE_BATCH_MAX) {
        /* Full: it waits for its call as it is; the room's next order
         * starts a new batch. */
        batch_leave_map(gw->intake, b);
        flush_pending(gw->intake);
    }
}
