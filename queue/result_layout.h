/* result_layout.h - the fields of an order's result, in one order, for
 * every reader. validate.lua (the validator) and watch.lua (a duplicate
 * submit at the gateway) both return the order record's result fields;
 * the readers pass lg_result_record_fields as the script's field names and
 * index the reply by enum lg_result_field, never by position. Keeping the
 * names on the C side means a script cannot drift from its readers: the
 * script returns whatever it was asked for, in that order. */
#ifndef LG_QUEUE_RESULT_LAYOUT_H
#define LG_QUEUE_RESULT_LAYOUT_H

#include <stddef.h>

enum lg_result_field {
    /* Fields of the order record (lg:{room}:order:{id}), read with HMGET. */
    LG_RESULT_STATUS,
    LG_RESULT_CODE,
    LG_RESULT_FIELD,
    LG_RESULT_MESSAGE,
    LG_RESULT_AMOUNT,
    LG_RESULT_CONFIRMED_AT,
    LG_RESULT_PAY_DEADLINE,
    LG_RESULT_CLIENT_ORDER_ID,
    LG_RESULT_REQ,
    LG_RESULT_UPDATED_AT,
    LG_RESULT_DECIDED_AT,
    LG_RESULT_ACCEPTED_AT,
    LG_RESULT_WATCHERS, /* other gateways to answer, comma-separated (watch.lua) */
    LG_RESULT_NRECORD,
    /* validate.lua appends two values that are not record fields. */
    LG_RESULT_DECIDED_NOW = LG_RESULT_NRECORD, /* "1" when this call decided */
    LG_RESULT_STOCK_LEFT,                      /* the SKU's stock after it, "" without one */
    LG_RESULT_NFIELDS
};

/* The record field names, indexed by enum lg_result_field (LG_RESULT_NRECORD
 * of them). */
extern const char *const lg_result_record_fields[LG_RESULT_NRECORD];

/* A reply-stream entry (reply.lua), as validators and the gateways' deadline
 * sweep write it and gateway/features/results.c reads it: these fields per
 * result, in this order. */
enum lg_reply_field {
    LG_REPLY_ORDER_ID,
    LG_REPLY_ROOM,
    LG_REPLY_USER,
    LG_REPLY_STATUS,
    LG_REPLY_CODE,
    LG_REPLY_FIELD,
    LG_REPLY_MESSAGE,
    LG_REPLY_AMOUNT,
    LG_REPLY_CONFIRMED_AT,
    LG_REPLY_PAY_DEADLINE,
    LG_REPLY_CLIENT_ORDER_ID,
    LG_REPLY_REQ,
    LG_REPLY_ACCEPTED_AT,
    LG_REPLY_UPDATED_AT,
    LG_REPLY_NFIELDS
};
extern const char *const lg_reply_fields[LG_REPLY_NFIELDS];

/* A gateway trims its own reply stream of what it has read, so the cap (in
 * entries, each one reply.lua call's results) is only a safety net for a
 * gateway that is gone or stopped for long, far above what a live one
 * leaves unread: at it, the oldest unread results would be dropped. */
#define LG_REPLY_STREAM_MAXLEN "100000"
/* A gone gateway's reply stream disappears an hour after the last result. */
#define LG_REPLY_STREAM_TTL_MS "3600000"
/* reply.lua's arguments before the values: the key, MAXLEN, TTL, the field
 * count and the names. */
#define LG_REPLY_HEAD (4 + LG_REPLY_NFIELDS)

/* A malloc'd argv for one reply.lua call of n results to the stream key,
 * its head filled in; result i's values go at LG_REPLY_HEAD +
 * LG_REPLY_NFIELDS * i. nfields (which must outlive the call) holds the
 * field count's text. NULL when out of memory. */
const char **lg_reply_args_new(const char *key, size_t n, char nfields[16]);

#endif
