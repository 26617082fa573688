/* answer.c - answering the decided batch, then acknowledging it. Every
 * decided entry's result goes to the reply stream of each gateway that
 * asked for it, an entry delivered too often is copied to the room's dead
 * letters, and the decision is counted in the room's statistics. Each reply
 * stream gets its batch's results in one reply.lua call (the results
 * packed into one entry, and one expiry renewal), not a command per result.
 * Only when every write has been answered are the entries
 * acknowledged, one XACK per stream; an entry whose result could not be
 * written stays pending and is claimed again later.
 *
 * The next cycle does not wait for the acknowledgements: its read goes out
 * behind them on the same connection, so Redis runs them first, and a lost
 * one only leaves its entry pending, to be claimed and its stored result
 * re-sent (which the gateways show once). That is one round trip fewer per
 * cycle, behind a Redis busy with every gateway's enqueues. They are
 * counted, and a stopping validator closes only once each is answered
 * (cycle.c), so a clean stop leaves nothing pending. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "scripts.h"
#include "sku_notify.h"
#include "stats.h"

/* ---- acknowledging --------------------------------------------------------- */

static void after_acks(struct lg_validator *v)
{
    lgv_batch_clear(v);
    lgv_cycle_next(v);
}

static bool ackable(const struct lgv_entry *e)
{
    return e->outcome != LGV_FAILED && !e->answer_failed;
}

/* An acknowledgement not waited for: whatever it answers, the entry was
 * answered, and one that failed stays pending (see the top). Only counted,
 * so a stop waits for the last ones (cycle.c). */
static void on_ack_unawaited(redisReply *reply, void *arg)
{
    (void)reply;
    struct lg_validator *v = arg;
    v->acks_unawaited--;
}

static void send_ack(struct lg_validator *v, int argc, const char **argv)
{
    if (lg_redis_argv(v->redis, on_ack_unawaited, v, argc, argv, NULL) == 0)
        v->acks_unawaited++;
}

/* Second round: acknowledge what was answered, one XACK per stream with all
 * of its ids. An entry whose result could not be written stays pending and
 * is retried after the claim delay; so does the whole batch if the argument
 * lists cannot be allocated. */
static void ack_batch(struct lg_validator *v)
{
    const char **argv = malloc((3 + v->nbatch) * sizeof(*argv));
    bool *grouped = calloc(v->nbatch ? v->nbatch : 1, sizeof(*grouped));
    for (size_t i = 0; argv && grouped && i < v->nbatch; i++) {
        const struct lgv_entry *e = &v->batch[i];
        if (grouped[i] || !ackable(e))
            continue;
        int argc = 0;
        argv[argc++] = "XACK";
        argv[argc++] = e->stream;
        argv[argc++] = LG_GROUP_VALIDATORS;
        for (size_t k = i; k < v->nbatch; k++) {
            const struct lgv_entry *o = &v->batch[k];
            if (!grouped[k] && ackable(o) && strcmp(o->stream, e->stream) == 0) {
                grouped[k] = true;
                argv[argc++] = o->id;
            }
        }
        send_ack(v, argc, argv);
    }
    free(argv);
    free(grouped);
    after_acks(v); /* the next cycle, without waiting for the replies */
}

/* ---- writing results ------------------------------------------------------- */

/* arg is the entry: the batch does not move while it is answered. */
static void on_answer_sent(redisReply *reply, void *arg)
{
    struct lgv_entry *e = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        e->answer_failed = true;
        lg_log(LG_LOG_WARN, "validator.answer_failed",
               json_pack("{s:s}", "detail", reply ? reply->str : "connection lost"));
    }
    lgv_step_reply(e->v);
}

static void send_answer(struct lg_validator *v, size_t index, int argc, const char **argv)
{
    struct lgv_entry *e = &v->batch[index];
    if (lgv_step_send(v, on_answer_sent, e, argc, argv) != 0)
        e->answer_failed = true;
}

/* ---- reply streams ------------------------------------------------------------ */

/* Results per reply.lua call, like decide.c's orders per call. */
#define REPLY_MAX_PER_CALL 256

static int pack_result(struct lg_reply_pack *p, const struct lgv_entry *e)
{
    char *const *r = e->result;
    const char *values[LG_REPLY_NFIELDS] = {e->order_id,
                                            e->room,
                                            e->user,
                                            r[LG_RESULT_STATUS],
                                            r[LG_RESULT_CODE],
                                            r[LG_RESULT_FIELD],
                                            r[LG_RESULT_MESSAGE],
                                            r[LG_RESULT_AMOUNT],
                                            r[LG_RESULT_CONFIRMED_AT],
                                            r[LG_RESULT_PAY_DEADLINE],
                                            r[LG_RESULT_CLIENT_ORDER_ID],
                                            r[LG_RESULT_REQ],
                                            r[LG_RESULT_ACCEPTED_AT],
                                            r[LG_RESULT_UPDATED_AT]};
    return lg_reply_pack_add(p, values);
}

