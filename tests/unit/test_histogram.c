/* Unit tests of the latency histogram: the error bound the bench promises
 * (<= 1% relative), exact small values, merging, and percentile ranks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "livegate/histogram.h"

static void small_values_are_exact(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 128; v++)
        assert_int_equal(lg_hist_bucket_value(lg_hist_bucket(v)), v);
}

static void every_value_is_within_one_percent(void **state)
{
    (void)state;
    /* Walk values across the whole range, densely at bucket edges. */
    for (uint64_t v = 128; v < (1ULL << 40); v = v + 1 + v / 97) {
        uint64_t got = lg_hist_bucket_value(lg_hist_bucket(v));
        double err = (double)(got > v ? got - v : v - got) / (double)v;
        if (err > 0.01)
            fail_msg("value %llu reported as %llu (%.4f)", (unsigned long long)v,
                     (unsigned long long)got, err);
    }
}

static void buckets_are_monotonic_and_in_range(void **state)
{
    (void)state;
    size_t prev = 0;
    for (uint64_t v = 0; v < (1ULL << 22); v++) {
        size_t b = lg_hist_bucket(v);
        assert_true(b >= prev);
        assert_true(b < LG_HIST_BUCKETS);
        prev = b;
    }
    assert_true(lg_hist_bucket(LG_HIST_MAX_VALUE) < LG_HIST_BUCKETS);
    assert_int_equal(lg_hist_bucket(UINT64_MAX), lg_hist_bucket(LG_HIST_MAX_VALUE));
}

static void percentiles_of_a_uniform_run(void **state)
{
    (void)state;
    struct lg_hist *h = malloc(sizeof(*h));
    lg_hist_init(h);
    for (uint64_t v = 1; v <= 100000; v++)
        lg_hist_record(h, v);
    assert_int_equal(h->total, 100000);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 100000);
    struct {
        double p;
        double want;
    } cases[] = {{50, 50000}, {90, 90000}, {99, 99000}, {99.9, 99900}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = (double)lg_hist_percentile(h, cases[i].p);
        assert_true(got >= cases[i].want * 0.99 && got <= cases[i].want * 1.01);
    }
    assert_int_equal(lg_hist_percentile(h, 100), 100000);
    free(h);
}

static void one_outlier_shows_in_max_and_tail(void **state)
{
    (void)state;
    struct lg_hist *h = malloc(sizeof(*h));
    lg_hist_init(h);
    for (int i = 0; i < 999; i++)
        lg_hist_record(h, 1000);
    lg_hist_record(h, 1000000); /* one stall of 1 s among 1 ms samples */
    uint64_t p99 = lg_hist_percentile(h, 99);
    assert_true(p99 >= 990 && p99 <= 1010);
    uint64_t p999 = lg_hist_percentile(h, 99.95);
    assert_true(p999 >= 990000 && p999 <= 1000000);
    assert_int_equal(lg_hist_percentile(h, 100), 1000000);
    free(h);
}

static void merge_equals_recording_everything_once(void **state)
{
    (void)state;
    struct lg_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));
    lg_hist_init(a);
    lg_hist_init(b);
    lg_hist_init(all);
    for (uint64_t v = 1; v < 5000; v++) {
        lg_hist_record(v % 2 ? a : b, v * 37);
        lg_hist_record(all, v * 37);
    }
    lg_hist_merge(a, b);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    assert_memory_equal(a->counts, all->counts, sizeof(a->counts));
    free(a);
    free(b);
    free(all);
}

static void empty_histogram(void **state)
{
    (void)state;
    struct lg_hist *h = malloc(sizeof(*h));
    lg_hist_init(h);
    assert_int_equal(lg_hist_percentile(h, 50), 0);
    assert_int_equal(lg_hist_percentile(h, 100), 0);
    struct lg_hist *other = malloc(sizeof(*other));
    lg_hist_init(other);
    lg_hist_record(other, 42);
    lg_hist_merge(other, h);
    assert_int_equal(other->total, 1);
    assert_int_equal(other->min, 42);
    free(h);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_values_are_exact),
        cmocka_unit_test(every_value_is_within_one_percent),
        cmocka_unit_test(buckets_are_monotonic_and_in_range),
        cmocka_unit_test(percentiles_of_a_uniform_run),
        cmocka_unit_test(one_outlier_shows_in_max_and_tail),
        cmocka_unit_test(merge_equals_recording_everything_once),
        cmocka_unit_test(empty_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
