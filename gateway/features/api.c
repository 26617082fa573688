/* api.c - the HTTP API (see api.h). Handlers check the token, the path and
 * the body before touching Redis, so a bad request changes nothing. Writes
 * are pipelined and answered once Redis has confirmed every command. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "features/api.h"
#include "features/backoffice.h"
#include "rules/backoffice_rules.h"
#include "rules/catalog_rules.h"
#include "rules/order_id.h"
#include "keys.h"
#include "order_record.h"
#include "sku_notify.h"
#include "livegate/clock.h"
#include "livegate/crypto.h"
#include "livegate/log.h"
#include "livegate/token.h"
#include "features/metrics.h"
#include "features/room_delete.h"
#include "features/rooms.h"
#include "rules/order_rules.h"
#include "scripts.h"
#include "stats.h"

/* ---- routing ------------------------------------------------------------ */

#define MAX_SEGMENTS 6

static int split_path(char *copy, char **seg)
{
    if (copy[0] != '/')
        return -1;
    int n = 0;
    char *p = copy + 1;
    while (*p) {
        if (n == MAX_SEGMENTS)
            return -1;
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = 0;
        p = slash + 1;
        if (!*p)
            return -1; /* a trailing slash names nothing */
    }
    for (int i = 0; i < n; i++)
        if (!*seg[i])
            return -1;
    return n;
}

static bool take_id(struct lg_route *out, char *dst, const char *seg, const char *field)
{
    if (!lg_text_is_id(seg, strlen(seg))) {
        out->id = LG_ROUTE_BAD_ID;
        out->bad_field = field;
        return false;
    }
    snprintf(dst, LG_ID_MAX + 1, "%s", seg);
    return true;
}

/* A path's methods: what each is routed to, and the Allow header a 405
 * of that path carries. */
struct path_methods {
    const char *allow;
    struct {
        enum lg_http_method method;
        enum lg_route_id id;
    } m[3];
    int n;
};

static const struct path_methods HEALTHZ = {"GET", {{LG_HTTP_GET, LG_ROUTE_HEALTHZ}}, 1};
static const struct path_methods METRICS = {"GET", {{LG_HTTP_GET, LG_ROUTE_METRICS}}, 1};
static const struct path_methods AUDIT = {"GET", {{LG_HTTP_GET, LG_ROUTE_AUDIT_GET}}, 1};
static const struct path_methods ORDER = {"GET", {{LG_HTTP_GET, LG_ROUTE_ORDER_GET}}, 1};
static const struct path_methods ROOM = {"GET, PUT, DELETE",
                                         {{LG_HTTP_GET, LG_ROUTE_ROOM_GET},
                                          {LG_HTTP_PUT, LG_ROUTE_ROOM_PUT},
                                          {LG_HTTP_DELETE, LG_ROUTE_ROOM_DELETE}},
                                         3};
static const struct path_methods SKUS = {"GET", {{LG_HTTP_GET, LG_ROUTE_SKUS_GET}}, 1};
static const struct path_methods SKU = {
    "PUT, DELETE", {{LG_HTTP_PUT, LG_ROUTE_SKU_PUT}, {LG_HTTP_DELETE, LG_ROUTE_SKU_DELETE}}, 2};
static const struct path_methods COUPON = {"GET, PUT, DELETE",
                                           {{LG_HTTP_GET, LG_ROUTE_COUPON_GET},
                                            {LG_HTTP_PUT, LG_ROUTE_COUPON_PUT},
                                            {LG_HTTP_DELETE, LG_ROUTE_COUPON_DELETE}},
                                           3};

static void want(struct lg_route *out, enum lg_http_method method, const struct path_methods *pm)
{
    out->allow = pm->allow;
    out->id = LG_ROUTE_METHOD_NOT_ALLOWED;
    for (int i = 0; i < pm->n; i++)
        if (pm->m[i].method == method)
            out->id = pm->m[i].id;
}

void lg_api_route(enum lg_http_method method, const char *path, struct lg_route *out)
{
    memset(out, 0, sizeof(*out));
    char copy[256];
    char *seg[MAX_SEGMENTS];
    if (strlen(path) >= sizeof(copy))
        return;
    snprintf(copy, sizeof(copy), "%s", path);
    int n = split_path(copy, seg);
    if (n == 1 && strcmp(seg[0], "healthz") == 0) {
        want(out, method, &HEALTHZ);
        return;
    }
    if (n == 1 && strcmp(seg[0], "metrics") == 0) {
        want(out, method, &METRICS);
        return;
    }
    if (n == 2 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "audit") == 0) {
        want(out, method, &AUDIT);
        return;
    }
    if (n < 3 || strcmp(seg[0], "v1") != 0)
        return;
    if (strcmp(seg[1], "orders") == 0 && n == 3) {
        if (take_id(out, out->item, seg[2], "order_id"))
            want(out, method, &ORDER);
        return;
    }
    if (strcmp(seg[1], "rooms") != 0)
        return;
    bool skus = n >= 4 && strcmp(seg[3], "skus") == 0;
    bool coupons = n == 5 && strcmp(seg[3], "coupons") == 0;
    if (!(n == 3 || (skus && n <= 5) || coupons))
        return;
    if (!take_id(out, out->room, seg[2], "room"))
        return;
    if (n == 3)
        want(out, method, &ROOM);
    else if (skus && n == 4)
        want(out, method, &SKUS);
    else if (take_id(out, out->item, seg[4], skus ? "sku" : "coupon"))
        want(out, method, skus ? &SKU : &COUPON);
}

