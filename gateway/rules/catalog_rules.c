/* catalog_rules.c - body rules of the back-office HTTP API (see
 * catalog_rules.h). */
#include <string.h>

#include "rules/catalog_rules.h"
#include "rules/field_rules.h"
#include "rules/order_rules.h"

#define STOCK_MAX 1000000000LL
#define LIMIT_MAX 1000000LL

static int need_object(const json_t *body, struct lg_field_error *err)
{
    return json_is_object(body) ? 0 : lg_rule_broken(err, "body", "the body must be a JSON object");
}

int lg_catalog_parse_room(const json_t *body, struct lg_room_conf *out, struct lg_field_error *err)
{
    memset(out, 0, sizeof(*out));
    if (need_object(body, err) || lg_rule_text(body, "title", "title", 0, 100, true, out->title,
                                               sizeof(out->title), NULL, err))
        return -1;
    json_t *status = json_object_get(body, "status");
    const char *s = json_is_string(status) ? json_string_value(status) : "";
    if (strcmp(s, "live") != 0 && strcmp(s, "closed") != 0)
        return lg_rule_broken(err, "status", "status must be \"live\" or \"closed\"");
    out->live = strcmp(s, "live") == 0;
    if (lg_rule_int(body, "high_value_threshold", "high_value_threshold", 0, LG_MONEY_MAX, false, 0,
                    &out->high_value_threshold, err))
        return -1;
    json_t *methods = json_object_get(body, "payment_methods");
    if (!json_is_array(methods) || json_array_size(methods) == 0)
        return lg_order_payment_broken(err, "payment_methods",
                                       "payment_methods must be a non-empty array of ", ", ");
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m)
    {
        unsigned bit = json_is_string(m) ? lg_order_payment_bit(json_string_value(m)) : 0;
        if (!bit)
            return lg_order_payment_broken(err, "payment_methods", "payment_methods may hold only ",
                                           ", ");
        out->payment_methods |= bit;
    }
    return 0;
}

int lg_catalog_parse_sku(const json_t *body, struct lg_sku_conf *out, struct lg_field_error *err)
{
    memset(out, 0, sizeof(*out));
    if (need_object(body, err) ||
        lg_rule_text(body, "name", "name", 1, 100, false, out->name, sizeof(out->name), NULL,
                     err) ||
        lg_rule_int(body, "price", "price", 1, LG_MONEY_MAX, false, 0, &out->price, err) ||
        lg_rule_int(body, "stock", "stock", 0, STOCK_MAX, false, 0, &out->stock, err) ||
        lg_rule_int(body, "limit_per_user", "limit_per_user", 1, LIMIT_MAX, true, 0,
                    &out->limit_per_user, err) ||
        lg_rule_bool(body, "on_sale", "on_sale", &out->on_sale, err))
        return -1;
    return 0;
}

int lg_catalog_parse_coupon(const json_t *body, struct lg_coupon_conf *out,
                            struct lg_field_error *err)
{
    memset(out, 0, sizeof(*out));
    if (need_object(body, err) ||
        lg_rule_int(body, "discount", "discount", 1, LG_MONEY_MAX, false, 0, &out->discount, err) ||
        lg_rule_int(body, "min_amount", "min_amount", 0, LG_MONEY_MAX, true, 0, &out->min_amount,
                    err) ||
        lg_rule_int(body, "total", "total", 0, STOCK_MAX, false, 0, &out->total, err))
        return -1;
    return 0;
}
