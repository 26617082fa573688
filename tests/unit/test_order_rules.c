/* Unit tests of the order.submit field rules: every rule of the contract on
 * both sides of its bound, the first-broken-field order, missing / null /
 * wrongly typed fields, invalid UTF-8 and control characters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rules/order_rules.h"

static json_t *valid_order(void)
{
    json_error_t e;
    return json_loads("{\"type\":\"order.submit\",\"client_order_id\":\"c-1\",\"room_id\":\"r1\","
                      "\"sku_id\":\"sku-9\",\"qty\":2,\"unit_price\":19900,\"amount\":39800,"
                      "\"currency\":\"CNY\",\"payment_method\":\"alipay\",\"coupon_id\":null,"
                      "\"address\":{\"name\":\"张三\",\"phone\":\"13800138000\","
                      "\"province\":\"浙江省\",\"city\":\"杭州市\",\"district\":\"西湖区\","
                      "\"detail\":\"文三路 1 号\",\"postal_code\":\"310000\"}}",
                      0, &e);
}

/* Parses msg and returns the field path it broke, or "" when it passed. */
static const char *broken(json_t *msg)
{
    static struct lg_field_error err;
    struct lg_order o;
    memset(&err, 0, sizeof(err));
    int rc = lg_order_parse(msg, "r1", &o, &err);
    json_decref(msg);
    if (rc == 0)
        return "";
    assert_true(err.message[0] != 0);
    return err.field;
}

static json_t *with(const char *key, json_t *value)
{
    json_t *m = valid_order();
    if (value)
        json_object_set_new(m, key, value);
    else
        json_object_del(m, key);
    return m;
}

static json_t *with_addr(const char *key, json_t *value)
{
    json_t *m = valid_order();
    json_t *a = json_object_get(m, "address");
    if (value)
        json_object_set_new(a, key, value);
    else
        json_object_del(a, key);
    return m;
}

/* A string of n copies of a UTF-8 character. */
static json_t *repeat(const char *ch, int n)
{
    char buf[4096] = "";
    for (int i = 0; i < n; i++)
        strcat(buf, ch);
    return json_string(buf);
}

static void the_example_passes_and_is_filled_in(void **state)
{
    (void)state;
    struct lg_order o;
    struct lg_field_error err;
    json_t *m = valid_order();
    assert_int_equal(lg_order_parse(m, "r1", &o, &err), 0);
    assert_string_equal(o.client_order_id, "c-1");
    assert_int_equal(o.qty, 2);
    assert_int_equal(o.amount, 39800);
    assert_false(o.has_coupon);
    assert_string_equal(o.address.name, "张三");
    assert_true(o.address.has_district);
    assert_true(o.address.has_postal_code);
    assert_string_equal(o.address.postal_code, "310000");
    json_decref(m);
}

static void ids(void **state)
{
    (void)state;
    assert_string_equal(broken(with("client_order_id", json_string(""))), "client_order_id");
    assert_string_equal(broken(with("client_order_id", repeat("a", 64))), "");
    assert_string_equal(broken(with("client_order_id", repeat("a", 65))), "client_order_id");
    assert_string_equal(broken(with("client_order_id", json_string("a b"))), "client_order_id");
    assert_string_equal(broken(with("client_order_id", json_string("A-z_0.9:x"))), "");
    assert_string_equal(broken(with("client_order_id", json_string("订单"))), "client_order_id");
    assert_string_equal(broken(with("sku_id", json_string("sku/1"))), "sku_id");
    assert_string_equal(broken(with("sku_id", repeat("s", 65))), "sku_id");
}

static void room_must_match_the_token(void **state)
{
    (void)state;
    assert_string_equal(broken(with("room_id", json_string("r2"))), "room_id");
    assert_string_equal(broken(with("room_id", json_string("r1"))), "");
}

static void qty_bounds(void **state)
{
    (void)state;
    json_t *m;
    assert_string_equal(broken(with("qty", json_integer(0))), "qty");
    m = with("qty", json_integer(1));
    json_object_set_new(m, "amount", json_integer(19900));
    assert_string_equal(broken(m), "");
    m = with("qty", json_integer(999));
    json_object_set_new(m, "amount", json_integer(999LL * 19900));
    assert_string_equal(broken(m), "");
    assert_string_equal(broken(with("qty", json_integer(1000))), "qty");
    assert_string_equal(broken(with("qty", json_integer(-1))), "qty");
    assert_string_equal(broken(with("qty", json_real(2.0))), "qty");
    assert_string_equal(broken(with("qty", json_string("2"))), "qty");
}

