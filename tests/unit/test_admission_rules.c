/* Unit tests of the gateway's share of admission: the jitter on
 * retry_after_ms and the local shedding between script refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rules/admission_rules.h"

static void retry_after_is_clamped_then_spread_by_a_tenth(void **state)
{
    (void)state;
    /* Below the floor and above the ceiling, before any jitter. */
    assert_int_equal(lg_admission_retry_after(0, 0), LG_RETRY_MIN_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MIN_MS - 1, 0), LG_RETRY_MIN_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MIN_MS, 0), LG_RETRY_MIN_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MIN_MS + 1, 0), LG_RETRY_MIN_MS + 1);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MAX_MS, 0), LG_RETRY_MAX_MS);
    assert_int_equal(lg_admission_retry_after(LG_RETRY_MAX_MS + 1, 0), LG_RETRY_MAX_MS);
    /* The spread reaches base + base/10 and no further. */
    assert_int_equal(lg_admission_retry_after(1000, 100), 1100);
    assert_int_equal(lg_admission_retry_after(1000, 101), 1000);
    assert_int_equal(lg_admission_retry_after(1000, 99), 1099);
    /* Different draws give different answers: retries do not come back in step. */
    int seen[101] = {0};
    int distinct = 0;
    for (uint32_t r = 0; r < 5000; r += 7) {
        int64_t v = lg_admission_retry_after(1000, r * 2654435761u);
        assert_true(v >= 1000 && v <= 1100);
        if (!seen[v - 1000]++)
            distinct++;
    }
    assert_true(distinct > 80);
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
    /* At the hold's end one order (the probe) goes to the script; the rest
     * are still refused with turns until its answer comes ... */
    const int64_t end = 1000 + LG_SHED_HOLD_MS;
    assert_int_equal(lg_shed_take_turn(&s, end, LG_SHED_NORMAL), 0);
    assert_int_not_equal(lg_shed_take_turn(&s, end + 1, LG_SHED_NORMAL), 0);
    assert_int_not_equal(lg_shed_turn_only(&s, end + 1, LG_SHED_NORMAL), 0);
    assert_false(lg_shed_idle(&s, end + LG_SHED_PROBE_MS - 1));
    /* ... or for LG_SHED_PROBE_MS at most (an answer lost): another probe. */
    assert_int_not_equal(lg_shed_take_turn(&s, end + LG_SHED_PROBE_MS - 1, LG_SHED_NORMAL), 0);
    assert_int_equal(lg_shed_take_turn(&s, end + LG_SHED_PROBE_MS, LG_SHED_NORMAL), 0);
    assert_true(lg_shed_idle(&s, end + LG_SHED_PROBE_MS));
    /* The probe admitted: the room is open again. */
    lg_shed_note_open(&s, LG_SHED_NORMAL);
    assert_int_equal(lg_shed_take_turn(&s, end + 2, LG_SHED_NORMAL), 0);
    assert_int_equal(lg_shed_take_turn(&s, end + 2, LG_SHED_NORMAL), 0);
    assert_int_equal(lg_shed_turn_only(&s, end + 2, LG_SHED_NORMAL), 0);
    assert_true(lg_shed_idle(&s, end + 2));
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
    assert_int_equal(lg_shed_take_turn(&s, 30, LG_SHED_NORMAL), 0); /* the probe */
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
    /* A high order admitted opens the high queue only; a normal one both. */
    lg_shed_note_open(&s, LG_SHED_HIGH);
    assert_int_equal(lg_shed_take_turn(&s, 10, LG_SHED_HIGH), 0);
    assert_int_not_equal(lg_shed_take_turn(&s, 10, LG_SHED_NORMAL), 0);
    lg_shed_note_busy(&s, 20, LG_SHED_HIGH, 800, "100000", "20000");
    lg_shed_note_open(&s, LG_SHED_NORMAL);
    assert_int_equal(lg_shed_take_turn(&s, 20, LG_SHED_HIGH), 0);
    assert_int_equal(lg_shed_take_turn(&s, 20, LG_SHED_NORMAL), 0);
    /* Not refused: nothing to refuse with. */
    assert_int_equal(lg_shed_turn_only(&s, 20, LG_SHED_NORMAL), 0);
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
    /* Learnt from admissions: the lowest amount admitted high. */
    struct lg_shed l = {0};
    lg_shed_note_high_amount(&l, 1000, 50000);
    assert_int_equal(lg_shed_priority_of(&l, 49999, false), LG_SHED_NORMAL);
    assert_int_equal(lg_shed_priority_of(&l, 50000, false), LG_SHED_HIGH);
    lg_shed_note_high_amount(&l, 1000, 70000); /* says nothing new */
    assert_int_equal(lg_shed_priority_of(&l, 50000, false), LG_SHED_HIGH);
    lg_shed_note_high_amount(&l, 1000, 30000);
    assert_int_equal(lg_shed_priority_of(&l, 30000, false), LG_SHED_HIGH);
    assert_int_equal(lg_shed_priority_of(&l, 29999, false), LG_SHED_NORMAL);
    /* Kept a while after the last thing learnt, then it may go. */
    assert_false(lg_shed_idle(&l, 1000 + LG_SHED_LEARNT_KEEP_MS - 1));
    assert_true(lg_shed_idle(&l, 1000 + LG_SHED_LEARNT_KEEP_MS));
    /* The script's word replaces what was learnt. */
    lg_shed_note_busy(&l, 0, LG_SHED_NORMAL, 100, "100000", "0");
    assert_int_equal(lg_shed_priority_of(&l, 99999, false), LG_SHED_NORMAL);
    /* A room without a threshold, or a threshold that is not a number. */
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 100, "", "0");
    assert_int_equal(lg_shed_priority_of(&s, 100000, false), LG_SHED_NORMAL);
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 100, "12x", "0");
    assert_int_equal(lg_shed_priority_of(&s, 100000, false), LG_SHED_NORMAL);
}

