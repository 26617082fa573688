/* backoffice_rules.c - order.update and audit rules and shapes (see
 * backoffice_rules.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/backoffice_rules.h"
#include "rules/field_rules.h"
#include "rules/protocol.h"

static const char *const target_statuses[] = {"paid", "shipped", "delivered", "cancelled"};
#define NTARGETS (sizeof(target_statuses) / sizeof(target_statuses[0]))

static bool is_target(const char *status)
{
    for (size_t i = 0; i < NTARGETS; i++)
        if (strcmp(status, target_statuses[i]) == 0)
            return true;
    return false;
}

int lg_backoffice_parse_update(const json_t *msg, struct lg_order_update *out,
                               struct lg_field_error *err)
{
    memset(out, 0, sizeof(*out));
    if (lg_rule_id(msg, "order_id", "order_id", false, out->order_id, NULL, err) != 0)
        return -1;
    /* An ID-shaped word first (so "paid\u0000x" is not "paid"), then one of
     * the targets; either failure gets the one message. */
    char status[LG_ID_MAX + 1];
    struct lg_field_error ignored;
    if (lg_rule_id(msg, "status", "status", false, status, NULL, &ignored) != 0 ||
        !is_target(status))
        return lg_rule_broken(err, "status",
                              "status must be one of paid, shipped, delivered, cancelled");
    memcpy(out->status, status, strlen(status) + 1); /* a target: it fits */
    return 0;
}

bool lg_backoffice_may_act(const struct lg_claims *c, const char *room)
{
    if (c->role == LG_ROLE_ADMIN)
        return true;
    return c->role == LG_ROLE_OPERATOR && (strcmp(c->room, "*") == 0 || strcmp(c->room, room) == 0);
}

/* Plain decimal digits only: no sign, no spaces, no hex, at most 9 digits
 * so the value cannot overflow before the range check. */
static int parse_count(const char *s, long *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int lg_backoffice_parse_audit_query(const char *room, const char *limit, struct lg_audit_query *out,
                                    struct lg_field_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!room)
        return lg_rule_broken(err, "room", "the room query parameter is required (?room=...)");
    if (!lg_text_is_id(room, strlen(room)))
        return lg_rule_broken(err, "room", "room must be 1 to 64 characters of [A-Za-z0-9_.:-]");
    snprintf(out->room, sizeof(out->room), "%s", room);
    out->limit = LG_AUDIT_DEFAULT_LIMIT;
    if (limit) {
        long v;
        if (parse_count(limit, &v) != 0 || v < 1 || v > LG_AUDIT_MAX_LIMIT) {
            char message[96];
            snprintf(message, sizeof(message), "limit must be an integer 1..%d",
                     LG_AUDIT_MAX_LIMIT);
            return lg_rule_broken(err, "limit", message);
        }
        out->limit = (int)v;
    }
    return 0;
}

static const char *element_str(const redisReply *r, size_t i)
{
    const redisReply *e = r->element[i];
    return e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

/* transition.lua's "ok" answer has this many elements. */
#define OK_ELEMENTS 12

enum lg_transition_kind lg_backoffice_read_transition(const redisReply *reply,
                                                      struct lg_transition *t)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0)
        return LG_TRANSITION_FAILED;
    for (size_t i = 0; i < reply->elements; i++)
        if (!element_str(reply, i))
            return LG_TRANSITION_FAILED;
    const char *kind = element_str(reply, 0);
    if (strcmp(kind, "missing") == 0 && reply->elements == 1)
        return LG_TRANSITION_MISSING;
    if (strcmp(kind, "invalid") == 0 && (reply->elements == 2 || reply->elements == 3)) {
        t->from = element_str(reply, 1);
        t->pay_deadline_passed =
            reply->elements == 3 && strcmp(element_str(reply, 2), "pay_deadline") == 0;
        return LG_TRANSITION_INVALID;
    }
    if (strcmp(kind, "ok") != 0 || reply->elements != OK_ELEMENTS)
        return LG_TRANSITION_FAILED;
    t->from = element_str(reply, 1);
    t->to = element_str(reply, 2);
    t->at_ms = strtoll(element_str(reply, 3), NULL, 10);
    t->user = element_str(reply, 4);
    t->client_order_id = element_str(reply, 5);
    t->sku_id = element_str(reply, 6);
    t->qty = strtoll(element_str(reply, 7), NULL, 10);
    t->amount = strtoll(element_str(reply, 8), NULL, 10);
    t->priority = element_str(reply, 9);
    t->buyer = element_str(reply, 10);
    t->phone = element_str(reply, 11);
    return LG_TRANSITION_OK;
}

json_t *lg_backoffice_msg_updated(const char *order_id, const char *status, const char *req)
{
    return lg_msg_with_req(
        json_pack("{s:s,s:s,s:s}", "type", "order.updated", "order_id", order_id, "status", status),
        req);
}

json_t *lg_backoffice_msg_error(const char *code, const char *message, const char *field,
                                const char *order_id, const char *req)
{
    const char *ref = order_id && lg_text_is_id(order_id, strlen(order_id)) ? order_id : NULL;
    json_t *msg = lg_msg_error(code, message, req, ref);
    if (msg && field)
        json_object_set_new(msg, "field", json_string(field));
    return msg;
}

json_t *lg_backoffice_status_event(const struct lg_transition *t)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:s,s:s,s:s}", "room", t->room,
                     "user", t->user, "order_id", t->order_id, "client_order_id",
                     t->client_order_id, "status", t->to, "from", t->from, "at_ms",
                     (json_int_t)t->at_ms, "sku_id", t->sku_id, "qty", (json_int_t)t->qty, "amount",
                     (json_int_t)t->amount, "priority", t->priority, "buyer", t->buyer, "phone",
                     t->phone);
}

static const char *entry_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const char *k = element_str(fields, i), *v = element_str(fields, i + 1);
        if (k && v && strcmp(k, name) == 0)
            return v;
    }
    return "";
}

json_t *lg_backoffice_audit_entries(const redisReply *reply)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return NULL;
    json_t *entries = json_array();
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[1]->type != REDIS_REPLY_ARRAY) {
            json_decref(entries);
            return NULL;
        }
        const redisReply *f = e->element[1];
        json_array_append_new(
            entries, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "at_ms",
                               (json_int_t)strtoll(entry_field(f, "at_ms"), NULL, 10), "actor",
                               entry_field(f, "actor"), "role", entry_field(f, "role"), "order_id",
                               entry_field(f, "order_id"), "from", entry_field(f, "from"), "to",
                               entry_field(f, "to")));
    }
    return entries;
}
