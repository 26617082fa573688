/* catalog_rules.h - body rules of the back-office HTTP API (rooms, SKUs,
 * coupons). Pure: a parsed JSON body in, a filled struct or the named field
 * that broke a rule out. */
#ifndef LG_RULES_CATALOG_RULES_H
#define LG_RULES_CATALOG_RULES_H

#include <jansson.h>
#include <stdbool.h>

#include "livegate/field_error.h"

struct lg_room_conf {
    char title[100 * 4 + 1];        /* optional, 0..100 chars, default "" */
    bool live;                      /* status: "live" | "closed", required */
    long long high_value_threshold; /* required integer >= 0 (fen) */
    unsigned payment_methods;       /* required non-empty array, LG_PAY_* bits */
};

struct lg_sku_conf {
    char name[100 * 4 + 1];   /* required, 1..100 chars */
    long long price;          /* required integer > 0 */
    long long stock;          /* required integer >= 0: the stock left */
    long long limit_per_user; /* optional integer >= 1; 0 when absent (no cap) */
    bool on_sale;             /* required boolean */
};

struct lg_coupon_conf {
    long long discount;   /* required integer > 0 (fen) */
    long long min_amount; /* optional integer >= 0, default 0 */
    long long total;      /* required integer >= 0: uses across all users */
};

int lg_catalog_parse_room(const json_t *body, struct lg_room_conf *out, struct lg_field_error *err);
int lg_catalog_parse_sku(const json_t *body, struct lg_sku_conf *out, struct lg_field_error *err);
int lg_catalog_parse_coupon(const json_t *body, struct lg_coupon_conf *out,
                            struct lg_field_error *err);

#endif
