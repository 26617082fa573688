/* Unit tests of the room statistics: per-room deltas, the exact ARGV of
 * stats_flush.lua (BUSY and RATE_LIMITED refusals among the counters),
 * parsing stats_read.lua's JSON into a view (counters, codes, latency
 * buckets, queue ages, the load's drain rate and the predicted waits from
 * it), the predicted wait on both sides of its bounds, and merging views
 * for "*". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static struct lg_stats_delta *new_delta(const char *room)
{
    struct lg_stats_delta *d = malloc(sizeof(*d));
    lg_stats_delta_init(d, room);
    return d;
}

static void free_delta(struct lg_stats_delta *d)
{
    lg_stats_delta_free_hists(d);
    free(d);
}

static struct lg_stats_view *new_view(void)
{
    struct lg_stats_view *v = malloc(sizeof(*v));
    lg_stats_view_init(v);
    return v;
}

static void an_idle_delta_flushes_only_the_header(void **state)
{
    (void)state;
    struct lg_stats_delta *d = new_delta("r1");
    assert_false(d->dirty);
    assert_int_equal(d->reported_connections, -1);
    d->connections = 3;
    struct lg_strvec sv;
    assert_int_equal(lg_stats_flush_args(d, "gw-1", true, &sv), 0);
    const char *want[] = {"gw-1", "3", "60000", "90", "604800", "0", "0", "0"};
    assert_int_equal(sv.n, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(sv.v[i], want[i]);
    lg_strvec_free(&sv);
    /* A validator reports no connections: an empty string. */
    assert_int_equal(lg_stats_flush_args(d, "v-1", false, &sv), 0);
    assert_string_equal(sv.v[1], "");
    lg_strvec_free(&sv);
    free_delta(d);
}

static void counters_codes_and_buckets_in_the_flush(void **state)
{
    (void)state;
    struct lg_stats_delta *d = new_delta("r1");
    lg_stats_delta_count(d, LG_STAT_CONFIRMED, 2);
    lg_stats_delta_count(d, LG_STAT_GMV_FEN, 39800);
    lg_stats_delta_count(d, LG_STAT_REJECTED, 3);
    lg_stats_delta_reject_code(d, "OUT_OF_STOCK");
    lg_stats_delta_reject_code(d, "OUT_OF_STOCK");
    lg_stats_delta_reject_code(d, "EXPIRED");
    lg_stats_delta_confirm_us(d, 5000);
    lg_stats_delta_confirm_us(d, 5000);
    lg_stats_delta_confirm_us(d, 90);
    lg_stats_delta_accept_us(d, 7);
    assert_true(d->dirty);
    assert_int_equal(d->confirm_max_us, 5000);

    struct lg_strvec sv;
    assert_int_equal(lg_stats_flush_args(d, "v-9", false, &sv), 0);
    /* header: 3 counters + 2 codes = 5 counter pairs; 1 accept + 2 confirm buckets */
    assert_string_equal(sv.v[5], "5");
    assert_string_equal(sv.v[6], "3");
    assert_string_equal(sv.v[7], "5000");
    char b5000[32], b90[16];
    snprintf(b5000, sizeof(b5000), "c:%zu", lg_hist_bucket(5000));
    snprintf(b90, sizeof(b90), "c:%zu", lg_hist_bucket(90));
    const char *want[] = {"confirmed",
                          "2",
                          "rejected",
                          "3",
                          "gmv_fen",
                          "39800",
                          "rej:OUT_OF_STOCK",
                          "2",
                          "rej:EXPIRED",
                          "1",
                          "a:7",
                          "1",
                          b90,
                          "1",
                          b5000,
                          "2"};
    assert_int_equal(sv.n, 8 + 16);
    for (size_t i = 0; i < 16; i++)
        assert_string_equal(sv.v[8 + i], want[i]);
    lg_strvec_free(&sv);

    lg_stats_delta_clear(d);
    assert_false(d->dirty);
    assert_null(d->accept_us);
    assert_null(d->confirm_us);
    assert_int_equal(d->counters[LG_STAT_CONFIRMED], 0);
    assert_int_equal(d->ncodes, 0);
    free_delta(d);
}

