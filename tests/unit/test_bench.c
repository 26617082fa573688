/* Unit tests for the bench's pure parts: options and their bounds, the
 * traffic mix (each broken order breaks the field it names, valid ones add
 * up), and the audit, which must fail on a lost, doubled or oversold order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cost.h"
#include "frame.h"
#include "mix.h"
#include "options.h"
#include "report.h"
#include "retry.h"
#include "scan.h"

static int parse(struct lg_bench_opts *o, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"livegate-bench";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    char err[256];
    return lg_bench_opts_parse(o, argc, argv, err, sizeof(err));
}

static void test_options_bounds(void **state)
{
    (void)state;
    struct lg_bench_opts o;
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--conns", "1", NULL}), 0);
    assert_int_equal(o.conns, 1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--conns", "0", NULL}), -1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--dup-share", "1", NULL}), 0);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--dup-share", "1.01", NULL}), -1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--shape", "wave", NULL}), -1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--url", "wss://x:1", NULL}), -1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--url", "ws://h:9/v1/ws", NULL}),
                     0);
    assert_string_equal(o.host, "h");
    assert_int_equal(o.port, 9);
    lg_bench_opts_free(&o);
    /* max: in flight until the result unless told "accept" */
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", NULL}), 0);
    assert_false(o.inflight_until_accept);
    lg_bench_opts_free(&o);
    assert_int_equal(
        parse(&o, (const char *[]){"--secret", "s", "--inflight-until", "accept", NULL}), 0);
    assert_true(o.inflight_until_accept);
    lg_bench_opts_free(&o);
    assert_int_equal(
        parse(&o, (const char *[]){"--secret", "s", "--inflight-until", "confirm", NULL}), -1);
    lg_bench_opts_free(&o);
    /* procs may not exceed conns */
    assert_int_equal(
        parse(&o, (const char *[]){"--secret", "s", "--conns", "2", "--procs", "3", NULL}), -1);
    lg_bench_opts_free(&o);
    /* more than 10,000 loopback connections: one source address per 10,000 */
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--conns", "50000", NULL}), 0);
    assert_int_equal(o.nsources, 5);
    assert_string_equal(o.sources[0], "127.0.0.2");
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--conns", "10000", NULL}), 0);
    assert_int_equal(o.nsources, 0);
    lg_bench_opts_free(&o);
}

static void test_mix_orders(void **state)
{
    (void)state;
    struct lg_bench_opts o;
    assert_int_equal(
        parse(&o, (const char *[]){"--secret", "s", "--invalid-share", "0.5", "--coupon-share",
                                   "0.5", "--high-share", "0.3", NULL}),
        0);
    struct lg_rng rng;
    lg_rng_seed(&rng, 42);
    int seen[LG_MIX_NKINDS] = {0};
    for (int i = 0; i < 5000; i++) {
        struct lg_mix_order m;
        lg_mix_draw(&o, &rng, 0, false, true, &m);
        seen[m.invalid]++;
        char frame[4096];
        int n = lg_mix_write_submit(&o, &m, "c-1", "s1", (unsigned)i, frame, sizeof(frame));
        assert_true(n > 0);
        json_t *j = json_loads(frame, 0, NULL);
        assert_non_null(j); /* every frame, broken or not, is valid JSON */
        if (!m.invalid) {
            long long qty = json_integer_value(json_object_get(j, "qty"));
            long long price = json_integer_value(json_object_get(j, "unit_price"));
            long long amount = json_integer_value(json_object_get(j, "amount"));
            long long discount = m.coupon ? lg_mix_coupon_discount(&o) : 0;
            assert_int_equal(amount, price * qty - discount);
            assert_int_equal(m.high, amount >= o.high_threshold);
        } else {
            assert_true(strlen(lg_mix_invalid_field(m.invalid)) > 0);
        }
        json_decref(j);
    }
    for (int k = 0; k < LG_MIX_NKINDS; k++)
        assert_true(seen[k] > 0); /* every rule gets broken */
    lg_bench_opts_free(&o);
}

