/* read.c - reading a batch from the priority streams. High-value orders
 * first: one non-blocking read of every room's high stream, then the
 * normal streams with whatever capacity is left, and only when both came
 * back empty a short blocking read on all of them, so an idle validator
 * waits in Redis rather than spinning. Whatever was read goes to
 * decide.c. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

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
    argv[argc++] = LG_GROUP_VALIDATORS;
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

static void on_read_blocking(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    lgv_batch_add_read_reply(v, reply);
    if (reply && v->nbatch == 0)
        lgv_metrics_idle(&v->metrics); /* every stream read empty: caught up */
    lgv_decide_batch(v);
}

static void on_read_normal(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    size_t got = lgv_batch_add_read_reply(v, reply);
    if (!reply) {
        lgv_cycle_next(v);
        return;
    }
    if (got == 0 && v->got_high == 0 && !v->stopping) {
        if (send_read(v, v->cfg.batch, true, true, v->cfg.block_ms, on_read_blocking) != 0)
            lgv_cycle_schedule(v, 100);
        return;
    }
    lgv_decide_batch(v);
}

static void on_read_high(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (!reply) {
        lgv_cycle_next(v);
        return;
    }
    v->got_high = lgv_batch_add_read_reply(v, reply);
    int room_left = v->cfg.batch - (int)v->got_high;
    if (room_left <= 0) {
        lgv_decide_batch(v); /* high leaves no capacity this round */
        return;
    }
    if (send_read(v, room_left, false, true, 0, on_read_normal) != 0)
        lgv_decide_batch(v);
}

int lgv_read_start(struct lg_validator *v)
{
    return send_read(v, v->cfg.batch, true, false, 0, on_read_high);
}
