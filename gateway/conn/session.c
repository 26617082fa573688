/* session.c - what a WebSocket message means (see session.h). The contract
 * fixes the order of things: a connection must authenticate first, within
 * 5 s; until then any other frame is UNAUTHORIZED and closes with 4401. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/backoffice.h"
#include "features/fanout.h"
#include "features/intake.h"
#include "features/monitor.h"
#include "features/query.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "rules/order_rules.h"
#include "rules/protocol.h"
#include "conn/session.h"
#include "stats.h"

#define CLOSE_UNAUTHORIZED 4401
#define CLOSE_AUTH_TIMEOUT 4408
#define CLOSE_POLICY 1008

static void on_auth_timeout(lws_sorted_usec_list_t *sul)
{
    struct lg_session *s = lws_container_of(sul, struct lg_session, auth_timer);
    if (s->state == LG_SESSION_AUTH)
        lg_session_close(s, CLOSE_AUTH_TIMEOUT, "auth timeout");
}

struct lg_session *lg_session_new(struct lg_gateway *gw, struct lws *wsi, const char *peer)
{
    struct lg_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->gw = gw;
    s->wsi = wsi;
    s->state = LG_SESSION_AUTH;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    snprintf(s->id, sizeof(s->id), "%.40s.%llu", gw->cfg.gateway_id,
             (unsigned long long)++gw->next_session_id);
    lws_sul_schedule(lws_get_context(wsi), 0, &s->auth_timer, on_auth_timeout,
                     (lws_usec_t)LG_AUTH_TIMEOUT_MS * LWS_US_PER_MS);
    return s;
}

static void user_key(char *out, size_t n, const char *room, const char *user)
{
    snprintf(out, n, "%s/%s", room, user);
}

struct lg_session *lg_session_find_user(struct lg_gateway *gw, const char *room, const char *user)
{
    char key[2 * LG_ID_MAX + 2];
    user_key(key, sizeof(key), room, user);
    return lg_strmap_get(gw->sessions_by_user, key);
}

enum index_kind { BY_USER, BY_ROOM };

static struct lg_session_link *link_of(struct lg_session *s, enum index_kind k)
{
    return k == BY_USER ? &s->by_user : &s->by_room;
}

static void index_link(struct lg_strmap *map, const char *key, struct lg_session *s,
                       enum index_kind k)
{
    struct lg_session_link *l = link_of(s, k);
    struct lg_session *head = lg_strmap_get(map, key);
    l->prev = NULL;
    l->next = head;
    if (head)
        link_of(head, k)->prev = s;
    lg_strmap_put(map, key, s);
    l->on = true;
}

static void index_unlink(struct lg_strmap *map, const char *key, struct lg_session *s,
                         enum index_kind k)
{
    struct lg_session_link *l = link_of(s, k);
    if (!l->on)
        return;
    if (l->prev)
        link_of(l->prev, k)->next = l->next;
    else if (l->next)
        lg_strmap_put(map, key, l->next);
    else
        lg_strmap_del(map, key);
    if (l->next)
        link_of(l->next, k)->prev = l->prev;
    l->on = false;
}

/* Results are pushed to every connection of the buyer on this gateway. */
static void index_add(struct lg_session *s)
{
    char key[2 * LG_ID_MAX + 2];
    user_key(key, sizeof(key), s->claims.room, s->claims.sub);
    index_link(s->gw->sessions_by_user, key, s, BY_USER);
}

static void index_remove(struct lg_session *s)
{
    char key[2 * LG_ID_MAX + 2];
    user_key(key, sizeof(key), s->claims.room, s->claims.sub);
    index_unlink(s->gw->sessions_by_user, key, s, BY_USER);
}

/* The room's live connection count, reported to the room's statistics.
 * Tokens for "*" belong to no room. */
static void count_connection(struct lg_session *s, long delta)
{
    if (strcmp(s->claims.room, "*") == 0)
        return;
    struct lg_stats_delta *d = lg_stats_room(s->gw->stats, s->claims.room);
    if (d)
        d->connections += delta;
}

/* sku.update goes to every viewer of the room on this gateway. */
static void room_index_add(struct lg_session *s)
{
    if (s->claims.role == LG_ROLE_VIEWER)
        index_link(s->gw->sessions_by_room, s->claims.room, s, BY_ROOM);
}

