/* decide.c - deciding the batch: one validate.lua call per room, deciding
 * up to DECIDE_MAX_ORDERS of the room's entries (high stream first, as
 * read), all calls pipelined. A batch call pays the script's fixed cost and
 * reads the room's and each SKU's settings once instead of once per order,
 * and every key it touches carries the room's hash tag, so it runs on
 * Redis Cluster as it is. The script is atomic and idempotent (an order
 * already decided returns its stored result), so deciding an entry a
 * crashed validator had already decided is safe. An entry handed out more
 * than LIVEGATE_MAX_DELIVERIES times is expired instead of decided again.
 * Each order's result is copied into its entry by enum lg_result_field;
 * answer.c sends it on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "scripts.h"

/* The script's layout (see validate.lua): the room's keys (config, feed
 * presence, load), two keys per order, the call's SKUs once each, two keys
 * per coupon once each, then the payment due index; seven arguments, the
 * result field names, the three counts, then the SKU and coupon ids. */
enum {
    DECIDE_ROOM_KEYS = 3,
    DECIDE_KEYS_PER_ORDER = 2,
    DECIDE_KEYS_PER_COUPON = 2,
    DECIDE_TAIL_KEYS = 1,
    DECIDE_NARGS = 7,
    DECIDE_COUNTS = 3
};
/* Orders per call: one call holds Redis for its whole run, so a long batch
 * of one room is split to keep every other client's wait short. */
#define DECIDE_MAX_ORDERS 256

/* One per call; freed by its reply. index[] are the batch entries the call
 * decides, in the order of the script's keys. */
struct decide_call {
    struct lg_validator *v;
    size_t n;
    size_t index[];
};

/* ---- replies ----------------------------------------------------------------- */

static void log_failure(const struct lgv_entry *e, const char *detail)
{
    lg_log(LG_LOG_ERROR, "validator.script_error",
           json_pack("{s:s,s:s}", "order_id", e->order_id, "detail", detail));
}

/* An order's result: LG_RESULT_NFIELDS values joined by NULs. One copy
 * holds them all (freed by lgv_batch_clear), each value ending at its NUL,
 * so result[k] points into it. */
static void take_result(struct lgv_entry *e, const redisReply *row)
{
    size_t nuls = 0;
    for (const char *p = row->str, *end = row->str + row->len;
         (p = memchr(p, 0, (size_t)(end - p))) != NULL; p++)
        nuls++;
    if (nuls != LG_RESULT_NFIELDS - 1) {
        e->outcome = LGV_FAILED;
        log_failure(e, "a result of another number of values");
        return;
    }
    char *p = malloc(row->len + 1);
    if (!p) {
        e->outcome = LGV_FAILED;
        return;
    }
    memcpy(p, row->str, row->len);
    p[row->len] = 0;
    e->result_block = p;
    for (int k = 0; k < LG_RESULT_NFIELDS; k++) {
        e->result[k] = p;
        p += strlen(p) + 1;
    }
    e->outcome = LGV_DECIDED;
}

/* One order's part of the reply: its result, {"missing"} or {"error", why}. */
static void take_row(struct lgv_entry *e, const redisReply *row)
{
    if (row->type == REDIS_REPLY_STRING) {
        take_result(e, row);
    } else if (row->type != REDIS_REPLY_ARRAY) {
        e->outcome = LGV_FAILED;
        log_failure(e, "unexpected reply");
    } else if (row->elements == 1) {
        e->outcome = LGV_MISSING;
    } else {
        e->outcome = LGV_FAILED;
        const redisReply *why = row->elements == 2 ? row->element[1] : NULL;
        log_failure(e, why && why->str ? why->str : "unexpected reply");
    }
}

static void on_decided(redisReply *reply, void *arg)
{
    struct decide_call *call = arg;
    struct lg_validator *v = call->v;
    bool whole = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == call->n;
    for (size_t i = 0; i < call->n; i++) {
        struct lgv_entry *e = &v->batch[call->index[i]];
        if (whole) {
            take_row(e, reply->element[i]);
        } else {
            e->outcome = LGV_FAILED;
            if (reply && i == 0)
                log_failure(e, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        }
    }
    free(call);
    lgv_step_reply(v);
}

/* ---- calls ------------------------------------------------------------------- */

/* The two keys of one order, written at keys[0..1]. */
static void order_keys(const struct lgv_entry *e, char (*keys)[LG_KEY_MAX])
{
    lg_key_order(keys[0], LG_KEY_MAX, e->room, e->order_id);
    lg_key_user_live(keys[1], LG_KEY_MAX, e->room, e->user);
}

/* Adds id to ids[0..*n) unless it is there already. A call's orders name
 * few SKUs and coupons, so a scan is cheaper than a map. */
static void add_distinct(const char **ids, size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(ids[i], id) == 0)
            return;
    ids[(*n)++] = id;
}

