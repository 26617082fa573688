/* results.c - the reply-stream reader (see results.h). Reading starts at
 * Redis's clock when the process starts (older entries belong to an earlier
 * process with this id, whose connections are gone) and then follows the
 * last id seen, so nothing is skipped across reconnects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "livegate/text.h"
#include "livegate/strmap.h"
#include "redis_conn.h"
#include "result_layout.h"
#include "features/results.h"
#include "conn/session.h"

/* How many recently pushed order ids are remembered to drop repeats. */
#define SEEN_RING 65536

struct lg_results {
    struct lg_gateway *gw;
    struct lg_redis *conn;
    char key[LG_KEY_MAX];
    char last_id[48];
    bool have_start;
    bool reading;
    bool closing;
    int block_ms;

    char (*ring)[LG_ID_MAX + 1];
    size_t ring_pos;
    struct lg_strmap *seen;
};

static void read_more(struct lg_results *r);

/* True the first time an order id is offered. */
static bool first_time(struct lg_results *r, const char *order_id)
{
    if (lg_strmap_get(r->seen, order_id))
        return false;
    char *slot = r->ring[r->ring_pos];
    if (slot[0])
        lg_strmap_del(r->seen, slot);
    lg_text_copy(slot, LG_ID_MAX + 1, order_id);
    lg_strmap_put(r->seen, slot, r);
    r->ring_pos = (r->ring_pos + 1) % SEEN_RING;
    return true;
}

/* Most results fit this much stack; the text is copied into its frame. */
#define RESULT_ON_STACK 1024

struct lg_frame *lg_results_frame(const struct lg_result *res)
{
    char stack[RESULT_ON_STACK];
    size_t max = lg_msg_result_text_max(res);
    char *buf = max <= sizeof(stack) ? stack : malloc(max);
    size_t len = buf ? lg_msg_result_text(buf, max, res) : 0;
    struct lg_frame *f = len ? lg_frame_new(buf, len) : NULL;
    if (buf != stack)
        free(buf);
    return f;
}

struct lg_frame *lg_results_frame_now(const struct lg_result *res)
{
    if (lg_result_as_decided(res))
        return lg_results_frame(res);
    return lg_frame_from_json(lg_msg_order_status(res->order_id, res->client_order_id, res->status,
                                                  res->updated_at_ms,
                                                  (res->req && *res->req) ? res->req : NULL));
}

bool lg_results_deliver(struct lg_gateway *gw, const char *room, const char *user,
                        const struct lg_result *res, bool from_stream)
{
    if (from_stream && gw->results && !first_time(gw->results, res->order_id)) {
        gw->counters[LG_CTR_RESULTS_REPEATED]++;
        return false;
    }
    struct lg_session *s = lg_session_find_user(gw, room, user);
    if (!s)
        return true;
    struct lg_frame *f = lg_results_frame_now(res);
    for (; s; s = lg_session_user_next(s)) {
        /* a submit of this order still in flight sends it after order.accepted */
        if (!lg_session_hold_result(s, res->order_id, f))
            lg_session_send_frame(s, f);
        gw->counters[LG_CTR_RESULTS_DELIVERED]++;
    }
    lg_frame_unref(f);
    return true;
}

/* One result, its values indexed by enum lg_reply_field. */
static void handle_result(struct lg_results *r, const char *const *v)
{
    struct lg_result res = {
        .order_id = v[LG_REPLY_ORDER_ID],
        .client_order_id = v[LG_REPLY_CLIENT_ORDER_ID],
        .status = v[LG_REPLY_STATUS],
        .code = v[LG_REPLY_CODE],
        .field = v[LG_REPLY_FIELD],
        .message = v[LG_REPLY_MESSAGE],
        .req = v[LG_REPLY_REQ],
        .amount = strtoll(v[LG_REPLY_AMOUNT], NULL, 10),
        .confirmed_at_ms = strtoll(v[LG_REPLY_CONFIRMED_AT], NULL, 10),
        .pay_deadline_ms = strtoll(v[LG_REPLY_PAY_DEADLINE], NULL, 10),
        .updated_at_ms = strtoll(v[LG_REPLY_UPDATED_AT], NULL, 10),
    };
    if (!res.order_id[0] || !res.status[0])
        return;
    r->gw->counters[LG_CTR_RESULTS_IN]++;
    bool first = lg_results_deliver(r->gw, v[LG_REPLY_ROOM], v[LG_REPLY_USER], &res, true);
    long long accepted_at = strtoll(v[LG_REPLY_ACCEPTED_AT], NULL, 10);
    if (first && accepted_at > 0) {
        /* Wall clock against Redis's: the same host's clock in practice. */
        long long ms = lg_wall_ms() - accepted_at;
        lg_prom_hist_observe(&r->gw->latency.confirm, ms > 0 ? (double)ms / 1000.0 : 0);
    }
}

