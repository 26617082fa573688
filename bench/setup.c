/* setup.c - puts the run's catalog in place through PUT /v1/rooms/...,
 * reads stock back through GET /v1/rooms/{room}/skus and, with --cleanup,
 * closes and deletes the rooms afterwards. Rooms are named after the run id, so a run
 * never inherits stock or per-user counts from an earlier one. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "livegate/clock.h"
#include "livegate/token.h"
#include "mix.h"
#include "setup.h"

static char *operator_token(const struct lg_bench_opts *o)
{
    struct lg_claims c = {.role = LG_ROLE_OPERATOR, .exp = (long long)time(NULL) + 86400};
    snprintf(c.sub, sizeof(c.sub), "bench-%s-operator", o->run_id);
    snprintf(c.room, sizeof(c.room), "*");
    return lg_token_mint(o->secret, strlen(o->secret), &c);
}

static int put(const struct lg_bench_opts *o, const char *token, const char *path, json_t *body,
               char *err, size_t errsz)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct lg_http_response r;
    int rc =
        text ? lg_http_request(o->host, o->port, "PUT", path, token, text, &r, err, errsz) : -1;
    free(text);
    if (rc == 0 && r.status != 200) {
        snprintf(err, errsz, "PUT %s: HTTP %d %.200s", path, r.status, r.body);
        rc = -1;
    }
    if (rc == 0 || r.body)
        free(r.body);
    return rc;
}

static int put_room(const struct lg_bench_opts *o, const char *token, const char *room,
                    const char *status, char *err, size_t errsz)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/rooms/%s", room);
    return put(o, token, path,
               json_pack("{s:s,s:s,s:I,s:[ssss]}", "title", room, "status", status,
                         "high_value_threshold", (json_int_t)o->high_threshold, "payment_methods",
                         "alipay", "wechat_pay", "card", "cod"),
               err, errsz);
}

int lg_bench_setup(const struct lg_bench_opts *o, int *made, char *err, size_t errsz)
{
    *made = 0;
    char *token = operator_token(o);
    if (!token) {
        snprintf(err, errsz, "could not mint the operator token");
        return -1;
    }
    int rc = 0;
    for (int r = 0; r < o->rooms && rc == 0; r++) {
        char room[96], path[256];
        lg_mix_room_id(o, r, room, sizeof(room));
        rc = put_room(o, token, room, "live", err, errsz);
        if (rc == 0)
            ++*made;
        for (int k = 0; k <= o->skus && rc == 0; k++) {
            char sku[32];
            lg_mix_sku_id(k, o, sku, sizeof(sku));
            snprintf(path, sizeof(path), "/v1/rooms/%s/skus/%s", room, sku);
            rc = put(o, token, path,
                     json_pack("{s:s,s:I,s:I,s:i,s:b}", "name", sku, "price",
                               (json_int_t)lg_mix_sku_price(o, k), "stock", (json_int_t)o->stock,
                               "limit_per_user", o->limit_per_user, "on_sale", 1),
                     err, errsz);
        }
        if (rc == 0) {
            snprintf(path, sizeof(path), "/v1/rooms/%s/coupons/%s", room, LG_MIX_COUPON_ID);
            rc = put(o, token, path,
                     json_pack("{s:I,s:i,s:I}", "discount", (json_int_t)lg_mix_coupon_discount(o),
                               "min_amount", 0, "total", (json_int_t)1000000000),
                     err, errsz);
        }
    }
    free(token);
    return rc;
}

/* Gateways and validators hand their room totals to Redis about once a
 * second (LG_STATS_FLUSH_MS): counts of the run's last orders land up to a
 * second after them, and a reset before that would leave them behind. */
#define STATS_SETTLE_US 2000000

static void wait_until(int64_t mono_us)
{
    int64_t left = mono_us - lg_mono_us();
    if (left <= 0)
        return;
    struct timespec ts = {.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One delete request may take this long: it answers once the room's unpaid
 * orders are cancelled, 100,000 of them and more after a flood (as long as
 * the gateway allows the request, conn/http.c). */
#define DELETE_REQUEST_S 300

/* DELETE /v1/rooms/{room}?unpaid=cancel: the run's unpaid orders are
 * cancelled with it. A 409 (an order not decided yet, a delete under way)
 * is asked again until DELETE_PATIENCE_US: every accepted order is decided
 * within its 10 s deadline. 404 "no such room" is done too: a room already
 * gone. Answers DELETED, NO_DELETE (a server without the route: 405, or a
 * 404 about the path) or -1 with err. */
#define DELETE_PATIENCE_US 15000000
#define DELETE_RETRY_NS 250000000
enum { DELETED = 0, NO_DELETE = 1 };

static int delete_room(const struct lg_bench_opts *o, const char *token, const char *room,
                       char *err, size_t errsz)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/rooms/%s?unpaid=cancel", room);
    int64_t give_up = lg_mono_us() + DELETE_PATIENCE_US;
    for (;;) {
        struct lg_http_response r;
        if (lg_http_request_within(o->host, o->port, "DELETE", path, token, NULL, DELETE_REQUEST_S,
                                   &r, err, errsz) != 0)
            return -1;
        int status = r.status;
        bool gone = status == 404 && r.body && strstr(r.body, "no such room");
        if (status != 200 && !gone)
            snprintf(err, errsz, "DELETE %s: HTTP %d %.200s", path, status, r.body);
        free(r.body);
        if (status == 200 || gone)
            return DELETED;
        if (status == 404 || status == 405)
            return NO_DELETE;
        if (status != 409 || lg_mono_us() >= give_up)
            return -1;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = DELETE_RETRY_NS};
        nanosleep(&ts, NULL);
    }
}

