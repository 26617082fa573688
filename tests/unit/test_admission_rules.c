/* Unit tests of the gateway's share of admission: the jitter on
 * retry_after_ms and the local shedding between script refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rules/admission_rules.h"

static void retry_after_is_clamped_then_spread_by_half(void **state)
{
    (void)state;
    /* Below the floor and above the ceiling, before any jitter. */
    assert_int_equal(lg_admission_retry_after(0, 0), LG_RETRY_MIN_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MIN_MS - 1, 0), LG_RETRY_MIN_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MIN_MS, 0), LG_RETRY_MIN_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MIN_MS + 1, 0), LG_RETRY_MIN_MS + 1);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MAX_MS, 0), LG_RETRY_MAX_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MAX_MS + 1, 0), LG_RETRY_MAX_MS);
    /* The spread reaches base + base/2 and no further. */
    assert_int_equal(lg_admission_retry_after(1000, 500), 1500);
    assert_int_equal(lg_admission_retry_after(1000, 501), 1000);
    assert_int_equal(lg_admission_retry_after(1000, 499), 1499);
    /* Different draws give different answers: retries do not come back in step. */
    int seen[501] = {0};
    int distinct = 0;
    for (uint32_t r = 0; r < 5000; r += 7) {
        int64_t v = lg_admission_retry_after(1000, r * 2654435761u);
        assert_true(v >= 1000 && v <= 1500);
        if (!seen[v - 1000]++)
            distinct++;
    }
    assert_true(distinct > 200);
}

static void a_refusal_is_held_briefly_then_redis_is_asked_again(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    assert_int_equal(lg_shed_take_turn(&s, 1000, LG_SHED_NORMAL), 0);
    assert_true(lg_shed_idle(&s, 1000));

    /* The script's last refusal had its turn 2500 ms away, places 10 ms apart. */
    lg_shed_note_busy(&s, 1000, LG_SHED_NORMAL, 2500, "", "10000");
    /* Within the hold: refused locally, each with the next place. */
    assert_int_equal(lg_shed_take_turn(&s, 1000, LG_SHED_NORMAL), 2510);
    assert_int_equal(lg_shed_take_turn(&s, 1000, LG_SHED_NORMAL), 2520);
    assert_int_equal(lg_shed_take_turn(&s, 1009, LG_SHED_NORMAL), 2530 - 9);
    /* A place freed (10 ms): one order goes to the script, the next not. */
    assert_int_equal(lg_shed_take_turn(&s, 1010, LG_SHED_NORMAL), 0);
    assert_int_equal(lg_shed_take_turn(&s, 1010, LG_SHED_NORMAL), 2540 - 10);
    /* Credit piles up to LG_SHED_CREDIT_MAX places at most. */
    int sent = 0;
    for (int i = 0; i < 100; i++)
        sent += lg_shed_take_turn(&s, 1000 + LG_SHED_HOLD_MS - 1, LG_SHED_NORMAL) == 0;
    assert_int_equal(sent, LG_SHED_CREDIT_MAX);
    /* Refused for another reason (Redis behind): a turn, never credit. */
    assert_int_not_equal(lg_shed_turn_only(&s, 1000 + LG_SHED_HOLD_MS - 1, LG_SHED_NORMAL), 0);
    /* At the hold's end the script decides again. */
    assert_int_equal(lg_shed_take_turn(&s, 1000 + LG_SHED_HOLD_MS, LG_SHED_NORMAL), 0);
    assert_true(lg_shed_idle(&s, 1000 + LG_SHED_HOLD_MS));
    assert_false(lg_shed_idle(&s, 1000 + LG_SHED_HOLD_MS - 1));
    /* A normal refusal says nothing about the high queue. */
    assert_int_equal(lg_shed_take_turn(&s, 1000, LG_SHED_HIGH), 0);
}

static void a_new_refusal_never_moves_the_line_back(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 3000, "", "1000");
    assert_int_equal(lg_shed_take_turn(&s, 0, LG_SHED_NORMAL), 3001);
    /* The script's next answer gives an earlier turn (its line decayed):
     * the turns handed out already stay handed out. */
    lg_shed_note_busy(&s, 10, LG_SHED_NORMAL, 500, "", "1000");
    assert_int_equal(lg_shed_take_turn(&s, 10, LG_SHED_NORMAL), 2992);
    /* Unknown place spacing ("0", junk, none): the same turn again. */
    lg_shed_note_busy(&s, 20, LG_SHED_NORMAL, 100, "", "0");
    assert_int_equal(lg_shed_take_turn(&s, 20, LG_SHED_NORMAL), 2982);
    lg_shed_note_busy(&s, 20, LG_SHED_NORMAL, 100, "", "x");
    assert_int_equal(lg_shed_take_turn(&s, 20, LG_SHED_NORMAL), 2982);
    lg_shed_note_busy(&s, 20, LG_SHED_NORMAL, 100, "", NULL);
    assert_int_equal(lg_shed_take_turn(&s, 20, LG_SHED_NORMAL), 2982);
}

static void a_short_retry_holds_no_longer_than_itself(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 30, "", "0");
    assert_int_equal(lg_shed_take_turn(&s, 29, LG_SHED_NORMAL), 1);
    assert_int_equal(lg_shed_take_turn(&s, 30, LG_SHED_NORMAL), 0);
    /* A retry of 0 still holds a millisecond, and answers at least 1. */
    lg_shed_note_busy(&s, 100, LG_SHED_NORMAL, 0, "", "0");
    assert_int_equal(lg_shed_take_turn(&s, 100, LG_SHED_NORMAL), 1);
    assert_int_equal(lg_shed_take_turn(&s, 101, LG_SHED_NORMAL), 0);
}

static void a_high_refusal_also_stands_for_normal_orders(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    lg_shed_note_busy(&s, 0, LG_SHED_HIGH, 800, "100000", "20000");
    assert_int_equal(lg_shed_take_turn(&s, 10, LG_SHED_HIGH), 810);
    assert_int_equal(lg_shed_take_turn(&s, 10, LG_SHED_NORMAL), 810);
    /* Not held: nothing to refuse with. */
    assert_int_equal(lg_shed_turn_only(&s, 800, LG_SHED_NORMAL), 0);
}

static void priority_follows_the_threshold_the_script_sent(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    /* Nothing heard yet: only vip is high. */
    assert_int_equal(lg_shed_priority_of(&s, 99999999, false), LG_SHED_NORMAL);
    assert_int_equal(lg_shed_priority_of(&s, 1, true), LG_SHED_HIGH);
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 100, "100000", "0");
    assert_int_equal(lg_shed_priority_of(&s, 99999, false), LG_SHED_NORMAL);
    assert_int_equal(lg_shed_priority_of(&s, 100000, false), LG_SHED_HIGH);
    /* A room without a threshold, or a threshold that is not a number. */
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 100, "", "0");
    assert_int_equal(lg_shed_priority_of(&s, 100000, false), LG_SHED_NORMAL);
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 100, "12x", "0");
    assert_int_equal(lg_shed_priority_of(&s, 100000, false), LG_SHED_NORMAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_is_clamped_then_spread_by_half),
        cmocka_unit_test(a_refusal_is_held_briefly_then_redis_is_asked_again),
        cmocka_unit_test(a_new_refusal_never_moves_the_line_back),
        cmocka_unit_test(a_short_retry_holds_no_longer_than_itself),
        cmocka_unit_test(a_high_refusal_also_stands_for_normal_orders),
        cmocka_unit_test(priority_follows_the_threshold_the_script_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
