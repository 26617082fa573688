/* Unit tests for the bench's verdict: --slo parsing (every kind of bad spec
 * refused with a message naming it), each target judged on both sides of
 * its bound, throughput over exact spans rather than whole seconds, and a
 * summary that prints no empty section. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "output.h"
#include "report.h"
#include "slo.h"

static char g_err[512];

static int parse_spec(struct lg_slo_set *s, const char *spec)
{
    memset(s, 0, sizeof(*s));
    g_err[0] = '\0';
    return lg_slo_parse(s, spec, g_err, sizeof(g_err));
}

/* A spec refused, with a message that contains `why`. */
static void assert_refused(const char *spec, const char *why)
{
    struct lg_slo_set s;
    assert_int_equal(parse_spec(&s, spec), -1);
    assert_int_equal(s.n, 0);
    if (!strstr(g_err, why))
        fail_msg("'%s': message '%s' lacks '%s'", spec, g_err, why);
}

static void test_slo_parse_targets(void **state)
{
    (void)state;
    struct lg_slo_set s;
    assert_int_equal(parse_spec(&s, "accept_p99=5ms,result_p99<=1s,accept_p99.9_high=250us,"
                                    "result_max_normal=2.5s,lost=0,unanswered<=3,"
                                    "confirmed_rate>=500,confirmed_rate_sending>=1.5/s,"
                                    "confirmed>=10"),
                     0);
    assert_int_equal(s.n, 9);
    assert_int_equal(s.t[0].kind, LG_SLO_LATENCY);
    assert_false(s.t[0].result);
    assert_true(s.t[0].pct == 99);
    assert_int_equal(s.t[0].prio, -1);
    assert_true(s.t[0].limit == 5000);
    assert_string_equal(s.t[0].bound, "5ms");
    assert_true(s.t[1].result);
    assert_true(s.t[1].limit == 1e6);
    assert_true(s.t[2].pct == 99.9);
    assert_int_equal(s.t[2].prio, 1);
    assert_true(s.t[2].limit == 250);
    assert_true(s.t[3].pct == 100);
    assert_int_equal(s.t[3].prio, 0);
    assert_true(s.t[3].limit == 2.5e6);
    assert_int_equal(s.t[4].kind, LG_SLO_COUNT);
    assert_false(s.t[4].at_least);
    assert_true(s.t[4].limit == 0);
    assert_true(s.t[5].limit == 3);
    assert_int_equal(s.t[6].kind, LG_SLO_RATE);
    assert_true(s.t[6].at_least);
    assert_true(s.t[6].limit == 500);
    assert_true(s.t[7].limit == 1.5);
    assert_int_equal(s.t[8].kind, LG_SLO_COUNT);
    assert_true(s.t[8].at_least);
    /* p999 is p99.9; every percentile the bench reports is a target */
    assert_int_equal(parse_spec(&s, "accept_p999=1ms,accept_p50=1ms,accept_p90=1ms,accept_max=1ms"),
                     0);
    assert_true(s.t[0].pct == 99.9);
    /* a second --slo adds to the first */
    assert_int_equal(parse_spec(&s, "lost=0"), 0);
    assert_int_equal(lg_slo_parse(&s, "doubled=0", g_err, sizeof(g_err)), 0);
    assert_int_equal(s.n, 2);
    /* ...but not a target again, and an error leaves the set as it was */
    assert_int_equal(lg_slo_parse(&s, "late=0,lost=1", g_err, sizeof(g_err)), -1);
    assert_non_null(strstr(g_err, "lost is given twice"));
    assert_int_equal(s.n, 2);
}

