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
 * sweep write it and gateway/features/results.c reads it: these values per
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
/* Their names, in the entries of earlier releases (one field per value),
 * which the gateway still reads. */
extern const char *const lg_reply_fields[LG_REPLY_NFIELDS];

/* A gateway trims its own reply stream of what it has read, so the cap (in
 * entries, each one reply.lua call's results) is only a safety net for a
 * gateway that is gone or stopped for long, far above what a live one
 * leaves unread: at it, the oldest unread results would be dropped. */
#define LG_REPLY_STREAM_MAXLEN "100000"
/* A gone gateway's reply stream disappears an hour after the last result. */
#define LG_REPLY_STREAM_TTL_MS "3600000"
/* reply.lua's arguments: the key, MAXLEN, TTL, the number of results and
 * the packed results. */
#define LG_REPLY_ARGC 5

/* The results of one reply.lua call, packed into one value.
 *
 * Why packed: a value per field made every result 14 arguments of the
 * script, 28 of its XADD and of the append-only file, and 28 strings of
 * the gateway's XREAD, each one parsed, allocated and copied; that was a
 * fifth of Redis's work per order. One value per call costs one of each.
 *
 * Each value is its length in decimal, ':', its bytes, then a NUL: the
 * length lets the reader check every value's bounds, the NUL lets it use
 * the value where it lies as a C string. A value holding a NUL is not
 * packed (nothing livegate stores has one).
 *
 * Ownership: the pack owns buf; lg_reply_pack_free frees it. */
struct lg_reply_pack {
    char *buf;
    size_t len, cap;
    size_t n; /* results packed */
    char count[24];
    const char *args[LG_REPLY_ARGC];
    size_t lens[LG_REPLY_ARGC];
};

/* Appends one result, values indexed by enum lg_reply_field (NULL for "").
 * 0, or -1 when out of memory; nothing is appended then. */
int lg_reply_pack_add(struct lg_reply_pack *p, const char *const values[LG_REPLY_NFIELDS]);

/* Fills p->args and p->lens for reply.lua on the stream key (which must
 * outlive the call, as p must). */
void lg_reply_pack_args(struct lg_reply_pack *p, const char *key);

/* Empties p for the next call, keeping its buffer. */
void lg_reply_pack_reset(struct lg_reply_pack *p);
void lg_reply_pack_free(struct lg_reply_pack *p);

/* Reads the result at blob[*pos..len) into values (pointers into blob) and
 * moves *pos past it. 0, or -1 when what is there is not one packed result
 * (a length out of bounds, a missing ':' or NUL, a NUL inside a value). */
int lg_reply_unpack(const char *blob, size_t len, size_t *pos,
                    const char *values[LG_REPLY_NFIELDS]);

#endif