/* ---- access --------------------------------------------------------------- */

static bool authenticate(struct lg_http *h, struct lg_claims *claims)
{
    const char *auth = h->authorization;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        lg_http_error(h, 401, "UNAUTHORIZED", "an Authorization: Bearer <token> header is required",
                      NULL);
        return false;
    }
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    struct lg_gateway *gw = h->gw;
    enum lg_token_error e = lg_token_verify(gw->cfg.jwt_secret, gw->cfg.jwt_secret_len, token,
                                            lg_wall_ms() / 1000, claims);
    if (e != LG_TOKEN_OK) {
        lg_http_error(h, 401, "UNAUTHORIZED", lg_token_error_str(e), NULL);
        return false;
    }
    return true;
}

static void forbid(struct lg_http *h, const char *why)
{
    lg_http_error(h, 403, "FORBIDDEN", why, NULL);
}

static void unavailable(struct lg_http *h)
{
    lg_http_error(h, 503, "UNAVAILABLE", "the store cannot be reached; retry", NULL);
}

/* ---- a batch of Redis commands answered together ---------------------- */

struct batch;
typedef void (*batch_done_fn)(struct batch *b, struct lg_http *h);

struct batch {
    struct lg_waiter w; /* owner: the HTTP request */
    struct lg_gateway *gw;
    int pending;
    bool failed;
    int status;     /* a handler's verdict other than success (403, 404), or 0 */
    json_t *answer; /* what a success answers; the batch owns it */
    json_t *items;  /* GET skus: one object per SKU, filled in reply order */
    size_t filled;
    struct lg_claims claims;
    char item[LG_ID_MAX + 1];
    char room[LG_ID_MAX + 1];        /* PUT, DELETE sku: whose viewers hear; GET room */
    bool urgent;                     /* PUT, DELETE sku: sold out or off sale */
    const char *not_found;           /* answer_found's 404 message */
    batch_done_fn done;              /* builds the answer, while the client is still there */
    void (*stored)(struct batch *b); /* after a write succeeded, whoever still listens */
};

static struct batch *batch_new(struct lg_http *h, batch_done_fn done)
{
    struct batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->gw = h->gw;
    b->done = done;
    lg_waiter_attach(&h->waiters, &b->w, h);
    return b;
}

static void batch_finish(struct batch *b)
{
    struct lg_http *h = b->w.owner;
    if (!b->failed && b->stored)
        b->stored(b);
    if (h) {
        lg_waiter_detach(&b->w);
        if (b->failed)
            unavailable(h);
        else
            b->done(b, h);
    }
    json_decref(b->answer);
    json_decref(b->items);
    free(b);
}

/* Sends one command of the batch; one that cannot be sent fails the batch. */
static void batch_send(struct batch *b, lg_redis_reply_fn fn, int argc, const char **argv)
{
    b->pending++;
    if (lg_redis_argv(b->gw->redis, fn, b, argc, argv, NULL) != 0) {
        b->failed = true;
        b->pending--;
    }
}

/* Ends the sending phase: a batch whose every command failed to send is
 * answered now, the others when their last reply arrives. */
static void batch_sent(struct batch *b)
{
    if (b->pending == 0)
        batch_finish(b);
}

static void on_batch_reply(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        b->failed = true;
    if (--b->pending == 0)
        batch_finish(b);
}

static void answer_stored(struct batch *b, struct lg_http *h)
{
    lg_http_respond(h, 200, json_incref(b->answer));
}

/* ---- GET /v1/audit ------------------------------------------------------- */

static void on_audit_entries(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    json_t *entries = lg_backoffice_audit_entries(reply);
    if (entries)
        b->answer = json_pack("{s:o}", "entries", entries);
    else
        b->failed = true;
    if (--b->pending == 0)
        batch_finish(b);
}

static void get_audit(struct lg_http *h, const struct lg_audit_query *q)
{
    char key[LG_KEY_MAX], count[16];
    lg_key_audit(key, sizeof(key), q->room);
    snprintf(count, sizeof(count), "%d", q->limit);
    struct batch *b = batch_new(h, answer_stored);
    if (!b)
        return;
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", count};
    batch_send(b, on_audit_entries, 6, argv);
    batch_sent(b);
}

/* ---- request bodies -------------------------------------------------------- */

