/* cycle.c - the validator's life and its cycle (see validator.h and
 * internal.h).
 *
 * One cycle at a time: refresh the room list, claim entries a dead
 * consumer left behind, cancel the orders left unpaid at their payment
 * deadline (pay_timeout.c, every LGV_PAY_EVERY_MS), read a batch (high streams first, normal
 * streams with whatever capacity is left, and a short blocking read on both when everything is
 * empty), decide every entry with validate.lua, then send the results and acknowledge. Because an
 * entry is acknowledged only after its result was written, a crash anywhere leaves it pending;
 * another validator claims it and validate.lua, which never decides an order twice, returns the
 * stored result. This file owns struct lg_validator: it creates it, runs the steps and frees it. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "pay_timeout.h"
#include "scrape.h"
#include "scripts.h"
#include "sku_notify.h"
#include "stats.h"

#define ROOMS_EVERY_MS 1000
#define CLAIM_EVERY_MS 1000
#define TRIM_EVERY_MS 10000
#define STATS_EVERY_MS 10000

static void cycle(struct lg_validator *v);

/* ---- steps --------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    cycle(t->data);
}

void lgv_cycle_schedule(struct lg_validator *v, int delay_ms)
{
    uv_timer_start(&v->timer, on_timer, (uint64_t)delay_ms, 0);
}

void lgv_cycle_next(struct lg_validator *v)
{
    lgv_cycle_schedule(v, 0);
}

/* ---- the cycle ------------------------------------------------------------- */

static void log_stats(struct lg_validator *v)
{
    lg_log(LG_LOG_INFO, "validator.stats",
           json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "consumer", v->cfg.consumer, "rooms",
                     (json_int_t)v->nrooms, "decided", (json_int_t)v->decided, "confirmed",
                     (json_int_t)v->confirmed, "rejected", (json_int_t)v->rejected, "expired",
                     (json_int_t)v->expired, "dead_lettered", (json_int_t)v->dead_lettered,
                     "resent", (json_int_t)v->resent, "pay_timeouts", (json_int_t)v->pay_timeouts));
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
    lgv_scrape_close(v->scrape);
    v->scrape = NULL;
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
        /* The last batch's XACKs were not waited for (answer.c): closing
         * now could drop them unsent and leave the entries pending. Each
         * is answered, or failed when the connection drops. */
        if (v->acks_unawaited > 0) {
            lgv_cycle_schedule(v, 5);
            return;
        }
        finish(v);
        return;
    }
    if (!lg_redis_is_up(v->redis)) {
        lgv_cycle_schedule(v, 100);
        return;
    }
    int64_t now = lg_mono_ms();
    if (now - v->last_stats_ms >= STATS_EVERY_MS) {
        v->last_stats_ms = now;
        log_stats(v);
    }
    if (now - v->last_rooms_ms >= ROOMS_EVERY_MS) {
        v->last_rooms_ms = now;
        lgv_rooms_refresh(v);
        return;
    }
    if (v->nrooms == 0) {
        lgv_cycle_schedule(v, v->cfg.block_ms);
        return;
    }
    if (now - v->last_trim_ms >= TRIM_EVERY_MS) {
        v->last_trim_ms = now;
        lgv_rooms_trim(v);
        return;
    }
    if (now - v->last_pay_ms >= LGV_PAY_EVERY_MS) {
        v->last_pay_ms = now;
        lgv_pay_drain(v, now);
        return;
    }
    if (now - v->last_prune_ms >= v->cfg.prune_ms) {
        v->last_prune_ms = now;
        lgv_prune(v);
        return;
    }
    if (now - v->last_claim_ms >= CLAIM_EVERY_MS) {
        v->last_claim_ms = now;
        lgv_claim(v);
        return;
    }
    if (lgv_read_start(v) != 0)
        lgv_cycle_schedule(v, 100);
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
    v->target_set = lg_strmap_new();
    if (!v->room_set || !v->target_set) {
        lg_strmap_free(v->room_set);
        lg_strmap_free(v->target_set);
        free(v);
        return NULL;
    }
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

static char *render_metrics(void *arg, size_t *len)
{
    struct lg_validator *v = arg;
    v->metrics.resent = v->resent;
    v->metrics.dead_lettered = v->dead_lettered;
    v->metrics.pay_timeouts = v->pay_timeouts;
    struct lgv_metrics_state st = {
        .consumer = v->cfg.consumer, .rooms = v->nrooms, .redis_up = lg_redis_is_up(v->redis)};
    return lgv_metrics_render(&v->metrics, &st, len);
}

int lg_validator_listen_metrics(struct lg_validator *v)
{
    if (!v->cfg.metrics_port)
        return 0;
    v->scrape =
        lgv_scrape_start(v->loop, v->cfg.metrics_host, v->cfg.metrics_port, render_metrics, v);
    if (!v->scrape)
        return -1;
    lg_log(LG_LOG_INFO, "metrics.listening",
           json_pack("{s:s,s:i,s:s}", "host", v->cfg.metrics_host, "port", v->cfg.metrics_port,
                     "consumer", v->cfg.consumer));
    return 0;
}

void lg_validator_start(struct lg_validator *v)
{
    lg_redis_start(v->redis);
    v->last_stats_ms = lg_mono_ms();
    v->last_prune_ms = v->last_stats_ms; /* the first prune after a full period */
    lg_stats_start(v->stats, v->loop, v->redis);
    lgv_cycle_schedule(v, 0);
}

void lg_validator_stop(struct lg_validator *v)
{
    v->stopping = true;
}

void lg_validator_free(struct lg_validator *v)
{
    lgv_batch_clear(v);
    lgv_decide_free(v);
    lgv_pay_free(v);
    free(v->batch);
    free(v->rooms);
    free(v->room_slots);
    free(v->room_scores);
    free(v->group_order);
    free(v->group_starts);
    lg_strmap_free(v->room_set);
    lg_strmap_free(v->target_set);
    for (size_t i = 0; i < v->targets_cap; i++)
        free(v->targets[i].index);
    free(v->targets);
    lg_reply_pack_free(&v->reply_pack);
    lg_stats_free(v->stats);
    free(v);
}
