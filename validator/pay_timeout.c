/* pay_timeout.c - cancelling orders left unpaid at their payment deadline,
 * from the validator's cycle (see pay_timeout.h and queue/lua/pay_timeout.lua).
 *
 * Why here: the validators already serve every room and run whatever else
 * runs, and any of them may drain: the script re-checks each order's status
 * atomically, so validators draining the same room at once cancel an order
 * once, and a timeout that fell due while every validator was down is in the
 * room's due index when one comes back. No per-order timer is kept in any
 * process: each room's index in Redis is the only schedule. What a process
 * keeps is, per room, when to look again (from the script's answer), so a
 * room with nothing due soon costs one call a second, not four. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "pay_timeout.h"
#include "pay_timeout_args.h"
#include "sku_notify.h"

/* ---- pure ------------------------------------------------------------------ */

static bool is_int(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER;
}

int lgv_pay_read_reply(const redisReply *reply, struct lgv_pay_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->elements - 3 > LGV_PAY_MAX_SKUS)
        return -1;
    const redisReply *n = reply->element[0], *more = reply->element[1], *next = reply->element[2];
    if (!is_int(n) || !is_int(more) || !is_int(next) || n->integer < 0 ||
        (more->integer != 0 && more->integer != 1) || next->integer < -1)
        return -1;
    for (size_t i = 3; i < reply->elements; i++) {
        const redisReply *s = reply->element[i];
        if (s->type != REDIS_REPLY_STRING || !lg_text_is_id(s->str, s->len))
            return -1;
        out->sku_ids[out->nskus++] = s->str;
    }
    out->cancelled = n->integer;
    out->more = more->integer == 1;
    out->next_due_in = next->integer;
    return 0;
}

int64_t lgv_pay_next_check_ms(int64_t now_ms, const struct lgv_pay_result *r)
{
    if (r->more)
        return now_ms;
    if (r->next_due_in < 0 || r->next_due_in > LGV_PAY_RECHECK_MAX_MS)
        return now_ms + LGV_PAY_RECHECK_MAX_MS;
    return now_ms + r->next_due_in;
}

/* ---- the drain (event-loop glue) --------------------------------------------- */

/* One script call; freed by its reply. room indexes v->rooms (the list
 * changes only in a refresh step of its own, so the index stays valid). */
struct pay_call {
    struct lg_validator *v;
    size_t room;
};

static void on_drained(redisReply *reply, void *arg)
{
    struct pay_call *c = arg;
    struct lg_validator *v = c->v;
    const char *room = v->rooms[c->room];
    struct lgv_pay_result r;
    if (lgv_pay_read_reply(reply, &r) != 0) {
        /* Retried at the next drain: the index still holds what was due. */
        lg_log(LG_LOG_ERROR, "validator.pay_timeout_failed",
               json_pack("{s:s,s:s}", "room", room, "detail",
                         reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply"));
    } else {
        v->pay_next_ms[c->room] = lgv_pay_next_check_ms(lg_mono_ms(), &r);
        if (r.cancelled > 0) {
            v->pay_timeouts += (unsigned long long)r.cancelled;
            lg_log(LG_LOG_INFO, "validator.pay_timeouts",
                   json_pack("{s:s,s:I}", "room", room, "cancelled", (json_int_t)r.cancelled));
        }
        /* The stock came back: viewers see it through sku.update (coalesced). */
        for (size_t i = 0; i < r.nskus; i++)
            lg_sku_notifier_touch(v->sku_notifier, room, r.sku_ids[i], false);
    }
    free(c);
    lgv_step_reply(v);
}

/* pay_next_ms grows with the room list; a new room is due at once (0). */
static int ensure_room_slots(struct lg_validator *v)
{
    if (v->pay_cap >= v->nrooms)
        return 0;
    size_t cap = v->rooms_cap;
    int64_t *grown = realloc(v->pay_next_ms, cap * sizeof(*grown));
    if (!grown)
        return -1;
    memset(grown + v->pay_cap, 0, (cap - v->pay_cap) * sizeof(*grown));
    v->pay_next_ms = grown;
    v->pay_cap = cap;
    return 0;
}

static void send_drain(struct lg_validator *v, size_t i)
{
    struct lg_pay_timeout_args a;
    if (lg_pay_timeout_args(&a, v->rooms[i], LGV_PAY_BATCH, LGV_PAY_AUDIT_KEEP, false) != 0)
        return;
    struct pay_call *c = malloc(sizeof(*c));
    if (!c)
        return;
    c->v = v;
    c->room = i;
    if (lgv_step_script(v, &lg_script_pay_timeout, on_drained, c, a.nkeys, a.argc, a.argv, NULL) !=
        0)
        free(c);
}

void lgv_pay_drain(struct lg_validator *v, int64_t now_ms)
{
    lgv_step_begin(v, lgv_cycle_next);
    if (ensure_room_slots(v) == 0) {
        for (size_t i = 0; i < v->nrooms; i++)
            if (v->pay_next_ms[i] <= now_ms)
                send_drain(v, i);
    }
    lgv_step_end(v);
}

void lgv_pay_free(struct lg_validator *v)
{
    free(v->pay_next_ms);
    v->pay_next_ms = NULL;
    v->pay_cap = 0;
}