static void refusals_flush_under_their_field_names(void **state)
{
    (void)state;
    assert_string_equal(lg_stat_names[LG_STAT_BUSY], "busy");
    assert_string_equal(lg_stat_names[LG_STAT_RATE_LIMITED], "rate_limited");
    struct lg_stats_delta *d = new_delta("r1");
    lg_stats_delta_count(d, LG_STAT_BUSY, 1);
    lg_stats_delta_count(d, LG_STAT_RATE_LIMITED, 1);
    lg_stats_delta_count(d, LG_STAT_RATE_LIMITED, 1);
    lg_stats_delta_count(d, LG_STAT_RECEIVED, 3);
    assert_true(d->dirty);
    struct lg_strvec sv;
    assert_int_equal(lg_stats_flush_args(d, "gw-1", true, &sv), 0);
    assert_string_equal(sv.v[5], "3"); /* counter pairs */
    assert_string_equal(sv.v[6], "0"); /* no histogram pairs */
    const char *want[] = {"received", "3", "busy", "1", "rate_limited", "2"};
    assert_int_equal(sv.n, 8 + 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(sv.v[8 + i], want[i]);
    lg_strvec_free(&sv);
    free_delta(d);
}

static void codes_past_the_table_count_as_other(void **state)
{
    (void)state;
    struct lg_stats_delta *d = new_delta("r1");
    char code[16];
    for (int i = 0; i < LG_STATS_MAX_CODES - 1; i++) {
        snprintf(code, sizeof(code), "C%d", i);
        lg_stats_delta_reject_code(d, code);
    }
    assert_int_equal(d->ncodes, LG_STATS_MAX_CODES - 1);
    lg_stats_delta_reject_code(d, "ONE_MORE");
    lg_stats_delta_reject_code(d, "AND_ANOTHER");
    lg_stats_delta_reject_code(d, "");
    lg_stats_delta_reject_code(d, "A_CODE_FAR_TOO_LONG_TO_BE_A_CODE_AT_ALL");
    /* The last slot is OTHER: new codes past the table, an empty code and
     * one too long all count there. Nothing is lost. */
    assert_int_equal(d->ncodes, LG_STATS_MAX_CODES);
    assert_string_equal(d->codes[LG_STATS_MAX_CODES - 1].code, "OTHER");
    assert_int_equal(d->codes[LG_STATS_MAX_CODES - 1].n, 4);
    lg_stats_delta_reject_code(d, "C3");
    assert_int_equal(d->codes[3].n, 2);
    unsigned long long total = 0;
    for (size_t i = 0; i < d->ncodes; i++)
        total += d->codes[i].n;
    assert_int_equal(total, LG_STATS_MAX_CODES - 1 + 4 + 1);
    free_delta(d);
}

static const char *READ_JSON =
    "{\"totals\":{\"received\":\"12\",\"accepted\":\"10\",\"duplicates\":\"1\","
    "\"confirmed\":\"7\",\"rejected\":\"3\",\"busy\":\"4\",\"rate_limited\":\"6\","
    "\"gmv_fen\":\"9007199254740991\","
    "\"sla_violations\":\"1\",\"pay_timeouts\":\"8\",\"rej:OUT_OF_STOCK\":\"2\",\"rej:EXPIRED\":"
    "\"1\","
    "\"opened_at_ms\":\"1700000000000\",\"unknown\":\"5\"},"
    "\"connections\":4,"
    "\"queue\":{\"high\":2,\"normal\":5,\"high_oldest_ms\":1700000009000,"
    "\"normal_oldest_ms\":1700000007500,\"now_ms\":1700000010000,\"rate\":\"250\"},"
    "\"accept\":{\"5\":3,\"9\":1},\"confirm\":{},\"cmax\":\"12000\"}";

static void parses_the_read_answer(void **state)
{
    (void)state;
    struct lg_stats_view *v = new_view();
    assert_int_equal(lg_stats_view_parse(READ_JSON, strlen(READ_JSON), v), 0);
    assert_int_equal(v->counters[LG_STAT_RECEIVED], 12);
    assert_int_equal(v->counters[LG_STAT_ACCEPTED], 10);
    assert_int_equal(v->counters[LG_STAT_DUPLICATES], 1);
    assert_int_equal(v->counters[LG_STAT_CONFIRMED], 7);
    assert_int_equal(v->counters[LG_STAT_REJECTED], 3);
    assert_int_equal(v->counters[LG_STAT_BUSY], 4);
    assert_int_equal(v->counters[LG_STAT_RATE_LIMITED], 6);
    assert_int_equal(v->counters[LG_STAT_GMV_FEN], 9007199254740991LL); /* exact */
    assert_int_equal(v->counters[LG_STAT_SLA_VIOLATIONS], 1);
    assert_int_equal(v->counters[LG_STAT_PAY_TIMEOUTS], 8);
    assert_int_equal(v->opened_at_ms, 1700000000000LL);
    assert_int_equal(v->ncodes, 2);
    assert_int_equal(v->connections, 4);
    assert_int_equal(v->queue_high, 2);
    assert_int_equal(v->queue_normal, 5);
    assert_int_equal(v->oldest_high_ms, 1000);
    assert_int_equal(v->oldest_normal_ms, 2500);
    assert_int_equal(lg_stats_view_oldest_ms(v), 2500);
    /* 250 decisions/s: a high order waits for the 2 high ones, a normal
     * one for all 7. */
    assert_true(v->drain_per_s == 250.0);
    assert_int_equal(v->wait_high_ms, 8);
    assert_int_equal(v->wait_normal_ms, 28);
    assert_int_equal(v->accept_us.total, 4);
    assert_int_equal(lg_hist_percentile(&v->accept_us, 50), 5);
    assert_int_equal(lg_hist_percentile(&v->accept_us, 99), 9);
    assert_int_equal(v->confirm_us.total, 0);
    assert_int_equal(v->confirm_max_us, 12000);
    free(v);
}

static void refuses_what_is_not_the_read_answer(void **state)
{
    (void)state;
    struct lg_stats_view *v = new_view();
    const char *bad[] = {"", "null", "[]", "{\"totals\":{}}", "{\"queue\":3}", "not json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v->connections = 99;
        assert_int_equal(lg_stats_view_parse(bad[i], strlen(bad[i]), v), -1);
        assert_int_equal(v->connections, 0);
    }
    /* Empty queue, nothing else: all zeros, no ages. */
    const char *empty = "{\"queue\":{\"high\":0,\"normal\":0,\"high_oldest_ms\":0,"
                        "\"normal_oldest_ms\":0,\"now_ms\":5},\"totals\":{},"
                        "\"accept\":{\"99999\":1,\"x\":2,\"3\":-1}}";
    assert_int_equal(lg_stats_view_parse(empty, strlen(empty), v), 0);
    assert_int_equal(lg_stats_view_oldest_ms(v), 0);
    assert_int_equal(v->accept_us.total, 0); /* out-of-range buckets and bad counts ignored */
    free(v);
}

static void a_rate_that_is_not_a_positive_number_is_not_known(void **state)
{
    (void)state;
    struct lg_stats_view *v = new_view();
    assert_int_equal(v->wait_high_ms, -1); /* a fresh view knows no wait */
    const char *unknown[] = {"\"\"",    "\"0\"", "\"-5\"", "\"abc\"", "\"12x\"", "\"inf\"",
                             "\"nan\"", "null",  "0",      "-1.5",    "true"};
    char json[256];
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        snprintf(json, sizeof(json),
                 "{\"queue\":{\"high\":1,\"normal\":2,\"now_ms\":5,\"rate\":%s}}", unknown[i]);
        assert_int_equal(lg_stats_view_parse(json, strlen(json), v), 0);
        assert_true(v->drain_per_s == 0);
        assert_int_equal(v->wait_high_ms, -1);
        assert_int_equal(v->wait_normal_ms, -1);
    }
    /* Just above 0 is known (and slow); a number as JSON is read too. */
    const char *known[] = {"\"0.5\"", "0.5"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(json, sizeof(json),
                 "{\"queue\":{\"high\":1,\"normal\":2,\"now_ms\":5,\"rate\":%s}}", known[i]);
        assert_int_equal(lg_stats_view_parse(json, strlen(json), v), 0);
        assert_true(v->drain_per_s == 0.5);
        assert_int_equal(v->wait_high_ms, 2000);
        assert_int_equal(v->wait_normal_ms, 6000);
    }
    /* No rate field at all (an older script): not known. */
    const char *old = "{\"queue\":{\"high\":1,\"normal\":2,\"now_ms\":5}}";
    assert_int_equal(lg_stats_view_parse(old, strlen(old), v), 0);
    assert_int_equal(v->wait_normal_ms, -1);
    free(v);
}

