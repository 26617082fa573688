/* room_delete.c - DELETE /v1/rooms/{room} (see room_delete.h).
 *
 * Why in steps: a room's keys cannot all be named in advance (each coupon,
 * SKUs taken out of the listing, each buyer's live quantities), and a
 * script may only touch the keys it is given. So the deletion is:
 *   1. room_delete.lua "begin": the rule (closed, nothing undecided, no
 *      order waiting for payment unless ?unpaid=cancel) and the mark
 *      (status "deleting", a marker naming this deletion);
 *   2. with ?unpaid=cancel, pay_timeout.lua in its "room_deleted" mode
 *      until the payment due index is empty (each buyer hears
 *      order.status cancelled);
 *   3. SCAN of the room's pattern, UNLINK of what goes (keys.h,
 *      lg_key_goes_with_room);
 *   4. room_delete.lua "finish": the rule again, then the keys every room
 *      has; then the room leaves the registry and the active-room index.
 * The marker is renewed before every step (cancel batch or SCAN round).
 * Every step is one command or script on the gateway's connection, so the
 * orders' traffic is delayed by at most one SCAN of 1,000 keys at a time.
 * Order records and idempotency keys stay for their TTL: GET /v1/orders
 * still answers, and a late resubmit is still a duplicate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/room_delete.h"
#include "core/gateway.h"
#include "keys.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "rules/backoffice_rules.h"
#include "pay_timeout_args.h"
#include "scripts.h"

#define MARK_TTL_MS 10000 /* renewed every step (renew_mark): lapses only if we die */
#define SCAN_COUNT "1000"
#define CANCEL_BATCH 500
/* What the request may wait: cancelling unpaid orders and the SCAN take
 * about 70 us an order on a 2-core machine (108,749 unpaid: 7.5 s). */
#define ANSWER_WITHIN_S 300

struct room_delete {
    struct lg_waiter w; /* owner: the HTTP request, NULL once it hung up */
    struct lg_gateway *gw;
    char room[LG_ID_MAX + 1];
    char mark[LG_ID_MAX + 24]; /* this deletion's id, the marker's value */
    bool cancel_unpaid;
    unsigned long long cancelled;
};

static void scan_from(struct room_delete *d, const char *cursor);

/* ---- answering ------------------------------------------------------------ */

static struct lg_http *take_request(struct room_delete *d)
{
    struct lg_http *h = d->w.owner;
    if (h)
        lg_waiter_detach(&d->w);
    return h;
}

