/* intake.c - dedup and enqueue (see intake.h). The order record carries
 * only masked personal data in clear; name, phone and address are sealed
 * with AES-256-GCM bound to the order id, so neither Redis, its AOF nor a
 * backup exposes them. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/fingerprint.h"
#include "features/intake.h"
#include "keys.h"
#include "livegate/clock.h"
#include "livegate/crypto.h"
#include "livegate/log.h"
#include "rules/mask.h"
#include "rules/protocol.h"
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
};

/* Sends a held result after whatever reply went out, or drops it when the
 * session is gone. */
static void send_held(struct lg_session *s, json_t *held)
{
    if (!held)
        return;
    if (s)
        lg_session_send(s, held);
    else
        json_decref(held);
}

static void base36(unsigned long long v, char *out, size_t n)
{
    char tmp[32];
    size_t i = 0;
    do {
        tmp[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        v /= 36;
    } while (v && i < sizeof(tmp));
    size_t j = 0;
    while (i && j + 1 < n)
        out[j++] = tmp[--i];
    out[j] = 0;
}

void lg_intake_new_order_id(char out[32])
{
    unsigned char rnd[6] = {0};
    RAND_bytes(rnd, sizeof(rnd));
    char ts[16];
    base36((unsigned long long)lg_wall_ms(), ts, sizeof(ts));
    snprintf(out, 32, "o-%s-%02x%02x%02x%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5]);
}

static void send_simple(struct lg_gateway *gw, const char *cmd, const char *key, const char *arg)
{
    const char *argv[] = {cmd, key, arg};
    lg_redis_argv(gw->redis, lg_redis_ignore_reply, NULL, arg ? 3 : 2, argv, NULL);
}

/* The personal part of the order, sealed as one JSON document. */
static char *seal_personal_data(struct lg_gateway *gw, const struct lg_order *o,
                                const char *order_id)
{
    const struct lg_address *a = &o->address;
    json_t *pii = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", a->name, "phone", a->phone, "province",
                            a->province, "city", a->city, "detail", a->detail);
    if (!pii)
        return NULL;
    if (a->has_district)
        json_object_set_new(pii, "district", json_string(a->district));
    if (a->has_postal_code)
        json_object_set_new(pii, "postal_code", json_string(a->postal_code));
    char *plain = json_dumps(pii, JSON_COMPACT);
    json_decref(pii);
    if (!plain)
        return NULL;
    size_t len = strlen(plain);
    char *sealed = lg_crypto_seal(gw->cfg.data_key, order_id, (unsigned char *)plain, len);
    OPENSSL_cleanse(plain, len);
    free(plain);
    return sealed;
}

static void reply_unavailable(struct lg_session *s, struct intake_req *r)
{
    r->gw->counters[LG_CTR_ORDERS_UNAVAILABLE]++;
    if (s)
        lg_session_send(s, lg_msg_error("UNAVAILABLE", "the order queue cannot be reached; retry",
                                        r->has_req ? r->req : NULL, r->client_order_id));
}

static void drop_index(struct intake_req *r)
{
    char key[LG_KEY_MAX];
    if (lg_key_order_index(key, sizeof(key), r->order_id) > 0)
        send_simple(r->gw, "DEL", key, NULL);
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
            lg_session_send(s, lg_msg_result(&res));
            if (strcmp(status, "rejected") != 0 && strcmp(status, "pending_payment") != 0)
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

static void on_enqueue_reply(redisReply *reply, void *arg)
{
    struct intake_req *r = arg;
    struct lg_session *s = r->w.owner;
    const char *req = r->has_req ? r->req : NULL;
    if (s)
        lg_waiter_detach(&r->w);
    json_t *held = lg_session_hold_close(&r->hold);

    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            lg_log(LG_LOG_ERROR, "intake.script_error", json_pack("{s:s}", "detail", reply->str));
        reply_unavailable(s, r);
        send_held(s, held);
        free(r);
        return;
    }
    const char *kind = reply->element[0]->str;
    const char *order_id = reply->element[1]->str;
    unsigned long long *c = r->gw->counters;

    if (strcmp(kind, "conflict") == 0) {
        c[LG_CTR_ORDERS_CONFLICT]++;
        drop_index(r);
        if (s)
            lg_session_send(s, lg_msg_error("IDEMPOTENCY_CONFLICT",
                                            "this client_order_id was used for a different order",
                                            req, r->client_order_id));
    } else if (reply->elements >= 4) {
        bool duplicate = strcmp(kind, "duplicate") == 0;
        const char *priority = reply->element[2]->str;
        long long accepted_at = strtoll(reply->element[3]->str, NULL, 10);
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
        if (s)
            lg_session_send(s, lg_msg_accepted(r->client_order_id, order_id, priority, duplicate,
                                               accepted_at, req));
        count_accept(r, duplicate);
        send_held(s, held);
        held = NULL;
        if (s && duplicate && fetch_duplicate_result(s, r))
            return;
    } else {
        reply_unavailable(s, r);
    }
    send_held(s, held);
    free(r);
}

/* Field/value pairs of the order record, in the ARGV layout of enqueue.lua. */
struct args {
    const char *v[64];
    int n;
};

static void add(struct args *a, const char *v)
{
    a->v[a->n++] = v;
}

static void add_pair(struct args *a, const char *field, const char *value)
{
    add(a, field);
    add(a, value);
}

void lg_intake_submit(struct lg_session *s, const struct lg_order *o, const char *req)
{
    struct lg_gateway *gw = s->gw;
    struct intake_req *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->gw = gw;
    r->started_us = lg_mono_us();
    snprintf(r->client_order_id, sizeof(r->client_order_id), "%s", o->client_order_id);
    snprintf(r->room, sizeof(r->room), "%s", o->room_id);
    if (req) {
        snprintf(r->req, sizeof(r->req), "%s", req);
        r->has_req = true;
    }
    if (!lg_redis_is_up(gw->redis)) {
        reply_unavailable(s, r);
        free(r);
        return;
    }
    lg_intake_new_order_id(r->order_id);

    char fingerprint[LG_FINGERPRINT_LEN + 1];
    lg_fingerprint_order(o, fingerprint);
    char *sealed = seal_personal_data(gw, o, r->order_id);
    if (!sealed) {
        lg_log(LG_LOG_ERROR, "intake.seal_failed", NULL);
        reply_unavailable(s, r);
        free(r);
        return;
    }
    char buyer[64], phone[16];
    lg_mask_name(o->address.name, buyer, sizeof(buyer));
    lg_mask_phone(o->address.phone, phone, sizeof(phone));

    char k_idem[LG_KEY_MAX], k_order[LG_KEY_MAX], k_room[LG_KEY_MAX], k_high[LG_KEY_MAX],
        k_normal[LG_KEY_MAX], k_index[LG_KEY_MAX];
    lg_key_idem(k_idem, sizeof(k_idem), o->room_id, s->claims.sub, o->client_order_id);
    lg_key_order(k_order, sizeof(k_order), o->room_id, r->order_id);
    lg_key_room(k_room, sizeof(k_room), o->room_id);
    lg_key_stream(k_high, sizeof(k_high), o->room_id, true);
    lg_key_stream(k_normal, sizeof(k_normal), o->room_id, false);
    lg_key_order_index(k_index, sizeof(k_index), r->order_id);

    char idem_ttl[16], order_ttl[16], qty[24], unit_price[24], amount[24];
    snprintf(idem_ttl, sizeof(idem_ttl), "%d", gw->cfg.idem_ttl_s);
    snprintf(order_ttl, sizeof(order_ttl), "%d", gw->cfg.order_ttl_s);
    snprintf(qty, sizeof(qty), "%lld", o->qty);
    snprintf(unit_price, sizeof(unit_price), "%lld", o->unit_price);
    snprintf(amount, sizeof(amount), "%lld", o->amount);

    struct args a = {.n = 0};
    add(&a, k_idem);
    add(&a, k_order);
    add(&a, k_room);
    add(&a, k_high);
    add(&a, k_normal);
    add(&a, r->order_id);
    add(&a, fingerprint);
    add(&a, idem_ttl);
    add(&a, order_ttl);
    add(&a, s->claims.vip ? "1" : "0");
    add(&a, amount);
    add(&a, s->claims.sub);
    add(&a, gw->cfg.gateway_id);
    add(&a, o->sku_id);
    add(&a, o->has_coupon ? o->coupon_id : "");
    char feed[LG_KEY_MAX];
    add(&a, lg_chan_feed(feed, sizeof(feed), o->room_id) < 0 ? "" : feed);
    add_pair(&a, "order_id", r->order_id);
    add_pair(&a, "room_id", o->room_id);
    add_pair(&a, "user", s->claims.sub);
    add_pair(&a, "client_order_id", o->client_order_id);
    add_pair(&a, "sku_id", o->sku_id);
    add_pair(&a, "qty", qty);
    add_pair(&a, "unit_price", unit_price);
    add_pair(&a, "amount", amount);
    add_pair(&a, "currency", o->currency);
    add_pair(&a, "payment_method", o->payment_method);
    add_pair(&a, "coupon_id", o->has_coupon ? o->coupon_id : "");
    add_pair(&a, "tier", s->claims.vip ? "vip" : "");
    add_pair(&a, "gw", gw->cfg.gateway_id);
    add_pair(&a, "session", s->id);
    add_pair(&a, "fingerprint", fingerprint);
    add_pair(&a, "buyer", buyer);
    add_pair(&a, "phone", phone);
    add_pair(&a, "province", o->address.province);
    add_pair(&a, "city", o->address.city);
    add_pair(&a, "pii", sealed);
    if (req)
        add_pair(&a, "req", req);

    /* The index goes first on the same connection, so by the time the order
     * exists the index does too; a duplicate or conflict deletes it again. */
    const char *set_index[] = {"SET", k_index, o->room_id, "EX", order_ttl};
    lg_redis_argv(gw->redis, lg_redis_ignore_reply, NULL, 5, set_index, NULL);
    lg_rooms_register_once(gw, o->room_id);

    int rc = lg_script_call(gw->redis, &lg_script_enqueue, on_enqueue_reply, r, 5, a.n, a.v, NULL);
    free(sealed);
    if (rc != 0) {
        reply_unavailable(s, r);
        free(r);
        return;
    }
    lg_waiter_attach(&s->waiters, &r->w, s);
    lg_session_hold_open(s, &r->hold, r->order_id);
}