static json_t *parse_body(struct lg_http *h)
{
    if (!h->body_len) {
        lg_http_error(h, 400, "BAD_REQUEST", "a JSON object body is required", "body");
        return NULL;
    }
    json_error_t jerr;
    json_t *body = json_loadb(h->body, h->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        lg_http_error(h, 400, "BAD_REQUEST", "the body is not valid JSON", "body");
        return NULL;
    }
    return body;
}

static void invalid_field(struct lg_http *h, const struct lg_field_error *fe)
{
    lg_http_error(h, 400, "INVALID_FIELD", fe->message, fe->field);
}

static void join_methods(unsigned bits, char *out, size_t n, json_t *array)
{
    out[0] = 0;
    for (size_t i = 0; i < LG_ORDER_NPAYMENTS; i++) {
        if (!(bits & lg_order_payment_bit(lg_order_payment_names[i])))
            continue;
        if (out[0])
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, lg_order_payment_names[i], n - strlen(out) - 1);
        json_array_append_new(array, json_string(lg_order_payment_names[i]));
    }
}

/* ---- handlers ------------------------------------------------------------- */

/* Sent before the room's HSET on the same connection, so the script sees
 * the status the room had: totals restart when a room goes live. */
static void reset_stats_if_opening(struct batch *b, const char *room, const char *room_key,
                                   bool live)
{
    char k_stats[LG_KEY_MAX], ttl[16];
    if (lg_key_stats(k_stats, sizeof(k_stats), room) < 0)
        return;
    snprintf(ttl, sizeof(ttl), "%d", LG_STATS_TOTALS_TTL_S);
    const char *args[] = {room_key, k_stats, live ? "live" : "closed", ttl};
    b->pending++;
    if (lg_script_call(b->gw->redis, &lg_script_room_open, on_batch_reply, b, 2, 4, args, NULL) !=
        0) {
        b->failed = true;
        b->pending--;
    }
}

static void put_room(struct lg_http *h, const struct lg_route *rt, json_t *body)
{
    struct lg_room_conf rc;
    struct lg_field_error fe;
    if (lg_catalog_parse_room(body, &rc, &fe) != 0) {
        invalid_field(h, &fe);
        return;
    }
    char methods[64], threshold[24], now[24], key[LG_KEY_MAX];
    json_t *method_list = json_array();
    join_methods(rc.payment_methods, methods, sizeof(methods), method_list);
    snprintf(threshold, sizeof(threshold), "%lld", rc.high_value_threshold);
    snprintf(now, sizeof(now), "%lld", (long long)lg_wall_ms());
    lg_key_room(key, sizeof(key), rt->room);

    struct batch *b = batch_new(h, answer_stored);
    if (!b) {
        json_decref(method_list);
        return;
    }
    b->answer = json_pack("{s:s,s:s,s:s,s:I,s:o}", "room_id", rt->room, "title", rc.title, "status",
                          rc.live ? "live" : "closed", "high_value_threshold",
                          (json_int_t)rc.high_value_threshold, "payment_methods", method_list);
    reset_stats_if_opening(b, rt->room, key, rc.live);
    const char *hset[] = {"HSET",
                          key,
                          "title",
                          rc.title,
                          "status",
                          rc.live ? "live" : "closed",
                          "high_value_threshold",
                          threshold,
                          "payment_methods",
                          methods,
                          "updated_at_ms",
                          now};
    batch_send(b, on_batch_reply, 12, hset);
    b->pending++;
    if (lg_rooms_register(b->gw, rt->room, on_batch_reply, b) != 0) {
        b->failed = true;
        b->pending--;
    }
    batch_sent(b);
}

/* The stored SKU goes out to the room's viewers as sku.update (coalesced,
 * at once when it is sold out or off sale), even if the client that wrote
 * it has hung up meanwhile. */
static void notify_sku_stored(struct batch *b)
{
    lg_sku_notifier_touch(b->gw->sku_notifier, b->room, b->item, b->urgent);
}

static void put_sku(struct lg_http *h, const struct lg_route *rt, json_t *body)
{
    struct lg_sku_conf sc;
    struct lg_field_error fe;
    if (lg_catalog_parse_sku(body, &sc, &fe) != 0) {
        invalid_field(h, &fe);
        return;
    }
    char price[24], stock[24], limit[24], now[24], key[LG_KEY_MAX], set_key[LG_KEY_MAX];
    snprintf(price, sizeof(price), "%lld", sc.price);
    snprintf(stock, sizeof(stock), "%lld", sc.stock);
    snprintf(limit, sizeof(limit), "%lld", sc.limit_per_user);
    snprintf(now, sizeof(now), "%lld", (long long)lg_wall_ms());
    lg_key_sku(key, sizeof(key), rt->room, rt->item);
    lg_key_sku_set(set_key, sizeof(set_key), rt->room);

    struct batch *b = batch_new(h, answer_stored);
    if (!b)
        return;
    b->stored = notify_sku_stored;
    snprintf(b->room, sizeof(b->room), "%s", rt->room);
    snprintf(b->item, sizeof(b->item), "%s", rt->item);
    b->urgent = !sc.on_sale || sc.stock == 0;
    b->answer = json_pack(
        "{s:s,s:s,s:I,s:I,s:o,s:b}", "sku_id", rt->item, "name", sc.name, "price",
        (json_int_t)sc.price, "stock_left", (json_int_t)sc.stock, "limit_per_user",
        sc.limit_per_user ? json_integer(sc.limit_per_user) : json_null(), "on_sale", sc.on_sale);
    const char *hset[] = {"HSET",           key,   "name",    sc.name,
                          "price",          price, "stock",   stock,
                          "limit_per_user", limit, "on_sale", sc.on_sale ? "1" : "0",
                          "updated_at_ms",  now};
    batch_send(b, on_batch_reply, 14, hset);
    const char *sadd[] = {"SADD", set_key, rt->item};
    batch_send(b, on_batch_reply, 3, sadd);
    batch_sent(b);
}