static void a_block_hands_out_the_places_the_script_kept_then_asks_again(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    assert_int_equal(lg_shed_reserve(&s), LG_SHED_RESERVE_MIN);
    /* Refused with the turn 2000 ms away, places 10 ms apart, and 8 places
     * kept for this gateway from 2010 ms on. */
    lg_shed_note_busy(&s, 1000, LG_SHED_NORMAL, 2000, "", "10000");
    lg_shed_note_block(&s, 1000, LG_SHED_NORMAL, "2010", "8");
    assert_int_equal(lg_shed_take_turn(&s, 1000, LG_SHED_NORMAL), 2010);
    /* No credit for new submits while the block lasts, though places free. */
    assert_int_equal(lg_shed_take_turn(&s, 1500, LG_SHED_NORMAL), 2020 - 500);
    assert_int_equal(lg_shed_take_turn(&s, 1500, LG_SHED_NORMAL), 2030 - 500);
    assert_int_equal(lg_shed_take_turn(&s, 1500, LG_SHED_NORMAL), 2040 - 500);
    /* Down to a quarter of the reservation (16 / 4 = 4 left): one order
     * goes to the script for the next block, once; the turns go on, past
     * the block's end until the next block comes. */
    assert_int_equal(lg_shed_take_turn(&s, 1500, LG_SHED_NORMAL), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(lg_shed_take_turn(&s, 1500, LG_SHED_NORMAL), 2050 + 10 * i - 500);
    assert_int_equal(s.block_left[LG_SHED_NORMAL], 0);
    /* The hold still ends on time. */
    assert_int_equal(lg_shed_take_turn(&s, 1000 + LG_SHED_HOLD_MS, LG_SHED_NORMAL), 0);
    /* The next block: the reservation doubled, the last one having run out. */
    lg_shed_note_busy(&s, 1600, LG_SHED_NORMAL, 3000, "", "10000");
    lg_shed_note_block(&s, 1600, LG_SHED_NORMAL, "3000", "100");
    assert_int_equal(lg_shed_reserve(&s), 2 * LG_SHED_RESERVE_MIN);
    for (int i = 0; i < 40; i++)
        assert_int_equal(lg_shed_take_turn(&s, 1600, LG_SHED_NORMAL), 3000 + 10 * i);
    /* Redis behind: a place of the block too. */
    assert_int_equal(lg_shed_turn_only(&s, 1600, LG_SHED_NORMAL), 3400);
    /* A block left over when the next comes: what was used and a quarter. */
    lg_shed_note_busy(&s, 2700, LG_SHED_NORMAL, 3000, "", "10000");
    lg_shed_note_block(&s, 2700, LG_SHED_NORMAL, "3000", "64");
    assert_int_equal(lg_shed_reserve(&s), 41 + 41 / 4);
    /* Never below the minimum, never above the maximum. */
    lg_shed_note_busy(&s, 2800, LG_SHED_NORMAL, 3000, "", "10000");
    lg_shed_note_block(&s, 2800, LG_SHED_NORMAL, "3000", "64");
    assert_int_equal(lg_shed_reserve(&s), LG_SHED_RESERVE_MIN);
    s.reserve = LG_SHED_RESERVE_MAX;
    s.block_left[LG_SHED_NORMAL] = 0;
    lg_shed_note_busy(&s, 2900, LG_SHED_NORMAL, 3000, "", "10000");
    lg_shed_note_block(&s, 2900, LG_SHED_NORMAL, "3000", "99999");
    assert_int_equal(lg_shed_reserve(&s), LG_SHED_RESERVE_MAX);
    assert_int_equal(s.block_left[LG_SHED_NORMAL], LG_SHED_RESERVE_MAX);
}

static void zero_junk_or_unspaced_blocks_are_no_block(void **state)
{
    (void)state;
    struct lg_shed s = {0};
    /* "0" places, junk, none, or no known spacing: no block. */
    const char *none[][2] = {{"0", "0"}, {"100", "0"}, {"0", "5"}, {"x", "5"}, {NULL, NULL}};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 2500, "", "10000");
        lg_shed_note_block(&s, 0, LG_SHED_NORMAL, none[i][0], none[i][1]);
        assert_false(s.has_block[LG_SHED_NORMAL]);
    }
    lg_shed_note_busy(&s, 0, LG_SHED_NORMAL, 2500, "", "0");
    lg_shed_note_block(&s, 0, LG_SHED_NORMAL, "100", "5");
    assert_false(s.has_block[LG_SHED_NORMAL]);
}

