/* result_layout.h - the fields of an order's result, in one order, for
 * every reader. validate.lua (the validator) and watch.lua (a duplicate
 * submit at the gateway) both return the order record's result fields;
 * the readers pass lg_result_record_fields as the script's field names and
 * index the reply by enum lg_result_field, never by position. Keeping the
 * names on the C side means a script cannot drift from its readers: the
 * script returns whatever it was asked for, in that order. */
#ifndef LG_QUEUE_RESULT_LAYOUT_H
#define LG_QUEUE_RESULT_LAYOUT_H

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

#endif
