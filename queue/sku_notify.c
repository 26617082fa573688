/* sku_notify.c - the process side of sku.update coalescing (see
 * sku_notify.h and queue/lua/sku_notify.lua).
 *
 * Each dirty SKU has one entry: either a script call is in flight, or it
 * waits for the gate to open. A touch while a call is in flight marks the
 * entry to be called again, since the call may have read the SKU before the
 * change that caused the touch. One timer serves every waiting entry.
 *
 * Every gate opens on the same whole second of Redis's clock, so the
 * entries gated during one second all wait for the same moment. Their
 * retries, computed from PTTLs read at different times, still differ by a
 * few ms; the timer fires RETRY_GROUP_MS after the soonest one and sends
 * every entry due by then in that one callback. hiredis only buffers the
 * calls, so they leave in one write, their publishes come back together and
 * a room's sku.update frames reach each viewer together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "livegate/clock.h"
#include "livegate/list.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "livegate/text.h"
#include "scripts.h"
#include "sku_notify.h"

/* Retry delays: after a gated answer (the gate's PTTL, within these bounds),
 * and after a failure (Redis down or an error). */
#define RETRY_MIN_MS 20
#define RETRY_MAX_MS (2 * LG_SKU_NOTIFY_GATE_MS) /* a gate lasts < 2 lengths */
#define RETRY_AFTER_FAILURE_MS 500
/* How late the timer may fire so that retries due within a few ms of each
 * other (the same gate boundary) go out in one callback. */
#define RETRY_GROUP_MS 10

struct dirty_sku {
    struct lg_list link; /* on lg_sku_notifier.dirty */
    struct lg_sku_notifier *n;
    char key[2 * LG_ID_MAX + 2]; /* "room/sku": '/' is not in an ID */
    char room[LG_ID_MAX + 1];
    char sku[LG_ID_MAX + 1];
    bool in_flight;
    bool again;  /* touched while in flight */
    bool urgent; /* an urgent touch not yet sent */
    bool waiting;
    int64_t retry_at_ms;
};

struct lg_sku_notifier {
    struct lg_redis *r;
    struct lg_strmap *by_key;
    struct lg_list dirty; /* every dirty SKU, the newest first */
    uv_timer_t timer;
    bool closing, timer_closed;
    unsigned in_flight;
    int64_t due_ms; /* when the timer fires; 0 while it is stopped */
};

static void send_call(struct dirty_sku *d);
static void on_timer(uv_timer_t *t);

static void maybe_free_notifier(struct lg_sku_notifier *n)
{
    if (n->closing && n->timer_closed && n->in_flight == 0) {
        lg_strmap_free(n->by_key);
        free(n);
    }
}

static void drop(struct dirty_sku *d)
{
    struct lg_sku_notifier *n = d->n;
    lg_strmap_del(n->by_key, d->key);
    lg_list_remove(&d->link);
    free(d);
}

