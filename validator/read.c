/* read.c - reading a batch from the priority streams. High-value orders
 * first: a non-blocking read of every room's high stream, then the normal
 * streams with whatever capacity is left. Each read names the streams of
 * one group of rooms that share a Redis Cluster slot (rooms.c groups
 * them), so no command is CROSSSLOT on a cluster; the reads of a pass go
 * out pipelined and count as one step.
 *
 * Only when both passes came back empty does the validator wait in Redis:
 * one blocking read (LIVEGATE_VALIDATOR_BLOCK_MS) on the streams of the
 * group of the room with the latest activity (the room it last read from,
 * else the room the active index names last). A blocking read can cover
 * one slot only, and the room last busy is the one most likely to get the
 * next order; an order in another room waits at most the block time, and
 * the next cycle's non-blocking passes read every group again. Whatever was
 * read goes to decide.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/clock.h"

/* XREADGROUP GROUP g consumer COUNT n [BLOCK ms] STREAMS k... >... over the
 * rooms of group g, their high and/or normal streams. A non-blocking read
 * counts in the current step; the blocking one is a step of its own, moved
 * on by its reply. */
static int send_group_read(struct lg_validator *v, size_t g, int count, bool high, bool normal,
                           int block_ms, lg_redis_reply_fn fn)
{
    size_t first = v->group_starts[g], nrooms = v->group_starts[g + 1] - first;
    size_t nstreams = nrooms * ((high ? 1 : 0) + (normal ? 1 : 0));
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
        for (size_t i = 0; i < nrooms; i++) {
            lg_key_stream(keys[k], LG_KEY_MAX, v->rooms[v->group_order[first + i]], pass == 1);
            argv[argc++] = keys[k++];
        }
    }
    for (size_t i = 0; i < nstreams; i++)
        argv[argc++] = ">";
    int rc = block_ms > 0 ? lg_redis_argv(v->redis, fn, v, argc, argv, NULL)
                          : lgv_step_send(v, fn, v, argc, argv);
    free(argv);
    free(keys);
    return rc;
}

/* The room of the batch's last entry becomes the one the idle wait watches. */
static void note_busy_room(struct lg_validator *v)
{
    if (v->nbatch)
        snprintf(v->hot_room, sizeof(v->hot_room), "%s", v->batch[v->nbatch - 1].room);
}

static bool is_nogroup(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOGROUP", 7) == 0;
}

static void on_pass_reply(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (!reply)
        v->read_failed = true;
    if (is_nogroup(reply))
        v->groups_lost = true;
    lgv_batch_add_read_reply(v, reply);
    lgv_step_reply(v);
}

static void on_read_blocking(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (is_nogroup(reply)) {
        /* Answered at once: waiting on it again would spin. */
        v->groups_lost = true;
        v->hot_room[0] = 0;
        lgv_cycle_schedule(v, 100);
        return;
    }
    lgv_batch_add_read_reply(v, reply);
    if (reply && v->nbatch == 0)
        lgv_metrics_idle(&v->metrics); /* every stream read empty: caught up */
    note_busy_room(v);
    lgv_decide_batch(v);
}

/* The group of the room the idle wait watches; 0 when it is gone. */
static size_t hot_group(const struct lg_validator *v)
{
    for (size_t g = 0; g < v->ngroups; g++)
        for (size_t i = v->group_starts[g]; i < v->group_starts[g + 1]; i++)
            if (strcmp(v->rooms[v->group_order[i]], v->hot_room) == 0)
                return g;
    return 0;
}

static void wait_idle(struct lg_validator *v)
{
    if (send_group_read(v, hot_group(v), v->cfg.batch, true, true, v->cfg.block_ms,
                        on_read_blocking) != 0)
        lgv_cycle_schedule(v, 100);
}

static void after_normal(struct lg_validator *v)
{
    if (v->nbatch == 0 && v->read_failed) {
        lgv_cycle_next(v);
        return;
    }
    if (v->nbatch == 0 && !v->stopping) {
        wait_idle(v);
        return;
    }
    note_busy_room(v);
    lgv_decide_batch(v);
}

static void after_high(struct lg_validator *v)
{
    v->got_high = v->nbatch;
    int room_left = v->cfg.batch - (int)v->got_high;
    if (room_left <= 0 || v->read_failed) {
        after_normal(v); /* high leaves no capacity this round */
        return;
    }
    lgv_step_begin(v, after_normal);
    for (size_t g = 0; g < v->ngroups; g++)
        send_group_read(v, g, room_left, false, true, 0, on_pass_reply);
    lgv_step_end(v);
}

static void on_group_remade(redisReply *reply, void *arg)
{
    (void)reply; /* BUSYGROUP, or no stream (the room is gone): both fine */
    lgv_step_reply(arg);
}

/* Without MKSTREAM: a deleted room's streams are not made again (the index
 * refresh drops the room), while a stream that is back (an order arrived
 * after the delete) gets its group from 0, so that order is read. Sent in
 * the read's step, before the reads on the same connection. */
static void remake_lost_groups(struct lg_validator *v)
{
    int64_t now = lg_mono_ms();
    if (!v->groups_lost || now - v->groups_remade_ms < 1000)
        return;
    v->groups_lost = false;
    v->groups_remade_ms = now;
    for (size_t i = 0; i < v->nrooms; i++) {
        for (int high = 0; high < 2; high++) {
            char key[LG_KEY_MAX];
            lg_key_stream(key, sizeof(key), v->rooms[i], high);
            const char *argv[] = {"XGROUP", "CREATE", key, LG_GROUP_VALIDATORS, "0"};
            lgv_step_send(v, on_group_remade, v, LGV_ARGC(argv), argv);
        }
    }
}

int lgv_read_start(struct lg_validator *v)
{
    if (lgv_rooms_group(v) != 0)
        return -1;
    v->read_failed = false;
    lgv_step_begin(v, after_high);
    remake_lost_groups(v);
    for (size_t g = 0; g < v->ngroups; g++)
        send_group_read(v, g, v->cfg.batch, true, false, 0, on_pass_reply);
    lgv_step_end(v);
    return 0;
}