static void put_coupon(struct lg_http *h, const struct lg_route *rt, json_t *body)
{
    struct lg_coupon_conf cc;
    struct lg_field_error fe;
    if (lg_catalog_parse_coupon(body, &cc, &fe) != 0) {
        invalid_field(h, &fe);
        return;
    }
    char discount[24], min_amount[24], total[24], now[24], key[LG_KEY_MAX];
    snprintf(discount, sizeof(discount), "%lld", cc.discount);
    snprintf(min_amount, sizeof(min_amount), "%lld", cc.min_amount);
    snprintf(total, sizeof(total), "%lld", cc.total);
    snprintf(now, sizeof(now), "%lld", (long long)lg_wall_ms());
    lg_key_coupon(key, sizeof(key), rt->room, rt->item);

    struct batch *b = batch_new(h, answer_stored);
    if (!b)
        return;
    b->answer =
        json_pack("{s:s,s:I,s:I,s:I}", "coupon_id", rt->item, "discount", (json_int_t)cc.discount,
                  "min_amount", (json_int_t)cc.min_amount, "total", (json_int_t)cc.total);
    const char *hset[] = {"HSET",     key,     "discount", discount,        "min_amount",
                          min_amount, "total", total,      "updated_at_ms", now};
    batch_send(b, on_batch_reply, 10, hset);
    /* Uses so far survive a re-PUT: raising total must not re-open used coupons. */
    const char *used[] = {"HSETNX", key, "used", "0"};
    batch_send(b, on_batch_reply, 4, used);
    batch_sent(b);
}

static json_int_t reply_int(const redisReply *r)
{
    return (r && r->type == REDIS_REPLY_STRING) ? strtoll(r->str, NULL, 10) : 0;
}

static void on_sku_fields(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    json_t *item = json_array_get(b->items, b->filled++);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
        b->failed = true;
    } else if (reply->element[0]->type != REDIS_REPLY_STRING) {
        json_object_set_new(item, "missing", json_true()); /* removed meanwhile */
    } else {
        json_object_set_new(item, "name", json_string(reply->element[0]->str));
        json_object_set_new(item, "price", json_integer(reply_int(reply->element[1])));
        json_object_set_new(item, "stock_left", json_integer(reply_int(reply->element[2])));
        json_object_set_new(item, "on_sale", json_boolean(reply_int(reply->element[3]) == 1));
        /* As PUT answers it: 0 (or a SKU stored before the field) is no cap. */
        json_int_t limit = reply_int(reply->element[4]);
        json_object_set_new(item, "limit_per_user", limit > 0 ? json_integer(limit) : json_null());
    }
    if (--b->pending == 0)
        batch_finish(b);
}

static void on_sku_members(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        b->failed = true;
    } else {
        char room[LG_ID_MAX + 1];
        snprintf(room, sizeof(room), "%s", b->item);
        for (size_t i = 0; i < reply->elements && !b->failed; i++) {
            const char *sku = reply->element[i]->str;
            char key[LG_KEY_MAX];
            if (!sku || lg_key_sku(key, sizeof(key), room, sku) < 0)
                continue;
            json_array_append_new(b->items, json_pack("{s:s}", "sku_id", sku));
            const char *hmget[] = {"HMGET", key,       "name",          "price",
                                   "stock", "on_sale", "limit_per_user"};
            batch_send(b, on_sku_fields, 7, hmget);
        }
    }
    if (--b->pending == 0)
        batch_finish(b);
}

static int by_sku_id(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    return strcmp(json_string_value(json_object_get(*x, "sku_id")),
                  json_string_value(json_object_get(*y, "sku_id")));
}