static void test_slo_parse_refusals(void **state)
{
    (void)state;
    assert_refused("", "an empty target");
    assert_refused("lost=0,", "an empty target");
    assert_refused("lost=0,,late=0", "an empty target");
    assert_refused("acept_p99=5ms", "unknown target 'acept_p99'");
    assert_refused("accept_p98=5ms", "unknown target");
    assert_refused("accept_p99_vip=5ms", "unknown target");
    assert_refused("lost", "is no target");
    assert_refused("lost<0", "is no target");
    assert_refused("=5", "is no target");
    /* a latency needs its unit, and a known one */
    assert_refused("accept_p99=5", "a latency is a number with a unit");
    assert_refused("accept_p99=5m", "a latency is a number with a unit");
    assert_refused("accept_p99=5 ms", "a latency is a number with a unit");
    assert_refused("accept_p99=-1ms", "a latency is a number with a unit");
    assert_refused("accept_p99=ms", "a latency is a number with a unit");
    assert_refused("accept_p99=nanms", "a latency is a number with a unit");
    /* up to a day, not over */
    struct lg_slo_set s;
    assert_int_equal(parse_spec(&s, "accept_p99=86400s"), 0);
    assert_refused("accept_p99=86400.5s", "up to a day");
    assert_int_equal(parse_spec(&s, "accept_p99=0us"), 0);
    /* counts are whole and unitless */
    assert_refused("lost=0.5", "lost is a count");
    assert_refused("lost=1ms", "lost is a count");
    assert_refused("lost=-1", "lost is a count");
    assert_refused("lost=1234567890123456", "lost is a count");
    assert_int_equal(parse_spec(&s, "lost=123456789012345"), 0);
    assert_refused("confirmed_rate>=fast", "confirmed orders per second");
    assert_refused("confirmed_rate>=5/min", "confirmed orders per second");
    /* each target has one direction: the other is refused, not guessed */
    assert_refused("accept_p99>=5ms", "accept_p99 is a ceiling");
    assert_refused("lost>=0", "lost is a ceiling");
    assert_refused("confirmed_rate=500", "confirmed_rate is a floor");
    assert_refused("confirmed_rate<=500", "confirmed_rate is a floor");
    assert_refused("confirmed=10", "confirmed is a floor");
    /* at most LG_SLO_MAX targets (32 distinct names) */
    char spec[2048] = "";
    const char *const names[] = {"lost",
                                 "doubled",
                                 "unanswered",
                                 "unsent",
                                 "late",
                                 "errors",
                                 "busy",
                                 "rate_limited",
                                 "unavailable",
                                 "refused",
                                 "conn_failed",
                                 "accept_p50",
                                 "accept_p90",
                                 "accept_p99",
                                 "accept_p99.9",
                                 "accept_max",
                                 "result_p50",
                                 "result_p90",
                                 "result_p99",
                                 "result_p99.9",
                                 "result_max",
                                 "accept_p50_high",
                                 "accept_p90_high",
                                 "accept_p99_high",
                                 "accept_max_high",
                                 "result_p50_high",
                                 "result_p90_high",
                                 "result_p99_high",
                                 "result_max_high",
                                 "accept_p50_normal",
                                 "accept_p99_normal",
                                 "result_p99_normal",
                                 "result_max_normal"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), LG_SLO_MAX + 1);
    for (int i = 0; i < LG_SLO_MAX; i++) {
        strcat(spec, i ? "," : "");
        strcat(spec, names[i]);
        strcat(spec,
               strncmp(names[i], "accept", 6) && strncmp(names[i], "result", 6) ? "=0" : "=1ms");
    }
    assert_int_equal(parse_spec(&s, spec), 0);
    assert_int_equal(s.n, LG_SLO_MAX);
    strcat(spec, ",result_max_normal=1ms");
    assert_refused(spec, "more than 32 targets");
}

static struct lg_slo_verdict g_verdict;

/* Judges one target on r. */
static bool judge(const char *spec, const struct lg_bench_report *r,
                  const struct lg_slo_rates *rates)
{
    struct lg_slo_set s;
    assert_int_equal(parse_spec(&s, spec), 0);
    lg_slo_judge(&s, r, rates, &g_verdict);
    assert_int_equal(g_verdict.n, 1);
    assert_true(g_verdict.ok == g_verdict.r[0].ok);
    return g_verdict.ok;
}

