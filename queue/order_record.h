/* order_record.h - the order record's fixed fields as one value, "d".
 *
 * What the gateway knows of an order never changes after enqueue, so the
 * record (lg:{room}:order:{id}) holds it as one hash field, the values
 * joined by NUL in enum lg_order_fixed's order, beside the fields that
 * change (status, priority, accepted_at_ms, a decision's, the
 * transitions'). One field instead of seventeen is most of what Redis
 * spent per order writing the record. queue/lua/lib/order_record.lua holds
 * the same list for the scripts; tests check that the two agree. A value
 * never holds a NUL: jansson refuses one in a JSON string. */
#ifndef LG_QUEUE_ORDER_RECORD_H
#define LG_QUEUE_ORDER_RECORD_H

#include <stddef.h>

enum lg_order_fixed {
    LG_OF_ORDER_ID,
    LG_OF_ROOM_ID,
    LG_OF_GW, /* the accepting gateway's id */
    LG_OF_USER,
    LG_OF_CLIENT_ORDER_ID,
    LG_OF_SKU_ID,
    LG_OF_QTY,
    LG_OF_UNIT_PRICE,
    LG_OF_AMOUNT,
    LG_OF_CURRENCY,
    LG_OF_PAYMENT_METHOD,
    LG_OF_COUPON_ID, /* "" for none */
    LG_OF_TIER,      /* "vip" or "" */
    LG_OF_BUYER,     /* masked */
    LG_OF_PHONE,     /* masked */
    LG_OF_REQ,       /* the submit's req, "" for none */
    LG_OF_PII,       /* sealed (gateway/features/intake.c); last, so the
                      * scripts, which never need it, stop before it */
    LG_ORDER_NFIXED
};

/* The name of the hash field that holds them. */
#define LG_ORDER_RECORD_D "d"

/* The field names, indexed by enum lg_order_fixed: what a record of an
 * earlier release holds one by one, and what readers show. */
extern const char *const lg_order_fixed_names[LG_ORDER_NFIXED];

/* The bytes lg_order_record_pack writes for values (NULL is ""), without
 * the terminating NUL. */
size_t lg_order_record_len(const char *const values[LG_ORDER_NFIXED]);

/* Writes d for values into out, which holds lg_order_record_len + 1 bytes;
 * the NUL after the last value ends it. */
void lg_order_record_pack(char *out, const char *const values[LG_ORDER_NFIXED]);

/* Splits the len bytes of d into values (pointers into d) and their
 * lengths. 0, or -1 when d does not hold exactly LG_ORDER_NFIXED values;
 * values then say nothing. */
int lg_order_record_unpack(const char *d, size_t len, const char *values[LG_ORDER_NFIXED],
                           size_t lens[LG_ORDER_NFIXED]);

/* The index of a fixed field's name, -1 for any other. */
int lg_order_fixed_index(const char *name);

#endif