static void room_index_remove(struct lg_session *s)
{
    if (!s->by_room.on)
        return;
    lg_fanout_forget_session(s->gw, s);
    index_unlink(s->gw->sessions_by_room, s->claims.room, s, BY_ROOM);
}

struct lg_session *lg_session_find_room(struct lg_gateway *gw, const char *room)
{
    return lg_strmap_get(gw->sessions_by_room, room);
}

void lg_out_frame_free(struct lg_out_frame *f)
{
    lg_frame_unref(f->frame);
    free(f);
}

void lg_session_free(struct lg_session *s)
{
    if (s->by_user.on)
        count_connection(s, -1);
    lg_monitor_session_gone(s);
    index_remove(s);
    room_index_remove(s);
    lws_sul_cancel(&s->auth_timer);
    lws_sul_cancel(&s->close_timer);
    lg_waiter_orphan_all(&s->waiters);
    struct lg_out_frame *f = s->out_head;
    while (f) {
        struct lg_out_frame *next = f->next;
        lg_out_frame_free(f);
        f = next;
    }
    free(s->rx);
    free(s);
}

void lg_session_send_frame(struct lg_session *s, struct lg_frame *f)
{
    if (!f)
        return;
    if (s->out_bytes + f->len > LG_SESSION_MAX_QUEUED_BYTES) {
        lg_session_close(s, CLOSE_POLICY, "client too slow");
        return;
    }
    struct lg_out_frame *node = malloc(sizeof(*node));
    if (!node)
        return;
    node->frame = lg_frame_ref(f);
    node->next = NULL;
    if (s->out_tail)
        s->out_tail->next = node;
    else
        s->out_head = node;
    s->out_tail = node;
    s->out_bytes += f->len;
    lws_callback_on_writable(s->wsi);
}

void lg_session_send(struct lg_session *s, json_t *msg)
{
    struct lg_frame *f = lg_frame_from_json(msg);
    lg_session_send_frame(s, f);
    lg_frame_unref(f);
}

int lg_session_send_text(struct lg_session *s, const char *text, size_t len, size_t max_queued)
{
    if (s->state == LG_SESSION_CLOSING || len == 0 || s->out_bytes + len > max_queued)
        return -1;
    struct lg_frame *f = lg_frame_new(text, len);
    if (!f)
        return -1;
    lg_session_send_frame(s, f); /* cannot pass the session's cap: max_queued is below it */
    lg_frame_unref(f);
    return 0;
}

struct lg_out_frame *lg_session_next_frame(struct lg_session *s)
{
    struct lg_out_frame *f = s->out_head;
    if (!f)
        return NULL;
    s->out_head = f->next;
    if (!s->out_head)
        s->out_tail = NULL;
    s->out_bytes -= f->frame->len;
    return f;
}

void lg_session_close(struct lg_session *s, int code, const char *reason)
{
    if (s->state == LG_SESSION_CLOSING)
        return;
    s->state = LG_SESSION_CLOSING;
    s->close_code = code;
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
    lws_callback_on_writable(s->wsi);
}

static void refuse_auth(struct lg_session *s, const char *message, const char *req)
{
    lg_session_send(s, lg_msg_error("UNAUTHORIZED", message, req, NULL));
    lg_session_close(s, CLOSE_UNAUTHORIZED, "unauthorized");
}

static void handle_auth(struct lg_session *s, enum lg_envelope_error e, struct lg_envelope *env)
{
    const char *req = env->has_req ? env->req : NULL;
    if (e != LG_ENVELOPE_OK || strcmp(env->type, "auth") != 0) {
        refuse_auth(s, "the first frame must be {\"type\":\"auth\",\"token\":...}", req);
        return;
    }
    json_t *token = json_object_get(env->root, "token");
    if (!json_is_string(token)) {
        refuse_auth(s, "token must be a string", req);
        return;
    }
    struct lg_gateway *gw = s->gw;
    int64_t now_ms = lg_wall_ms();
    enum lg_token_error te = lg_token_verify(gw->cfg.jwt_secret, gw->cfg.jwt_secret_len,
                                             json_string_value(token), now_ms / 1000, &s->claims);
    if (te != LG_TOKEN_OK) {
        lg_log(LG_LOG_INFO, "auth.refused",
               json_pack("{s:s,s:s,s:s}", "session", s->id, "peer", s->peer, "reason",
                         lg_token_error_str(te)));
        refuse_auth(s, lg_token_error_str(te), req);
        return;
    }
    lws_sul_cancel(&s->auth_timer);
    s->state = LG_SESSION_READY;
    index_add(s);
    count_connection(s, +1);
    room_index_add(s);
    lg_session_send(s, lg_msg_auth_ok(s->claims.sub, s->claims.room, lg_role_name(s->claims.role),
                                      s->id, now_ms, req));
}