static void test_slo_latency_bounds(void **state)
{
    (void)state;
    static struct lg_bench_report r;
    struct lg_slo_rates rates = {0, -1};
    lg_bench_report_init(&r);
    /* nothing measured: a latency target has nothing to pass on */
    assert_false(judge("accept_p99=1s", &r, &rates));
    assert_false(g_verdict.r[0].measured);
    /* values under 128 us are exact in the histogram */
    for (int i = 0; i < 99; i++)
        lg_hist_record(&r.accept[0], 50);
    lg_hist_record(&r.accept[0], 100);
    lg_hist_record(&r.accept[1], 120); /* the one high order, the slowest */
    assert_true(judge("accept_p50=50us", &r, &rates));
    assert_false(judge("accept_p50=49us", &r, &rates));
    assert_int_equal(g_verdict.r[0].samples, 101);
    /* both priorities merged: 101 samples, p99 is the 100 us one */
    assert_true(judge("accept_p99=100us", &r, &rates));
    assert_false(judge("accept_p99=99us", &r, &rates));
    assert_true(judge("accept_max=120us", &r, &rates));
    assert_false(judge("accept_max=119us", &r, &rates));
    /* per priority */
    assert_true(judge("accept_max_normal=0.1ms", &r, &rates));
    assert_false(judge("accept_max_normal=0.099ms", &r, &rates));
    assert_true(judge("accept_p50_high=120us", &r, &rates));
    assert_false(judge("accept_p50_high=119us", &r, &rates));
    assert_int_equal(g_verdict.r[0].samples, 1);
    /* results are their own histograms: none recorded yet */
    assert_false(judge("result_p99=1s", &r, &rates));
    assert_false(g_verdict.r[0].measured);
    /* the maximum is exact at any size: 2.5 s against 2.5 s and just under */
    lg_hist_record(&r.result[1], 2500000);
    assert_true(judge("result_max_high=2.5s", &r, &rates));
    assert_false(judge("result_max_high=2499.999ms", &r, &rates));
    assert_true(judge("result_p99=2500000us", &r, &rates));
    assert_false(judge("result_p99_normal=1s", &r, &rates)); /* no normal result */
}

static void test_slo_count_and_rate_bounds(void **state)
{
    (void)state;
    static struct lg_bench_report r;
    lg_bench_report_init(&r);
    struct lg_slo_rates rates = {500, 1000};
    assert_true(judge("lost=0", &r, &rates));
    r.a.lost = 1;
    assert_false(judge("lost=0", &r, &rates));
    assert_true(judge("lost<=1", &r, &rates));
    r.a.unanswered = 2;
    r.a.unsent = 1;
    assert_true(judge("unanswered=2", &r, &rates));
    assert_false(judge("unanswered=1", &r, &rates));
    assert_true(judge("unsent=1", &r, &rates));
    assert_false(judge("unsent=0", &r, &rates));
    r.c.errors_by_code[LG_EC_BUSY] = 3;
    r.c.errors_by_code[LG_EC_RATE_LIMITED] = 2;
    r.c.errors_by_code[LG_EC_UNAVAILABLE] = 1;
    assert_true(judge("errors=6", &r, &rates));
    assert_false(judge("errors=5", &r, &rates));
    assert_true(judge("busy=3", &r, &rates));
    assert_false(judge("busy=2", &r, &rates));
    assert_true(judge("rate_limited=2", &r, &rates));
    assert_false(judge("rate_limited=1", &r, &rates));
    assert_true(judge("unavailable=1", &r, &rates));
    assert_false(judge("unavailable=0", &r, &rates));
    r.c.refused_gave_up = 1;
    r.c.refused_waiting = 1;
    assert_true(judge("refused=2", &r, &rates));
    assert_false(judge("refused=1", &r, &rates));
    r.a.doubled = 1;
    r.a.late = 4;
    r.c.conn_failed = 7;
    assert_false(judge("doubled=0", &r, &rates));
    assert_true(judge("late=4", &r, &rates));
    assert_false(judge("late=3", &r, &rates));
    assert_true(judge("conn_failed=7", &r, &rates));
    assert_false(judge("conn_failed=6", &r, &rates));
    /* floors */
    r.c.confirmed = 10;
    assert_true(judge("confirmed>=10", &r, &rates));
    assert_false(judge("confirmed>=11", &r, &rates));
    assert_true(judge("confirmed_rate>=500", &r, &rates));
    assert_false(judge("confirmed_rate>=500.1/s", &r, &rates));
    assert_true(judge("confirmed_rate_sending>=1000/s", &r, &rates));
    assert_false(judge("confirmed_rate_sending>=1001", &r, &rates));
    /* a sending window of no length has no rate: the target fails */
    rates.confirmed_per_s_sending = -1;
    assert_false(judge("confirmed_rate_sending>=0", &r, &rates));
    assert_false(g_verdict.r[0].measured);
}

