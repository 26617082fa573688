/* Unit tests of the back-office body rules: rooms, SKUs and coupons, each
 * bound on both sides and each required field missing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "rules/catalog_rules.h"
#include "rules/order_rules.h"

static const char *room_field(const char *text)
{
    static struct lg_field_error err;
    struct lg_room_conf rc;
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    memset(&err, 0, sizeof(err));
    int rc_ = lg_catalog_parse_room(j, &rc, &err);
    json_decref(j);
    return rc_ == 0 ? "" : err.field;
}

static const char *sku_field(const char *text, struct lg_sku_conf *out)
{
    static struct lg_field_error err;
    struct lg_sku_conf tmp;
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    memset(&err, 0, sizeof(err));
    int rc = lg_catalog_parse_sku(j, out ? out : &tmp, &err);
    json_decref(j);
    return rc == 0 ? "" : err.field;
}

static const char *coupon_field(const char *text)
{
    static struct lg_field_error err;
    struct lg_coupon_conf cc;
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    memset(&err, 0, sizeof(err));
    int rc = lg_catalog_parse_coupon(j, &cc, &err);
    json_decref(j);
    return rc == 0 ? "" : err.field;
}

static void rooms(void **state)
{
    (void)state;
    struct lg_room_conf rc;
    struct lg_field_error err;
    json_error_t je;
    json_t *j = json_loads("{\"title\":\"直播\",\"status\":\"live\",\"high_value_threshold\":0,"
                           "\"payment_methods\":[\"cod\",\"alipay\"]}",
                           0, &je);
    assert_int_equal(lg_catalog_parse_room(j, &rc, &err), 0);
    assert_true(rc.live);
    assert_int_equal(rc.payment_methods, LG_PAY_COD | LG_PAY_ALIPAY);
    json_decref(j);
    assert_string_equal(room_field("{\"status\":\"closed\",\"high_value_threshold\":5,"
                                   "\"payment_methods\":[\"card\"]}"),
                        "");
    assert_string_equal(room_field("[]"), "body");
    assert_string_equal(room_field("{\"status\":\"paused\",\"high_value_threshold\":5,"
                                   "\"payment_methods\":[\"card\"]}"),
                        "status");
    assert_string_equal(
        room_field(
            "{\"status\":\"live\",\"high_value_threshold\":-1,\"payment_methods\":[\"card\"]}"),
        "high_value_threshold");
    assert_string_equal(room_field("{\"status\":\"live\",\"payment_methods\":[\"card\"]}"),
                        "high_value_threshold");
    assert_string_equal(
        room_field("{\"status\":\"live\",\"high_value_threshold\":1,\"payment_methods\":[]}"),
        "payment_methods");
    assert_string_equal(
        room_field("{\"status\":\"live\",\"high_value_threshold\":1,\"payment_methods\":[1]}"),
        "payment_methods");
    assert_string_equal(room_field("{\"status\":\"live\",\"high_value_threshold\":1}"),
                        "payment_methods");
    /* The messages list the methods from the one list in order_rules.c. */
    j = json_loads("{\"status\":\"live\",\"high_value_threshold\":1,\"payment_methods\":[]}", 0,
                   NULL);
    assert_int_equal(lg_catalog_parse_room(j, &rc, &err), -1);
    assert_string_equal(
        err.message, "payment_methods must be a non-empty array of alipay, wechat_pay, card, cod");
    json_decref(j);
    j = json_loads(
        "{\"status\":\"live\",\"high_value_threshold\":1,\"payment_methods\":[\"cash\"]}", 0, NULL);
    assert_int_equal(lg_catalog_parse_room(j, &rc, &err), -1);
    assert_string_equal(err.message, "payment_methods may hold only alipay, wechat_pay, card, cod");
    json_decref(j);
    char text[1024];
    char title[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(title, "直");
    snprintf(text, sizeof(text),
             "{\"title\":\"%s\",\"status\":\"live\",\"high_value_threshold\":1,"
             "\"payment_methods\":[\"card\"]}",
             title);
    assert_string_equal(room_field(text), "");
    strcat(title, "直");
    snprintf(text, sizeof(text),
             "{\"title\":\"%s\",\"status\":\"live\",\"high_value_threshold\":1,"
             "\"payment_methods\":[\"card\"]}",
             title);
    assert_string_equal(room_field(text), "title");
}

static void skus(void **state)
{
    (void)state;
    struct lg_sku_conf sc;
    assert_string_equal(
        sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":0,\"on_sale\":false}", &sc), "");
    assert_int_equal(sc.limit_per_user, 0);
    assert_false(sc.on_sale);
    assert_string_equal(sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":1000000000,"
                                  "\"limit_per_user\":1,\"on_sale\":true}",
                                  &sc),
                        "");
    assert_int_equal(sc.limit_per_user, 1);
    assert_string_equal(
        sku_field("{\"name\":\"茶\",\"price\":0,\"stock\":0,\"on_sale\":true}", NULL), "price");
    assert_string_equal(
        sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":-1,\"on_sale\":true}", NULL), "stock");
    assert_string_equal(
        sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":1000000001,\"on_sale\":true}", NULL),
        "stock");
    assert_string_equal(sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":1,\"limit_per_user\":0,"
                                  "\"on_sale\":true}",
                                  NULL),
                        "limit_per_user");
    assert_string_equal(sku_field("{\"name\":\"\",\"price\":1,\"stock\":1,\"on_sale\":true}", NULL),
                        "name");
    assert_string_equal(sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":1,\"on_sale\":1}", NULL),
                        "on_sale");
    assert_string_equal(sku_field("{\"name\":\"茶\",\"price\":1,\"stock\":1}", NULL), "on_sale");
    assert_string_equal(sku_field("\"x\"", NULL), "body");
}

static void coupons(void **state)
{
    (void)state;
    assert_string_equal(coupon_field("{\"discount\":1,\"total\":0}"), "");
    assert_string_equal(coupon_field("{\"discount\":1,\"min_amount\":0,\"total\":5}"), "");
    assert_string_equal(coupon_field("{\"discount\":0,\"total\":5}"), "discount");
    assert_string_equal(coupon_field("{\"discount\":1,\"min_amount\":-1,\"total\":5}"),
                        "min_amount");
    assert_string_equal(coupon_field("{\"discount\":1,\"total\":-1}"), "total");
    assert_string_equal(coupon_field("{\"discount\":1}"), "total");
    assert_string_equal(coupon_field("{\"total\":1}"), "discount");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rooms),
        cmocka_unit_test(skus),
        cmocka_unit_test(coupons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
