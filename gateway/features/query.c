/* query.c - order.query (see query.h). Two pipelined rounds: the
 * idempotency keys give the order ids, the order records give the status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "rules/protocol.h"
#include "features/query.h"

struct query_item {
    char client_order_id[LG_ID_MAX + 1];
    char order_id[LG_ID_MAX + 1];
    char status[24];
    char code[40];
};

struct query {
    struct lg_waiter w; /* owner: the session */
    struct lg_gateway *gw;
    char room[LG_ID_MAX + 1];
    char req[LG_ID_MAX + 1];
    bool has_req;
    bool failed;
    int pending;
    size_t n, filled;
    struct query_item items[];
};

static void finish(struct query *q)
{
    struct lg_session *s = q->w.owner;
    if (s) {
        lg_waiter_detach(&q->w);
        const char *req = q->has_req ? q->req : NULL;
        if (q->failed) {
            lg_session_send(s, lg_msg_error("UNAVAILABLE",
                                            "the order store cannot be reached; "
                                            "retry",
                                            req, NULL));
        } else {
            for (size_t i = 0; i < q->n; i++) {
                struct query_item *it = &q->items[i];
                lg_session_send(s, lg_msg_order_state(
                                       it->client_order_id, it->order_id[0] ? it->order_id : NULL,
                                       it->status, it->code[0] ? it->code : NULL, req));
            }
        }
    }
    free(q);
}

static void on_record(redisReply *reply, void *arg)
{
    struct query *q = arg;
    /* Replies come back in the order sent: the next item that has an order. */
    while (q->filled < q->n && !q->items[q->filled].order_id[0])
        q->filled++;
    if (q->filled < q->n) {
        struct query_item *it = &q->items[q->filled++];
        if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
            q->failed = true;
        } else if (reply->element[0]->type == REDIS_REPLY_STRING) {
            snprintf(it->status, sizeof(it->status), "%s", reply->element[0]->str);
            if (reply->element[1]->type == REDIS_REPLY_STRING)
                snprintf(it->code, sizeof(it->code), "%s", reply->element[1]->str);
        } else {
            it->order_id[0] = 0; /* the record has expired */
        }
    }
    if (--q->pending == 0)
        finish(q);
}

static void on_keys(redisReply *reply, void *arg)
{
    struct query *q = arg;
    q->pending--;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != q->n) {
        q->failed = true;
    } else {
        for (size_t i = 0; i < q->n && !q->failed; i++) {
            const redisReply *v = reply->element[i];
            if (v->type != REDIS_REPLY_STRING)
                continue;
            /* value: order_id|fingerprint|priority|accepted_at_ms */
            const char *bar = strchr(v->str, '|');
            size_t len = bar ? (size_t)(bar - v->str) : strlen(v->str);
            if (len == 0 || len > LG_ID_MAX)
                continue;
            struct query_item *it = &q->items[i];
            memcpy(it->order_id, v->str, len);
            it->order_id[len] = 0;
            char key[LG_KEY_MAX];
            lg_key_order(key, sizeof(key), q->room, it->order_id);
            const char *argv[] = {"HMGET", key, "status", "code"};
            q->pending++;
            if (lg_redis_argv(q->gw->redis, on_record, q, 4, argv, NULL) != 0) {
                q->pending--;
                q->failed = true;
            }
        }
    }
    if (q->pending == 0)
        finish(q);
}

static void refuse(struct lg_session *s, const char *message, const char *req)
{
    lg_session_send(s, lg_msg_error("BAD_REQUEST", message, req, NULL));
}

void lg_query_orders(struct lg_session *s, json_t *msg, const char *req)
{
    json_t *ids = json_object_get(msg, "client_order_ids");
    size_t n = json_array_size(ids);
    if (!json_is_array(ids) || n == 0 || n > LG_QUERY_MAX_IDS) {
        refuse(s, "client_order_ids must be an array of 1 to 100 ids", req);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *id = json_array_get(ids, i);
        if (!json_is_string(id) || !lg_text_is_id(json_string_value(id), json_string_length(id))) {
            refuse(s, "client_order_ids must hold ids of 1-64 characters of [A-Za-z0-9_.:-]", req);
            return;
        }
    }
    struct query *q = calloc(1, sizeof(*q) + n * sizeof(struct query_item));
    if (!q)
        return;
    q->gw = s->gw;
    q->n = n;
    snprintf(q->room, sizeof(q->room), "%s", s->claims.room);
    if (req) {
        snprintf(q->req, sizeof(q->req), "%s", req);
        q->has_req = true;
    }
    char(*keys)[LG_KEY_MAX] = malloc(n * sizeof(*keys));
    const char **argv = malloc((n + 1) * sizeof(*argv));
    if (!keys || !argv) {
        free(keys);
        free(argv);
        free(q);
        return;
    }
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        struct query_item *it = &q->items[i];
        snprintf(it->client_order_id, sizeof(it->client_order_id), "%s",
                 json_string_value(json_array_get(ids, i)));
        snprintf(it->status, sizeof(it->status), "unknown");
        lg_key_idem(keys[i], LG_KEY_MAX, q->room, s->claims.sub, it->client_order_id);
        argv[i + 1] = keys[i];
    }
    q->pending = 1;
    int rc = lg_redis_argv(s->gw->redis, on_keys, q, (int)n + 1, argv, NULL);
    free(keys);
    free(argv);
    if (rc != 0) {
        lg_session_send(
            s, lg_msg_error("UNAVAILABLE", "the order store cannot be reached; retry", req, NULL));
        free(q);
        return;
    }
    lg_waiter_attach(&s->waiters, &q->w, s);
}
