/* dispatch.c - auth, the command table, and the close hook (see
 * dispatch.h). The handlers are the features' own; a command's role rule
 * is checked here once, before its handler runs. */
#include <string.h>

#include "conn/session.h"
#include "dispatch/dispatch.h"
#include "features/backoffice.h"
#include "features/fanout.h"
#include "features/expiry.h"
#include "features/intake.h"
#include "features/monitor.h"
#include "features/query.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "rules/order_rules.h"
#include "rules/protocol.h"
#include "stats.h"

#define CLOSE_UNAUTHORIZED 4401

/* ---- auth ------------------------------------------------------------------ */

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
    struct lg_claims claims;
    enum lg_token_error te = lg_token_verify(gw->cfg.jwt_secret, gw->cfg.jwt_secret_len,
                                             json_string_value(token), now_ms / 1000, &claims);
    if (te != LG_TOKEN_OK) {
        lg_log(LG_LOG_INFO, "auth.refused",
               json_pack("{s:s,s:s,s:s}", "session", s->id, "peer", s->peer, "reason",
                         lg_token_error_str(te)));
        refuse_auth(s, lg_token_error_str(te), req);
        return;
    }
    lg_session_authenticated(s, &claims);
    lg_session_send(s, lg_msg_auth_ok(s->claims.sub, s->claims.room, lg_role_name(s->claims.role),
                                      s->id, now_ms, req));
}

/* ---- commands ----------------------------------------------------------------- */

/* client_order_id is echoed in an INVALID_FIELD reply only when it is a
 * valid ID: a reply never carries back arbitrary client bytes. */
static const char *echoable_client_order_id(json_t *root)
{
    json_t *v = json_object_get(root, "client_order_id");
    if (json_is_string(v) && lg_text_is_id(json_string_value(v), json_string_length(v)))
        return json_string_value(v);
    return NULL;
}

/* Only viewers submit; a refusal is counted as an order outcome, so this
 * rule is the handler's rather than the table's. */
static void handle_submit(struct lg_session *s, struct lg_envelope *env, const char *req)
{
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
    /* The room is swept for orders past their deadline from now on. */
    lg_expiry_note_room(s->gw->expiry, order.room_id);
    lg_intake_submit(s, &order, req);
}

static void handle_reauth(struct lg_session *s, struct lg_envelope *env, const char *req)
{
    (void)env;
    lg_session_send(s, lg_msg_error("BAD_REQUEST", "already authenticated", req, NULL));
}

static void handle_query(struct lg_session *s, struct lg_envelope *env, const char *req)
{
    lg_query_orders(s, env->root, req);
}

static void handle_monitor(struct lg_session *s, struct lg_envelope *env, const char *req)
{
    lg_monitor_subscribe(s, env->root, req);
}

static void handle_update(struct lg_session *s, struct lg_envelope *env, const char *req)
{
    lg_backoffice_update(s, env->root, req);
}

struct command {
    const char *type;
    enum lg_role min_role;
    const char *forbidden; /* the FORBIDDEN message for a lower role */
    void (*handle)(struct lg_session *s, struct lg_envelope *env, const char *req);
};

static const struct command COMMANDS[] = {
    {"order.submit", LG_ROLE_VIEWER, NULL, handle_submit},
    {"auth", LG_ROLE_VIEWER, NULL, handle_reauth},
    {"order.query", LG_ROLE_VIEWER, NULL, handle_query},
    {"monitor.subscribe", LG_ROLE_OPERATOR, "viewer tokens cannot use the back office",
     handle_monitor},
    {"order.update", LG_ROLE_OPERATOR, "viewer tokens cannot use the back office", handle_update},
};

static const struct command *find_command(const char *type)
{
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (strcmp(COMMANDS[i].type, type) == 0)
            return &COMMANDS[i];
    return NULL;
}

static void run_command(struct lg_session *s, struct lg_envelope *env)
{
    const char *req = env->has_req ? env->req : NULL;
    const struct command *c = find_command(env->type);
    if (!c)
        lg_session_send(s, lg_msg_error("BAD_REQUEST", "unknown message type", req, NULL));
    else if (s->claims.role < c->min_role)
        lg_session_send(s, lg_msg_error("FORBIDDEN", c->forbidden, req, NULL));
    else
        c->handle(s, env, req);
}

/* ---- the hooks ------------------------------------------------------------------- */

static void on_message(struct lg_session *s, const char *text, size_t len)
{
    struct lg_envelope env;
    enum lg_envelope_error e = lg_msg_parse_envelope(text, len, &env);
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
        run_command(s, &env);
    lg_msg_free_envelope(&env);
}

/* The features that keep pointers to sessions let go of this one. */
static void on_close(struct lg_session *s)
{
    lg_monitor_session_gone(s);
    lg_fanout_forget_session(s->gw, s);
}

static const struct lg_session_hooks HOOKS = {on_message, on_close};

void lg_dispatch_install(struct lg_gateway *gw)
{
    lg_session_set_hooks(gw, &HOOKS);
}