static void a_client_back_at_its_turn_is_known(void **state)
{
    (void)state;
    struct lg_turns t = {0};
    uint64_t a = lg_turns_id("c-a"), b = lg_turns_id("c-b");
    assert_int_not_equal(a, 0);
    assert_int_not_equal(a, b);
    assert_false(lg_turns_take(&t, a, 0));
    lg_turns_note(&t, a, 1000);
    /* Too early: a new submit; the turn is kept. */
    assert_false(lg_turns_take(&t, a, 1000 - LG_TURN_EARLY_MS - 1));
    assert_true(lg_turns_take(&t, a, 1000 - LG_TURN_EARLY_MS));
    /* Used up. */
    assert_false(lg_turns_take(&t, a, 5000));
    /* Late is still its turn; another id's turn is not. */
    lg_turns_note(&t, a, 1000);
    assert_false(lg_turns_take(&t, b, 9000));
    assert_true(lg_turns_take(&t, a, 9000));
    /* A new turn replaces the old one of the same id. */
    lg_turns_note(&t, a, 1000);
    lg_turns_note(&t, a, 3000);
    assert_false(lg_turns_take(&t, a, 2000));
    assert_true(lg_turns_take(&t, a, 3000));
    /* Full: the oldest turn makes room, the others stay. */
    char id[16];
    for (int i = 0; i < LG_TURNS_MAX; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        lg_turns_note(&t, lg_turns_id(id), 100);
    }
    lg_turns_note(&t, b, 100);
    assert_false(lg_turns_take(&t, lg_turns_id("c-0"), 100));
    assert_true(lg_turns_take(&t, lg_turns_id("c-1"), 100));
    assert_true(lg_turns_take(&t, b, 100));
}

