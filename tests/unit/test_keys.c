/* Unit tests of the key layout's room-deletion helpers (queue/keys.c):
 * which keys SCAN finds under a room's pattern go before room_delete.lua's
 * last step, which stay for their TTL, and that the pattern and the
 * classification never reach another room's keys. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "keys.h"

static void pattern_names_the_room_only(void **state)
{
    (void)state;
    char buf[LG_KEY_MAX];
    assert_int_equal(lg_key_room_pattern(buf, sizeof(buf), "r1"), (int)strlen("lg:{r1}:*"));
    assert_string_equal(buf, "lg:{r1}:*");
    assert_int_equal(lg_key_room_deleting(buf, sizeof(buf), "r1"), (int)strlen("lg:{r1}:deleting"));
    assert_string_equal(buf, "lg:{r1}:deleting");
    assert_int_equal(lg_key_room_pattern(buf, 6, "r1"), -1); /* does not fit */
}

/* The keys a submit builds, byte for byte as keys.h lays them out, and each
 * on both sides of its buffer's bound. */
static void submit_keys_and_their_bounds(void **state)
{
    (void)state;
    char buf[LG_KEY_MAX];
    const char *idem = "lg:{r1}:idem:u-7/c-9";
    assert_int_equal(lg_key_idem(buf, sizeof(buf), "r1", "u-7", "c-9"), (int)strlen(idem));
    assert_string_equal(buf, idem);
    assert_int_equal(lg_key_idem(buf, strlen(idem) + 1, "r1", "u-7", "c-9"), (int)strlen(idem));
    assert_int_equal(lg_key_idem(buf, strlen(idem), "r1", "u-7", "c-9"), -1);
    assert_int_equal(lg_key_order(buf, sizeof(buf), "r1", "o-1"), (int)strlen("lg:{r1}:order:o-1"));
    assert_string_equal(buf, "lg:{r1}:order:o-1");
    assert_int_equal(lg_key_order(buf, strlen("lg:{r1}:order:o-1"), "r1", "o-1"), -1);
    assert_int_equal(lg_key_user_rate(buf, sizeof(buf), "r1", "u-7"),
                     (int)strlen("lg:{r1}:rate:u-7"));
    assert_string_equal(buf, "lg:{r1}:rate:u-7");
    assert_int_equal(lg_key_stream(buf, sizeof(buf), "r1", true), (int)strlen("lg:{r1}:q:high"));
    assert_string_equal(buf, "lg:{r1}:q:high");
    assert_int_equal(lg_key_stream(buf, sizeof(buf), "r1", false), (int)strlen("lg:{r1}:q:normal"));
    assert_string_equal(buf, "lg:{r1}:q:normal");
    assert_int_equal(lg_key_stats_latency(buf, sizeof(buf), "r1", 1796389973LL),
                     (int)strlen("lg:{r1}:stats:lat:1796389973"));
    assert_string_equal(buf, "lg:{r1}:stats:lat:1796389973");
    assert_int_equal(lg_key_reply_stream(buf, sizeof(buf), "gw-1"),
                     (int)strlen("lg:gw:{gw-1}:replies"));
    assert_string_equal(buf, "lg:gw:{gw-1}:replies");
}

static void catalog_and_buyer_state_go(void **state)
{
    (void)state;
    char key[LG_KEY_MAX];
    lg_key_sku(key, sizeof(key), "r1", "tea");
    assert_true(lg_key_goes_with_room("r1", key));
    lg_key_sku_gate(key, sizeof(key), "r1", "tea");
    assert_true(lg_key_goes_with_room("r1", key));
    lg_key_coupon(key, sizeof(key), "r1", "c5");
    assert_true(lg_key_goes_with_room("r1", key));
    lg_key_coupon_users(key, sizeof(key), "r1", "c5");
    assert_true(lg_key_goes_with_room("r1", key));
    lg_key_user_live(key, sizeof(key), "r1", "u1");
    assert_true(lg_key_goes_with_room("r1", key));
    lg_key_user_rate(key, sizeof(key), "r1", "u1");
    assert_true(lg_key_goes_with_room("r1", key));
    lg_key_stats_latency(key, sizeof(key), "r1", 1700000000);
    assert_true(lg_key_goes_with_room("r1", key));
}

static void orders_and_fixed_keys_stay_for_the_script(void **state)
{
    (void)state;
    char key[LG_KEY_MAX];
    lg_key_order(key, sizeof(key), "r1", "o-1");
    assert_false(lg_key_goes_with_room("r1", key)); /* readable until its TTL */
    lg_key_idem(key, sizeof(key), "r1", "u1", "c-1");
    assert_false(lg_key_goes_with_room("r1", key)); /* a late resubmit stays a duplicate */
    /* the fixed keys go in room_delete.lua's last step, after the rule */
    lg_key_room(key, sizeof(key), "r1");
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_sku_set(key, sizeof(key), "r1");
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_stream(key, sizeof(key), "r1", true);
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_stats(key, sizeof(key), "r1");
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_stats_conns(key, sizeof(key), "r1");
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_pay_due(key, sizeof(key), "r1");
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_room_deleting(key, sizeof(key), "r1");
    assert_false(lg_key_goes_with_room("r1", key));
}

static void another_rooms_keys_never_go(void **state)
{
    (void)state;
    char key[LG_KEY_MAX];
    lg_key_sku(key, sizeof(key), "r10", "tea"); /* a room whose id extends r1's */
    assert_false(lg_key_goes_with_room("r1", key));
    lg_key_sku(key, sizeof(key), "r", "tea");
    assert_false(lg_key_goes_with_room("r1", key));
    assert_false(lg_key_goes_with_room("r1", "lg:{r1}:sku:")); /* a kind with no id */
    assert_false(lg_key_goes_with_room("r1", "lg:{r1}:skus"));
    assert_false(lg_key_goes_with_room("r1", "lg:rooms"));
    assert_false(lg_key_goes_with_room("r1", "lg:oidx:{o-1}"));
    assert_false(lg_key_goes_with_room("r1", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pattern_names_the_room_only),
        cmocka_unit_test(submit_keys_and_their_bounds),
        cmocka_unit_test(catalog_and_buyer_state_go),
        cmocka_unit_test(orders_and_fixed_keys_stay_for_the_script),
        cmocka_unit_test(another_rooms_keys_never_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