/* at_ms is the soonest retry; the timer fires RETRY_GROUP_MS after it. */
static void start_timer(struct lg_sku_notifier *n, int64_t at_ms)
{
    int64_t delay = at_ms + RETRY_GROUP_MS - lg_mono_ms();
    uv_timer_start(&n->timer, on_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
    n->due_ms = at_ms;
}

static void arm_timer(struct lg_sku_notifier *n)
{
    int64_t soonest = 0;
    for (struct lg_list *q = n->dirty.next; q != &n->dirty; q = q->next) {
        const struct dirty_sku *d = lg_list_entry(q, struct dirty_sku, link);
        if (d->waiting && (soonest == 0 || d->retry_at_ms < soonest))
            soonest = d->retry_at_ms;
    }
    if (soonest == 0) {
        uv_timer_stop(&n->timer);
        n->due_ms = 0;
        return;
    }
    start_timer(n, soonest);
}

/* Each reply that leaves a SKU waiting only needs the timer to fire no
 * later than its retry: a scan of every dirty SKU per reply would make a
 * gate period with many SKUs quadratic. on_timer rescans once. */
static void wait_for(struct dirty_sku *d, int64_t delay_ms)
{
    struct lg_sku_notifier *n = d->n;
    d->waiting = true;
    d->retry_at_ms = lg_mono_ms() + delay_ms;
    if (n->due_ms == 0 || d->retry_at_ms < n->due_ms)
        start_timer(n, d->retry_at_ms);
}

static void on_timer(uv_timer_t *t)
{
    struct lg_sku_notifier *n = t->data;
    int64_t now = lg_mono_ms();
    n->due_ms = 0;
    struct lg_list *next;
    for (struct lg_list *q = n->dirty.next; q != &n->dirty; q = next) {
        next = q->next; /* send_call may drop d */
        struct dirty_sku *d = lg_list_entry(q, struct dirty_sku, link);
        if (d->waiting && d->retry_at_ms <= now)
            send_call(d);
    }
    arm_timer(n);
}

static int64_t gated_delay(const redisReply *reply)
{
    long long pttl = -1;
    if (reply->elements >= 2 && reply->element[1]->type == REDIS_REPLY_INTEGER)
        pttl = reply->element[1]->integer;
    if (pttl < 0)
        return RETRY_MAX_MS / 4;
    pttl += 5; /* land just after the expiry, not just before it */
    return pttl < RETRY_MIN_MS ? RETRY_MIN_MS : pttl > RETRY_MAX_MS ? RETRY_MAX_MS : pttl;
}

enum answer { ANSWER_UNKNOWN, ANSWER_PUBLISHED, ANSWER_COVERED, ANSWER_GATED, ANSWER_MISSING };

static enum answer answer_of(const redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return ANSWER_UNKNOWN;
    const char *word = reply->element[0]->str;
    if (strcmp(word, "published") == 0)
        return ANSWER_PUBLISHED;
    if (strcmp(word, "covered") == 0)
        return ANSWER_COVERED;
    if (strcmp(word, "gated") == 0)
        return ANSWER_GATED;
    if (strcmp(word, "missing") == 0)
        return ANSWER_MISSING;
    return ANSWER_UNKNOWN;
}

static void on_reply(redisReply *reply, void *arg)
{
    struct dirty_sku *d = arg;
    struct lg_sku_notifier *n = d->n;
    d->in_flight = false;
    n->in_flight--;
    if (n->closing) {
        drop(d);
        maybe_free_notifier(n);
        return;
    }
    switch (answer_of(reply)) {
    case ANSWER_UNKNOWN:
        if (reply)
            lg_log(LG_LOG_ERROR, "sku_notify.failed",
                   json_pack("{s:s,s:s,s:s}", "room", d->room, "sku_id", d->sku, "detail",
                             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply"));
        wait_for(d, RETRY_AFTER_FAILURE_MS);
        return;
    case ANSWER_GATED:
        if (d->again && d->urgent)
            send_call(d);
        else
            wait_for(d, gated_delay(reply));
        return;
    case ANSWER_PUBLISHED:
    case ANSWER_COVERED:
    case ANSWER_MISSING:
        break;
    }
    if (d->again)
        send_call(d);
    else
        drop(d);
}

static void send_call(struct dirty_sku *d)
{
    struct lg_sku_notifier *n = d->n;
    char gate[LG_KEY_MAX], sku[LG_KEY_MAX], gate_ms[16];
    lg_key_sku_gate(gate, sizeof(gate), d->room, d->sku);
    lg_key_sku(sku, sizeof(sku), d->room, d->sku);
    snprintf(gate_ms, sizeof(gate_ms), "%d", LG_SKU_NOTIFY_GATE_MS);
    const char *args[] = {gate, sku, d->room, d->sku, gate_ms, LG_CHAN_SKU};
    d->waiting = false;
    d->again = false;
    d->urgent = false;
    if (lg_script_call(n->r, &lg_script_sku_notify, on_reply, d, 2, 6, args, NULL) != 0) {
        wait_for(d, RETRY_AFTER_FAILURE_MS);
        return;
    }
    d->in_flight = true;
    n->in_flight++;
}

struct lg_sku_notifier *lg_sku_notifier_new(uv_loop_t *loop, struct lg_redis *r)
{
    struct lg_sku_notifier *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->by_key = lg_strmap_new();
    if (!n->by_key) {
        free(n);
        return NULL;
    }
    n->r = r;
    lg_list_init(&n->dirty);
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    return n;
}

static struct dirty_sku *get_dirty(struct lg_sku_notifier *n, const char *room, const char *sku)
{
    char key[2 * LG_ID_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s", room, sku);
    struct dirty_sku *d = lg_strmap_get(n->by_key, key);
    if (d)
        return d;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    memcpy(d->key, key, sizeof(key));
    snprintf(d->room, sizeof(d->room), "%s", room);
    snprintf(d->sku, sizeof(d->sku), "%s", sku);
    d->n = n;
    if (lg_strmap_put(n->by_key, key, d) != 0) {
        free(d);
        return NULL;
    }
    lg_list_insert_head(&n->dirty, &d->link);
    return d;
}

void lg_sku_notifier_touch(struct lg_sku_notifier *n, const char *room, const char *sku_id,
                           bool urgent)
{
    if (!n || n->closing || !lg_text_is_id(room, strlen(room)) ||
        !lg_text_is_id(sku_id, strlen(sku_id)))
        return;
    struct dirty_sku *d = get_dirty(n, room, sku_id);
    if (!d)
        return;
    d->urgent = d->urgent || urgent;
    if (d->in_flight) {
        d->again = true;
        return;
    }
    /* A waiting SKU's retry reads the state of that moment, which includes
     * this change; only urgent news goes out before it. */
    if (d->waiting && !urgent)
        return;
    send_call(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lg_sku_notifier *n = h->data;
    n->timer_closed = true;
    maybe_free_notifier(n);
}

void lg_sku_notifier_free(struct lg_sku_notifier *n)
{
    if (!n)
        return;
    n->closing = true;
    struct lg_list *next;
    for (struct lg_list *q = n->dirty.next; q != &n->dirty; q = next) {
        next = q->next;
        struct dirty_sku *d = lg_list_entry(q, struct dirty_sku, link);
        if (!d->in_flight)
            drop(d);
    }
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, on_timer_closed);
}
