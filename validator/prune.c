/* prune.c - keeping the validator's per-room work to the rooms in use.
 * Every LIVEGATE_PRUNE_EVERY_MS:
 *
 * - A room of the active index idle longer than its window
 *   (LIVEGATE_ROOM_IDLE_MS, or LIVEGATE_ROOM_CLOSED_IDLE_MS when the room
 *   is closed or was never set up) is removed from the index, but only
 *   once both of its streams are drained: everything delivered to the
 *   group and nothing pending) and no confirmed order in it waits for its
 *   payment deadline (pay_timeout.c drains those). An order queued in a
 *   room, or one awaiting payment, is therefore
 *   always in a room the validators read, whatever the room's age; the
 *   removal itself (room_prune.lua) checks the score again on Redis's
 *   clock, so a gateway marking the room meanwhile keeps it. Validators
 *   drop the room at their next refresh (rooms.c).
 *
 * - On every stream of a served room, consumers idle longer than
 *   LIVEGATE_CONSUMER_IDLE_MS with no pending entry are removed from the
 *   group (consumer_prune.lua, atomic, so a consumer that reads meanwhile
 *   keeps its entries). A dead consumer's pending entries are first taken
 *   over by claim.c, which leaves it with none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "scripts.h"

/* What a candidate room's probes learn: its status and, per stream, whether
 * it is drained. Freed after its last reply. */
struct room_probe {
    struct lg_validator *v;
    char room[LG_ID_MAX + 1];
    int waiting;
    bool closed;       /* status is not "live" (or the room has no config) */
    bool status_known; /* the HGET was answered */
    /* per stream (0 normal, 1 high): last id generated, last id delivered
     * to the group and its pending count; known once both XINFO replies
     * arrived. */
    char generated[2][48], delivered[2][48];
    long long pending[2];
    bool stream_known[2], group_known[2];
    bool pay_due_empty; /* the room's payment-deadline index holds nothing */
};

static bool stream_drained(const struct room_probe *p, int high)
{
    if (!p->stream_known[high])
        return false;
    if (strcmp(p->generated[high], "0-0") == 0)
        return true; /* no entry was ever added */
    return p->group_known[high] && p->pending[high] == 0 &&
           strcmp(p->generated[high], p->delivered[high]) == 0;
}

static void send_prune(struct room_probe *p)
{
    struct lg_validator *v = p->v;
    if (!p->status_known || !p->pay_due_empty || !stream_drained(p, 0) || !stream_drained(p, 1))
        return;
    char window[24];
    snprintf(window, sizeof(window), "%d",
             p->closed ? v->cfg.room_closed_idle_ms : v->cfg.room_idle_ms);
    const char *args[] = {LG_KEY_ROOMS_ACTIVE, p->room, window};
    lgv_step_script(v, &lg_script_room_prune, lgv_step_counted, v, 1, LGV_ARGC(args), args, NULL);
}

/* Each probe reply ends here: the last one decides, inside the step (the
 * removal it sends is counted before this reply is). */
static void probe_reply(struct room_probe *p)
{
    struct lg_validator *v = p->v;
    if (--p->waiting == 0) {
        send_prune(p);
        free(p);
    }
    lgv_step_reply(v);
}

static void on_status(redisReply *reply, void *arg)
{
    struct room_probe *p = arg;
    if (reply && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL)) {
        p->status_known = true;
        p->closed = !(reply->type == REDIS_REPLY_STRING && strcmp(reply->str, "live") == 0);
    }
    probe_reply(p);
}

/* The callback argument of a stream probe: the probe and which stream. */
struct stream_arg {
    struct room_probe *p;
    int high;
};

static struct stream_arg *stream_arg_new(struct room_probe *p, int high)
{
    struct stream_arg *a = malloc(sizeof(*a));
    if (a) {
        a->p = p;
        a->high = high;
    }
    return a;
}

/* XINFO STREAM: name/value pairs; a stream that does not exist has no
 * entry to strand. */
static void on_stream(redisReply *reply, void *arg)
{
    struct stream_arg *a = arg;
    struct room_probe *p = a->p;
    int high = a->high;
    free(a);
    if (reply && reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "no such key")) {
        p->stream_known[high] = true;
        snprintf(p->generated[high], sizeof(p->generated[high]), "0-0");
    } else if (reply && reply->type == REDIS_REPLY_ARRAY) {
        const redisReply *last = lgv_pair(reply, "last-generated-id");
        if (last && last->str) {
            p->stream_known[high] = true;
            snprintf(p->generated[high], sizeof(p->generated[high]), "%s", last->str);
        }
    }
    probe_reply(p);
}