static void test_audit_fails(void **state)
{
    (void)state;
    static struct lg_bench_report r;
    static struct lg_bench_stock_check s;
    struct lg_bench_audit a;
    lg_bench_report_init(&r);
    memset(&s, 0, sizeof(s));
    s.done = true;
    s.nskus = 1;
    s.initial[0] = 10;
    r.sku_confirmed_qty[0] = 10;
    s.left[0] = 0;
    lg_bench_audit_run(&r, &s, &a);
    assert_true(a.ok); /* exactly sold out */

    r.sku_confirmed_qty[0] = 11; /* one over */
    s.left[0] = -1;
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);

    r.sku_confirmed_qty[0] = 10;
    s.left[0] = 1; /* stock says one fewer was sold than the bench saw */
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);

    s.left[0] = 0;
    r.a.lost = 1;
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);
    r.a.lost = 0;
    r.a.doubled = 1;
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);
    r.a.doubled = 0;
    r.a.late = 1;
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);
    r.a.late = 0;
    r.a.dup_wrong = 1;
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);
    r.a.dup_wrong = 0;
    r.a.push_missing = 1; /* a result never pushed to a connection that stayed open */
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);
    r.a.push_missing = 0;
    r.a.refused_but_queued = 1; /* refused UNAVAILABLE, yet validated */
    lg_bench_audit_run(&r, &s, &a);
    assert_false(a.ok);
    r.a.refused_but_queued = 0;
    r.a.unavailable_but_queued = 2; /* documented for UNAVAILABLE: reported, not failed */
    lg_bench_audit_run(&r, &s, &a);
    assert_true(a.ok);
    r.a.unavailable_but_queued = 0;
    r.a.after_reconnect = 5; /* results found after a reconnect are reported, not failed */
    r.a.recovered_by_query = 3;
    lg_bench_audit_run(&r, &s, &a);
    assert_true(a.ok);
}

static void test_merge(void **state)
{
    (void)state;
    static struct lg_bench_report a, b;
    lg_bench_report_init(&a);
    lg_bench_report_init(&b);
    a.c.accepted = 3;
    b.c.accepted = 4;
    lg_hist_record(&a.accept[0], 1000);
    lg_hist_record(&b.accept[0], 5000000);
    lg_bench_count_close(&a.c, 1001);
    lg_bench_count_close(&b.c, 1001);
    lg_bench_count_close(&b.c, 4429);
    b.a.after_reconnect = 2;
    b.a.recovered_by_query = 1;
    b.a.push_missing = 1;
    lg_hist_record(&b.result_after_reconnect, 2000000);
    lg_bench_report_merge(&a, &b);
    assert_int_equal(a.a.after_reconnect, 2);
    assert_int_equal(a.a.recovered_by_query, 1);
    assert_int_equal(a.a.push_missing, 1);
    assert_int_equal(a.result_after_reconnect.total, 1);
    assert_int_equal(a.c.accepted, 7);
    assert_int_equal(a.accept[0].total, 2);
    assert_true(lg_hist_percentile(&a.accept[0], 100) == 5000000);
    assert_int_equal(a.c.close_codes[0], 1001);
    assert_int_equal(a.c.close_counts[0], 2);
    assert_int_equal(a.c.close_codes[1], 4429);
}