static void refusals_are_counted_per_order_and_back_the_lag_retry_off(void **state)
{
    (void)state;
    struct lg_turns t = {0};
    uint64_t a = lg_turns_id("c-a");
    assert_int_equal(lg_turns_refused(&t, a), 0);
    lg_turns_note(&t, a, 100);
    assert_int_equal(lg_turns_refused(&t, a), 1);
    assert_true(lg_turns_take(&t, a, 100)); /* back at its turn: still counted */
    assert_int_equal(lg_turns_refused(&t, a), 1);
    lg_turns_note(&t, a, 200);
    assert_int_equal(lg_turns_refused(&t, a), 2);
    for (int i = 0; i < 300; i++)
        lg_turns_note(&t, a, 300);
    assert_int_equal(lg_turns_refused(&t, a), 255);

    /* A quarter to a half of the wait, doubled per earlier refusal. */
    assert_int_equal(lg_admission_lag_retry(4000, 0, 0), 1000);
    assert_int_equal(lg_admission_lag_retry(4000, 0, 1000), 2000);
    assert_int_equal(lg_admission_lag_retry(4000, 0, 1001), 1000);
    assert_int_equal(lg_admission_lag_retry(4000, 1, 0), 2000);
    assert_int_equal(lg_admission_lag_retry(4000, 3, 0), 8000);
    assert_int_equal(lg_admission_lag_retry(4000, 3, 8000), 16000);
    /* Capped at LG_RETRY_MAX_MS, however often refused; never below the floor. */
    assert_int_equal(lg_admission_lag_retry(4000, 255, 0), LG_RETRY_MAX_MS);
    assert_int_equal(lg_admission_lag_retry(4000, 6, 0), LG_RETRY_MAX_MS);
    assert_int_equal(lg_admission_lag_retry(4000, 5, 0), 32000);
    assert_int_equal(lg_admission_lag_retry(0, 0, 0), LG_RETRY_MIN_MS);
}

static void high_value_orders_have_a_connection_cap_of_their_own(void **state)
{
    (void)state;
    /* a normal order counts every unanswered submit: refused at the cap */
    assert_false(lg_admission_conn_full(31, 0, 32, false));
    assert_true(lg_admission_conn_full(32, 0, 32, false));
    assert_true(lg_admission_conn_full(32, 5, 32, false));
    /* a high-value one only the high-value ones */
    assert_false(lg_admission_conn_full(32, 0, 32, true));
    assert_false(lg_admission_conn_full(50, 31, 32, true));
    assert_true(lg_admission_conn_full(50, 32, 32, true));
    assert_true(lg_admission_conn_full(1, 1, 1, true));
    assert_false(lg_admission_conn_full(0, 0, 1, false));
}

static void a_client_at_its_turn_passes_the_lag_only_up_to_twice_the_bound(void **state)
{
    (void)state;
    /* a new submit: refused past the bound */
    assert_false(lg_admission_lagging(1000, 1000, false, false));
    assert_true(lg_admission_lagging(1001, 1000, false, false));
    /* back at its turn: let through up to twice the bound, not beyond */
    assert_false(lg_admission_lagging(1001, 1000, false, true));
    assert_false(lg_admission_lagging(2000, 1000, false, true));
    assert_true(lg_admission_lagging(2001, 1000, false, true));
    assert_true(lg_admission_lagging(14000, 1000, false, true));
    /* a high-value order never, however far behind */
    assert_false(lg_admission_lagging(14000, 1000, true, false));
    assert_false(lg_admission_lagging(14000, 1000, true, true));
    assert_false(lg_admission_lagging(0, 1000, false, false));
}

static void a_high_value_batch_that_waited_may_have_twice_the_calls_in_flight(void **state)
{
    (void)state;
    assert_int_equal(lg_admission_call_slots(2, false, 0), 2);
    assert_int_equal(lg_admission_call_slots(2, false, 10000), 2);
    /* high: twice as many once it has waited LG_HIGH_EXTRA_CALL_MS */
    assert_int_equal(lg_admission_call_slots(2, true, LG_HIGH_EXTRA_CALL_MS - 1), 2);
    assert_int_equal(lg_admission_call_slots(2, true, LG_HIGH_EXTRA_CALL_MS), 4);
    assert_int_equal(lg_admission_call_slots(1, true, 0), 1);
    assert_int_equal(lg_admission_call_slots(1, true, 100), 2);
    assert_int_equal(lg_admission_call_slots(64, true, 100), 128);
}