/* The value of field name among the pairs [from, to) of an entry's fields. */
static const char *field_of(const redisReply *fields, size_t from, size_t to, const char *name)
{
    for (size_t i = from; i + 1 < to; i += 2)
        if (fields->element[i]->str && strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str ? fields->element[i + 1]->str : "";
    return "";
}

/* One result of an earlier release's entry: a field per value, the pairs
 * [from, to) of the entry's fields. */
static void handle_named_result(struct lg_results *r, const redisReply *f, size_t from, size_t to)
{
    const char *v[LG_REPLY_NFIELDS];
    for (int i = 0; i < LG_REPLY_NFIELDS; i++)
        v[i] = field_of(f, from, to, lg_reply_fields[i]);
    handle_result(r, v);
}

/* Where an entry's results start and how many it holds, for the entries
 * of earlier releases: reply.lua wrote ("n", n) first and then n results
 * of equal width; an entry without it is one result from the first pair.
 * Returns 0 for fields that do not divide evenly into n results (not an
 * entry livegate wrote). */
static size_t results_in(const redisReply *f, size_t *start)
{
    *start = 0;
    if (f->elements < 2 || !f->element[0]->str || strcmp(f->element[0]->str, "n") != 0)
        return 1;
    *start = 2;
    long long n = f->element[1]->str ? strtoll(f->element[1]->str, NULL, 10) : 0;
    size_t pairs = f->elements / 2 - 1;
    /* n above the pairs there are would be results of no fields, and a loop
     * of n turns: ("n", "1000000000000") alone froze the event loop. */
    if (n < 1 || (size_t)n > pairs || f->elements % 2 != 0 || pairs % (size_t)n != 0)
        return 0;
    return (size_t)n;
}

static bool is_field(const redisReply *f, size_t i, const char *name)
{
    return f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0;
}

static void log_bad_entry(const struct lg_results *r)
{
    lg_log(LG_LOG_WARN, "results.bad_entry", json_pack("{s:s}", "id", r->last_id));
}

/* Whether blob holds exactly n packed results. */
static bool holds_results(const redisReply *blob, long long n)
{
    size_t pos = 0;
    for (long long i = 0; i < n; i++) {
        const char *v[LG_REPLY_NFIELDS];
        if (lg_reply_unpack(blob->str, blob->len, &pos, v) != 0)
            return false;
    }
    return pos == blob->len;
}

/* The entry reply.lua writes: ("packed", n), ("results", n packed results
 * as result_layout.h packs them). false when it is not one; an entry that
 * is one but does not hold n results delivers none of them (it is
 * checked whole first). */
static bool handle_packed(struct lg_results *r, const redisReply *f)
{
    if (f->elements != 4 || !is_field(f, 0, "packed") || !is_field(f, 2, "results"))
        return false;
    const redisReply *count = f->element[1], *blob = f->element[3];
    long long n = count->type == REDIS_REPLY_STRING ? strtoll(count->str, NULL, 10) : 0;
    /* A result packs into at least 3 bytes a value, so n above that is a
     * lie: checked first, a huge n costs no loop. */
    if (blob->type != REDIS_REPLY_STRING || n < 1 ||
        (size_t)n > blob->len / (3 * LG_REPLY_NFIELDS) || !holds_results(blob, n)) {
        log_bad_entry(r);
        return true;
    }
    size_t pos = 0;
    for (long long i = 0; i < n; i++) {
        const char *v[LG_REPLY_NFIELDS];
        lg_reply_unpack(blob->str, blob->len, &pos, v);
        handle_result(r, v);
    }
    return true;
}

static void handle_entry(struct lg_results *r, const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || !entry->element[0]->str ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    snprintf(r->last_id, sizeof(r->last_id), "%s", entry->element[0]->str);
    const redisReply *f = entry->element[1];
    if (handle_packed(r, f))
        return;
    size_t start = 0, n = results_in(f, &start);
    if (n == 0) {
        log_bad_entry(r);
        return;
    }
    size_t width = (f->elements - start) / n; /* field elements per result */
    for (size_t i = 0; i < n; i++)
        handle_named_result(r, f, start + i * width, start + (i + 1) * width);
}

static void on_trimmed(redisReply *reply, void *arg)
{
    (void)reply;
    (void)arg;
}

/* The stream holds what this gateway has not read yet, and nothing much
 * more: what it has read goes once read (the validators' MAXLEN is only a
 * safety cap for a gateway that is gone, which could drop unread results
 * if it were the only trim). last_id itself stays, which costs one entry;
 * "~" trims whole nodes, so a node's worth of read entries may wait for a
 * later read. A trim lost with the connection is made up by the next. */
static void trim_read(struct lg_results *r)
{
    const char *argv[] = {"XTRIM", r->key, "MINID", "~", r->last_id};
    lg_redis_argv(r->conn, on_trimmed, r, 5, argv, NULL);
}

static void on_read(redisReply *reply, void *arg)
{
    struct lg_results *r = arg;
    r->reading = false;
    if (!reply || r->closing)
        return; /* the state callback restarts reading after a reconnect */
    /* XREAD answers nil on timeout, or [[key, [entry, ...]]]. */
    if (reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *stream = reply->element[i];
            if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2)
                continue;
            const redisReply *entries = stream->element[1];
            for (size_t k = 0; entries->type == REDIS_REPLY_ARRAY && k < entries->elements; k++)
                handle_entry(r, entries->element[k]);
        }
        if (reply->elements > 0)
            trim_read(r);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        lg_log(LG_LOG_ERROR, "results.read_failed", json_pack("{s:s}", "detail", reply->str));
    }
    read_more(r);
}