/* A server without the room delete: a room's totals restart when PUT makes
 * it live from closed, and closing keeps them, so closed, live, closed
 * again leaves it closed with empty totals, adding nothing to the "*"
 * figures. */
static int clear_totals(const struct lg_bench_opts *o, const char *token, const char *room,
                        char *err, size_t errsz)
{
    if (put_room(o, token, room, "live", err, errsz) != 0)
        return -1;
    return put_room(o, token, room, "closed", err, errsz);
}

/* Closed first, so no new order of the run is confirmed, then deleted
 * once the last totals have landed (a flush after the delete would leave
 * a totals key behind). */
int lg_bench_cleanup(const struct lg_bench_opts *o, int made, int64_t last_order_us, int *cleaned,
                     bool *no_delete, char *err, size_t errsz)
{
    *cleaned = 0;
    *no_delete = false;
    char *token = operator_token(o);
    if (!token) {
        snprintf(err, errsz, "could not mint the operator token");
        return -1;
    }
    int rc = 0;
    bool closed[LG_BENCH_MAX_ROOMS] = {false};
    for (int r = 0; r < made; r++) {
        char room[96];
        lg_mix_room_id(o, r, room, sizeof(room));
        closed[r] = put_room(o, token, room, "closed", err, errsz) == 0;
        if (!closed[r])
            rc = -1; /* the others are still tried; err names the last failure */
    }
    if (last_order_us)
        wait_until(last_order_us + STATS_SETTLE_US);
    for (int r = 0; r < made; r++) {
        char room[96];
        lg_mix_room_id(o, r, room, sizeof(room));
        if (!closed[r])
            continue;
        int done = *no_delete ? NO_DELETE : delete_room(o, token, room, err, errsz);
        if (done == NO_DELETE) {
            *no_delete = true;
            done = clear_totals(o, token, room, err, errsz);
        }
        if (done == 0)
            ++*cleaned;
        else
            rc = -1;
    }
    free(token);
    return rc;
}

static int read_room(const struct lg_bench_opts *o, const char *token, int r,
                     struct lg_bench_stock_check *s, int initial, char *err, size_t errsz)
{
    char room[96], path[256];
    lg_mix_room_id(o, r, room, sizeof(room));
    snprintf(path, sizeof(path), "/v1/rooms/%s/skus", room);
    struct lg_http_response resp;
    if (lg_http_request(o->host, o->port, "GET", path, token, NULL, &resp, err, errsz))
        return -1;
    json_t *doc = resp.status == 200 ? json_loads(resp.body, 0, NULL) : NULL;
    json_t *skus = json_object_get(doc, "skus");
    int found = 0;
    for (int k = 0; k <= o->skus; k++) {
        char want[32];
        lg_mix_sku_id(k, o, want, sizeof(want));
        size_t i;
        json_t *item;
        json_array_foreach(skus, i, item)
        {
            const char *id = json_string_value(json_object_get(item, "sku_id"));
            json_t *left = json_object_get(item, "stock_left");
            if (id && strcmp(id, want) == 0 && json_is_integer(left)) {
                long long *dst = initial ? s->initial : s->left;
                dst[r * (o->skus + 1) + k] = json_integer_value(left);
                found++;
            }
        }
    }
    if (found != o->skus + 1)
        snprintf(err, errsz, "GET %s: HTTP %d, %d of %d SKUs found", path, resp.status, found,
                 o->skus + 1);
    json_decref(doc);
    free(resp.body);
    return found == o->skus + 1 ? 0 : -1;
}

int lg_bench_read_stock(const struct lg_bench_opts *o, struct lg_bench_stock_check *s, int initial,
                        char *err, size_t errsz)
{
    char *token = operator_token(o);
    if (!token) {
        snprintf(err, errsz, "could not mint the operator token");
        return -1;
    }
    s->nskus = o->rooms * (o->skus + 1);
    int rc = 0;
    for (int r = 0; r < o->rooms && rc == 0; r++)
        rc = read_room(o, token, r, s, initial, err, errsz);
    free(token);
    return rc;
}