/* The reply stream's target in this batch, created on first use. */
static struct lgv_target *target_of(struct lg_validator *v, const char *key)
{
    uintptr_t slot = (uintptr_t)lg_strmap_get(v->target_set, key);
    if (slot)
        return &v->targets[slot - 1];
    if (v->ntargets == v->targets_cap) {
        size_t cap = v->targets_cap ? v->targets_cap * 2 : 16;
        struct lgv_target *grown = realloc(v->targets, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        memset(grown + v->targets_cap, 0, (cap - v->targets_cap) * sizeof(*grown));
        v->targets = grown;
        v->targets_cap = cap;
    }
    struct lgv_target *t = &v->targets[v->ntargets];
    snprintf(t->key, sizeof(t->key), "%s", key);
    t->n = 0;
    if (lg_strmap_put(v->target_set, key, (void *)(uintptr_t)(v->ntargets + 1)) != 0)
        return NULL;
    v->ntargets++;
    return t;
}

/* Files entry index for the reply stream of gateway_id. */
static void send_result_to(struct lg_validator *v, size_t index, const char *gateway_id)
{
    char key[LG_KEY_MAX];
    if (lg_key_reply_stream(key, sizeof(key), gateway_id) < 0)
        return;
    struct lgv_target *t = target_of(v, key);
    if (t && t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        size_t *grown = realloc(t->index, cap * sizeof(*grown));
        if (grown) {
            t->index = grown;
            t->cap = cap;
        }
    }
    if (!t || t->n == t->cap) {
        v->batch[index].answer_failed = true; /* out of memory: sent again later */
        return;
    }
    t->index[t->n++] = index;
}

/* One per reply.lua call; freed by its reply. */
struct reply_call {
    struct lg_validator *v;
    size_t n;
    size_t index[];
};

static void on_replies_sent(redisReply *reply, void *arg)
{
    struct reply_call *call = arg;
    struct lg_validator *v = call->v;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        for (size_t i = 0; i < call->n; i++)
            v->batch[call->index[i]].answer_failed = true;
        lg_log(LG_LOG_WARN, "validator.answer_failed",
               json_pack("{s:s}", "detail", reply ? reply->str : "connection lost"));
    }
    free(call);
    lgv_step_reply(v);
}

/* One reply.lua call for n results of one stream (index[0..n-1]). */
static void send_replies(struct lg_validator *v, const char *key, const size_t *index, size_t n)
{
    struct reply_call *call = malloc(sizeof(*call) + n * sizeof(call->index[0]));
    struct lg_reply_pack *pack = &v->reply_pack;
    lg_reply_pack_reset(pack);
    bool packed = call != NULL;
    for (size_t i = 0; packed && i < n; i++)
        packed = pack_result(pack, &v->batch[index[i]]) == 0;
    if (!packed) {
        for (size_t i = 0; i < n; i++)
            v->batch[index[i]].answer_failed = true;
        free(call);
        return;
    }
    call->v = v;
    call->n = n;
    memcpy(call->index, index, n * sizeof(call->index[0]));
    lg_reply_pack_args(pack, key);
    if (lgv_step_script(v, &lg_script_reply, on_replies_sent, call, 1, LG_REPLY_ARGC, pack->args,
                        pack->lens) != 0) {
        for (size_t i = 0; i < n; i++)
            v->batch[index[i]].answer_failed = true;
        free(call);
    }
}

/* Every reply stream's results of the batch, one reply.lua call per stream
 * (per REPLY_MAX_PER_CALL results), which also renews the stream's expiry. */
static void send_reply_streams(struct lg_validator *v)
{
    for (size_t i = 0; i < v->ntargets; i++) {
        struct lgv_target *t = &v->targets[i];
        for (size_t at = 0; at < t->n; at += REPLY_MAX_PER_CALL) {
            size_t n = t->n - at < REPLY_MAX_PER_CALL ? t->n - at : REPLY_MAX_PER_CALL;
            send_replies(v, t->key, &t->index[at], n);
        }
        lg_strmap_del(v->target_set, t->key);
        t->n = 0;
    }
    v->ntargets = 0;
}

/* The accepting gateway, and every gateway a duplicate submit registered
 * while the order was queued (watch.lua): the buyer may have reconnected
 * there. Gateways push a result at most once per order, so a target that
 * hears it twice shows it once. */