static void the_line_moves_at_the_faster_of_the_measured_and_the_held_rate(void **state)
{
    (void)state;
    /* The burst measured on 2026-12-03: 8,436 orders held, the oldest
     * 1,005 ms old, 1.958 a ms measured while they were read. */
    double rate = lg_admission_line_rate(1.958, 8436, 1005, 0);
    assert_true(rate > 8.39 && rate < 8.40);
    /* A steady flood: the held orders over the oldest's age are the lower,
     * and the measured rate stands; equal, either. */
    assert_true(lg_admission_line_rate(9.0, 4000, 1000, 0) == 9.0);
    assert_true(lg_admission_line_rate(4.0, 4000, 1000, 0) == 4.0);
    /* One order either side of the measured rate. */
    assert_true(lg_admission_line_rate(4.0, 4001, 1000, 0) > 4.0);
    assert_true(lg_admission_line_rate(4.0, 3999, 1000, 0) == 4.0);
    /* Nothing held, or no age to divide by: the measured rate. */
    assert_true(lg_admission_line_rate(3.0, 0, 1000, 0) == 3.0);
    assert_true(lg_admission_line_rate(3.0, 5000, 0, 0) == 3.0);
    assert_true(lg_admission_line_rate(3.0, -1, 1000, 0) == 3.0);
    /* The held orders count only past the bound on the lag (a fifth of
     * LIVEGATE_ADMIT_WAIT_MS in the gateway): at it the measured rate. */
    assert_true(lg_admission_line_rate(1.958, 8436, 1000, 1000) == 1.958);
    rate = lg_admission_line_rate(1.958, 8436, 1001, 1000);
    assert_true(rate > 8.42 && rate < 8.43);
    /* More calls in flight than the gateway remembers count as a lag
     * without end (intake_lag_ms): the held rate is then about 0. */
    assert_true(lg_admission_line_rate(3.0, 100000, INT64_MAX, 0) == 3.0);
}

static void a_line_hands_out_places_one_apart_after_what_waits(void **state)
{
    (void)state;
    double line = 0;
    /* The first place comes after what is ahead, then one place apart. */
    assert_int_equal(lg_admission_line_turn(&line, 1000, 400, 100.0), 500);
    assert_int_equal(lg_admission_line_turn(&line, 1000, 400, 100.0), 600);
    assert_int_equal(lg_admission_line_turn(&line, 1000, 400, 100.0), 700);
    /* Later, the line has moved on: a place after the last one handed out. */
    assert_int_equal(lg_admission_line_turn(&line, 1500, 0, 100.0), 300);
    /* Once every place handed out is past, the line starts again from now. */
    assert_int_equal(lg_admission_line_turn(&line, 10000, 400, 100.0), 500);
    /* A place under a millisecond counts as what it is: five of 0.2 ms
     * move the line one millisecond, not five (rounding each up would
     * space the turns out to a thousand a second). */
    line = 0;
    for (int i = 0; i < 4; i++)
        lg_admission_line_turn(&line, 0, 1000, 0.2);
    assert_int_equal(lg_admission_line_turn(&line, 0, 1000, 0.2), 1001);
    for (int i = 0; i < 4; i++)
        lg_admission_line_turn(&line, 0, 1000, 0.2);
    assert_int_equal(lg_admission_line_turn(&line, 0, 1000, 0.2), 1002);
    /* 10,000 places of 0.1 ms after the first at the 50 ms floor: one
     * second of line, not ten. */
    line = 0;
    int64_t last = 0;
    for (int i = 0; i < 10000; i++)
        last = lg_admission_line_turn(&line, 0, 0, 0.1);
    assert_int_equal(last, LG_RETRY_MIN_MS + 1000);
    /* Never below LG_RETRY_MIN_MS: at the floor and one below it. */
    line = 0;
    assert_int_equal(lg_admission_line_turn(&line, 0, 0, LG_RETRY_MIN_MS - 1), LG_RETRY_MIN_MS);
    line = 0;
    assert_int_equal(lg_admission_line_turn(&line, 0, 0, LG_RETRY_MIN_MS + 1), LG_RETRY_MIN_MS + 1);
    /* Never past LG_RETRY_MAX_MS, however long the line: at the cap and
     * one below it. */
    line = 0;
    assert_int_equal(lg_admission_line_turn(&line, 0, LG_RETRY_MAX_MS - 2, 1.0),
                     LG_RETRY_MAX_MS - 1);
    assert_int_equal(lg_admission_line_turn(&line, 0, 0, 1.0), LG_RETRY_MAX_MS);
    assert_int_equal(lg_admission_line_turn(&line, 0, 0, 1.0), LG_RETRY_MAX_MS);
    /* Nothing ahead said as less than nothing is nothing. */
    line = 0;
    assert_int_equal(lg_admission_line_turn(&line, 0, -500, 100.0), 100);
}