static void fail_call(struct lg_validator *v, struct decide_call *call)
{
    for (size_t i = 0; i < call->n; i++)
        v->batch[call->index[i]].outcome = LGV_FAILED;
    free(call);
}

/* Sends one validate.lua call for the entries in call->index (one room). */
static void send_call(struct lg_validator *v, struct decide_call *call)
{
    size_t n = call->n;
    const struct lgv_entry *first = &v->batch[call->index[0]];
    const char **skus = v->decide_skus, **coupons = v->decide_coupons;
    size_t nskus = 0, ncoupons = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lgv_entry *e = &v->batch[call->index[i]];
        add_distinct(skus, &nskus, e->sku);
        if (e->coupon[0])
            add_distinct(coupons, &ncoupons, e->coupon);
    }
    int nkeys = DECIDE_ROOM_KEYS + DECIDE_KEYS_PER_ORDER * (int)n + (int)nskus +
                DECIDE_KEYS_PER_COUPON * (int)ncoupons + DECIDE_TAIL_KEYS;
    int nargs =
        nkeys + DECIDE_NARGS + LG_RESULT_NRECORD + DECIDE_COUNTS + (int)nskus + (int)ncoupons;
    char(*keys)[LG_KEY_MAX] = v->decide_keys;
    const char **args = v->decide_args;
    char *expire = v->decide_expire;
    char deadline[16], margin[16], pay[16], nfields[16], feed[LG_KEY_MAX];
    char counts[DECIDE_COUNTS][24];

    lg_key_room(keys[0], LG_KEY_MAX, first->room);
    lg_key_feed_watched(keys[1], LG_KEY_MAX, first->room);
    lg_key_room_load(keys[2], LG_KEY_MAX, first->room);
    int k = DECIDE_ROOM_KEYS;
    for (size_t i = 0; i < n; i++) {
        const struct lgv_entry *e = &v->batch[call->index[i]];
        order_keys(e, &keys[k]);
        k += DECIDE_KEYS_PER_ORDER;
        expire[i] = e->force_expire ? '1' : '0';
    }
    for (size_t j = 0; j < nskus; j++)
        lg_key_sku(keys[k++], LG_KEY_MAX, first->room, skus[j]);
    for (size_t j = 0; j < ncoupons; j++) {
        lg_key_coupon(keys[k++], LG_KEY_MAX, first->room, coupons[j]);
        lg_key_coupon_users(keys[k++], LG_KEY_MAX, first->room, coupons[j]);
    }
    lg_key_pay_due(keys[k++], LG_KEY_MAX, first->room);
    for (int j = 0; j < nkeys; j++)
        args[j] = keys[j];
    expire[n] = 0;
    snprintf(deadline, sizeof(deadline), "%d", v->cfg.deadline_ms);
    snprintf(margin, sizeof(margin), "%d", v->cfg.margin_ms);
    snprintf(pay, sizeof(pay), "%d", v->cfg.pay_window_ms);
    snprintf(nfields, sizeof(nfields), "%d", LG_RESULT_NRECORD);
    snprintf(counts[0], sizeof(counts[0]), "%zu", n);
    snprintf(counts[1], sizeof(counts[1]), "%zu", nskus);
    snprintf(counts[2], sizeof(counts[2]), "%zu", ncoupons);
    if (lg_chan_feed(feed, sizeof(feed), first->room) < 0)
        feed[0] = 0;
    const char **a = &args[nkeys];
    a[0] = deadline;
    a[1] = margin;
    a[2] = pay;
    a[3] = expire;
    a[4] = feed;
    a[5] = first->room;
    a[6] = nfields;
    a += DECIDE_NARGS;
    for (int f = 0; f < LG_RESULT_NRECORD; f++)
        *a++ = lg_result_record_fields[f];
    for (int c = 0; c < DECIDE_COUNTS; c++)
        *a++ = counts[c];
    for (size_t j = 0; j < nskus; j++)
        *a++ = skus[j];
    for (size_t j = 0; j < ncoupons; j++)
        *a++ = coupons[j];

    if (lgv_step_script(v, &lg_script_validate, on_decided, call, nkeys, nargs, args, NULL) != 0)
        fail_call(v, call);
}

