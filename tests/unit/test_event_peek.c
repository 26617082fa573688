/* Unit tests of rules/event_peek.c: the top-level string it reads from a bus
 * event, the cases where it must give up (so the gateway parses in full),
 * the bound of its output on both sides, and agreement with jansson on the
 * events the two publishers (the gateway's order.update, pay_timeout.lua's
 * cjson) write. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rules/backoffice_rules.h"
#include "rules/event_peek.h"

static int peek(const char *text, const char *key, char *out, size_t outsz)
{
    return lg_event_peek(text, strlen(text), key, out, outsz);
}

static void reads_a_top_level_string(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(peek("{\"room\":\"r1\",\"user\":\"u-9\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "r1");
    assert_int_equal(peek("{\"room\":\"r1\",\"user\":\"u-9\"}", "user", out, sizeof(out)), 0);
    assert_string_equal(out, "u-9");
    assert_int_equal(peek(" {\n \"room\" :\t\"r2\" } ", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "r2");
    assert_int_equal(peek("{\"room\":\"\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* A key that only starts or ends like the one asked for is another key. */
    assert_int_equal(
        peek("{\"rooms\":\"x\",\"a_room\":\"y\",\"room\":\"r\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "r");
    /* What follows the object is not read. */
    assert_int_equal(peek("{\"room\":\"r\"} {\"room\":\"s\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "r");
}

static void skips_nested_members_and_strings(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(peek("{\"x\":{\"room\":\"z\"},\"room\":\"r\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "r");
    assert_int_equal(
        peek("{\"x\":[\"room\",{\"room\":\"z\"}],\"room\":\"r\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "r");
    /* A value spelling a member, escaped, and braces inside strings. */
    assert_int_equal(peek("{\"buyer\":\"a\\\",\\\"room\\\":\\\"z\",\"b\":\"}{]\",\"room\":\"r\"}",
                          "room", out, sizeof(out)),
                     0);
    assert_string_equal(out, "r");
    assert_int_equal(peek("{\"x\":{\"room\":\"z\"}}", "room", out, sizeof(out)), -1);
    assert_string_equal(out, "");
}

static void gives_up_where_a_parser_could_differ(void **state)
{
    (void)state;
    char out[64];
    const char *cases[] = {
        "{\"room\":\"a\",\"room\":\"b\"}", /* twice: a parser keeps one of them */
        "{\"room\":\"a\\\"b\"}",           /* an escaped value */
        "{\"room\":\"a\\/b\"}",            /* cjson writes '/' so */
        "{\"r\\u006fom\":\"a\"}",          /* an escaped key may spell "room" */
        "{\"room\":1}",
        "{\"room\":null}",
        "{\"room\":[\"a\"]}",
        "[\"room\",\"a\"]",
        "\"room\"",
        "",
        "   ",
        "{\"room\":\"a\"",  /* the object does not end */
        "{\"room\":\"a",    /* nor the string */
        "{\"user\":\"u\"}", /* absent */
        "{\"room\" \"a\"}", /* no colon: not a member */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strcpy(out, "stale");
        assert_int_equal(peek(cases[i], "room", out, sizeof(out)), -1);
        assert_string_equal(out, "");
    }
    assert_int_equal(lg_event_peek("{\"room\":\"a\"}", 0, "room", out, sizeof(out)), -1);
    assert_int_equal(peek("{\"room\":\"a\"}", "room", out, 0), -1);
}

static void value_bound_on_both_sides(void **state)
{
    (void)state;
    char out[5];
    assert_int_equal(peek("{\"room\":\"abcd\"}", "room", out, sizeof(out)), 0);
    assert_string_equal(out, "abcd");
    assert_int_equal(peek("{\"room\":\"abcde\"}", "room", out, sizeof(out)), -1);
    assert_string_equal(out, "");
    /* The length is the text's, not a NUL's: a cut text is not an object. */
    assert_int_equal(lg_event_peek("{\"room\":\"abcd\"}", 14, "room", out, sizeof(out)), -1);
}

static void expect_agrees(const char *text, const char *key)
{
    char out[128];
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    const char *want = json_string_value(json_object_get(root, key));
    assert_non_null(want);
    assert_int_equal(peek(text, key, out, sizeof(out)), 0);
    assert_string_equal(out, want);
    json_decref(root);
}

static void agrees_with_jansson_on_both_publishers(void **state)
{
    (void)state;
    struct lg_transition t = {.order_id = "o-1",
                              .room = "room-7",
                              .from = "pending_payment",
                              .to = "paid",
                              .user = "u-42",
                              .client_order_id = "c-1",
                              .sku_id = "sku-1",
                              .priority = "high",
                              .buyer = "张*",
                              .phone = "138****8000",
                              .at_ms = 1700000000000LL,
                              .qty = 2,
                              .amount = 39800};
    json_t *event = lg_backoffice_status_event(&t);
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    assert_non_null(text);
    expect_agrees(text, "room");
    expect_agrees(text, "user");
    free(text);
    /* pay_timeout.lua's cjson.encode: its own key order, '/' escaped. */
    const char *lua = "{\"phone\":\"138****8000\",\"reason\":\"room_deleted\",\"amount\":19900,"
                      "\"buyer\":\"\\u5f20*\",\"client_order_id\":\"c\\/2\",\"qty\":1,"
                      "\"from\":\"pending_payment\",\"status\":\"cancelled\",\"user\":\"u-1\","
                      "\"sku_id\":\"s\",\"priority\":\"normal\",\"order_id\":\"o-2\","
                      "\"at_ms\":1700000000001,\"room\":\"r-3\"}";
    expect_agrees(lua, "room");
    expect_agrees(lua, "user");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_top_level_string),
        cmocka_unit_test(skips_nested_members_and_strings),
        cmocka_unit_test(gives_up_where_a_parser_could_differ),
        cmocka_unit_test(value_bound_on_both_sides),
        cmocka_unit_test(agrees_with_jansson_on_both_publishers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