static void fail(struct room_delete *d, const char *where, const redisReply *reply)
{
    lg_log(LG_LOG_ERROR, "room.delete_failed",
           json_pack("{s:s,s:s,s:s}", "room", d->room, "step", where, "detail",
                     reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply"));
    struct lg_http *h = take_request(d);
    if (h)
        lg_http_error(h, 503, "UNAVAILABLE",
                      "the store failed during the delete; the room stays closed, DELETE it again",
                      NULL);
    free(d);
}

/* A verdict of room_delete.lua other than "ok": who is answered what. */
static void refuse(struct room_delete *d, const char *verdict, long long n)
{
    struct lg_http *h = take_request(d);
    if (h) {
        char message[192];
        int status = 409;
        if (strcmp(verdict, "not_found") == 0) {
            status = 404;
            snprintf(message, sizeof(message), "no such room");
        } else if (strcmp(verdict, "live") == 0) {
            snprintf(message, sizeof(message),
                     "the room is live; PUT it with status closed before deleting it");
        } else if (strcmp(verdict, "unpaid") == 0) {
            snprintf(message, sizeof(message),
                     "%lld orders wait for payment; DELETE with ?unpaid=cancel cancels them", n);
        } else if (strcmp(verdict, "undecided") == 0) {
            snprintf(message, sizeof(message),
                     "%lld orders are not decided yet; DELETE again in a few seconds", n);
        } else {
            snprintf(message, sizeof(message), "the room is being deleted by another request");
        }
        if (status == 404)
            lg_http_error(h, 404, "NOT_FOUND", message, NULL);
        else
            lg_http_error(h, 409, "CONFLICT", message, NULL);
    }
    free(d);
}

static void done(struct room_delete *d)
{
    const char *srem[] = {"SREM", LG_KEY_ROOMS, d->room};
    lg_redis_argv(d->gw->redis, lg_redis_ignore_reply, NULL, 3, srem, NULL);
    const char *zrem[] = {"ZREM", LG_KEY_ROOMS_ACTIVE, d->room};
    lg_redis_argv(d->gw->redis, lg_redis_ignore_reply, NULL, 3, zrem, NULL);
    if (d->gw->registered_rooms) /* its next order registers it again */
        lg_strmap_del(d->gw->registered_rooms, d->room);
    lg_log(LG_LOG_INFO, "room.deleted",
           json_pack("{s:s,s:I}", "room", d->room, "unpaid_cancelled", (json_int_t)d->cancelled));
    struct lg_http *h = take_request(d);
    if (h)
        lg_http_respond(h, 200,
                        json_pack("{s:s,s:b,s:I}", "room_id", d->room, "deleted", 1,
                                  "unpaid_cancelled", (json_int_t)d->cancelled));
    free(d);
}

/* ---- room_delete.lua ------------------------------------------------------ */

/* {"ok"} or {verdict, n}; false for anything else. */
static bool read_verdict(const redisReply *reply, const char **verdict, long long *n)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return false;
    *verdict = reply->element[0]->str;
    *n = reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_INTEGER
             ? reply->element[1]->integer
             : 0;
    return true;
}

/* KEYS: the five the rule reads, then what "finish" removes with them. */
static int call_step(struct room_delete *d, const char *step, lg_redis_reply_fn fn)
{
    enum { NKEYS = 13 };
    char keys[NKEYS][LG_KEY_MAX], ttl[16];
    const char *room = d->room;
    if (lg_key_room(keys[0], LG_KEY_MAX, room) < 0 ||
        lg_key_stream(keys[1], LG_KEY_MAX, room, 1) < 0 ||
        lg_key_stream(keys[2], LG_KEY_MAX, room, 0) < 0 ||
        lg_key_pay_due(keys[3], LG_KEY_MAX, room) < 0 ||
        lg_key_room_deleting(keys[4], LG_KEY_MAX, room) < 0 ||
        lg_key_room_load(keys[5], LG_KEY_MAX, room) < 0 ||
        lg_key_room_sweep(keys[6], LG_KEY_MAX, room) < 0 ||
        lg_key_stats(keys[7], LG_KEY_MAX, room) < 0 ||
        lg_key_stats_conns(keys[8], LG_KEY_MAX, room) < 0 ||
        lg_key_sku_set(keys[9], LG_KEY_MAX, room) < 0 ||
        lg_key_audit(keys[10], LG_KEY_MAX, room) < 0 ||
        lg_key_dead_letter(keys[11], LG_KEY_MAX, room) < 0 ||
        lg_key_feed_watched(keys[12], LG_KEY_MAX, room) < 0)
        return -1;
    snprintf(ttl, sizeof(ttl), "%d", MARK_TTL_MS);
    const char *args[NKEYS + 5];
    for (int i = 0; i < NKEYS; i++)
        args[i] = keys[i];
    args[NKEYS] = step;
    args[NKEYS + 1] = d->mark;
    args[NKEYS + 2] = ttl;
    args[NKEYS + 3] = LG_GROUP_VALIDATORS;
    args[NKEYS + 4] = d->cancel_unpaid ? "cancel" : "";
    return lg_script_call(d->gw->redis, &lg_script_room_delete, fn, d, NKEYS, NKEYS + 5, args,
                          NULL);
}

static void on_finished(redisReply *reply, void *arg)
{
    struct room_delete *d = arg;
    const char *verdict;
    long long n;
    if (!read_verdict(reply, &verdict, &n))
        fail(d, "finish", reply);
    else if (strcmp(verdict, "ok") == 0)
        done(d);
    else
        refuse(d, verdict, n);
}

/* ---- the SCAN --------------------------------------------------------------- */

static void unlink_leftovers(struct room_delete *d, const redisReply *keys)
{
    const char **argv = malloc((keys->elements + 1) * sizeof(*argv));
    if (!argv)
        return; /* left for a DELETE again; "finish" does not depend on them */
    int argc = 0;
    argv[argc++] = "UNLINK";
    for (size_t i = 0; i < keys->elements; i++) {
        const char *key = keys->element[i]->str;
        if (key && lg_key_goes_with_room(d->room, key))
            argv[argc++] = key;
    }
    if (argc > 1)
        lg_redis_argv(d->gw->redis, lg_redis_ignore_reply, NULL, argc, argv, NULL);
    free(argv);
}

/* SCAN answers [next cursor, [key...]]. The UNLINK goes out before the
 * next SCAN on the same connection, and "finish" after the last one. */
static void on_scanned(redisReply *reply, void *arg)
{
    struct room_delete *d = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        fail(d, "scan", reply);
        return;
    }
    unlink_leftovers(d, reply->element[1]);
    const char *next = reply->element[0]->str;
    if (strcmp(next, "0") != 0) {
        char cursor[32];
        snprintf(cursor, sizeof(cursor), "%s", next);
        scan_from(d, cursor);
    } else if (call_step(d, "finish", on_finished) != 0) {
        fail(d, "finish", NULL);
    }
}