static void test_cost_parse_stat(void **state)
{
    (void)state;
    struct lg_cost_stat st;
    /* A plain line (fields 14 to 17 are 1234, 56, 129 and 10). */
    const char *plain = "4242 (redis-server) S 1 4242 4242 0 -1 4194560 393 0 0 0 1234 56 129 10 "
                        "20 0 5 0 123 456 789\n";
    assert_int_equal(lg_cost_parse_stat(plain, strlen(plain), &st), 0);
    assert_string_equal(st.comm, "redis-server");
    assert_int_equal(st.utime_ticks, 1234);
    assert_int_equal(st.stime_ticks, 56);
    assert_int_equal(st.cutime_ticks, 129);
    assert_int_equal(st.cstime_ticks, 10);
    /* A name with spaces and parentheses, even ") S 1 2": the fields start
     * after the last ')'. */
    const char *odd = "77 (a) S 1 2 (b) c) R 1 77 77 0 -1 0 0 0 0 0 9 8 0 0 20 0 1 0 5 6 7";
    assert_int_equal(lg_cost_parse_stat(odd, strlen(odd), &st), 0);
    assert_string_equal(st.comm, "a) S 1 2 (b) c");
    assert_int_equal(st.utime_ticks, 9);
    assert_int_equal(st.stime_ticks, 8);
    /* Broken lines: no parentheses, cut short before stime or before
     * cstime, not a number. */
    const char *bad[] = {"77 node S 1 2 3",
                         "77 (node) S 1 77 77 0 -1 0 0 0 0 0 9",
                         "77 (node) S 1 77 77 0 -1 0 0 0 0 0 9 8 0",
                         "77 (node) S 1 77 77 0 -1 0 0 0 0 0 9 8 0 x",
                         "77 (node) S 1 77 77 0 -1 0 0 0 0 0 x 8 0",
                         "",
                         "77 (node)",
                         "77 (node)S 1 77 77 0 -1 0 0 0 0 0 9 8 0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lg_cost_parse_stat(bad[i], strlen(bad[i]), &st), -1);
    /* The longest name Linux gives (15 characters) fits; a longer one is cut. */
    const char *longname =
        "1 (abcdefghijklmnopqrstuvwxyz0123456789abcdef) S 1 1 1 0 -1 0 0 0 0 0 1 "
        "2 0 0";
    assert_int_equal(lg_cost_parse_stat(longname, strlen(longname), &st), 0);
    assert_int_equal(strlen(st.comm), LG_COST_NAME_MAX - 1);
    assert_int_equal(st.stime_ticks, 2);
}

static void test_cost_per_order(void **state)
{
    (void)state;
    assert_int_equal(lg_cost_ticks_to_us(0, 100), 0);
    assert_int_equal(lg_cost_ticks_to_us(1, 100), 10000);
    assert_int_equal(lg_cost_ticks_to_us(250, 100), 2500000);
    assert_int_equal(lg_cost_ticks_to_us(3, 1000), 3000);
    assert_int_equal(lg_cost_ticks_to_us(5, 0), 0);
    /* ~584,000 years of CPU in ticks: no overflow on the way to microseconds */
    assert_true(lg_cost_ticks_to_us(UINT64_MAX / 1000, 100) > UINT64_MAX / 1000);
    assert_true(lg_cost_per_order(8000000, 1000000) == 8.0);
    assert_true(lg_cost_per_order(1, 3) > 0.33 && lg_cost_per_order(1, 3) < 0.34);
    assert_true(lg_cost_per_order(0, 10) == 0.0);
    assert_true(lg_cost_per_order(123, 0) < 0); /* no order confirmed: no cost per order */
}

/* Burns CPU until this process has used `ticks` more clock ticks of its own. */
static void burn_ticks(uint64_t ticks)
{
    char err[128];
    struct lg_cost_stat st;
    assert_int_equal(lg_cost_read_pid((int)getpid(), &st, err, sizeof(err)), 0);
    uint64_t until = st.utime_ticks + st.stime_ticks + ticks;
    volatile uint64_t x = 0;
    for (int round = 0; round < 5000; round++) {
        for (int i = 0; i < 1000000; i++)
            x += (uint64_t)i;
        assert_int_equal(lg_cost_read_pid((int)getpid(), &st, err, sizeof(err)), 0);
        if (st.utime_ticks + st.stime_ticks >= until)
            return;
    }
}

/* The CPU of a child the process waited for counts in its row (as Redis's
 * AOF rewrites count in Redis's), apart from its own time. */
static void test_cost_counts_children(void **state)
{
    (void)state;
    static struct lg_cost_table t;
    char err[256];
    lg_cost_init(&t);
    assert_int_equal(lg_cost_add_pid(&t, NULL, (int)getpid(), err, sizeof(err)), 0);
    lg_cost_start(&t);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        burn_ticks(5);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    long hz = sysconf(_SC_CLK_TCK);
    lg_cost_finish(&t, hz);
    assert_true(t.row[1].child_us >= lg_cost_ticks_to_us(5, hz));
    assert_int_equal(lg_cost_row_us(&t.row[1]), t.row[1].cpu_us + t.row[1].child_us);
    /* The parent only waited: its own time is well under the child's. */
    assert_true(t.row[1].cpu_us < t.row[1].child_us);
}

static void test_cost_table(void **state)
{
    (void)state;
    static struct lg_cost_table t;
    char err[256];
    lg_cost_init(&t);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.row[0].what, "bench");
    /* This process exists; its name comes from /proc. */
    assert_int_equal(lg_cost_add_pid(&t, NULL, (int)getpid(), err, sizeof(err)), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.row[1].what, "test_bench");
    assert_int_equal(lg_cost_add_pid(&t, "gateway", (int)getpid(), err, sizeof(err)), 0);
    assert_string_equal(t.row[2].what, "gateway");
    /* A pid that does not exist (above pid_max), or none, is refused. */
    assert_int_equal(lg_cost_add_pid(&t, NULL, 1 << 30, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no process"));
    assert_int_equal(lg_cost_add_pid(&t, NULL, 0, err, sizeof(err)), -1);
    assert_int_equal(t.n, 3);
    /* Burn some CPU (3 ticks, at most a few seconds): the interval sees it. */
    lg_cost_start(&t);
    burn_ticks(3);
    long hz = sysconf(_SC_CLK_TCK);
    lg_cost_finish(&t, hz);
    assert_true(t.row[1].cpu_us >= lg_cost_ticks_to_us(3, hz));
    assert_false(t.row[1].gone);
    lg_cost_set_self(&t, 5000);
    t.confirmed = 1000;
    assert_true(lg_cost_per_order(t.row[0].cpu_us, t.confirmed) == 5.0);
    /* The table is bounded. */
    lg_cost_init(&t);
    for (int i = 1; i < LG_COST_MAX_ROWS; i++)
        assert_int_equal(lg_cost_add_pid(&t, NULL, (int)getpid(), err, sizeof(err)), 0);
    assert_int_equal(lg_cost_add_pid(&t, NULL, (int)getpid(), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than"));
}

static void test_options_pids(void **state)
{
    (void)state;
    static struct lg_bench_opts o;
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--pid", "12", "--pid", "34",
                                                "--gateway-pid", "56", NULL}),
                     0);
    assert_int_equal(o.npids, 2);
    assert_int_equal(o.pids[1], 34);
    assert_int_equal(o.ngateway_pids, 1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--pid", "0", NULL}), -1);
    lg_bench_opts_free(&o);
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--pid", "x", NULL}), -1);
    lg_bench_opts_free(&o);
    /* At most LG_BENCH_MAX_PIDS of each. */
    static char *argv[2 + 2 * (LG_BENCH_MAX_PIDS + 1) + 3];
    char err[256];
    for (int n = LG_BENCH_MAX_PIDS; n <= LG_BENCH_MAX_PIDS + 1; n++) {
        int argc = 0;
        argv[argc++] = (char *)"livegate-bench";
        argv[argc++] = (char *)"--secret=s";
        for (int i = 0; i < n; i++) {
            argv[argc++] = (char *)"--pid";
            argv[argc++] = (char *)"7";
        }
        argv[argc] = NULL;
        int rc = lg_bench_opts_parse(&o, argc, argv, err, sizeof(err));
        lg_bench_opts_free(&o);
        assert_int_equal(rc, n <= LG_BENCH_MAX_PIDS ? 0 : -1);
        if (rc)
            assert_non_null(strstr(err, "at most"));
    }
}

/* Whether jansson takes text for an object, as the bench's reading used to. */
static bool jansson_object(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    bool ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

static const char *const SCAN_SAMPLES[] = {
    "{\"type\":\"order.accepted\",\"req\":\"s12\",\"client_order_id\":\"ab-0-12\","
    "\"order_id\":\"o1-77\",\"priority\":\"high\",\"duplicate\":false,"
    "\"accepted_at_ms\":1764590000123}",
    "{\"type\":\"order.confirmed\",\"client_order_id\":\"ab-0-12\",\"order_id\":\"o1-77\","
    "\"status\":\"pending_payment\",\"amount\":19800,\"confirmed_at_ms\":1764590000200,"
    "\"pay_deadline_ms\":1764590900200,\"req\":\"s12\"}",
    "{\"type\":\"order.rejected\",\"code\":\"INVALID_FIELD\",\"field\":\"address.phone\","
    "\"message\":\"\\u624b\\u673a \\\"bad\\\" \\ud83d\\ude00\",\"req\":\"s3\"}",
    "{\"type\":\"sku.update\",\"sku\":{\"sku_id\":\"sku-1\",\"stock\":12,\"price\":-1.5e3,"
    "\"tags\":[true,false,null,[],{}]},\"x\":0.25}",
    " \t\r\n{ \"type\" : \"error\" , \"code\" : \"BUSY\" , \"retry_after_ms\" : 1000 } \n",
    "{\"type\":\"a\",\"type\":\"b\"}",
    "{\"\\u0074ype\":\"auth.ok\"}",
    "{}",
};

static void test_scan_like_jansson(void **state)
{
    (void)state;
    static struct lg_scan sc;
    char buf[128];
    /* The values the worker reads. */
    assert_int_equal(lg_scan_object(SCAN_SAMPLES[0], strlen(SCAN_SAMPLES[0]), &sc), 0);
    assert_string_equal(lg_scan_str(&sc, "type", buf, sizeof(buf)), "order.accepted");
    assert_string_equal(lg_scan_str(&sc, "order_id", buf, sizeof(buf)), "o1-77");
    assert_false(lg_scan_is_true(&sc, "duplicate"));
    assert_null(lg_scan_str(&sc, "accepted_at_ms", buf, sizeof(buf))); /* not a string */
    assert_null(lg_scan_str(&sc, "missing", buf, sizeof(buf)));
    assert_string_equal(lg_scan_str(&sc, "type", buf, 6), "order"); /* cut, terminated */
    assert_int_equal(lg_scan_object(SCAN_SAMPLES[2], strlen(SCAN_SAMPLES[2]), &sc), 0);
    assert_string_equal(lg_scan_str(&sc, "message", buf, sizeof(buf)),
                        "\xe6\x89\x8b\xe6\x9c\xba \"bad\" \xf0\x9f\x98\x80");
    assert_int_equal(lg_scan_object(SCAN_SAMPLES[5], strlen(SCAN_SAMPLES[5]), &sc), 0);
    assert_string_equal(lg_scan_str(&sc, "type", buf, sizeof(buf)), "b"); /* the last one wins */
    assert_int_equal(lg_scan_object(SCAN_SAMPLES[6], strlen(SCAN_SAMPLES[6]), &sc), 0);
    assert_string_equal(lg_scan_str(&sc, "type", buf, sizeof(buf)), "auth.ok");

    /* Texts jansson refuses, or that are not objects, are refused too. */
    const char *bad[] = {
        "",
        "[]",
        "\"x\"",
        "{",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe6\x89\"}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{\"a\":99999999999999999999}",
        "{\"a\":1e999}",
        "{\"a\":[1,]}",
        "{\"a\":{\"b\"}}",
        "{\"a\":[1 2]}",
        "{\"a\":\"x}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(jansson_object(bad[i], strlen(bad[i])));
        assert_int_equal(lg_scan_object(bad[i], strlen(bad[i]), &sc), -1);
    }
    /* Every sample, and thousands of mutations of them (a byte changed,
     * dropped or doubled): the scan and jansson agree on each. */
    struct lg_rng r;
    lg_rng_seed(&r, 42);
    char text[512];
    int agreed = 0;
    for (size_t k = 0; k < sizeof(SCAN_SAMPLES) / sizeof(SCAN_SAMPLES[0]); k++) {
        size_t n = strlen(SCAN_SAMPLES[k]);
        assert_true(jansson_object(SCAN_SAMPLES[k], n));
        assert_int_equal(lg_scan_object(SCAN_SAMPLES[k], n, &sc), 0);
        for (int round = 0; round < 3000; round++) {
            memcpy(text, SCAN_SAMPLES[k], n);
            size_t len = n, at = lg_rng_below(&r, (uint32_t)n);
            static const char alphabet[] = "{}[]\",:\\ tfnu0123456789.eE+-x\x01\x80\xc3\xa9";
            switch (lg_rng_below(&r, 3)) {
            case 0:
                text[at] = alphabet[lg_rng_below(&r, sizeof(alphabet) - 1)];
                break;
            case 1:
                memmove(text + at, text + at + 1, len - at - 1);
                len--;
                break;
            default:
                memmove(text + at + 1, text + at, len - at);
                len++;
                break;
            }
            bool want = jansson_object(text, len);
            bool got = lg_scan_object(text, len, &sc) == 0;
            if (want != got)
                fail_msg("scan %d, jansson %d: %.*s", got, want, (int)len, text);
            if (want) {
                /* ... and on the members the worker reads. */
                json_t *j = json_loadb(text, len, 0, NULL);
                const char *keys[] = {"type", "req", "order_id", "code", "client_order_id"};
                for (size_t q = 0; q < 5; q++) {
                    const char *jv = json_string_value(json_object_get(j, keys[q]));
                    const char *sv = lg_scan_str(&sc, keys[q], buf, sizeof(buf));
                    assert_true((jv == NULL) == (sv == NULL));
                    if (jv && strlen(jv) < sizeof(buf))
                        assert_string_equal(jv, sv);
                }
                assert_true(json_is_true(json_object_get(j, "duplicate")) ==
                            lg_scan_is_true(&sc, "duplicate"));
                json_decref(j);
            }
            agreed++;
        }
    }
    assert_int_equal(agreed, 3000 * (int)(sizeof(SCAN_SAMPLES) / sizeof(SCAN_SAMPLES[0])));
    /* Nesting and members are bounded. */
    char deep[2 * LG_SCAN_MAX_DEPTH + 16];
    size_t d = 0;
    deep[d++] = '{';
    memcpy(deep + d, "\"a\":", 4);
    d += 4;
    for (int i = 0; i < LG_SCAN_MAX_DEPTH; i++)
        deep[d++] = '[';
    for (int i = 0; i < LG_SCAN_MAX_DEPTH; i++)
        deep[d++] = ']';
    deep[d++] = '}';
    assert_int_equal(lg_scan_object(deep, d, &sc), -1);
    char many[LG_SCAN_MAX_MEMBERS * 8 + 16];
    size_t m = 0;
    many[m++] = '{';
    for (int i = 0; i <= LG_SCAN_MAX_MEMBERS; i++)
        m += (size_t)snprintf(many + m, sizeof(many) - m, "%s\"k%d\":1", i ? "," : "", i);
    many[m++] = '}';
    assert_int_equal(lg_scan_object(many, m, &sc), -1);
}

static void test_frame_text(void **state)
{
    (void)state;
    static unsigned char out[70000];
    static char payload[66000], back[70000];
    int opcode, fin;
    size_t back_len;
    /* The three length forms: 7 bits, 16 bits, 64 bits. */
    const size_t lens[] = {0, 1, 7, 8, 9, 125, 126, 600, 65535, 65536};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t len = lens[k];
        for (size_t i = 0; i < len; i++)
            payload[i] = (char)('a' + i % 26);
        size_t n = lg_frame_text(out, sizeof(out), payload, len, 0xa1b2c3d4u);
        size_t header = len <= 125 ? 6 : len <= 65535 ? 8 : 14;
        assert_int_equal(n, header + len);
        assert_int_equal(out[0], 0x81); /* FIN, text */
        assert_true(out[1] & 0x80);     /* masked */
        assert_int_equal(out[header - 4], 0xa1);
        assert_int_equal(out[header - 1], 0xd4);
        assert_int_equal(lg_frame_read(out, n, &opcode, &fin, back, sizeof(back), &back_len), n);
        assert_int_equal(opcode, 1);
        assert_int_equal(fin, 1);
        assert_int_equal(back_len, len);
        assert_memory_equal(back, payload, len);
        if (len >= 8) /* the payload is masked on the wire */
            assert_memory_not_equal(out + header, payload, len);
        /* Too small a buffer: nothing written. */
        assert_int_equal(lg_frame_text(out, header + len - 1, payload, len, 1), 0);
    }
    /* Frames written back to back read back one after another. */
    size_t a = lg_frame_text(out, sizeof(out), "{\"a\":1}", 7, 7);
    size_t b = lg_frame_text(out + a, sizeof(out) - a, "{}", 2, 0);
    assert_int_equal(lg_frame_read(out + a, b, &opcode, &fin, back, sizeof(back), &back_len), b);
    assert_int_equal(back_len, 2);
    assert_memory_equal(back, "{}", 2);
    /* A truncated frame is not read. */
    assert_int_equal(lg_frame_read(out, a - 1, &opcode, &fin, back, sizeof(back), &back_len), 0);
}

static void test_frame_parse(void **state)
{
    (void)state;
    struct lg_frame_info fi;
    /* A server's text frame (unmasked), 16-bit length. */
    unsigned char f[300] = {0x81, 126, 0, 200};
    memset(f + 4, 'x', 200);
    assert_int_equal(lg_frame_parse(f, 204, 1 << 20, &fi), 1);
    assert_int_equal(fi.opcode, 1);
    assert_int_equal(fi.fin, 1);
    assert_int_equal(fi.masked, 0);
    assert_int_equal(fi.header, 4);
    assert_int_equal(fi.payload_len, 200);
    /* Every shorter prefix needs more bytes. */
    for (size_t n = 0; n < 204; n++)
        assert_int_equal(lg_frame_parse(f, n, 1 << 20, &fi), 0);
    /* Over the limit, reserved bits, unknown opcodes, big or fragmented
     * control frames: refused. */
    assert_int_equal(lg_frame_parse(f, 204, 199, &fi), -1);
    unsigned char rsv[] = {0xc1, 0};
    assert_int_equal(lg_frame_parse(rsv, 2, 100, &fi), -1);
    unsigned char opc[] = {0x83, 0};
    assert_int_equal(lg_frame_parse(opc, 2, 100, &fi), -1);
    unsigned char bigping[] = {0x89, 126, 0, 126};
    assert_int_equal(lg_frame_parse(bigping, 4, 1000, &fi), -1);
    unsigned char fragclose[] = {0x08, 2, 3, 0xe8};
    assert_int_equal(lg_frame_parse(fragclose, 4, 100, &fi), -1);
    /* A close with its code; a fragment (FIN clear); 64-bit length. */
    unsigned char cl[] = {0x88, 2, 0x0f, 0xa1};
    assert_int_equal(lg_frame_parse(cl, 4, 100, &fi), 1);
    assert_int_equal(fi.opcode, 8);
    assert_int_equal((cl[fi.header] << 8) | cl[fi.header + 1], 4001);
    unsigned char frag[] = {0x01, 1, 'a'};
    assert_int_equal(lg_frame_parse(frag, 3, 100, &fi), 1);
    assert_int_equal(fi.fin, 0);
    unsigned char l64[10] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(lg_frame_parse(l64, 10, 1 << 20, &fi), 0); /* 65536 bytes to come */
    assert_int_equal(lg_frame_parse(l64, 10, 1000, &fi), -1);
    /* A masked frame (as the bench writes) parses with its key. */
    unsigned char out[64];
    size_t n = lg_frame_text(out, sizeof(out), "hello", 5, 0x01020304u);
    assert_int_equal(lg_frame_parse(out, n, 100, &fi), 1);
    assert_int_equal(fi.masked, 1);
    assert_int_equal(fi.mask, 0x01020304u);
    assert_int_equal(fi.header + fi.payload_len, n);
}

static void test_mix_write_valid(void **state)
{
    (void)state;
    static struct lg_bench_opts o;
    assert_int_equal(parse(&o, (const char *[]){"--secret", "s", "--run-id", "abc123", "--rooms",
                                                "3", "--coupon-share", "0.5", NULL}),
                     0);
    struct lg_rng r;
    lg_rng_seed(&r, 7);
    char slow[4096], fast[4096];
    int valid = 0;
    /* Every valid order is the same frame, byte for byte, as the formatted one. */
    for (int i = 0; i < 20000; i++) {
        struct lg_mix_order m;
        unsigned seq = i % 3 == 0 ? (unsigned)i : lg_rng_below(&r, 4000000000u);
        lg_mix_draw(&o, &r, i % 3, i % 7 == 0, i % 2 == 0, &m);
        char coid[64], req[24];
        snprintf(coid, sizeof(coid), "abc123-%d-%d", i % 4, i);
        snprintf(req, sizeof(req), "s%d", i);
        int a = lg_mix_write_submit(&o, &m, coid, req, seq, slow, sizeof(slow));
        int b = lg_mix_write_valid(&o, &m, coid, req, seq, fast, sizeof(fast));
        if (m.invalid) {
            assert_int_equal(b, -1);
            continue;
        }
        valid++;
        assert_true(a > 0);
        assert_int_equal(a, b);
        assert_memory_equal(slow, fast, (size_t)a);
        /* too small a buffer: refused, like the formatted one */
        assert_int_equal(lg_mix_write_valid(&o, &m, coid, req, seq, fast, (size_t)a), -1);
    }
    assert_true(valid > 19000);
    char buf[8];
    struct lg_mix_buf b = {buf, 0, sizeof(buf), false};
    lg_mix_put_int(&b, -42);
    lg_mix_put_int(&b, 0);
    assert_string_equal(buf, "-420");
    lg_mix_put_str(&b, "abcd");
    assert_true(b.full);
    assert_string_equal(buf, "-420"); /* what did not fit is not half written */
    lg_mix_put_int(&b, 1);
    assert_string_equal(buf, "-420"); /* nothing after a cut */
    lg_bench_opts_free(&o);
}

/* retry_after_ms of the refusal text, or -1 when the bench must not take it. */
static int64_t retry_after_of(const char *text)
{
    static struct lg_scan msg;
    assert_int_equal(lg_scan_object(text, strlen(text), &msg), 0);
    int64_t ms = -7;
    if (lg_bench_retry_after(&msg, &ms))
        return -1;
    return ms;
}

static void test_retry_after(void **state)
{
    (void)state;
    assert_int_equal(
        retry_after_of("{\"type\":\"error\",\"code\":\"BUSY\",\"retry_after_ms\":250}"), 250);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":1}"), 1); /* the least allowed */
    assert_int_equal(retry_after_of("{\"retry_after_ms\":0}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":-5}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":3600000}"), 3600000); /* the most */
    assert_int_equal(retry_after_of("{\"retry_after_ms\":3600001}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":9223372036854775807}"), -1);
    assert_int_equal(retry_after_of("{\"type\":\"error\",\"code\":\"BUSY\"}"), -1); /* missing */
    assert_int_equal(retry_after_of("{\"retry_after_ms\":\"250\"}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":2.5}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":250.0}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":1e3}"), -1);
    assert_int_equal(retry_after_of("{\"retry_after_ms\":null}"), -1);
}