/* client_order_id is echoed in an INVALID_FIELD reply only when it is a
 * valid ID: a reply never carries back arbitrary client bytes. */
static const char *echoable_client_order_id(json_t *root)
{
    json_t *v = json_object_get(root, "client_order_id");
    if (json_is_string(v) && lg_text_is_id(json_string_value(v), json_string_length(v)))
        return json_string_value(v);
    return NULL;
}

static void handle_submit(struct lg_session *s, struct lg_envelope *env)
{
    const char *req = env->has_req ? env->req : NULL;
    s->gw->counters[LG_CTR_ORDERS_RECEIVED]++;
    if (s->claims.role != LG_ROLE_VIEWER) {
        s->gw->counters[LG_CTR_ORDERS_FORBIDDEN]++;
        lg_session_send(s, lg_msg_error("FORBIDDEN", "only viewer tokens submit orders", req,
                                        echoable_client_order_id(env->root)));
        return;
    }
    struct lg_stats_delta *d = lg_stats_room(s->gw->stats, s->claims.room);
    if (d)
        lg_stats_delta_count(d, LG_STAT_RECEIVED, 1);
    if (s->gw->stopping) {
        lg_session_send(s, lg_msg_error("UNAVAILABLE", "the gateway is shutting down; reconnect",
                                        req, echoable_client_order_id(env->root)));
        return;
    }
    struct lg_order order;
    struct lg_field_error ferr;
    if (lg_order_parse(env->root, s->claims.room, &order, &ferr) != 0) {
        s->gw->counters[LG_CTR_ORDERS_INVALID]++;
        lg_session_send(s, lg_msg_invalid_field(echoable_client_order_id(env->root), ferr.field,
                                                ferr.message, req));
        return;
    }
    lg_intake_submit(s, &order, req);
}

static void dispatch(struct lg_session *s, struct lg_envelope *env)
{
    const char *req = env->has_req ? env->req : NULL;
    const char *type = env->type;
    bool back_office = strcmp(type, "monitor.subscribe") == 0 || strcmp(type, "order.update") == 0;

    if (strcmp(type, "order.submit") == 0) {
        handle_submit(s, env);
    } else if (strcmp(type, "auth") == 0) {
        lg_session_send(s, lg_msg_error("BAD_REQUEST", "already authenticated", req, NULL));
    } else if (back_office && s->claims.role == LG_ROLE_VIEWER) {
        lg_session_send(
            s, lg_msg_error("FORBIDDEN", "viewer tokens cannot use the back office", req, NULL));
    } else if (strcmp(type, "order.query") == 0) {
        lg_query_orders(s, env->root, req);
    } else if (strcmp(type, "monitor.subscribe") == 0) {
        lg_monitor_subscribe(s, env->root, req);
    } else if (strcmp(type, "order.update") == 0) {
        lg_backoffice_update(s, env->root, req);
    } else {
        lg_session_send(s, lg_msg_error("BAD_REQUEST", "unknown message type", req, NULL));
    }
}

void lg_session_on_message(struct lg_session *s, const char *text, size_t len)
{
    if (s->state == LG_SESSION_CLOSING)
        return;
    s->gw->counters[LG_CTR_FRAMES_IN]++;
    struct lg_envelope env;
    enum lg_envelope_error e = lg_envelope_parse(text, len, &env);
    const char *req = env.has_req ? env.req : NULL;

    if (s->state == LG_SESSION_AUTH)
        handle_auth(s, e, &env);
    else if (e == LG_ENVELOPE_NOT_JSON)
        lg_session_send(s,
                        lg_msg_error("BAD_REQUEST", "a frame must be one JSON object", NULL, NULL));
    else if (e == LG_ENVELOPE_BAD_REQ)
        lg_session_send(s, lg_msg_error("BAD_REQUEST",
                                        "req must be 1-64 characters of "
                                        "[A-Za-z0-9_.:-]",
                                        NULL, NULL));
    else if (e == LG_ENVELOPE_NO_TYPE)
        lg_session_send(s, lg_msg_error("BAD_REQUEST", "type must be a string", req, NULL));
    else
        dispatch(s, &env);
    lg_envelope_free(&env);
}
