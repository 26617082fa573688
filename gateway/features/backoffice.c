/* backoffice.c - order.update on the event loop (see backoffice.h).
 *
 * An order.update takes three round trips, one after the other: the order-id
 * index names the room (so the room check needs no scan), the record names
 * the buyer and the SKU (so the script can declare every key it touches, as
 * Redis Cluster wants), and transition.lua makes the move. The operator's
 * session may close meanwhile: until the script is sent the request simply
 * stops; once it is sent the move happens, and its event is still published
 * so the buyer hears of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/backoffice.h"
#include "keys.h"
#include "order_record.h"
#include "rules/order_id.h"
#include "livegate/log.h"
#include "scripts.h"
#include "sku_notify.h"

struct update_req {
    struct lg_waiter w; /* owner: the operator's session; first member */
    struct lg_gateway *gw;
    struct lg_order_update u;
    struct lg_claims claims; /* the actor, as the audit trail records them */
    char room[LG_ID_MAX + 1];
    char req[LG_ID_MAX + 1];
    bool has_req;
    bool indexed; /* the order id names no room: lg:oidx:{order_id} holds it */
};

/* Sends msg to the operator if still connected, and ends the request. */
static void finish(struct update_req *r, json_t *msg)
{
    struct lg_session *s = r->w.owner;
    if (s) {
        lg_waiter_detach(&r->w);
        lg_session_send(s, msg);
    } else {
        json_decref(msg);
    }
    free(r);
}

static void fail(struct update_req *r, const char *code, const char *message)
{
    finish(r,
           lg_backoffice_msg_error(code, message, NULL, r->u.order_id, r->has_req ? r->req : NULL));
}

static json_t *unavailable_msg(const char *order_id, const char *req)
{
    return lg_backoffice_msg_error("UNAVAILABLE", "the order store cannot be reached; retry", NULL,
                                   order_id, req);
}

static void fail_unavailable(struct update_req *r)
{
    finish(r, unavailable_msg(r->u.order_id, r->has_req ? r->req : NULL));
}

static void publish_status(struct update_req *r, const struct lg_transition *t)
{
    json_t *event = lg_backoffice_status_event(t);
    char *payload = event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (!payload)
        return;
    const char *argv[] = {"PUBLISH", LG_CHAN_STATUS, payload};
    if (lg_redis_argv(r->gw->redis, lg_redis_ignore_reply, NULL, 3, argv, NULL) != 0)
        lg_log(LG_LOG_WARN, "order.status_not_published",
               json_pack("{s:s,s:s}", "order_id", t->order_id, "room", t->room));
    free(payload);
}

/* The order-id index lives as long as the record, which the move started
 * again; it has no hash tag, so the script cannot touch it. */
static void keep_index(struct update_req *r)
{
    char key[LG_KEY_MAX], ttl[16];
    if (!r->indexed || lg_key_order_index(key, sizeof(key), r->u.order_id) < 0)
        return;
    snprintf(ttl, sizeof(ttl), "%d", r->gw->cfg.order_ttl_s);
    const char *argv[] = {"EXPIRE", key, ttl};
    lg_redis_argv(r->gw->redis, lg_redis_ignore_reply, NULL, 3, argv, NULL);
}

static void on_transition(redisReply *reply, void *arg)
{
    struct update_req *r = arg;
    struct lg_transition t = {.order_id = r->u.order_id, .room = r->room};
    enum lg_transition_kind kind = lg_backoffice_read_transition(reply, &t);
    const char *req = r->has_req ? r->req : NULL;
    char message[160];

    switch (kind) {
    case LG_TRANSITION_OK:
        lg_log(LG_LOG_INFO, "order.updated",
               json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "order_id", t.order_id, "room", t.room,
                         "from", t.from, "to", t.to, "actor", r->claims.sub, "role",
                         lg_role_name(r->claims.role)));
        publish_status(r, &t);
        keep_index(r);
        /* The stock came back: viewers see it through sku.update (coalesced). */
        if (strcmp(t.to, "cancelled") == 0)
            lg_sku_notifier_touch(r->gw->sku_notifier, r->room, t.sku_id, false);
        finish(r, lg_backoffice_msg_updated(t.order_id, t.to, req));
        return;
    case LG_TRANSITION_INVALID:
        if (t.pay_deadline_passed)
            snprintf(message, sizeof(message),
                     "the payment deadline has passed; the order is being cancelled as unpaid");
        else
            snprintf(message, sizeof(message), "an order in %.24s cannot move to %s", t.from,
                     r->u.status);
        fail(r, "INVALID_TRANSITION", message);
        return;
    case LG_TRANSITION_MISSING:
        fail(r, "NOT_FOUND", "no such order");
        return;
    case LG_TRANSITION_FAILED:
        if (reply && reply->type == REDIS_REPLY_ERROR)
            lg_log(LG_LOG_ERROR, "order.update_script_error",
                   json_pack("{s:s}", "detail", reply->str));
        fail_unavailable(r);
        return;
    }
}