static void read_more(struct lg_results *r)
{
    if (r->reading || r->closing || !r->have_start)
        return;
    char block[16];
    snprintf(block, sizeof(block), "%d", r->block_ms);
    /* Entries hold a validator batch's results each (reply.lua). */
    const char *argv[] = {"XREAD", "COUNT", "128", "BLOCK", block, "STREAMS", r->key, r->last_id};
    if (lg_redis_argv(r->conn, on_read, r, 8, argv, NULL) == 0)
        r->reading = true;
}

static void on_time(redisReply *reply, void *arg)
{
    struct lg_results *r = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
        return;
    long long sec = strtoll(reply->element[0]->str, NULL, 10);
    long long usec = strtoll(reply->element[1]->str, NULL, 10);
    snprintf(r->last_id, sizeof(r->last_id), "%lld-0", sec * 1000 + usec / 1000);
    r->have_start = true;
    read_more(r);
}

static void on_state(struct lg_redis *conn, bool up, void *arg)
{
    struct lg_results *r = arg;
    if (!up) {
        r->reading = false;
        return;
    }
    if (r->have_start) {
        read_more(r);
        return;
    }
    const char *argv[] = {"TIME"};
    lg_redis_argv(conn, on_time, r, 1, argv, NULL);
}

struct lg_results *lg_results_new(struct lg_gateway *gw)
{
    struct lg_results *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ring = calloc(SEEN_RING, sizeof(*r->ring));
    r->seen = lg_strmap_new();
    if (!r->ring || !r->seen) {
        free(r->ring);
        lg_strmap_free(r->seen);
        free(r);
        return NULL;
    }
    r->gw = gw;
    lg_key_reply_stream(r->key, sizeof(r->key), gw->cfg.gateway_id);
    r->block_ms = gw->cfg.redis_timeout_ms / 2 < 1000 ? gw->cfg.redis_timeout_ms / 2 : 1000;
    char name[96];
    snprintf(name, sizeof(name), "livegate-replies:%s", gw->cfg.gateway_id);
    r->conn = lg_redis_new(gw->loop, &gw->cfg.redis, name, gw->cfg.redis_timeout_ms);
    lg_redis_on_state(r->conn, on_state, r);
    return r;
}

struct lg_redis *lg_results_conn(struct lg_results *r)
{
    return r->conn;
}

void lg_results_start(struct lg_results *r)
{
    lg_redis_start(r->conn);
}

void lg_results_close(struct lg_results *r)
{
    r->closing = true;
    /* Closing reports the connection down, possibly later; r is gone by then. */
    lg_redis_on_state(r->conn, NULL, NULL);
    lg_redis_close(r->conn);
    lg_strmap_free(r->seen);
    free(r->ring);
    free(r);
}
