/* protocol.c - envelope parsing and reply building (see protocol.h). */
#include <string.h>

#include "rules/protocol.h"

bool lg_msg_depth_ok(const char *text, size_t len, int max_depth)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* the escaped character cannot end the string */
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max_depth)
                return false;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return true;
}

enum lg_envelope_error lg_msg_parse_envelope(const char *text, size_t len, struct lg_envelope *env)
{
    memset(env, 0, sizeof(*env));
    if (!lg_msg_depth_ok(text, len, LG_MAX_JSON_DEPTH))
        return LG_ENVELOPE_NOT_JSON;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return LG_ENVELOPE_NOT_JSON;
    if (!json_is_object(root)) {
        json_decref(root);
        return LG_ENVELOPE_NOT_JSON;
    }
    json_t *req = json_object_get(root, "req");
    if (req && !json_is_null(req)) {
        if (!json_is_string(req) ||
            !lg_text_is_id(json_string_value(req), json_string_length(req))) {
            json_decref(root);
            return LG_ENVELOPE_BAD_REQ;
        }
        memcpy(env->req, json_string_value(req), json_string_length(req) + 1);
        env->has_req = true;
    }
    json_t *type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        env->root = root; /* keep req available for the error reply */
        return LG_ENVELOPE_NO_TYPE;
    }
    env->root = root;
    env->type = json_string_value(type);
    return LG_ENVELOPE_OK;
}

void lg_msg_free_envelope(struct lg_envelope *env)
{
    json_decref(env->root);
    env->root = NULL;
    env->type = NULL;
}

json_t *lg_msg_with_req(json_t *msg, const char *req)
{
    if (msg && req)
        json_object_set_new(msg, "req", json_string(req));
    return msg;
}

json_t *lg_msg_error(const char *code, const char *message, const char *req, const char *ref)
{
    json_t *msg = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message);
    if (ref)
        json_object_set_new(msg, "ref", json_string(ref));
    return lg_msg_with_req(msg, req);
}

json_t *lg_msg_refusal(const char *code, const char *message, int64_t retry_after_ms,
                       const char *req, const char *ref)
{
    json_t *msg = lg_msg_error(code, message, NULL, ref);
    json_object_set_new(msg, "retry_after_ms", json_integer((json_int_t)retry_after_ms));
    return lg_msg_with_req(msg, req);
}

json_t *lg_msg_auth_ok(const char *user, const char *room, const char *role, const char *session_id,
                       int64_t now_ms, const char *req)
{
    json_t *msg =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "type", "auth.ok", "user_id", user, "room_id", room,
                  "role", role, "session_id", session_id, "server_time_ms", (json_int_t)now_ms);
    return lg_msg_with_req(msg, req);
}

json_t *lg_msg_invalid_field(const char *client_order_id, const char *field, const char *message,
                             const char *req)
{
    json_t *msg = json_pack("{s:s,s:o,s:s,s:s,s:s}", "type", "order.rejected", "client_order_id",
                            client_order_id ? json_string(client_order_id) : json_null(), "code",
                            "INVALID_FIELD", "field", field, "message", message);
    return lg_msg_with_req(msg, req);
}

json_t *lg_msg_accepted(const char *client_order_id, const char *order_id, const char *priority,
                        bool duplicate, int64_t accepted_at_ms, const char *req)
{
    json_t *msg =
        json_pack("{s:s,s:s,s:s,s:s,s:b,s:I}", "type", "order.accepted", "client_order_id",
                  client_order_id, "order_id", order_id, "priority", priority, "duplicate",
                  duplicate, "accepted_at_ms", (json_int_t)accepted_at_ms);
    return lg_msg_with_req(msg, req);
}

static json_t *string_or_null(const char *s)
{
    return (s && *s) ? json_string(s) : json_null();
}

json_t *lg_msg_result(const struct lg_result *r)
{
    json_t *msg;
    if (strcmp(r->status, "rejected") == 0) {
        msg =
            json_pack("{s:s,s:o,s:s,s:s,s:o,s:s}", "type", "order.rejected", "client_order_id",
                      string_or_null(r->client_order_id), "order_id", r->order_id, "code", r->code,
                      "field", string_or_null(r->field), "message", r->message ? r->message : "");
    } else {
        msg = json_pack("{s:s,s:o,s:s,s:s,s:I,s:I,s:I}", "type", "order.confirmed",
                        "client_order_id", string_or_null(r->client_order_id), "order_id",
                        r->order_id, "status", "pending_payment", "amount", (json_int_t)r->amount,
                        "confirmed_at_ms", (json_int_t)r->confirmed_at_ms, "pay_deadline_ms",
                        (json_int_t)r->pay_deadline_ms);
    }
    return lg_msg_with_req(msg, (r->req && *r->req) ? r->req : NULL);
}

json_t *lg_msg_result_now(const struct lg_result *r)
{
    if (strcmp(r->status, "rejected") == 0 || strcmp(r->status, "pending_payment") == 0)
        return lg_msg_result(r);
    return lg_msg_order_status(r->order_id, r->client_order_id, r->status, r->updated_at_ms,
                               (r->req && *r->req) ? r->req : NULL);
}

json_t *lg_msg_order_state(const char *client_order_id, const char *order_id, const char *status,
                           const char *code, const char *req)
{
    json_t *msg = json_pack("{s:s,s:s,s:o,s:s,s:o}", "type", "order.state", "client_order_id",
                            client_order_id, "order_id", string_or_null(order_id), "status", status,
                            "code", string_or_null(code));
    return lg_msg_with_req(msg, req);
}

json_t *lg_msg_order_status(const char *order_id, const char *client_order_id, const char *status,
                            int64_t at_ms, const char *req)
{
    json_t *msg = json_pack("{s:s,s:s,s:o,s:s,s:I}", "type", "order.status", "order_id", order_id,
                            "client_order_id", string_or_null(client_order_id), "status", status,
                            "at_ms", (json_int_t)at_ms);
    return lg_msg_with_req(msg, req);
}

json_t *lg_msg_sku_update(const char *room_id, const char *sku_id, long long stock_left,
                          bool on_sale, long long price)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:b,s:I}", "type", "sku.update", "room_id", room_id,
                     "sku_id", sku_id, "stock_left", (json_int_t)stock_left, "on_sale", on_sale,
                     "price", (json_int_t)price);
}