static void on_record(redisReply *reply, void *arg)
{
    struct update_req *r = arg;
    if (!r->w.owner) {
        free(r); /* the operator is gone before anything changed */
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        fail_unavailable(r);
        return;
    }
    /* From d (order_record.h), or for a record of an earlier release from
     * its own fields. A value in d ends at its NUL separator. */
    const char *user = NULL, *sku = NULL;
    size_t user_len = 0, sku_len = 0;
    const redisReply *d = reply->element[0];
    const char *fixed[LG_ORDER_NFIXED];
    size_t lens[LG_ORDER_NFIXED];
    if (d->type == REDIS_REPLY_STRING) {
        if (lg_order_record_unpack(d->str, d->len, fixed, lens) == 0) {
            user = fixed[LG_OF_USER], user_len = lens[LG_OF_USER];
            sku = fixed[LG_OF_SKU_ID], sku_len = lens[LG_OF_SKU_ID];
        }
    } else if (reply->element[1]->type == REDIS_REPLY_STRING &&
               reply->element[2]->type == REDIS_REPLY_STRING) {
        user = reply->element[1]->str, user_len = reply->element[1]->len;
        sku = reply->element[2]->str, sku_len = reply->element[2]->len;
    }
    if (!user || !sku || !lg_text_is_id(user, user_len) || !lg_text_is_id(sku, sku_len)) {
        fail(r, "NOT_FOUND", "no such order");
        return;
    }
    char k_order[LG_KEY_MAX], k_sku[LG_KEY_MAX], k_live[LG_KEY_MAX], k_audit[LG_KEY_MAX];
    char k_pay_due[LG_KEY_MAX];
    lg_key_pay_due(k_pay_due, sizeof(k_pay_due), r->room);
    lg_key_order(k_order, sizeof(k_order), r->room, r->u.order_id);
    lg_key_sku(k_sku, sizeof(k_sku), r->room, sku);
    lg_key_user_live(k_live, sizeof(k_live), r->room, user);
    lg_key_audit(k_audit, sizeof(k_audit), r->room);
    char keep[16], ttl[16];
    snprintf(keep, sizeof(keep), "%d", LG_AUDIT_KEEP);
    snprintf(ttl, sizeof(ttl), "%d", r->gw->cfg.order_ttl_s);
    const char *args[] = {k_order,   k_sku,       k_live,        k_audit,
                          k_pay_due, r->u.status, r->claims.sub, lg_role_name(r->claims.role),
                          user,      sku,         keep,          ttl};
    if (lg_script_call(r->gw->redis, &lg_script_transition, on_transition, r, 5, 12, args, NULL) !=
        0)
        fail_unavailable(r);
}

/* The order's room is known (r->room): if the token may act on it, the
 * record's user and SKU, which the move's script must be given. */
static void read_record(struct update_req *r)
{
    if (!lg_backoffice_may_act(&r->claims, r->room)) {
        fail(r, "FORBIDDEN", "the order belongs to another room");
        return;
    }
    char key[LG_KEY_MAX];
    lg_key_order(key, sizeof(key), r->room, r->u.order_id);
    const char *argv[] = {"HMGET", key, LG_ORDER_RECORD_D, "user", "sku_id"};
    if (lg_redis_argv(r->gw->redis, on_record, r, 5, argv, NULL) != 0)
        fail_unavailable(r);
}

static void on_index(redisReply *reply, void *arg)
{
    struct update_req *r = arg;
    if (!r->w.owner) {
        free(r);
        return;
    }
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        fail_unavailable(r);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING || !lg_text_is_id(reply->str, reply->len)) {
        fail(r, "NOT_FOUND", "no such order");
        return;
    }
    snprintf(r->room, sizeof(r->room), "%s", reply->str);
    read_record(r);
}

void lg_backoffice_update(struct lg_session *s, json_t *msg, const char *req)
{
    struct lg_order_update u;
    struct lg_field_error ferr;
    if (lg_backoffice_parse_update(msg, &u, &ferr) != 0) {
        json_t *id = json_object_get(msg, "order_id");
        lg_session_send(s, lg_backoffice_msg_error("INVALID_FIELD", ferr.message, ferr.field,
                                                   json_string_value(id), req));
        return;
    }
    if (s->gw->stopping || !lg_redis_is_up(s->gw->redis)) {
        lg_session_send(s, unavailable_msg(u.order_id, req));
        return;
    }
    struct update_req *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->gw = s->gw;
    r->u = u;
    r->claims = s->claims;
    if (req) {
        snprintf(r->req, sizeof(r->req), "%s", req);
        r->has_req = true;
    }
    /* An id that names its room needs no index (rules/order_id.h). */
    r->indexed = !lg_order_id_room(u.order_id, r->room);
    if (!r->indexed) {
        lg_waiter_attach(&s->waiters, &r->w, s);
        read_record(r);
        return;
    }
    char key[LG_KEY_MAX];
    lg_key_order_index(key, sizeof(key), u.order_id);
    const char *argv[] = {"GET", key};
    if (lg_redis_argv(s->gw->redis, on_index, r, 2, argv, NULL) != 0) {
        lg_session_send(s, unavailable_msg(u.order_id, req));
        free(r);
        return;
    }
    lg_waiter_attach(&s->waiters, &r->w, s);
}