static void answer_skus(struct batch *b, struct lg_http *h)
{
    size_t n = json_array_size(b->items), kept = 0;
    json_t **sorted = calloc(n ? n : 1, sizeof(*sorted));
    if (!sorted)
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(b->items, i);
        if (!json_object_get(item, "missing"))
            sorted[kept++] = item;
    }
    qsort(sorted, kept, sizeof(*sorted), by_sku_id);
    json_t *skus = json_array();
    for (size_t i = 0; i < kept; i++)
        json_array_append(skus, sorted[i]);
    free(sorted);
    lg_http_respond(h, 200, json_pack("{s:o}", "skus", skus));
}

static void get_skus(struct lg_http *h, const struct lg_route *rt)
{
    char key[LG_KEY_MAX];
    lg_key_sku_set(key, sizeof(key), rt->room);
    struct batch *b = batch_new(h, answer_skus);
    if (!b)
        return;
    b->items = json_array();
    snprintf(b->item, sizeof(b->item), "%s", rt->room);
    const char *smembers[] = {"SMEMBERS", key};
    batch_send(b, on_sku_members, 2, smembers);
    batch_sent(b);
}

/* ---- reading and removing one room, coupon or SKU ------------------------- */

/* The value of field name in a HGETALL reply; NULL when it has none. */
static const char *hash_field(const redisReply *r, const char *name)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->str && r->element[i + 1]->str && strcmp(r->element[i]->str, name) == 0)
            return r->element[i + 1]->str;
    return NULL;
}

static json_int_t hash_int(const redisReply *r, const char *name)
{
    const char *v = hash_field(r, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* The stored "card,alipay" as ["alipay","card"]: in the contract's order of
 * methods, as the PUT answers them. */
static json_t *method_array(const char *joined)
{
    json_t *a = json_array();
    unsigned bits = 0;
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", joined ? joined : "");
    for (char *save = NULL, *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save))
        bits |= lg_order_payment_bit(m);
    for (size_t i = 0; i < LG_ORDER_NPAYMENTS; i++)
        if (bits & lg_order_payment_bit(lg_order_payment_names[i]))
            json_array_append_new(a, json_string(lg_order_payment_names[i]));
    return a;
}

static void answer_found(struct batch *b, struct lg_http *h)
{
    if (b->status == 404)
        lg_http_error(h, 404, "NOT_FOUND", b->not_found, NULL);
    else
        lg_http_respond(h, 200, json_incref(b->answer));
}

static void on_room_hash(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        b->failed = true;
    } else if (reply->elements == 0) {
        b->status = 404;
    } else {
        const char *title = hash_field(reply, "title"), *status = hash_field(reply, "status");
        b->answer = json_pack("{s:s,s:s,s:s,s:I,s:o,s:I}", "room_id", b->room, "title",
                              title ? title : "", "status", status ? status : "closed",
                              "high_value_threshold", hash_int(reply, "high_value_threshold"),
                              "payment_methods", method_array(hash_field(reply, "payment_methods")),
                              "updated_at_ms", hash_int(reply, "updated_at_ms"));
    }
    if (--b->pending == 0)
        batch_finish(b);
}

/* One HGETALL of key, answered by on_hash (a 404 with not_found when it
 * finds nothing); the route's room and item go with it. */
static void get_hash(struct lg_http *h, const struct lg_route *rt, const char *key,
                     const char *not_found, lg_redis_reply_fn on_hash)
{
    struct batch *b = batch_new(h, answer_found);
    if (!b)
        return;
    snprintf(b->room, sizeof(b->room), "%s", rt->room);
    snprintf(b->item, sizeof(b->item), "%s", rt->item);
    b->not_found = not_found;
    const char *hgetall[] = {"HGETALL", key};
    batch_send(b, on_hash, 2, hgetall);
    batch_sent(b);
}

static void get_room(struct lg_http *h, const struct lg_route *rt)
{
    char key[LG_KEY_MAX];
    lg_key_room(key, sizeof(key), rt->room);
    get_hash(h, rt, key, "no such room", on_room_hash);
}

static void on_coupon_hash(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        b->failed = true;
    } else if (!hash_field(reply, "discount")) {
        b->status = 404; /* none, or only the uses of a coupon that was never put */
    } else {
        b->answer =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "coupon_id", b->item, "discount",
                      hash_int(reply, "discount"), "min_amount", hash_int(reply, "min_amount"),
                      "total", hash_int(reply, "total"), "used", hash_int(reply, "used"),
                      "updated_at_ms", hash_int(reply, "updated_at_ms"));
    }
    if (--b->pending == 0)
        batch_finish(b);
}

static void get_coupon(struct lg_http *h, const struct lg_route *rt)
{
    char key[LG_KEY_MAX];
    lg_key_coupon(key, sizeof(key), rt->room, rt->item);
    get_hash(h, rt, key, "no such coupon", on_coupon_hash);
}

/* The DEL of the coupon's settings: 0 keys removed is a coupon that was
 * not there. */
static void on_coupon_deleted(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        b->failed = true;
    else if (reply->integer == 0)
        b->status = 404;
    if (--b->pending == 0)
        batch_finish(b);
}

