/* decide.c - deciding the batch: one validate.lua call per entry, all
 * pipelined. The script is atomic and idempotent (an order already decided
 * returns its stored result), so deciding an entry a crashed validator had
 * already decided is safe. An entry handed out more than
 * LIVEGATE_MAX_DELIVERIES times is expired instead of decided again. Each
 * reply is copied into its entry by enum lg_result_field; answer.c sends
 * it on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/log.h"
#include "scripts.h"

/* The arguments before the result field names (see validate.lua). */
enum { DECIDE_NKEYS = 6, DECIDE_NARGS = 5 };

/* One per call; freed by its reply. */
struct decide_ctx {
    struct lg_validator *v;
    size_t index;
};

static void take_result(struct lgv_entry *e, const redisReply *reply)
{
    e->outcome = LGV_DECIDED;
    for (int k = 0; k < LG_RESULT_NFIELDS; k++) {
        const char *s = reply->element[k]->str;
        e->result[k] = strdup(s ? s : "");
    }
}

static void on_decided(redisReply *reply, void *arg)
{
    struct decide_ctx *ctx = arg;
    struct lg_validator *v = ctx->v;
    struct lgv_entry *e = &v->batch[ctx->index];
    free(ctx);
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        e->outcome = LGV_FAILED;
        if (reply)
            lg_log(LG_LOG_ERROR, "validator.script_error",
                   json_pack("{s:s,s:s}", "order_id", e->order_id, "detail",
                             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
    } else if (reply->elements == 1) {
        e->outcome = LGV_MISSING;
    } else if (reply->elements == LG_RESULT_NFIELDS) {
        take_result(e, reply);
    } else {
        e->outcome = LGV_FAILED;
    }
    lgv_step_reply(v);
}

static void decide(struct lg_validator *v, size_t index)
{
    struct lgv_entry *e = &v->batch[index];
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
    const char *args[DECIDE_NKEYS + DECIDE_NARGS + LG_RESULT_NRECORD] = {
        k_order, k_room,   k_sku,  k_coupon, k_coupon_users,
        k_live,  deadline, margin, pay,      e->force_expire ? "1" : "0",
        feed};
    for (int k = 0; k < LG_RESULT_NRECORD; k++)
        args[DECIDE_NKEYS + DECIDE_NARGS + k] = lg_result_record_fields[k];

    struct decide_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx) {
        e->outcome = LGV_FAILED;
        return;
    }
    ctx->v = v;
    ctx->index = index;
    v->pending++;
    if (lg_script_call(v->redis, &lg_script_validate, on_decided, ctx, DECIDE_NKEYS, LGV_ARGC(args),
                       args, NULL) != 0) {
        v->pending--;
        e->outcome = LGV_FAILED;
        free(ctx);
    }
}

void lgv_decide_batch(struct lg_validator *v)
{
    if (v->nbatch == 0) {
        lgv_cycle_next(v);
        return;
    }
    lgv_step_begin(v, lgv_answer_batch);
    for (size_t i = 0; i < v->nbatch; i++) {
        struct lgv_entry *e = &v->batch[i];
        if (e->deliveries > v->cfg.max_deliveries)
            e->force_expire = true;
        if (e->outcome == LGV_PENDING)
            decide(v, i);
    }
    lgv_step_end(v);
}