static void prices_and_amount(void **state)
{
    (void)state;
    json_t *m;
    assert_string_equal(broken(with("unit_price", json_integer(0))), "unit_price");
    m = with("unit_price", json_integer(1));
    json_object_set_new(m, "amount", json_integer(2));
    assert_string_equal(broken(m), "");
    assert_string_equal(broken(with("unit_price", json_integer(LG_MONEY_MAX + 1))), "unit_price");
    assert_string_equal(broken(with("amount", json_integer(39799))), "amount");
    assert_string_equal(broken(with("amount", json_integer(39801))), "amount");
    assert_string_equal(broken(with("amount", json_integer(-1))), "amount");
    assert_string_equal(broken(with("amount", json_real(39800.0))), "amount");
    /* An overflowing product can never equal the amount. */
    m = with("unit_price", json_integer(LG_MONEY_MAX));
    json_object_set_new(m, "qty", json_integer(999));
    json_object_set_new(m, "amount", json_integer(LG_MONEY_MAX));
    assert_string_equal(broken(m), "amount");
}

static void a_coupon_leaves_the_discount_to_the_validator(void **state)
{
    (void)state;
    json_t *m = with("coupon_id", json_string("cp-1"));
    json_object_set_new(m, "amount", json_integer(30000));
    assert_string_equal(broken(m), "");
    m = with("coupon_id", json_string("cp-1"));
    json_object_set_new(m, "amount", json_integer(0));
    assert_string_equal(broken(m), "");
    m = with("coupon_id", json_string("cp-1"));
    json_object_set_new(m, "amount", json_integer(-5));
    assert_string_equal(broken(m), "amount");
    assert_string_equal(broken(with("coupon_id", json_string("bad coupon"))), "coupon_id");
    assert_string_equal(broken(with("coupon_id", json_integer(7))), "coupon_id");
    assert_string_equal(broken(with("coupon_id", NULL)), "");
}