static void predicted_wait_on_both_sides_of_its_bounds(void **state)
{
    (void)state;
    /* rate: 0 and below are not known, anything above 0 is */
    assert_int_equal(lg_stats_predicted_wait_ms(10, 0), -1);
    assert_int_equal(lg_stats_predicted_wait_ms(10, -1), -1);
    assert_int_equal(lg_stats_predicted_wait_ms(10, 1e-3), 10000000);
    assert_int_equal(lg_stats_predicted_wait_ms(0, 0), -1);
    /* an empty queue waits 0, one order ahead never rounds down to 0 */
    assert_int_equal(lg_stats_predicted_wait_ms(0, 100), 0);
    assert_int_equal(lg_stats_predicted_wait_ms(-3, 100), 0);
    assert_int_equal(lg_stats_predicted_wait_ms(1, 1000), 1);
    assert_int_equal(lg_stats_predicted_wait_ms(1, 1001), 1);
    assert_int_equal(lg_stats_predicted_wait_ms(1, 999), 2);
    assert_int_equal(lg_stats_predicted_wait_ms(1, 3), 334);
    assert_int_equal(lg_stats_predicted_wait_ms(29400, 9800), 3000);
    /* a rate so small the wait overflows is capped, not wrapped */
    assert_true(lg_stats_predicted_wait_ms(1000000, 1e-300) > 0);
    assert_int_equal(lg_stats_predicted_wait_ms(1000000, 1e-300),
                     lg_stats_predicted_wait_ms(2000000, 1e-300));
}