/* Orders that used the coupon keep their record (and their discount); new
 * orders naming it are rejected COUPON_INVALID by validate.lua, which finds
 * no such coupon. Its uses go with it: a coupon put again under the same
 * id starts unused. */
static void delete_coupon(struct lg_http *h, const struct lg_route *rt)
{
    char key[LG_KEY_MAX], users[LG_KEY_MAX];
    lg_key_coupon(key, sizeof(key), rt->room, rt->item);
    lg_key_coupon_users(users, sizeof(users), rt->room, rt->item);
    struct batch *b = batch_new(h, answer_found);
    if (!b)
        return;
    b->not_found = "no such coupon";
    b->answer = json_pack("{s:s,s:b}", "coupon_id", rt->item, "deleted", true);
    const char *del[] = {"DEL", key};
    batch_send(b, on_coupon_deleted, 2, del);
    const char *del_users[] = {"DEL", users};
    batch_send(b, on_batch_reply, 2, del_users);
    batch_sent(b);
}

/* Whether the SKU exists; if so, takes it off sale and out of the listing
 * in one pipeline on the same connection, after this reply. */
static void on_sku_exists(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        b->failed = true;
    } else if (reply->integer == 0) {
        b->status = 404;
    } else {
        char key[LG_KEY_MAX], set_key[LG_KEY_MAX], now[24];
        lg_key_sku(key, sizeof(key), b->room, b->item);
        lg_key_sku_set(set_key, sizeof(set_key), b->room);
        snprintf(now, sizeof(now), "%lld", (long long)lg_wall_ms());
        b->stored = notify_sku_stored;
        b->urgent = true;
        const char *hset[] = {"HSET", key, "on_sale", "0", "updated_at_ms", now};
        batch_send(b, on_batch_reply, 6, hset);
        const char *srem[] = {"SREM", set_key, b->item};
        batch_send(b, on_batch_reply, 3, srem);
    }
    if (--b->pending == 0)
        batch_finish(b);
}

/* A SKU is not removed: its orders name it, and validate.lua must keep
 * refusing new ones (NOT_ON_SALE) rather than forget it. It is taken off
 * sale (viewers hear sku.update at once) and out of GET .../skus; a PUT
 * of the same id brings it back. */
static void delete_sku(struct lg_http *h, const struct lg_route *rt)
{
    char key[LG_KEY_MAX];
    lg_key_sku(key, sizeof(key), rt->room, rt->item);
    struct batch *b = batch_new(h, answer_found);
    if (!b)
        return;
    snprintf(b->room, sizeof(b->room), "%s", rt->room);
    snprintf(b->item, sizeof(b->item), "%s", rt->item);
    b->not_found = "no such product in this room";
    b->answer = json_pack("{s:s,s:b,s:b}", "sku_id", rt->item, "on_sale", false, "listed", false);
    const char *exists[] = {"EXISTS", key};
    batch_send(b, on_sku_exists, 2, exists);
    batch_sent(b);
}

/* What GET /v1/orders shows: never the sealed personal data, only masks,
 * and the province and city, which are stored sealed with the rest of the
 * address (records from before that held them in clear are still read). */
static const char *const order_text_fields[] = {
    "order_id",       "room_id",  "user",   "client_order_id", "sku_id", "currency",
    "payment_method", "priority", "status", "buyer",           "phone",  "province",
    "city",           "code",     "field",  "message"};
static const char *const order_sealed_shown[] = {"province", "city"};
#define N_ORDER_TEXT_FIELDS (sizeof(order_text_fields) / sizeof(order_text_fields[0]))
static const char *const order_int_fields[] = {"qty",
                                               "unit_price",
                                               "amount",
                                               "accepted_at_ms",
                                               "confirmed_at_ms",
                                               "pay_deadline_ms",
                                               "updated_at_ms",
                                               "paid_at_ms",
                                               "shipped_at_ms",
                                               "delivered_at_ms",
                                               "cancelled_at_ms"};
#define N_ORDER_INT_FIELDS (sizeof(order_int_fields) / sizeof(order_int_fields[0]))

static bool is_listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* Adds the province and city from the order's sealed document to order.
 * The rest of the document (name, phone, street) stays sealed. */
static void show_sealed_region(const struct lg_gateway *gw, json_t *order, const char *order_id,
                               const char *sealed)
{
    size_t len = 0;
    unsigned char *plain = lg_crypto_open(gw->cfg.data_key, order_id, sealed, &len);
    if (!plain) {
        lg_log(LG_LOG_WARN, "order.pii_unreadable", json_pack("{s:s}", "order_id", order_id));
        return;
    }
    json_t *doc = json_loadb((const char *)plain, len, 0, NULL);
    OPENSSL_cleanse(plain, len);
    free(plain);
    for (size_t i = 0; i < sizeof(order_sealed_shown) / sizeof(order_sealed_shown[0]); i++) {
        json_t *v = json_object_get(doc, order_sealed_shown[i]);
        if (json_is_string(v) && !json_object_get(order, order_sealed_shown[i]))
            json_object_set(order, order_sealed_shown[i], v);
    }
    json_decref(doc);
}

