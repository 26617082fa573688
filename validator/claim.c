/* claim.c - taking over the entries a silent consumer left pending. Every
 * claim round asks each stream for entries idle longer than the claim
 * delay (XAUTOCLAIM) and for how often each has been handed out
 * (XPENDING), so an entry that keeps failing is dead-lettered instead of
 * retried for ever. The claimed entries then go through decide.c like a
 * fresh read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/log.h"

/* One per command; freed by its reply. */
struct claim_ctx {
    struct lg_validator *v;
    char stream[LG_KEY_MAX];
};

static void on_claimed(redisReply *reply, void *arg)
{
    struct claim_ctx *ctx = arg;
    /* XAUTOCLAIM answers [next cursor, entries, deleted ids]. */
    struct lg_validator *v = ctx->v;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2)
        lgv_batch_add_entries(v, ctx->stream, reply->element[1]);
    free(ctx);
    lgv_step_reply(v);
}

/* XPENDING (extended form) answers [[id, consumer, idle ms, deliveries], ...]:
 * how often each claimed entry has been handed out. */
static void on_pending(redisReply *reply, void *arg)
{
    struct claim_ctx *ctx = arg;
    struct lg_validator *v = ctx->v;
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        const redisReply *p = reply->element[i];
        if (p->type != REDIS_REPLY_ARRAY || p->elements != 4 || !p->element[0]->str)
            continue;
        for (size_t k = 0; k < v->nbatch; k++) {
            struct lgv_entry *e = &v->batch[k];
            if (strcmp(e->id, p->element[0]->str) == 0 && strcmp(e->stream, ctx->stream) == 0)
                e->deliveries = p->element[3]->integer;
        }
    }
    free(ctx);
    lgv_step_reply(v);
}

static void after_claim(struct lg_validator *v)
{
    v->metrics.claim_rounds++;
    v->metrics.claimed += v->nbatch;
    if (v->nbatch)
        lg_log(LG_LOG_INFO, "validator.claimed",
               json_pack("{s:I}", "entries", (json_int_t)v->nbatch));
    lgv_decide_batch(v);
}

/* XAUTOCLAIM, then XPENDING on the same connection: the pending counts
 * arrive after the entries they describe. */
static void claim_stream(struct lg_validator *v, const char *room, bool high, const char *idle,
                         const char *count)
{
    struct claim_ctx *c1 = malloc(sizeof(*c1)), *c2 = malloc(sizeof(*c2));
    if (!c1 || !c2) {
        free(c1);
        free(c2);
        return;
    }
    c1->v = c2->v = v;
    lg_key_stream(c1->stream, sizeof(c1->stream), room, high);
    memcpy(c2->stream, c1->stream, sizeof(c2->stream));
    const char *xautoclaim[] = {"XAUTOCLAIM",    c1->stream, LG_GROUP_VALIDATORS,
                                v->cfg.consumer, idle,       "0-0",
                                "COUNT",         count};
    if (lgv_step_send(v, on_claimed, c1, LGV_ARGC(xautoclaim), xautoclaim) != 0) {
        free(c1);
        free(c2);
        return;
    }
    const char *xpending[] = {"XPENDING", c2->stream, LG_GROUP_VALIDATORS, "-",
                              "+",        count,      v->cfg.consumer};
    if (lgv_step_send(v, on_pending, c2, LGV_ARGC(xpending), xpending) != 0)
        free(c2);
}

void lgv_claim(struct lg_validator *v)
{
    lgv_step_begin(v, after_claim);
    char idle[16], count[16];
    snprintf(idle, sizeof(idle), "%d", v->cfg.claim_idle_ms);
    snprintf(count, sizeof(count), "%d", v->cfg.batch);
    for (size_t i = 0; i < v->nrooms; i++)
        for (int high = 1; high >= 0; high--)
            claim_stream(v, v->rooms[i], high, idle, count);
    lgv_step_end(v);
}