static void test_slo_verdict_lines(void **state)
{
    (void)state;
    static struct lg_bench_report r;
    lg_bench_report_init(&r);
    lg_hist_record(&r.accept[0], 2300);
    struct lg_slo_rates rates = {291.3, -1};
    struct lg_slo_set s;
    assert_int_equal(parse_spec(&s, "accept_p99=1us,lost=0,confirmed_rate>=100,result_p99=1s"), 0);
    lg_slo_judge(&s, &r, &rates, &g_verdict);
    assert_false(g_verdict.ok);
    assert_false(g_verdict.r[0].ok);
    assert_true(g_verdict.r[1].ok);
    assert_true(g_verdict.r[2].ok);
    assert_false(g_verdict.r[3].ok);
    char line[256];
    lg_slo_describe(&s.t[0], &g_verdict.r[0], line, sizeof(line));
    assert_non_null(strstr(line, "accept_p99 <= 1us: 2."));
    assert_non_null(strstr(line, " ms (n=1)"));
    lg_slo_describe(&s.t[1], &g_verdict.r[1], line, sizeof(line));
    assert_string_equal(line, "lost <= 0: 0");
    lg_slo_describe(&s.t[2], &g_verdict.r[2], line, sizeof(line));
    assert_string_equal(line, "confirmed_rate >= 100: 291.3/s");
    lg_slo_describe(&s.t[3], &g_verdict.r[3], line, sizeof(line));
    assert_non_null(strstr(line, "result_p99 <= 1s: no sample"));
    /* no target: nothing to fail */
    memset(&s, 0, sizeof(s));
    lg_slo_judge(&s, &r, &rates, &g_verdict);
    assert_true(g_verdict.ok);
}