/* One field of an order record into the answer; fields the contract does
 * not show (the gateway, the watchers) are left out. */
static void show_order_field(struct batch *b, json_t *order, const char *name, const char *value)
{
    if (is_listed(name, order_text_fields, N_ORDER_TEXT_FIELDS))
        json_object_set_new(order, name, json_string(value));
    else if (is_listed(name, order_int_fields, N_ORDER_INT_FIELDS))
        json_object_set_new(order, name, json_integer(strtoll(value, NULL, 10)));
    else if (strcmp(name, "coupon_id") == 0 || strcmp(name, "tier") == 0)
        json_object_set_new(order, name, *value ? json_string(value) : json_null());
    else if (strcmp(name, "pii") == 0)
        show_sealed_region(b->gw, order, b->item, value);
}

/* The record's fixed fields, packed in d (order_record.h). Each value in d
 * is followed by a NUL (the next separator, or the reply's own), so the
 * pieces are strings in place. */
static void show_fixed_fields(struct batch *b, json_t *order, const char *d, size_t len)
{
    const char *values[LG_ORDER_NFIXED];
    size_t lens[LG_ORDER_NFIXED];
    if (lg_order_record_unpack(d, len, values, lens) != 0) {
        lg_log(LG_LOG_WARN, "order.record_malformed", json_pack("{s:s}", "order_id", b->item));
        return;
    }
    for (int i = 0; i < LG_ORDER_NFIXED; i++)
        show_order_field(b, order, lg_order_fixed_names[i], values[i]);
}

static void on_order_record(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        b->failed = true;
    } else if (reply->elements == 0) {
        b->status = 404;
    } else {
        json_t *order = json_object();
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            const redisReply *name = reply->element[i], *value = reply->element[i + 1];
            if (!name->str || !value->str)
                continue;
            if (strcmp(name->str, LG_ORDER_RECORD_D) == 0)
                show_fixed_fields(b, order, value->str, value->len);
            else
                show_order_field(b, order, name->str, value->str);
        }
        b->answer = order;
    }
    if (--b->pending == 0)
        batch_finish(b);
}

/* The order's room is known: if the token may see it, the record. */
static void read_order(struct batch *b, const char *room)
{
    char key[LG_KEY_MAX];
    if (!lg_backoffice_may_act(&b->claims, room)) {
        b->status = 403;
    } else if (lg_key_order(key, sizeof(key), room, b->item) < 0) {
        b->status = 404;
    } else {
        const char *hgetall[] = {"HGETALL", key};
        batch_send(b, on_order_record, 2, hgetall);
    }
}

static void on_order_index(redisReply *reply, void *arg)
{
    struct batch *b = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        b->failed = true;
    else if (reply->type != REDIS_REPLY_STRING)
        b->status = 404;
    else
        read_order(b, reply->str);
    if (--b->pending == 0)
        batch_finish(b);
}

static void answer_order(struct batch *b, struct lg_http *h)
{
    if (b->status == 404)
        lg_http_error(h, 404, "NOT_FOUND", "no such order", NULL);
    else if (b->status == 403)
        forbid(h, "the order belongs to another room");
    else
        lg_http_respond(h, 200, json_incref(b->answer));
}

static void get_order(struct lg_http *h, const struct lg_route *rt, const struct lg_claims *claims)
{
    struct batch *b = batch_new(h, answer_order);
    if (!b)
        return;
    b->claims = *claims;
    snprintf(b->item, sizeof(b->item), "%s", rt->item);
    /* An id that names its room needs no index (rules/order_id.h). */
    char room[LG_ID_MAX + 1];
    if (lg_order_id_room(b->item, room)) {
        read_order(b, room);
    } else {
        char key[LG_KEY_MAX];
        lg_key_order_index(key, sizeof(key), b->item);
        const char *get[] = {"GET", key};
        batch_send(b, on_order_index, 2, get);
    }
    batch_sent(b);
}

/* ---- DELETE /v1/rooms/{room} ------------------------------------------------ */

/* The only query argument is unpaid=cancel; anything else is refused
 * before Redis is touched. */
static void delete_room(struct lg_http *h, const struct lg_route *rt)
{
    const char *unpaid = lg_http_arg(h, "unpaid");
    bool unknown = false;
    for (int i = 0; i < h->n_args; i++)
        if (strcmp(h->args[i].name, "unpaid") != 0)
            unknown = true;
    if (h->args_bad || unknown) {
        lg_http_error(h, 400, "BAD_REQUEST", "the only query argument is unpaid=cancel", "query");
        return;
    }
    if (unpaid && strcmp(unpaid, "cancel") != 0) {
        lg_http_error(h, 400, "INVALID_FIELD", "must be cancel", "unpaid");
        return;
    }
    lg_room_delete(h, rt->room, unpaid != NULL);
}

