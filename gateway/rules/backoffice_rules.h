/* backoffice_rules.h - the pure half of the back office's order handling:
 * the field rules of order.update, who may act on which room, the query of
 * GET /v1/audit, reading the answers of transition.lua and XREVRANGE, and
 * the JSON shapes built from them (order.updated, the lg:ev:status event, an
 * audit entry). No sockets and no Redis connection, so every rule and shape
 * is unit-tested; backoffice.c is the event-loop glue around it. */
#ifndef LG_RULES_BACKOFFICE_RULES_H
#define LG_RULES_BACKOFFICE_RULES_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>

#include "livegate/field_error.h"
#include "livegate/text.h"
#include "livegate/token.h"

/* Audit entries kept per room (the stream is trimmed to exactly this many). */
#define LG_AUDIT_KEEP 10000
/* GET /v1/audit: entries answered without a limit, and the largest limit. */
#define LG_AUDIT_DEFAULT_LIMIT 100
#define LG_AUDIT_MAX_LIMIT 1000

/* The longest status name ("pending_payment") and then some. */
#define LG_BACKOFFICE_STATUS_MAX 24

struct lg_order_update {
    char order_id[LG_ID_MAX + 1];
    char status[LG_BACKOFFICE_STATUS_MAX]; /* paid, shipped, delivered or cancelled */
};

/* Checks an order.update frame: order_id an ID, then status one of paid,
 * shipped, delivered, cancelled. 0, or -1 with *err naming the first field
 * that breaks its rule (missing, null and wrong types included). */
int lg_backoffice_parse_update(const json_t *msg, struct lg_order_update *out,
                               struct lg_field_error *err);

/* Admins act on every room; operators on their token's room, or every room
 * with a "*" token; viewers never. */
bool lg_backoffice_may_act(const struct lg_claims *c, const char *room);

struct lg_audit_query {
    char room[LG_ID_MAX + 1];
    int limit;
};

/* GET /v1/audit's query: room (required, an ID; "*" is not a room) and limit
 * (optional, an integer 1..LG_AUDIT_MAX_LIMIT written in plain digits,
 * default LG_AUDIT_DEFAULT_LIMIT). NULL means the parameter is absent. */
int lg_backoffice_parse_audit_query(const char *room, const char *limit, struct lg_audit_query *out,
                                    struct lg_field_error *err);

enum lg_transition_kind {
    LG_TRANSITION_FAILED = 0, /* no reply, an error reply or an unexpected shape */
    LG_TRANSITION_MISSING,    /* the order record is gone */
    LG_TRANSITION_INVALID,    /* not an allowed move; from is set */
    LG_TRANSITION_OK,
};

/* What transition.lua answered. The strings point into the reply (or into
 * the caller's strings for order_id and room) and live as long as it does. */
struct lg_transition {
    const char *order_id;
    const char *room;
    const char *from;
    const char *to;
    const char *user;
    const char *client_order_id;
    const char *sku_id;
    const char *priority;
    const char *buyer; /* masked, as stored */
    const char *phone; /* masked, as stored */
    long long at_ms;
    long long qty;
    long long amount;
    /* INVALID only: paid was refused because the payment deadline had
     * passed (the payment timeout cancels the order; see transition.lua). */
    bool pay_deadline_passed;
};

/* Reads transition.lua's reply into *t (order_id and room are left as the
 * caller set them). */
enum lg_transition_kind lg_backoffice_read_transition(const redisReply *reply,
                                                      struct lg_transition *t);

/* {"type":"order.updated","order_id","status"[,"req"]} */
json_t *lg_backoffice_msg_updated(const char *order_id, const char *status, const char *req);

/* An error reply to order.update: lg_msg_error plus "field" (INVALID_FIELD)
 * and "ref" (the order id, when it is a valid one); either may be NULL. */
json_t *lg_backoffice_msg_error(const char *code, const char *message, const char *field,
                                const char *order_id, const char *req);

/* The payload published on lg:ev:status after a successful move. */
json_t *lg_backoffice_status_event(const struct lg_transition *t);

/* XREVRANGE's answer as [{"at_ms","actor","role","order_id","from","to"}],
 * in the order given (newest first). NULL when the reply is not an array of
 * entries. */
json_t *lg_backoffice_audit_entries(const redisReply *reply);

#endif