static void currency_and_payment_method(void **state)
{
    (void)state;
    assert_string_equal(broken(with("currency", json_string("USD"))), "currency");
    assert_string_equal(broken(with("currency", json_string("cny"))), "currency");
    const char *ok[] = {"alipay", "wechat_pay", "card", "cod"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(broken(with("payment_method", json_string(ok[i]))), "");
    assert_string_equal(broken(with("payment_method", json_string("paypal"))), "payment_method");
    assert_string_equal(broken(with("payment_method", json_string("Alipay"))), "payment_method");
}

static void every_required_field_missing_null_or_wrongly_typed(void **state)
{
    (void)state;
    const char *top[] = {"client_order_id", "room_id",  "sku_id",         "qty",    "unit_price",
                         "amount",          "currency", "payment_method", "address"};
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        assert_string_equal(broken(with(top[i], NULL)), top[i]);
        assert_string_equal(broken(with(top[i], json_null())), top[i]);
        assert_string_equal(broken(with(top[i], json_true())), top[i]);
    }
    const char *addr[] = {"name", "phone", "province", "city", "detail"};
    for (size_t i = 0; i < sizeof(addr) / sizeof(addr[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "address.%s", addr[i]);
        assert_string_equal(broken(with_addr(addr[i], NULL)), path);
        assert_string_equal(broken(with_addr(addr[i], json_null())), path);
        assert_string_equal(broken(with_addr(addr[i], json_integer(5))), path);
    }
    assert_string_equal(broken(with("address", json_string("杭州"))), "address");
}

static void address_lengths_count_characters(void **state)
{
    (void)state;
    assert_string_equal(broken(with_addr("name", repeat("张", 50))), "");
    assert_string_equal(broken(with_addr("name", repeat("张", 51))), "address.name");
    assert_string_equal(broken(with_addr("name", repeat("a", 50))), "");
    assert_string_equal(broken(with_addr("name", repeat("a", 51))), "address.name");
    assert_string_equal(broken(with_addr("name", json_string(""))), "address.name");
    assert_string_equal(broken(with_addr("name", json_string("张"))), "");
    assert_string_equal(broken(with_addr("province", repeat("省", 32))), "");
    assert_string_equal(broken(with_addr("province", repeat("省", 33))), "address.province");
    assert_string_equal(broken(with_addr("province", json_string(""))), "address.province");
    assert_string_equal(broken(with_addr("city", repeat("市", 32))), "");
    assert_string_equal(broken(with_addr("city", repeat("市", 33))), "address.city");
    assert_string_equal(broken(with_addr("city", json_string(""))), "address.city");
    assert_string_equal(broken(with_addr("district", repeat("区", 32))), "");
    assert_string_equal(broken(with_addr("district", repeat("区", 33))), "address.district");
    assert_string_equal(broken(with_addr("district", json_string(""))), "");
    assert_string_equal(broken(with_addr("district", NULL)), "");
    assert_string_equal(broken(with_addr("district", json_null())), "");
    assert_string_equal(broken(with_addr("district", json_integer(1))), "address.district");
    assert_string_equal(broken(with_addr("detail", repeat("路", 200))), "");
    assert_string_equal(broken(with_addr("detail", repeat("路", 201))), "address.detail");
    assert_string_equal(broken(with_addr("detail", json_string(""))), "address.detail");
    /* A 4-byte character counts as one. */
    assert_string_equal(broken(with_addr("name", repeat("\xF0\x9F\x98\x80", 50))), "");
}

static void phone_numbers(void **state)
{
    (void)state;
    const char *ok[] = {"13800138000", "19999999999", "13000000000", "15912345678"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(broken(with_addr("phone", json_string(ok[i]))), "");
    const char *bad[] = {
        "12800138000", "10800138000", "23800138000",  "1380013800",   "138001380000",
        "1380013800a", "+8613800138", " 13800138000", "138-0013-800", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(broken(with_addr("phone", json_string(bad[i]))), "address.phone");
    assert_string_equal(broken(with_addr("phone", json_integer(13800138000LL))), "address.phone");
}

/* Whatever check trips first (type, length, characters, prefix), the
 * client reads the one rule. */
static void one_phone_message(void **state)
{
    (void)state;
    static const char *const want =
        "address.phone must be a mainland mobile number: 1, then 3-9, then 9 digits";
    json_t *bad[] = {json_string("12800138000"),
                     json_string("1380013800"),
                     json_string("138001380000"),
                     json_string(""),
                     json_string("1380013800a"),
                     json_string("\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8\x80"),
                     json_stringn("1380013800\0", 11),
                     json_integer(13800138000LL),
                     json_null(),
                     json_array()};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *m = with_addr("phone", bad[i]);
        struct lg_field_error err;
        struct lg_order o;
        memset(&err, 0, sizeof(err));
        assert_int_equal(lg_order_parse(m, "r1", &o, &err), -1);
        assert_string_equal(err.field, "address.phone");
        assert_string_equal(err.message, want);
        json_decref(m);
    }
    json_t *m = with_addr("phone", NULL); /* absent */
    struct lg_field_error err;
    struct lg_order o;
    memset(&err, 0, sizeof(err));
    assert_int_equal(lg_order_parse(m, "r1", &o, &err), -1);
    assert_string_equal(err.message, want);
    json_decref(m);
}

static void postal_codes(void **state)
{
    (void)state;
    assert_string_equal(broken(with_addr("postal_code", json_string("000000"))), "");
    assert_string_equal(broken(with_addr("postal_code", NULL)), "");
    assert_string_equal(broken(with_addr("postal_code", json_null())), "");
    assert_string_equal(broken(with_addr("postal_code", json_string(""))), "");
    const char *bad[] = {"31000", "3100000", "31000a", "３１００００", " 31000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(broken(with_addr("postal_code", json_string(bad[i]))),
                            "address.postal_code");
    assert_string_equal(broken(with_addr("postal_code", json_integer(310000))),
                        "address.postal_code");
}

static void invalid_utf8_and_control_characters(void **state)
{
    (void)state;
    assert_string_equal(broken(with_addr("name", json_stringn_nocheck("\xC3\x28", 2))),
                        "address.name");
    assert_string_equal(broken(with_addr("detail", json_stringn_nocheck("ab\xED\xA0\x80", 5))),
                        "address.detail"); /* a surrogate */
    assert_string_equal(broken(with_addr("city", json_stringn_nocheck("\xE6\x9D", 2))),
                        "address.city"); /* truncated */
    assert_string_equal(broken(with_addr("province", json_stringn_nocheck("\xC0\xAF", 2))),
                        "address.province"); /* overlong */
    assert_string_equal(broken(with_addr("name", json_string("张\x01三"))), "address.name");
    assert_string_equal(broken(with_addr("detail", json_string("line\nbreak"))), "address.detail");
    assert_string_equal(broken(with_addr("detail", json_string("tab\there"))), "address.detail");
    assert_string_equal(broken(with_addr("detail", json_string("del\x7f"))), "address.detail");
    assert_string_equal(broken(with_addr("detail", json_string("c1\xC2\x85"))), "address.detail");
    assert_string_equal(broken(with_addr("detail", json_stringn("nul\0x", 5))), "address.detail");
    assert_string_equal(broken(with_addr("detail", json_string("ok\xC2\xA0space"))), "");
}

static void the_first_broken_field_in_contract_order_is_named(void **state)
{
    (void)state;
    json_t *m = valid_order();
    json_object_set_new(m, "qty", json_integer(0));
    json_object_set_new(json_object_get(m, "address"), "phone", json_string("1"));
    assert_string_equal(broken(m), "qty");
    m = valid_order();
    json_object_set_new(m, "payment_method", json_string("x"));
    json_object_set_new(m, "coupon_id", json_integer(3));
    assert_string_equal(broken(m), "payment_method");
    m = valid_order();
    json_object_set_new(m, "coupon_id", json_integer(3));
    json_object_set_new(json_object_get(m, "address"), "phone", json_string("1"));
    assert_string_equal(broken(m), "coupon_id");
    m = valid_order();
    json_object_set_new(m, "sku_id", json_string(""));
    json_object_set_new(m, "room_id", json_string("r9"));
    assert_string_equal(broken(m), "room_id");
}

static void unknown_fields_are_ignored(void **state)
{
    (void)state;
    json_t *m = with("gift_wrap", json_true());
    json_object_set_new(json_object_get(m, "address"), "floor", json_integer(3));
    assert_string_equal(broken(m), "");
}

static void payment_bits(void **state)
{
    (void)state;
    assert_int_equal(lg_order_payment_bit("alipay"), LG_PAY_ALIPAY);
    assert_int_equal(lg_order_payment_bit("wechat_pay"), LG_PAY_WECHAT_PAY);
    assert_int_equal(lg_order_payment_bit("card"), LG_PAY_CARD);
    assert_int_equal(lg_order_payment_bit("cod"), LG_PAY_COD);
    assert_int_equal(lg_order_payment_bit("cash"), 0);
    assert_int_equal(LG_PAY_ALL, LG_PAY_ALIPAY | LG_PAY_WECHAT_PAY | LG_PAY_CARD | LG_PAY_COD);
    char list[64];
    lg_order_payment_list(list, sizeof(list), " or ");
    assert_string_equal(list, "alipay, wechat_pay, card or cod");
    lg_order_payment_list(list, sizeof(list), ", ");
    assert_string_equal(list, "alipay, wechat_pay, card, cod");
    lg_order_payment_list(list, 10, ", "); /* truncated, still terminated */
    assert_string_equal(list, "alipay, w");
    struct lg_field_error err;
    struct lg_order o;
    json_t *m = with("payment_method", json_string("paypal"));
    assert_int_equal(lg_order_parse(m, "r1", &o, &err), -1);
    assert_string_equal(err.message, "payment_method must be alipay, wechat_pay, card or cod");
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_example_passes_and_is_filled_in),
        cmocka_unit_test(ids),
        cmocka_unit_test(room_must_match_the_token),
        cmocka_unit_test(qty_bounds),
        cmocka_unit_test(prices_and_amount),
        cmocka_unit_test(a_coupon_leaves_the_discount_to_the_validator),
        cmocka_unit_test(currency_and_payment_method),
        cmocka_unit_test(every_required_field_missing_null_or_wrongly_typed),
        cmocka_unit_test(address_lengths_count_characters),
        cmocka_unit_test(phone_numbers),
        cmocka_unit_test(one_phone_message),
        cmocka_unit_test(postal_codes),
        cmocka_unit_test(invalid_utf8_and_control_characters),
        cmocka_unit_test(the_first_broken_field_in_contract_order_is_named),
        cmocka_unit_test(unknown_fields_are_ignored),
        cmocka_unit_test(payment_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