/* The scratch space of one call, sized for the largest, kept with the
 * validator (lg_script_call copies the arguments). */
static int ensure_scratch(struct lg_validator *v)
{
    if (v->decide_keys)
        return 0;
    /* At most one SKU and one coupon per order. */
    size_t nkeys =
        DECIDE_ROOM_KEYS +
        (DECIDE_KEYS_PER_ORDER + 1 + DECIDE_KEYS_PER_COUPON) * (size_t)DECIDE_MAX_ORDERS +
        DECIDE_TAIL_KEYS;
    v->decide_keys = malloc(nkeys * LG_KEY_MAX);
    size_t nargs =
        nkeys + DECIDE_NARGS + LG_RESULT_NRECORD + DECIDE_COUNTS + 2 * (size_t)DECIDE_MAX_ORDERS;
    v->decide_args = malloc(nargs * sizeof(char *));
    v->decide_expire = malloc(DECIDE_MAX_ORDERS + 1);
    v->decide_skus = malloc(DECIDE_MAX_ORDERS * sizeof(char *));
    v->decide_coupons = malloc(DECIDE_MAX_ORDERS * sizeof(char *));
    if (v->decide_keys && v->decide_args && v->decide_expire && v->decide_skus && v->decide_coupons)
        return 0;
    lgv_decide_free(v);
    return -1;
}

/* Groups the undecided entries of the room of entry `from` (those not yet
 * grouped, at most DECIDE_MAX_ORDERS) into one call. */
static struct decide_call *group_room(struct lg_validator *v, size_t from, bool *grouped)
{
    struct decide_call *call = malloc(sizeof(*call) + DECIDE_MAX_ORDERS * sizeof(call->index[0]));
    if (!call)
        return NULL;
    call->v = v;
    call->n = 0;
    const char *room = v->batch[from].room;
    for (size_t i = from; i < v->nbatch && call->n < DECIDE_MAX_ORDERS; i++) {
        struct lgv_entry *e = &v->batch[i];
        if (grouped[i] || e->outcome != LGV_PENDING || strcmp(e->room, room) != 0)
            continue;
        grouped[i] = true;
        call->index[call->n++] = i;
    }
    return call;
}

void lgv_decide_free(struct lg_validator *v)
{
    free(v->decide_keys);
    free(v->decide_args);
    free(v->decide_expire);
    free(v->decide_skus);
    free(v->decide_coupons);
    v->decide_skus = NULL;
    v->decide_coupons = NULL;
    v->decide_keys = NULL;
    v->decide_args = NULL;
    v->decide_expire = NULL;
}

/* The batch's size, and its oldest entry's age: stream ids start with the
 * milliseconds Redis added them at. */
static void count_batch(struct lg_validator *v)
{
    long long oldest = 0;
    for (size_t i = 0; i < v->nbatch; i++) {
        long long ms = strtoll(v->batch[i].id, NULL, 10);
        if (ms > 0 && (oldest == 0 || ms < oldest))
            oldest = ms;
    }
    lgv_metrics_batch(&v->metrics, v->nbatch, oldest, lg_wall_ms());
}

void lgv_decide_batch(struct lg_validator *v)
{
    if (v->nbatch == 0) {
        lgv_cycle_next(v);
        return;
    }
    count_batch(v);
    lgv_step_begin(v, lgv_answer_batch);
    bool *grouped = calloc(v->nbatch, sizeof(*grouped));
    bool ready = grouped && ensure_scratch(v) == 0;
    for (size_t i = 0; i < v->nbatch; i++)
        if (v->batch[i].deliveries > v->cfg.max_deliveries)
            v->batch[i].force_expire = true;
    for (size_t i = 0; i < v->nbatch; i++) {
        struct lgv_entry *e = &v->batch[i];
        if (e->outcome != LGV_PENDING || (grouped && grouped[i]))
            continue;
        struct decide_call *call = ready ? group_room(v, i, grouped) : NULL;
        if (call)
            send_call(v, call);
        else
            e->outcome = LGV_FAILED; /* out of memory: stays pending, retried */
    }
    free(grouped);
    lgv_step_end(v);
}
