/* order_rules.h - the field rules of order.submit, checked before anything is
 * queued. Pure: a jansson object in, a filled struct or the first broken rule
 * out, in the order the contract lists the fields. */
#ifndef LG_RULES_ORDER_RULES_H
#define LG_RULES_ORDER_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "livegate/field_error.h"
#include "livegate/text.h"

/* Byte sizes: a character is at most 4 UTF-8 bytes. */
struct lg_address {
    char name[50 * 4 + 1];
    char phone[12];
    char province[32 * 4 + 1];
    char city[32 * 4 + 1];
    char district[32 * 4 + 1];
    bool has_district;
    char detail[200 * 4 + 1];
    char postal_code[7];
    bool has_postal_code;
};

struct lg_order {
    char client_order_id[LG_ID_MAX + 1];
    char room_id[LG_ID_MAX + 1];
    char sku_id[LG_ID_MAX + 1];
    long long qty;
    long long unit_price;
    long long amount;
    char currency[4];
    char payment_method[16];
    char coupon_id[LG_ID_MAX + 1];
    bool has_coupon;
    struct lg_address address;
};

/* Largest money value accepted: integers above 2^53-1 lose precision in the
 * JavaScript clients and in Redis Lua numbers. */
#define LG_MONEY_MAX 9007199254740991LL

/* Checks msg (an order.submit object) against every rule. token_room is the
 * room of the submitting viewer's token. Returns 0 and fills *out, or -1 and
 * fills *err with the first broken rule (field path and message). */
int lg_order_parse(const json_t *msg, const char *token_room, struct lg_order *out,
                   struct lg_field_error *err);

/* The payment methods of the contract, listed once: lg_order_payment_names[i] is
 * method i, and its bit in a room's configuration is 1 << i. */
enum lg_payment_method {
    LG_PAYMENT_ALIPAY,
    LG_PAYMENT_WECHAT_PAY,
    LG_PAYMENT_CARD,
    LG_PAYMENT_COD,
    LG_ORDER_NPAYMENTS
};
extern const char *const lg_order_payment_names[LG_ORDER_NPAYMENTS];
enum {
    LG_PAY_ALIPAY = 1 << LG_PAYMENT_ALIPAY,
    LG_PAY_WECHAT_PAY = 1 << LG_PAYMENT_WECHAT_PAY,
    LG_PAY_CARD = 1 << LG_PAYMENT_CARD,
    LG_PAY_COD = 1 << LG_PAYMENT_COD,
    LG_PAY_ALL = (1 << LG_ORDER_NPAYMENTS) - 1,
};
/* The bit of a method name, or 0 when the name is not a contract method. */
unsigned lg_order_payment_bit(const char *name);
/* Writes the names into out as a sentence's list: "a, b, c<last_sep>d". */
void lg_order_payment_list(char *out, size_t n, const char *last_sep);
/* lg_rule_broken with the message lead followed by the list of methods. */
int lg_order_payment_broken(struct lg_field_error *err, const char *path, const char *lead,
                            const char *last_sep);

#endif