static void send_result(struct lg_validator *v, size_t index)
{
    struct lgv_entry *e = &v->batch[index];
    send_result_to(v, index, e->gw);
    const char *p = e->result[LG_RESULT_WATCHERS];
    while (*p) {
        size_t n = strcspn(p, ",");
        char id[LG_ID_MAX + 1];
        if (n > 0 && n <= LG_ID_MAX) {
            memcpy(id, p, n);
            id[n] = 0;
            if (strcmp(id, e->gw) != 0)
                send_result_to(v, index, id);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

static void send_dead_letter(struct lg_validator *v, size_t index)
{
    struct lgv_entry *e = &v->batch[index];
    char key[LG_KEY_MAX], deliveries[24];
    lg_key_dead_letter(key, sizeof(key), e->room);
    snprintf(deliveries, sizeof(deliveries), "%lld", e->deliveries);
    const char *argv[] = {"XADD",   key,        "MAXLEN",     "~",       "10000",
                          "*",      "order_id", e->order_id,  "entry",   e->id,
                          "stream", e->stream,  "deliveries", deliveries};
    send_answer(v, index, LGV_ARGC(argv), argv);
    v->dead_lettered++;
}

/* ---- counting -------------------------------------------------------------- */

/* Only a decision made now counts in the room's statistics: a re-sent
 * result was counted when it was decided. EXPIRED counts as a rejection. */
static void count_room_stats(struct lg_validator *v, const struct lgv_entry *e, bool confirmed)
{
    struct lg_stats_delta *d = lg_stats_room(v->stats, e->room);
    if (!d)
        return;
    if (confirmed) {
        lg_stats_delta_count(d, LG_STAT_CONFIRMED, 1);
        long long amount = strtoll(e->result[LG_RESULT_AMOUNT], NULL, 10);
        if (amount > 0)
            lg_stats_delta_count(d, LG_STAT_GMV_FEN, (unsigned long long)amount);
    } else {
        lg_stats_delta_count(d, LG_STAT_REJECTED, 1);
        lg_stats_delta_reject_code(d, e->result[LG_RESULT_CODE]);
    }
    long long decided = strtoll(e->result[LG_RESULT_DECIDED_AT], NULL, 10);
    long long accepted = strtoll(e->result[LG_RESULT_ACCEPTED_AT], NULL, 10);
    if (decided > 0 && accepted > 0) {
        long long ms = decided > accepted ? decided - accepted : 0;
        lg_stats_delta_confirm_us(d, (uint64_t)ms * 1000);
        if (ms > v->cfg.deadline_ms)
            lg_stats_delta_count(d, LG_STAT_SLA_VIOLATIONS, 1);
    }
}

static void count_result(struct lg_validator *v, const struct lgv_entry *e)
{
    if (strcmp(e->result[LG_RESULT_DECIDED_NOW], "1") != 0) {
        v->resent++;
        return;
    }
    v->decided++;
    bool confirmed = strcmp(e->result[LG_RESULT_STATUS], "rejected") != 0;
    lgv_metrics_decision(&v->metrics, confirmed ? "CONFIRMED" : e->result[LG_RESULT_CODE]);
    if (confirmed)
        v->confirmed++;
    else if (strcmp(e->result[LG_RESULT_CODE], "EXPIRED") == 0)
        v->expired++;
    else
        v->rejected++;
    count_room_stats(v, e, confirmed);
}

/* A confirmation took stock: the room's viewers hear of it, coalesced, and
 * at once when it took the last unit. (A re-sent confirmation touches again;
 * the script finds that state already published.) */
static void announce_stock(struct lg_validator *v, const struct lgv_entry *e)
{
    if (strcmp(e->result[LG_RESULT_STATUS], "rejected") == 0)
        return;
    bool sold_out = strcmp(e->result[LG_RESULT_STOCK_LEFT], "0") == 0;
    lg_sku_notifier_touch(v->sku_notifier, e->room, e->sku, sold_out);
}

void lgv_answer_batch(struct lg_validator *v)
{
    lgv_step_begin(v, ack_batch);
    for (size_t i = 0; i < v->nbatch; i++) {
        struct lgv_entry *e = &v->batch[i];
        if (e->outcome == LGV_FAILED)
            continue; /* stays pending; claimed and retried later */
        if (e->outcome == LGV_DECIDED) {
            count_result(v, e);
            send_result(v, i);
            announce_stock(v, e);
        }
        if (e->force_expire)
            send_dead_letter(v, i);
        if (e->outcome == LGV_MISSING || e->outcome == LGV_MALFORMED)
            lg_log(LG_LOG_WARN, "validator.entry_dropped",
                   json_pack("{s:s,s:s,s:s}", "stream", e->stream, "entry", e->id, "reason",
                             e->outcome == LGV_MISSING ? "order record gone" : "malformed entry"));
    }
    send_reply_streams(v);
    lgv_step_end(v);
}