static void a_full_connection_spreads_its_refused_submits_over_the_lag(void **state)
{
    (void)state;
    struct lg_turns t = {0};
    /* Answered 3.2 s after arrival with a cap of 32: a place every 100 ms. */
    int64_t first = lg_admission_cap_turn(&t, 1000, 3200, 32, false);
    assert_int_equal(first, 100);
    assert_int_equal(lg_admission_cap_turn(&t, 1000, 3200, 32, false), 200);
    assert_int_equal(lg_admission_cap_turn(&t, 1000, 3200, 32, false), 300);
    /* High-value orders have a line of their own (their own cap). */
    assert_int_equal(lg_admission_cap_turn(&t, 1000, 3200, 32, true), 100);
    /* A short lag still gives LG_RETRY_INFLIGHT_MS at least, and the
     * places after it follow on from there; a cap of 0 is one. */
    struct lg_turns u = {0};
    assert_int_equal(lg_admission_cap_turn(&u, 0, 640, 32, false), LG_RETRY_INFLIGHT_MS);
    assert_int_equal(lg_admission_cap_turn(&u, 0, 640, 32, false), LG_RETRY_INFLIGHT_MS + 20);
    struct lg_turns u2 = {0};
    assert_int_equal(lg_admission_cap_turn(&u2, 0, 32 * (LG_RETRY_INFLIGHT_MS + 1), 32, false),
                     LG_RETRY_INFLIGHT_MS + 1);
    struct lg_turns v = {0};
    assert_int_equal(lg_admission_cap_turn(&v, 0, 500, 0, false), 500);
    /* 2,000 submits refused at once come back over 2,000 places, not at once. */
    struct lg_turns w = {0};
    int64_t last = 0;
    for (int i = 0; i < 2000; i++)
        last = lg_admission_cap_turn(&w, 0, 3200, 32, false);
    assert_int_equal(last, 200000 > LG_RETRY_MAX_MS ? LG_RETRY_MAX_MS : 200000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(high_value_orders_have_a_connection_cap_of_their_own),
        cmocka_unit_test(retry_after_is_clamped_then_spread_by_a_tenth),
        cmocka_unit_test(a_refusal_is_held_briefly_then_redis_is_asked_again),
        cmocka_unit_test(a_new_refusal_never_moves_the_line_back),
        cmocka_unit_test(a_short_retry_holds_no_longer_than_itself),
        cmocka_unit_test(a_high_refusal_also_stands_for_normal_orders),
        cmocka_unit_test(priority_follows_the_threshold_the_script_sent),
        cmocka_unit_test(a_block_hands_out_the_places_the_script_kept_then_asks_again),
        cmocka_unit_test(zero_junk_or_unspaced_blocks_are_no_block),
        cmocka_unit_test(a_client_back_at_its_turn_is_known),
        cmocka_unit_test(refusals_are_counted_per_order_and_back_the_lag_retry_off),
        cmocka_unit_test(a_line_hands_out_places_one_apart_after_what_waits),
        cmocka_unit_test(the_line_moves_at_the_faster_of_the_measured_and_the_held_rate),
        cmocka_unit_test(a_client_at_its_turn_passes_the_lag_only_up_to_twice_the_bound),
        cmocka_unit_test(a_high_value_batch_that_waited_may_have_twice_the_calls_in_flight),
        cmocka_unit_test(a_full_connection_spreads_its_refused_submits_over_the_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
