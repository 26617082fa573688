/* protocol.c - envelope parsing and reply building (see protocol.h). */
#include <stdio.h>
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

/* The writers below append at o and return the end. A member's name is
 * given with the punctuation before it ("{\"type\":" or ",\"code\":"), so
 * each document reads in the order its bytes are written. */

/* Appends text as it is (no quoting needed). */
static char *put_raw(char *o, const char *text)
{
    size_t n = strlen(text);
    memcpy(o, text, n);
    return o + n;
}

/* Appends name, then value as a JSON string. */
static char *put_string(char *o, const char *name, const char *value)
{
    o = put_raw(o, name);
    return o + lg_text_json_quote(o, value);
}

/* The same, or null for an empty value. */
static char *put_string_or_null(char *o, const char *name, const char *value)
{
    if (*value)
        return put_string(o, name, value);
    return put_raw(put_raw(o, name), "null");
}

/* Appends name, then value in decimal. */
static char *put_int(char *o, const char *name, long long value)
{
    o = put_raw(o, name);
    return o + sprintf(o, "%lld", value);
}

static bool is_id(const char *s)
{
    return lg_text_is_id(s, strlen(s));
}

size_t lg_msg_accepted_text(char *out, const char *client_order_id, const char *order_id,
                            const char *priority, bool duplicate, int64_t accepted_at_ms,
                            const char *req)
{
    /* IDs are at most LG_ID_MAX bytes and need no escaping, which bounds
     * the text well within LG_MSG_ACCEPTED_MAX. */
    if (!is_id(client_order_id) || !is_id(order_id) || !is_id(priority) || (req && !is_id(req)))
        return 0;
    char *o = put_string(out, "{\"type\":", "order.accepted");
    o = put_string(o, ",\"client_order_id\":", client_order_id);
    o = put_string(o, ",\"order_id\":", order_id);
    o = put_string(o, ",\"priority\":", priority);
    o = put_raw(o, duplicate ? ",\"duplicate\":true" : ",\"duplicate\":false");
    o = put_int(o, ",\"accepted_at_ms\":", (long long)accepted_at_ms);
    if (req)
        o = put_string(o, ",\"req\":", req);
    *o++ = '}';
    return (size_t)(o - out);
}

static json_t *string_or_null(const char *s)
{
    return (s && *s) ? json_string(s) : json_null();
}

size_t lg_msg_refusal_text(char *out, const char *code, const char *message, int64_t retry_after_ms,
                           const char *req, const char *ref)
{
    size_t message_len = strlen(message);
    if (!is_id(code) || message_len > LG_MSG_REFUSAL_MESSAGE_MAX ||
        lg_text_utf8_chars(message, message_len) < 0 || (ref && !is_id(ref)) ||
        (req && !is_id(req)))
        return 0;
    char *o = put_string(out, "{\"type\":", "error");
    o = put_string(o, ",\"code\":", code);
    o = put_string(o, ",\"message\":", message);
    if (ref)
        o = put_string(o, ",\"ref\":", ref);
    o = put_int(o, ",\"retry_after_ms\":", (long long)retry_after_ms);
    if (req)
        o = put_string(o, ",\"req\":", req);
    *o++ = '}';
    return (size_t)(o - out);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* A result's strings, absent optional ones as empty (written as null or
 * left out); order_id and code are required, and left NULL when absent. */
struct result_strings {
    const char *v[6];
};

static struct result_strings strings_of(const struct lg_result *r)
{
    struct result_strings rs = {{or_empty(r->client_order_id), r->order_id, r->code,
                                 or_empty(r->field), or_empty(r->message), or_empty(r->req)}};
    return rs;
}

/* Room for the names, the punctuation and three 20-digit numbers of either
 * document, with margin. */
#define RESULT_FIXED_MAX 256

size_t lg_msg_result_text_max(const struct lg_result *r)
{
    struct result_strings rs = strings_of(r);
    size_t n = RESULT_FIXED_MAX;
    for (int i = 0; i < 6; i++)
        if (rs.v[i])
            n += LG_TEXT_JSON_QUOTED_MAX(strlen(rs.v[i]));
    return n;
}

size_t lg_msg_result_text(char *out, size_t cap, const struct lg_result *r)
{
    struct result_strings rs = strings_of(r);
    for (int i = 0; i < 6; i++)
        if (!rs.v[i] || lg_text_utf8_chars(rs.v[i], strlen(rs.v[i])) < 0)
            return 0;
    if (cap < lg_msg_result_text_max(r))
        return 0;
    const char *client_order_id = rs.v[0], *field = rs.v[3], *message = rs.v[4], *req = rs.v[5];
    char *o;
    if (strcmp(r->status, "rejected") == 0) {
        o = put_string(out, "{\"type\":", "order.rejected");
        o = put_string_or_null(o, ",\"client_order_id\":", client_order_id);
        o = put_string(o, ",\"order_id\":", r->order_id);
        o = put_string(o, ",\"code\":", r->code);
        o = put_string_or_null(o, ",\"field\":", field);
        o = put_string(o, ",\"message\":", message);
    } else {
        o = put_string(out, "{\"type\":", "order.confirmed");
        o = put_string_or_null(o, ",\"client_order_id\":", client_order_id);
        o = put_string(o, ",\"order_id\":", r->order_id);
        o = put_raw(o, ",\"status\":\"pending_payment\"");
        o = put_int(o, ",\"amount\":", r->amount);
        o = put_int(o, ",\"confirmed_at_ms\":", r->confirmed_at_ms);
        o = put_int(o, ",\"pay_deadline_ms\":", r->pay_deadline_ms);
    }
    if (*req)
        o = put_string(o, ",\"req\":", req);
    *o++ = '}';
    return (size_t)(o - out);
}

bool lg_result_as_decided(const struct lg_result *r)
{
    return strcmp(r->status, "rejected") == 0 || strcmp(r->status, "pending_payment") == 0;
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
