/* mix.h - what the bench's simulated viewers order. An order is drawn from
 * the traffic-mix shares, then written as an order.submit frame; invalid
 * orders break exactly one field rule of the contract and know which field
 * the gateway must name. Pure, so the unit tests check every rule. */
#ifndef LG_BENCH_MIX_H
#define LG_BENCH_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* The field rules an invalid order can break, one each. */
enum lg_mix_invalid {
    LG_MIX_VALID = 0,
    LG_MIX_QTY_ZERO,
    LG_MIX_QTY_OVER,
    LG_MIX_PRICE_ZERO,
    LG_MIX_AMOUNT_WRONG,
    LG_MIX_CURRENCY,
    LG_MIX_PAYMENT,
    LG_MIX_SKU_ID,
    LG_MIX_PHONE,
    LG_MIX_NAME_LONG,
    LG_MIX_DETAIL_EMPTY,
    LG_MIX_POSTAL,
    LG_MIX_CONTROL_CHAR,
    LG_MIX_ROOM,
    LG_MIX_NKINDS
};

struct lg_mix_order {
    int room; /* room index */
    int sku;  /* SKU index in the room; opts->skus is the high-value SKU */
    int qty;
    long long unit_price;
    long long amount;
    bool coupon;
    bool high; /* the gateway must answer priority high */
    enum lg_mix_invalid invalid;
};

/* A small, fast PRNG (xorshift64*): each worker seeds its own. */
struct lg_rng {
    uint64_t s;
};
void lg_rng_seed(struct lg_rng *r, uint64_t seed);
double lg_rng_unit(struct lg_rng *r); /* [0, 1) */
uint32_t lg_rng_below(struct lg_rng *r, uint32_t n);

/* The catalog the bench sets up, derived from the options. */
long long lg_mix_sku_price(const struct lg_bench_opts *o, int sku);
long long lg_mix_coupon_discount(const struct lg_bench_opts *o);
void lg_mix_room_id(const struct lg_bench_opts *o, int room, char *out, size_t outsz);
void lg_mix_sku_id(int sku, const struct lg_bench_opts *o, char *out, size_t outsz);
#define LG_MIX_COUPON_ID "bench-coupon"

/* Draws one order of viewer's room. may_coupon is false once the viewer has
 * used the coupon (each user may use it once). */
void lg_mix_draw(const struct lg_bench_opts *o, struct lg_rng *r, int room, bool vip,
                 bool may_coupon, struct lg_mix_order *out);

/* The field an invalid order breaks, as the gateway names it. */
const char *lg_mix_invalid_field(enum lg_mix_invalid k);

/* Writes the order.submit frame. Returns its length, or -1 when out is too
 * small. user_seq makes the phone number and name vary per viewer. */
int lg_mix_write_submit(const struct lg_bench_opts *o, const struct lg_mix_order *m,
                        const char *client_order_id, const char *req, unsigned user_seq, char *out,
                        size_t outsz);

/* Text put together by appending: no format strings on the path every
 * order takes. `full` is set once something did not fit. */
struct lg_mix_buf {
    char *p;
    size_t n, cap;
    bool full;
};
void lg_mix_put(struct lg_mix_buf *b, const char *s, size_t len);
void lg_mix_put_str(struct lg_mix_buf *b, const char *s);
void lg_mix_put_int(struct lg_mix_buf *b, long long v);

/* The same frame as lg_mix_write_submit, byte for byte, for a valid order
 * (m->invalid == LG_MIX_VALID), written by appending: the worker's path for
 * the 98 % of orders that are valid. Returns the length or -1. */
int lg_mix_write_valid(const struct lg_bench_opts *o, const struct lg_mix_order *m,
                       const char *client_order_id, const char *req, unsigned user_seq, char *out,
                       size_t outsz);

#endif