/* XINFO GROUPS: one array of name/value pairs per group. */
static void on_groups(redisReply *reply, void *arg)
{
    struct stream_arg *a = arg;
    struct room_probe *p = a->p;
    int high = a->high;
    free(a);
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        const redisReply *name = lgv_pair(reply->element[i], "name");
        const redisReply *last = lgv_pair(reply->element[i], "last-delivered-id");
        const redisReply *pending = lgv_pair(reply->element[i], "pending");
        if (name && name->str && strcmp(name->str, LG_GROUP_VALIDATORS) == 0 && last && last->str &&
            pending && pending->type == REDIS_REPLY_INTEGER) {
            p->group_known[high] = true;
            p->pending[high] = pending->integer;
            snprintf(p->delivered[high], sizeof(p->delivered[high]), "%s", last->str);
        }
    }
    probe_reply(p);
}

static void on_pay_due(redisReply *reply, void *arg)
{
    struct room_probe *p = arg;
    p->pay_due_empty = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0;
    probe_reply(p);
}

static void probe_send(struct room_probe *p, lg_redis_reply_fn fn, void *arg, int argc,
                       const char **argv)
{
    if (!arg)
        return;
    if (lgv_step_send(p->v, fn, arg, argc, argv) == 0)
        p->waiting++;
    else if (arg != p)
        free(arg);
}

/* Probes a room that has been idle for at least the shorter window. */
static void probe_room(struct lg_validator *v, const char *room)
{
    struct room_probe *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->v = v;
    p->waiting = 1; /* held while sending */
    snprintf(p->room, sizeof(p->room), "%s", room);
    char k_room[LG_KEY_MAX];
    lg_key_room(k_room, sizeof(k_room), room);
    const char *hget[] = {"HGET", k_room, "status"};
    probe_send(p, on_status, p, LGV_ARGC(hget), hget);
    for (int high = 0; high < 2; high++) {
        char key[LG_KEY_MAX];
        lg_key_stream(key, sizeof(key), room, high);
        const char *stream[] = {"XINFO", "STREAM", key};
        const char *groups[] = {"XINFO", "GROUPS", key};
        probe_send(p, on_stream, stream_arg_new(p, high), LGV_ARGC(stream), stream);
        probe_send(p, on_groups, stream_arg_new(p, high), LGV_ARGC(groups), groups);
    }
    /* After the streams, on the same connection: an order confirmed before
     * they looked drained has its payment deadline indexed by then. */
    char k_due[LG_KEY_MAX];
    lg_key_pay_due(k_due, sizeof(k_due), room);
    const char *zcard[] = {"ZCARD", k_due};
    probe_send(p, on_pay_due, p, LGV_ARGC(zcard), zcard);
    /* drop the sending hold without a step reply: it was never counted */
    if (--p->waiting == 0) {
        send_prune(p);
        free(p);
    }
}

static void on_consumers_pruned(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
        lg_log(LG_LOG_INFO, "validator.consumers_removed",
               json_pack("{s:I}", "consumers", (json_int_t)reply->integer));
    lgv_step_reply(v);
}

static void prune_consumers(struct lg_validator *v, const char *room, const char *idle)
{
    for (int high = 0; high < 2; high++) {
        char key[LG_KEY_MAX];
        lg_key_stream(key, sizeof(key), room, high);
        const char *args[] = {key, LG_GROUP_VALIDATORS, idle, v->cfg.consumer};
        lgv_step_script(v, &lg_script_consumer_prune, on_consumers_pruned, v, 1, LGV_ARGC(args),
                        args, NULL);
    }
}

void lgv_prune(struct lg_validator *v)
{
    lgv_step_begin(v, lgv_cycle_next);
    int shorter = v->cfg.room_closed_idle_ms < v->cfg.room_idle_ms ? v->cfg.room_closed_idle_ms
                                                                   : v->cfg.room_idle_ms;
    long long cutoff = (long long)lg_wall_ms() - shorter;
    char idle[24];
    snprintf(idle, sizeof(idle), "%d", v->cfg.consumer_idle_ms);
    for (size_t i = 0; i < v->nrooms; i++) {
        prune_consumers(v, v->rooms[i], idle);
        if (v->room_scores[i] < cutoff)
            probe_room(v, v->rooms[i]);
    }
    lgv_step_end(v);
}
