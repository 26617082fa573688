/* protocol.h - the JSON shapes of the wire contract: checking an incoming
 * frame's envelope and building every reply. Pure functions, so the exact
 * bytes a client sees are unit-tested without a socket. */
#ifndef LG_RULES_PROTOCOL_H
#define LG_RULES_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livegate/text.h"

/* Largest message, in bytes; exactly this many is allowed. */
#define LG_MAX_MESSAGE 16384
/* Deepest nesting of arrays/objects accepted in a client frame. */
#define LG_MAX_JSON_DEPTH 16

/* True when the nesting depth of the JSON text stays within max_depth. A
 * cheap scan before parsing, so a frame of 8,000 '[' costs nothing. */
bool lg_msg_depth_ok(const char *text, size_t len, int max_depth);

struct lg_envelope {
    json_t *root;     /* the parsed object; owned by the envelope */
    const char *type; /* points into root */
    char req[LG_ID_MAX + 1];
    bool has_req;
};

enum lg_envelope_error {
    LG_ENVELOPE_OK = 0,
    LG_ENVELOPE_NOT_JSON, /* not JSON, too deep, or not an object */
    LG_ENVELOPE_NO_TYPE,  /* "type" missing or not a string */
    LG_ENVELOPE_BAD_REQ,  /* "req" present but not an ID string */
};

/* Parses one text frame. env->root is set, and owned by the caller, on
 * LG_ENVELOPE_OK and also on LG_ENVELOPE_NO_TYPE (kept so the error reply
 * can carry req); on the other errors nothing is allocated. Call
 * lg_msg_free_envelope after any result: it frees whatever was kept. */
enum lg_envelope_error lg_msg_parse_envelope(const char *text, size_t len, struct lg_envelope *env);
void lg_msg_free_envelope(struct lg_envelope *env);

/* Adds "req" to msg (when req is not NULL) and returns msg. */
json_t *lg_msg_with_req(json_t *msg, const char *req);

/* Reply builders. req may be NULL (no "req" field). Each returns a new
 * reference the caller owns. */
json_t *lg_msg_error(const char *code, const char *message, const char *req, const char *ref);
json_t *lg_msg_auth_ok(const char *user, const char *room, const char *role, const char *session_id,
                       int64_t now_ms, const char *req);
json_t *lg_msg_invalid_field(const char *client_order_id, const char *field, const char *message,
                             const char *req);

/* The hot path's two answers, order.accepted and a result, are written as
 * text straight into a buffer instead of built as a json_t and dumped: a
 * gateway sends one of each per order, and building and dumping the
 * document cost it more than the rest of the answer. The bytes are those
 * jansson's compact dump of the same document gives (test_protocol.c
 * checks them against it). */

/* The most bytes lg_msg_accepted_text writes. */
#define LG_MSG_ACCEPTED_MAX 1024
/* Writes order.accepted at out (LG_MSG_ACCEPTED_MAX bytes, no NUL) and
 * returns its length; 0, with nothing to send, when a string is not an ID
 * (client_order_id, order_id, priority, and req unless NULL). */
size_t lg_msg_accepted_text(char *out, const char *client_order_id, const char *order_id,
                            const char *priority, bool duplicate, int64_t accepted_at_ms,
                            const char *req);

/* A final result as stored in the order record and carried by the reply
 * streams. Empty strings stand for absent fields. */
struct lg_result {
    const char *order_id;
    const char *client_order_id;
    const char *status; /* "rejected", or pending_payment and the states after it */
    const char *code;
    const char *field;
    const char *message;
    const char *req;
    long long amount;
    long long confirmed_at_ms;
    long long pay_deadline_ms;
    long long updated_at_ms; /* the last move's time, for a state past pending_payment */
};

/* The longest message lg_msg_refusal_text takes, in bytes. */
#define LG_MSG_REFUSAL_MESSAGE_MAX 200
/* The most bytes lg_msg_refusal_text writes. */
#define LG_MSG_REFUSAL_MAX 2048
/* Writes an error that tells the client when to retry (BUSY,
 * RATE_LIMITED) at out (LG_MSG_REFUSAL_MAX bytes, no NUL) and returns its
 * length: under a flood most submits get one. 0, with nothing to send, when
 * code is not an ID, message is longer than LG_MSG_REFUSAL_MESSAGE_MAX or
 * not valid UTF-8, or ref or req (either may be NULL) is not an ID. */
size_t lg_msg_refusal_text(char *out, const char *code, const char *message, int64_t retry_after_ms,
                           const char *req, const char *ref);

/* The most bytes lg_msg_result_text may write for r. */
size_t lg_msg_result_text_max(const struct lg_result *r);
/* Writes the decided result, order.rejected for status "rejected" and
 * order.confirmed (status pending_payment) for any other, at out (cap
 * bytes, no NUL) and returns its length. 0, with nothing to send, when it
 * would not fit or a string is not valid UTF-8 (they come from Redis). */
size_t lg_msg_result_text(char *out, size_t cap, const struct lg_result *r);
/* Whether the order is still as it was decided (rejected, or waiting for
 * payment). A result read back later is then sent as it is; once the order
 * has moved on (paid, cancelled, ...) the viewer is sent order.status with
 * its real state instead: a result resent after a restart must not
 * announce a cancelled order as confirmed. */
bool lg_result_as_decided(const struct lg_result *r);
/* order.state for order.query; order_id and code may be NULL. */
json_t *lg_msg_order_state(const char *client_order_id, const char *order_id, const char *status,
                           const char *code, const char *req);
/* order.status: the order moved on (paid, shipped, ...). */
json_t *lg_msg_order_status(const char *order_id, const char *client_order_id, const char *status,
                            int64_t at_ms, const char *req);
/* sku.update: a SKU's public state, to the viewers of its room. */
json_t *lg_msg_sku_update(const char *room_id, const char *sku_id, long long stock_left,
                          bool on_sale, long long price);

#endif