static void test_options_slo_and_cleanup(void **state)
{
    (void)state;
    static struct lg_bench_opts o;
    char err[512];
    char *ok[] = {"livegate-bench", "--secret", "s",         "--slo", "accept_p99=5ms",
                  "--slo",          "lost=0",   "--cleanup", NULL};
    assert_int_equal(lg_bench_opts_parse(&o, 8, ok, err, sizeof(err)), 0);
    assert_int_equal(o.slo.n, 2);
    assert_true(o.cleanup);
    lg_bench_opts_free(&o);
    char *bad[] = {"livegate-bench", "--secret", "s", "--slo", "accept_p99=5", NULL};
    assert_int_equal(lg_bench_opts_parse(&o, 5, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--slo: 'accept_p99=5': a latency is a number with a unit"));
    lg_bench_opts_free(&o);
    /* --cleanup closes what the bench made: with --no-setup it made nothing */
    char *none[] = {"livegate-bench", "--secret", "s", "--cleanup", "--no-setup", NULL};
    assert_int_equal(lg_bench_opts_parse(&o, 5, none, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--no-setup"));
    lg_bench_opts_free(&o);
    char *plain[] = {"livegate-bench", "--secret", "s", NULL};
    assert_int_equal(lg_bench_opts_parse(&o, 3, plain, err, sizeof(err)), 0);
    assert_false(o.cleanup); /* off unless asked: the scripts ask */
    assert_int_equal(o.slo.n, 0);
    lg_bench_opts_free(&o);
}

static struct lg_bench_opts g_opts;
static struct lg_bench_run g_run;

static void run_init(void)
{
    char err[256];
    char *argv[] = {"livegate-bench", "--secret", "s", NULL};
    assert_int_equal(lg_bench_opts_parse(&g_opts, 3, argv, err, sizeof(err)), 0);
    memset(&g_run, 0, sizeof(g_run));
    g_run.o = &g_opts;
    lg_bench_report_init(&g_run.total);
    lg_cost_init(&g_run.cost);
}

/* The example: 300 orders sent within 0.5 s, all decided by 1 s
 * after the first send, over two seconds of the timeline. */
static void test_throughput_spans(void **state)
{
    (void)state;
    run_init();
    struct lg_bench_report *r = &g_run.total;
    r->c.confirmed = 300;
    r->first_send_us = 10900000;
    r->last_send_us = 11400000;
    r->last_final_us = 11900000;
    lg_bench_finish_figures(&g_run);
    assert_true(g_run.run_span_s > 0.999 && g_run.run_span_s < 1.001);
    assert_true(g_run.confirmed_per_s > 299.9 && g_run.confirmed_per_s < 300.1);
    assert_true(g_run.send_window_s > 0.499 && g_run.send_window_s < 0.501);
    assert_true(g_run.confirmed_per_s_sending > 599.9 && g_run.confirmed_per_s_sending < 600.1);
    /* every order sent at once: the sending window has no rate */
    r->last_send_us = r->first_send_us;
    lg_bench_finish_figures(&g_run);
    assert_true(g_run.confirmed_per_s_sending < 0);
    assert_true(g_run.confirmed_per_s > 299.9);
    /* nothing sent */
    memset(r, 0, sizeof(*r));
    lg_bench_finish_figures(&g_run);
    assert_true(g_run.confirmed_per_s == 0);
    assert_true(g_run.slo.ok); /* no --slo given */
    /* the workers' spans merge to the earliest send and the latest ones */
    static struct lg_bench_report a, b;
    lg_bench_report_init(&a);
    lg_bench_report_init(&b);
    b.first_send_us = 5;
    b.last_send_us = 9;
    b.last_final_us = 20;
    lg_bench_report_merge(&a, &b); /* a had none */
    assert_int_equal(a.first_send_us, 5);
    b.first_send_us = 3;
    b.last_send_us = 7;
    b.last_final_us = 30;
    lg_bench_report_merge(&a, &b);
    assert_int_equal(a.first_send_us, 3);
    assert_int_equal(a.last_send_us, 9);
    assert_int_equal(a.last_final_us, 30);
    b.first_send_us = 0; /* a worker that sent nothing keeps the earliest */
    lg_bench_report_merge(&a, &b);
    assert_int_equal(a.first_send_us, 3);
    lg_bench_opts_free(&g_opts);
}

static char *summary(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    lg_bench_print_summary(&g_run, f);
    fclose(f);
    return buf;
}

static void test_summary_no_empty_sections(void **state)
{
    (void)state;
    run_init();
    lg_bench_finish_figures(&g_run);
    lg_bench_audit_run(&g_run.total, NULL, &g_run.audit);
    char *out = summary();
    assert_null(strstr(out, "rejections:"));
    assert_null(strstr(out, "errors:"));
    assert_null(strstr(out, "close codes:"));
    assert_null(strstr(out, "latency from"));
    assert_null(strstr(out, "result figures"));
    assert_null(strstr(out, "slo"));
    assert_null(strstr(out, "cleanup"));
    assert_non_null(strstr(out, "throughput: 0 confirmed orders/s over the whole run"));
    assert_non_null(strstr(out, "the sending window has no length"));
    free(out);

    struct lg_bench_report *r = &g_run.total;
    r->c.rejected_by_code[LG_RC_OUT_OF_STOCK] = 2;
    r->c.rejected = 2;
    r->c.confirmed = 1;
    r->c.errors_by_code[LG_EC_BUSY] = 1;
    lg_bench_count_close(&r->c, 1001);
    lg_hist_record(&r->accept[0], 1000);
    r->first_send_us = 1000000;
    r->last_send_us = 1500000;
    r->last_final_us = 2000000;
    char err[256];
    assert_int_equal(lg_slo_parse(&g_opts.slo, "accept_p99=1us,lost=0", err, sizeof(err)), 0);
    lg_bench_finish_figures(&g_run);
    g_run.cleanup_tried = true;
    g_run.rooms_made = 2;
    g_run.rooms_cleaned = 2;
    out = summary();
    assert_non_null(strstr(out, "\nrejections: OUT_OF_STOCK=2\n"));
    assert_non_null(strstr(out, "\nerrors: BUSY=1\n"));
    assert_non_null(strstr(out, "\nclose codes: 1001=1\n"));
    assert_non_null(strstr(out, "  accept normal"));
    assert_null(strstr(out, "accept high")); /* no high order: no line for it */
    assert_null(strstr(out, "result normal"));
    assert_non_null(strstr(out, "result figures: the 0 of 3 final results"));
    assert_non_null(strstr(out, "throughput: 1 confirmed orders/s over the whole run (first "
                                "send to last final result, 1.00 s); 2/s over the sending "
                                "window (first to last send, 0.50 s)"));
    assert_non_null(strstr(out, "\n  [FAIL] accept_p99 <= 1us: 1.00 ms (n=1)\n"));
    assert_non_null(strstr(out, "\n  [ok] lost <= 0: 0\n"));
    assert_non_null(strstr(out, "\nslo FAILED: accept_p99\n"));
    assert_non_null(strstr(out, "cleanup: 2 of 2 rooms closed"));
    free(out);
    lg_bench_opts_free(&g_opts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slo_parse_targets),  cmocka_unit_test(test_slo_parse_refusals),
        cmocka_unit_test(test_slo_latency_bounds), cmocka_unit_test(test_slo_count_and_rate_bounds),
        cmocka_unit_test(test_slo_verdict_lines),  cmocka_unit_test(test_options_slo_and_cleanup),
        cmocka_unit_test(test_throughput_spans),   cmocka_unit_test(test_summary_no_empty_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