static void merging_views_adds_rooms_up(void **state)
{
    (void)state;
    struct lg_stats_view *a = new_view(), *b = new_view(), *all = new_view();
    assert_int_equal(lg_stats_view_parse(READ_JSON, strlen(READ_JSON), a), 0);
    const char *other = "{\"totals\":{\"confirmed\":\"1\",\"rej:EXPIRED\":\"4\",\"rej:"
                        "LIMIT_EXCEEDED\":\"1\",\"opened_at_ms\":\"1600000000000\"},"
                        "\"connections\":1,\"queue\":{\"high\":1,\"normal\":0,\"high_oldest_ms\":"
                        "1699999990000,\"normal_oldest_ms\":0,\"now_ms\":1700000010000},"
                        "\"accept\":{},\"confirm\":{\"100\":2},\"cmax\":\"900\"}";
    assert_int_equal(lg_stats_view_parse(other, strlen(other), b), 0);
    lg_stats_view_merge(all, a);
    lg_stats_view_merge(all, b);
    assert_int_equal(all->counters[LG_STAT_CONFIRMED], 8);
    assert_int_equal(all->connections, 5);
    assert_int_equal(all->queue_high, 3);
    assert_int_equal(all->queue_normal, 5);
    /* b's rate is not known: the rates add up to a's alone, and "*" waits
     * as long as the rooms whose wait is known. */
    assert_true(all->drain_per_s == 250.0);
    assert_int_equal(all->wait_high_ms, 8);
    assert_int_equal(all->wait_normal_ms, 28);
    struct lg_stats_view *slow = new_view();
    const char *slow_json = "{\"queue\":{\"high\":0,\"normal\":10,\"now_ms\":5,\"rate\":\"2\"}}";
    assert_int_equal(lg_stats_view_parse(slow_json, strlen(slow_json), slow), 0);
    lg_stats_view_merge(all, slow);
    assert_true(all->drain_per_s == 252.0);
    assert_int_equal(all->wait_high_ms, 8);      /* a's 2 high orders at 250/s */
    assert_int_equal(all->wait_normal_ms, 5000); /* slow's 10 at 2/s */
    free(slow);
    assert_int_equal(all->oldest_high_ms, 20000);
    assert_int_equal(all->oldest_normal_ms, 2500);
    assert_int_equal(all->opened_at_ms, 1600000000000LL);
    assert_int_equal(all->confirm_max_us, 12000);
    assert_int_equal(all->accept_us.total, 4);
    assert_int_equal(all->confirm_us.total, 2);
    assert_int_equal(all->ncodes, 3);
    for (size_t i = 0; i < all->ncodes; i++) {
        if (strcmp(all->codes[i].code, "EXPIRED") == 0)
            assert_int_equal(all->codes[i].n, 5);
        else if (strcmp(all->codes[i].code, "OUT_OF_STOCK") == 0)
            assert_int_equal(all->codes[i].n, 2);
        else
            assert_string_equal(all->codes[i].code, "LIMIT_EXCEEDED");
    }
    free(a);
    free(b);
    free(all);
}

static void record_n_equals_recording_n_times(void **state)
{
    (void)state;
    struct lg_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    lg_hist_init(a);
    lg_hist_init(b);
    for (int i = 0; i < 7; i++)
        lg_hist_record(a, 12345);
    lg_hist_record_n(b, 12345, 7);
    lg_hist_record_n(b, 99, 0); /* nothing */
    assert_memory_equal(a, b, sizeof(*a));
    free(a);
    free(b);
}

static void rooms_must_be_ids(void **state)
{
    (void)state;
    struct lg_stats *st = lg_stats_new("gw-1", true);
    assert_null(lg_stats_room(st, "*"));
    assert_null(lg_stats_room(st, ""));
    assert_null(lg_stats_room(st, "a b"));
    struct lg_stats_delta *d = lg_stats_room(st, "r1");
    assert_non_null(d);
    assert_ptr_equal(lg_stats_room(st, "r1"), d);
    assert_string_equal(d->room, "r1");
    lg_stats_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_idle_delta_flushes_only_the_header),
        cmocka_unit_test(counters_codes_and_buckets_in_the_flush),
        cmocka_unit_test(refusals_flush_under_their_field_names),
        cmocka_unit_test(codes_past_the_table_count_as_other),
        cmocka_unit_test(parses_the_read_answer),
        cmocka_unit_test(refuses_what_is_not_the_read_answer),
        cmocka_unit_test(a_rate_that_is_not_a_positive_number_is_not_known),
        cmocka_unit_test(predicted_wait_on_both_sides_of_its_bounds),
        cmocka_unit_test(merging_views_adds_rooms_up),
        cmocka_unit_test(record_n_equals_recording_n_times),
        cmocka_unit_test(rooms_must_be_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