static void test_retry_plan(void **state)
{
    (void)state;
    int64_t due = 0;
    /* waits retry_after_ms from the refusal */
    assert_int_equal(lg_bench_retry_plan(1000000, 250, 0, 5000000, &due), LG_RETRY_AT);
    assert_int_equal(due, 1250000);
    /* the per-order cap, on both sides */
    assert_int_equal(lg_bench_retry_plan(0, 1, LG_BENCH_RETRY_MAX - 1, 5000000, &due), LG_RETRY_AT);
    assert_int_equal(lg_bench_retry_plan(0, 1, LG_BENCH_RETRY_MAX, 5000000, &due),
                     LG_RETRY_TOO_MANY);
    /* the run's end, on both sides */
    assert_int_equal(lg_bench_retry_plan(4000000, 1000, 0, 5000000, &due), LG_RETRY_AT);
    assert_int_equal(due, 5000000);
    due = 42;
    assert_int_equal(lg_bench_retry_plan(4000000, 1001, 0, 5000000, &due), LG_RETRY_TOO_LATE);
    assert_int_equal(due, 42); /* nothing planned */
}

/* The drain ends only once its window and the newest accept's 10 s (and
 * the grace) have both passed: each bound on both sides. */
static void test_drain_over(void **state)
{
    (void)state;
    const int64_t end = 50000000, promise = LG_BENCH_SLA_US + LG_BENCH_ANSWER_GRACE_US;
    assert_false(lg_bench_drain_over(end - 1, end, 0));
    assert_true(lg_bench_drain_over(end, end, 0));
    /* an order accepted 5 s before the window's end keeps it open 6 s more */
    int64_t late = end - 5000000;
    assert_false(lg_bench_drain_over(late + promise - 1, end, late));
    assert_true(lg_bench_drain_over(late + promise, end, late));
    /* an early accept does not extend the window */
    assert_false(lg_bench_drain_over(end - 1, end, 1000));
}

