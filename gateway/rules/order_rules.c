/* order_rules.c - the field rules of order.submit (see order_rules.h). The
 * checks run in the contract's field order and stop at the first broken
 * rule, so a client always learns about the same field first. */
#include <stdio.h>
#include <string.h>

#include "livegate/text.h"
#include "rules/field_rules.h"
#include "rules/order_rules.h"

const char *const lg_order_payment_names[LG_ORDER_NPAYMENTS] = {
    [LG_PAYMENT_ALIPAY] = "alipay",
    [LG_PAYMENT_WECHAT_PAY] = "wechat_pay",
    [LG_PAYMENT_CARD] = "card",
    [LG_PAYMENT_COD] = "cod",
};

unsigned lg_order_payment_bit(const char *name)
{
    for (unsigned i = 0; i < LG_ORDER_NPAYMENTS; i++)
        if (strcmp(name, lg_order_payment_names[i]) == 0)
            return 1u << i;
    return 0;
}

void lg_order_payment_list(char *out, size_t n, const char *last_sep)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < LG_ORDER_NPAYMENTS && len < n; i++) {
        const char *sep = i == 0 ? "" : i == LG_ORDER_NPAYMENTS - 1 ? last_sep : ", ";
        int w = snprintf(out + len, n - len, "%s%s", sep, lg_order_payment_names[i]);
        if (w < 0)
            return;
        len += (size_t)w;
    }
}

int lg_order_payment_broken(struct lg_field_error *err, const char *path, const char *lead,
                            const char *last_sep)
{
    char list[64], message[sizeof(err->message)];
    lg_order_payment_list(list, sizeof(list), last_sep);
    snprintf(message, sizeof(message), "%s%s", lead, list);
    return lg_rule_broken(err, path, message);
}

static bool is_mainland_mobile(const char *s)
{
    if (strlen(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9')
        return false;
    for (int i = 2; i < 11; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* One message for every way a phone can be wrong (absent, not a string,
 * the wrong length, not a mobile number): the client hears one rule, not
 * whichever check happened to trip first. */
#define PHONE_RULE "address.phone must be a mainland mobile number: 1, then 3-9, then 9 digits"

static int check_phone(const json_t *addr, struct lg_address *a, struct lg_field_error *err)
{
    const json_t *v = json_object_get(addr, "phone");
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (!json_is_string(v) || json_string_length(v) != 11 || !is_mainland_mobile(s))
        return lg_rule_broken(err, "address.phone", PHONE_RULE);
    memcpy(a->phone, s, 12);
    return 0;
}

static bool is_six_digits(const char *s)
{
    if (strlen(s) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int check_amount(const json_t *msg, struct lg_order *o, struct lg_field_error *err)
{
    if (lg_rule_int(msg, "amount", "amount", 0, LG_MONEY_MAX, false, 0, &o->amount, err) != 0)
        return -1;
    /* With a coupon the discount is the validator's to check: an unknown
     * coupon must be reported as COUPON_INVALID, not as a bad amount. */
    if (o->has_coupon)
        return 0;
    long long total;
    if (__builtin_mul_overflow(o->unit_price, o->qty, &total) || total != o->amount)
        return lg_rule_broken(err, "amount", "amount must equal unit_price * qty");
    return 0;
}

static int check_address(const json_t *msg, struct lg_address *a, struct lg_field_error *err)
{
    json_t *addr = json_object_get(msg, "address");
    if (!json_is_object(addr))
        return lg_rule_broken(err, "address", "address must be an object");
    bool has_postal = false;
    char postal[8 * 4 + 1];
    if (lg_rule_text(addr, "name", "address.name", 1, 50, false, a->name, sizeof(a->name), NULL,
                     err) ||
        check_phone(addr, a, err))
        return -1;
    if (lg_rule_text(addr, "province", "address.province", 1, 32, false, a->province,
                     sizeof(a->province), NULL, err) ||
        lg_rule_text(addr, "city", "address.city", 1, 32, false, a->city, sizeof(a->city), NULL,
                     err) ||
        lg_rule_text(addr, "district", "address.district", 0, 32, true, a->district,
                     sizeof(a->district), &a->has_district, err) ||
        lg_rule_text(addr, "detail", "address.detail", 1, 200, false, a->detail, sizeof(a->detail),
                     NULL, err) ||
        lg_rule_text(addr, "postal_code", "address.postal_code", 0, 8, true, postal, sizeof(postal),
                     &has_postal, err)) {
        if (strcmp(err->field, "address.postal_code") == 0)
            return lg_rule_broken(err, "address.postal_code",
                                  "address.postal_code must be 6 digits");
        return -1;
    }
    a->has_postal_code = has_postal && postal[0] != 0; /* "" means none given */
    if (a->has_postal_code && !is_six_digits(postal))
        return lg_rule_broken(err, "address.postal_code", "address.postal_code must be 6 digits");
    if (a->has_postal_code)
        memcpy(a->postal_code, postal, sizeof(a->postal_code)); /* 6 digits and the NUL */
    return 0;
}

int lg_order_parse(const json_t *msg, const char *token_room, struct lg_order *out,
                   struct lg_field_error *err)
{
    memset(out, 0, sizeof(*out));
    if (lg_rule_id(msg, "client_order_id", "client_order_id", false, out->client_order_id, NULL,
                   err) ||
        lg_rule_id(msg, "room_id", "room_id", false, out->room_id, NULL, err))
        return -1;
    if (strcmp(out->room_id, token_room) != 0)
        return lg_rule_broken(err, "room_id", "room_id must equal the room of the token");
    if (lg_rule_id(msg, "sku_id", "sku_id", false, out->sku_id, NULL, err) ||
        lg_rule_int(msg, "qty", "qty", 1, 999, false, 0, &out->qty, err) ||
        lg_rule_int(msg, "unit_price", "unit_price", 1, LG_MONEY_MAX, false, 0, &out->unit_price,
                    err))
        return -1;
    /* The coupon decides how amount is checked, so look at it first; its
     * own rule is still reported in contract order. */
    struct lg_field_error coupon_err;
    int coupon_rc = lg_rule_id(msg, "coupon_id", "coupon_id", true, out->coupon_id,
                               &out->has_coupon, &coupon_err);
    if (check_amount(msg, out, err) != 0)
        return -1;
    json_t *currency = json_object_get(msg, "currency");
    if (!json_is_string(currency) || strcmp(json_string_value(currency), "CNY") != 0)
        return lg_rule_broken(err, "currency", "currency must be \"CNY\"");
    strcpy(out->currency, "CNY");
    json_t *method = json_object_get(msg, "payment_method");
    if (!json_is_string(method) || !lg_order_payment_bit(json_string_value(method)))
        return lg_order_payment_broken(err, "payment_method", "payment_method must be ", " or ");
    lg_text_copy(out->payment_method, sizeof(out->payment_method), json_string_value(method));
    if (coupon_rc != 0) {
        *err = coupon_err;
        return -1;
    }
    return check_address(msg, &out->address, err);
}