/* ---- dispatch -------------------------------------------------------------- */

static bool may_access(struct lg_http *h, const struct lg_route *rt, const struct lg_claims *c)
{
    if (rt->id == LG_ROUTE_SKUS_GET && c->role == LG_ROLE_VIEWER && strcmp(c->room, rt->room) == 0)
        return true; /* the live-room page shows its own catalog */
    if (c->role == LG_ROLE_VIEWER) {
        forbid(h, "this needs an operator or admin token");
        return false;
    }
    if (rt->id == LG_ROUTE_AUDIT_GET) {
        if (c->role != LG_ROLE_ADMIN)
            forbid(h, "the audit trail needs an admin token");
        return c->role == LG_ROLE_ADMIN;
    }
    if (rt->id != LG_ROUTE_ORDER_GET && !lg_backoffice_may_act(c, rt->room)) {
        forbid(h, "the token is for another room");
        return false;
    }
    return true; /* an order's room is checked once the order is found */
}

void lg_api_handle(struct lg_http *h)
{
    struct lg_route rt;
    lg_api_route(h->method, h->path, &rt);
    if (rt.id == LG_ROUTE_NOT_FOUND) {
        lg_http_error(h, 404, "NOT_FOUND", "no such endpoint", NULL);
        return;
    }
    if (rt.id == LG_ROUTE_METHOD_NOT_ALLOWED) {
        char message[96];
        snprintf(message, sizeof(message), "this endpoint takes %s only", rt.allow);
        lg_http_not_allowed(h, rt.allow, message);
        return;
    }
    if (rt.id == LG_ROUTE_HEALTHZ) {
        bool up = lg_redis_is_up(h->gw->redis);
        lg_http_respond(h, up ? 200 : 503, json_pack("{s:s}", "status", up ? "ok" : "unavailable"));
        return;
    }
    if (rt.id == LG_ROUTE_METRICS) {
        /* no token: scrapers have none */
        if (h->gw->metrics_vhost && lws_get_vhost(h->wsi) == h->gw->metrics_vhost)
            lg_metrics_serve_process(h);
        else
            lg_metrics_serve(h);
        return;
    }
    struct lg_claims claims;
    if (!authenticate(h, &claims))
        return;
    if (rt.id == LG_ROUTE_BAD_ID) {
        lg_http_error(h, 400, "INVALID_FIELD", "must be 1-64 characters of [A-Za-z0-9_.:-]",
                      rt.bad_field);
        return;
    }
    struct lg_audit_query audit = {.limit = 0};
    if (rt.id == LG_ROUTE_AUDIT_GET) {
        struct lg_field_error fe;
        if (h->args_bad) {
            char message[128];
            snprintf(message, sizeof(message),
                     "the query has more than %d arguments, a name over %d or a value over %d "
                     "bytes",
                     LG_HTTP_MAX_ARGS, LG_HTTP_ARG_NAME_MAX, LG_HTTP_ARG_VALUE_MAX);
            lg_http_error(h, 400, "BAD_REQUEST", message, "query");
            return;
        }
        if (lg_backoffice_parse_audit_query(lg_http_arg(h, "room"), lg_http_arg(h, "limit"), &audit,
                                            &fe) != 0) {
            invalid_field(h, &fe);
            return;
        }
    }
    if (!may_access(h, &rt, &claims))
        return;

    json_t *body = NULL;
    bool writes =
        rt.id == LG_ROUTE_ROOM_PUT || rt.id == LG_ROUTE_SKU_PUT || rt.id == LG_ROUTE_COUPON_PUT;
    if (writes && !(body = parse_body(h)))
        return;
    if (!lg_redis_is_up(h->gw->redis)) {
        json_decref(body);
        unavailable(h);
        return;
    }
    switch (rt.id) {
    case LG_ROUTE_ROOM_PUT:
        put_room(h, &rt, body);
        break;
    case LG_ROUTE_SKU_PUT:
        put_sku(h, &rt, body);
        break;
    case LG_ROUTE_COUPON_PUT:
        put_coupon(h, &rt, body);
        break;
    case LG_ROUTE_SKUS_GET:
        get_skus(h, &rt);
        break;
    case LG_ROUTE_ROOM_GET:
        get_room(h, &rt);
        break;
    case LG_ROUTE_COUPON_GET:
        get_coupon(h, &rt);
        break;
    case LG_ROUTE_ROOM_DELETE:
        delete_room(h, &rt);
        break;
    case LG_ROUTE_COUPON_DELETE:
        delete_coupon(h, &rt);
        break;
    case LG_ROUTE_SKU_DELETE:
        delete_sku(h, &rt);
        break;
    case LG_ROUTE_ORDER_GET:
        get_order(h, &rt, &claims);
        break;
    case LG_ROUTE_AUDIT_GET:
        get_audit(h, &audit);
        break;
    default:
        lg_http_error(h, 404, "NOT_FOUND", "no such endpoint", NULL);
    }
    json_decref(body);
}