static void test_retry_heap(void **state)
{
    (void)state;
    struct lg_retry_heap h = {0};
    const int64_t due[] = {500, 100, 900, 100, 300, 700, 200};
    for (int i = 0; i < 7; i++)
        assert_int_equal(lg_retry_push(&h, due[i], i), 0);
    int sub = -1;
    assert_false(lg_retry_pop_due(&h, 99, &sub)); /* nothing due yet */
    int64_t last = 0;
    int popped = 0;
    while (lg_retry_pop_due(&h, 600, &sub)) {
        assert_true(due[sub] >= last && due[sub] <= 600);
        last = due[sub];
        popped++;
    }
    assert_int_equal(popped, 5); /* 100, 100, 200, 300, 500 */
    assert_int_equal(h.n, 2);
    assert_true(lg_retry_pop_due(&h, 10000, &sub));
    assert_int_equal(sub, 5); /* 700 before 900 */
    lg_retry_free(&h);
    assert_int_equal(h.n, 0);
}

/* The audit's lines for refusals and resubmits each fail the run alone. */
static void test_audit_retries(void **state)
{
    (void)state;
    static struct lg_bench_report r;
    struct lg_bench_audit a;
    lg_bench_report_init(&r);
    r.a.refusals_retryable = 10;
    r.c.retries = 9;
    r.c.admitted_after_retry = 4;
    lg_bench_audit_run(&r, NULL, &a);
    assert_true(a.ok);

    r.a.refusal_no_retry_after = 1; /* a BUSY without retry_after_ms */
    lg_bench_audit_run(&r, NULL, &a);
    assert_false(a.ok);
    r.a.refusal_no_retry_after = 0;

    /* refused and never accepted: fine once order.query says it is unknown */
    r.c.refused_gave_up = 1;
    r.c.refused_waiting = 2;
    r.a.refused_only_checked = 2;
    lg_bench_audit_run(&r, NULL, &a);
    assert_false(a.ok); /* one never asked about */
    r.a.refused_only_checked = 3;
    lg_bench_audit_run(&r, NULL, &a);
    assert_true(a.ok);
    r.a.refused_only_queued = 1; /* ... but the gateway knew it */
    lg_bench_audit_run(&r, NULL, &a);
    assert_false(a.ok);
    r.a.refused_only_queued = 0;

    r.a.unsent = 1; /* planned, never written: no connection came back */
    lg_bench_audit_run(&r, NULL, &a);
    assert_false(a.ok);
    r.a.unsent = 0;
    r.c.resubmits_after_close = 5; /* resent on a new connection: reported, not failed */
    lg_bench_audit_run(&r, NULL, &a);
    assert_true(a.ok);
    r.a.unanswered = 1;
    lg_bench_audit_run(&r, NULL, &a);
    assert_false(a.ok);

    static struct lg_bench_report m;
    lg_bench_report_init(&m);
    lg_hist_record(&r.admit_after_retry, 300000);
    lg_bench_report_merge(&m, &r);
    lg_bench_report_merge(&m, &r);
    assert_int_equal(m.c.retries, 18);
    assert_int_equal(m.c.admitted_after_retry, 8);
    assert_int_equal(m.c.resubmits_after_close, 10);
    assert_int_equal(m.c.refused_gave_up, 2);
    assert_int_equal(m.c.refused_waiting, 4);
    assert_int_equal(m.a.refusals_retryable, 20);
    assert_int_equal(m.a.refused_only_checked, 6);
    assert_int_equal(m.a.unanswered, 2);
    assert_int_equal(m.admit_after_retry.total, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_bounds),  cmocka_unit_test(test_mix_orders),
        cmocka_unit_test(test_audit_fails),     cmocka_unit_test(test_merge),
        cmocka_unit_test(test_cost_parse_stat), cmocka_unit_test(test_cost_per_order),
        cmocka_unit_test(test_cost_table),      cmocka_unit_test(test_cost_counts_children),
        cmocka_unit_test(test_options_pids),    cmocka_unit_test(test_scan_like_jansson),
        cmocka_unit_test(test_frame_text),      cmocka_unit_test(test_mix_write_valid),
        cmocka_unit_test(test_frame_parse),     cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retry_plan),      cmocka_unit_test(test_retry_heap),
        cmocka_unit_test(test_drain_over),      cmocka_unit_test(test_audit_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