/* The marker lapses MARK_TTL_MS after its last renewal, so every step of a
 * deletion renews it: the cancels of a room with 100,000+ unpaid orders
 * alone can outlast it, and a lapsed marker fails the deletion at
 * "finish" (as if another request had taken over). */
static void renew_mark(struct room_delete *d)
{
    char mark_key[LG_KEY_MAX], ttl[16];
    lg_key_room_deleting(mark_key, sizeof(mark_key), d->room);
    snprintf(ttl, sizeof(ttl), "%d", MARK_TTL_MS);
    const char *renew[] = {"PEXPIRE", mark_key, ttl};
    lg_redis_argv(d->gw->redis, lg_redis_ignore_reply, NULL, 3, renew, NULL);
}

static void scan_from(struct room_delete *d, const char *cursor)
{
    char pattern[LG_KEY_MAX];
    lg_key_room_pattern(pattern, sizeof(pattern), d->room);
    renew_mark(d);
    const char *scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
    if (lg_redis_argv(d->gw->redis, on_scanned, d, 6, scan, NULL) != 0)
        fail(d, "scan", NULL);
}

/* ---- ?unpaid=cancel ----------------------------------------------------------- */

static void cancel_unpaid(struct room_delete *d);

/* pay_timeout.lua answers {cancelled, more, next_due_in_ms, sku...}. */
static void on_cancelled(redisReply *reply, void *arg)
{
    struct room_delete *d = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        fail(d, "cancel_unpaid", reply);
        return;
    }
    d->cancelled += (unsigned long long)reply->element[0]->integer;
    if (reply->element[1]->integer == 1)
        cancel_unpaid(d);
    else
        scan_from(d, "0");
}

static void cancel_unpaid(struct room_delete *d)
{
    struct lg_pay_timeout_args a;
    renew_mark(d);
    if (lg_pay_timeout_args(&a, d->room, CANCEL_BATCH, LG_AUDIT_KEEP, true) != 0 ||
        lg_script_call(d->gw->redis, &lg_script_pay_timeout, on_cancelled, d, a.nkeys, a.argc,
                       a.argv, NULL) != 0)
        fail(d, "cancel_unpaid", NULL);
}

/* ---- the start ------------------------------------------------------------------ */

static void on_begun(redisReply *reply, void *arg)
{
    struct room_delete *d = arg;
    const char *verdict;
    long long n;
    if (!read_verdict(reply, &verdict, &n))
        fail(d, "begin", reply);
    else if (strcmp(verdict, "ok") != 0)
        refuse(d, verdict, n);
    else if (d->cancel_unpaid)
        cancel_unpaid(d);
    else
        scan_from(d, "0");
}

void lg_room_delete(struct lg_http *h, const char *room, bool cancel_unpaid_too)
{
    static unsigned long long next_id;
    struct room_delete *d = calloc(1, sizeof(*d));
    if (!d) {
        lg_http_error(h, 503, "UNAVAILABLE", "out of memory; retry", NULL);
        return;
    }
    d->gw = h->gw;
    d->cancel_unpaid = cancel_unpaid_too;
    snprintf(d->room, sizeof(d->room), "%s", room);
    snprintf(d->mark, sizeof(d->mark), "%s/%llu", h->gw->cfg.gateway_id, ++next_id);
    lg_waiter_attach(&h->waiters, &d->w, h);
    lg_http_allow_seconds(h, ANSWER_WITHIN_S);
    if (call_step(d, "begin", on_begun) != 0)
        fail(d, "begin", NULL);
}
