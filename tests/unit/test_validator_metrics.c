/* Unit tests of the validator's /metrics: decisions counted by code (with
 * the OTHER overflow), the batch size histogram on both sides of each
 * bound, the lag, the exposition text, and the scrape responder's request
 * rules and responses (validator/metrics.c, validator/scrape.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "scrape.h"

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static char *render(const struct lgv_metrics *m)
{
    struct lgv_metrics_state st = {.consumer = "v-1", .rooms = 3, .redis_up = true};
    size_t len = 0;
    char *text = lgv_metrics_render(m, &st, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    return text;
}

static void decisions_are_counted_by_code(void **state)
{
    (void)state;
    struct lgv_metrics m = {0};
    lgv_metrics_decision(&m, "CONFIRMED");
    lgv_metrics_decision(&m, "CONFIRMED");
    lgv_metrics_decision(&m, "OUT_OF_STOCK");
    lgv_metrics_decision(&m, "bad\"code"); /* not an ID: never a label value */
    lgv_metrics_decision(&m, "");
    char *text = render(&m);
    assert_true(has_line(text, "livegate_validator_decisions_total{code=\"CONFIRMED\"} 2"));
    assert_true(has_line(text, "livegate_validator_decisions_total{code=\"OUT_OF_STOCK\"} 1"));
    assert_true(has_line(text, "livegate_validator_decisions_total{code=\"OTHER\"} 2"));
    assert_null(strstr(text, "bad"));
    assert_true(has_line(text, "livegate_validator_info{consumer=\"v-1\"} 1"));
    assert_true(has_line(text, "livegate_validator_rooms 3"));
    assert_true(has_line(text, "livegate_validator_redis_up 1"));
    free(text);
}

static void codes_past_the_limit_count_as_other(void **state)
{
    (void)state;
    struct lgv_metrics m = {0};
    char code[16];
    for (int i = 0; i < LGV_METRICS_MAX_CODES; i++) {
        snprintf(code, sizeof(code), "C%d", i);
        lgv_metrics_decision(&m, code);
    }
    assert_int_equal(m.ncodes, LGV_METRICS_MAX_CODES);
    lgv_metrics_decision(&m, "ONE_TOO_MANY");
    lgv_metrics_decision(&m, "C0"); /* a known one still has its own */
    char *text = render(&m);
    assert_true(has_line(text, "livegate_validator_decisions_total{code=\"OTHER\"} 1"));
    assert_true(has_line(text, "livegate_validator_decisions_total{code=\"C0\"} 2"));
    assert_null(strstr(text, "ONE_TOO_MANY"));
    free(text);
}

static void batch_sizes_fall_in_their_bucket(void **state)
{
    (void)state;
    struct lgv_metrics m = {0};
    lgv_metrics_batch(&m, 0, 0, 1000); /* nothing: not a batch */
    lgv_metrics_batch(&m, 1, 0, 1000);
    lgv_metrics_batch(&m, 2, 0, 1000);
    lgv_metrics_batch(&m, 3, 0, 1000);
    lgv_metrics_batch(&m, 4096, 0, 1000);
    lgv_metrics_batch(&m, 4097, 0, 1000);
    char *text = render(&m);
    assert_true(has_line(text, "livegate_validator_batch_size_bucket{le=\"1\"} 1"));
    assert_true(has_line(text, "livegate_validator_batch_size_bucket{le=\"2\"} 2"));
    assert_true(has_line(text, "livegate_validator_batch_size_bucket{le=\"4\"} 3"));
    assert_true(has_line(text, "livegate_validator_batch_size_bucket{le=\"2048\"} 3"));
    assert_true(has_line(text, "livegate_validator_batch_size_bucket{le=\"4096\"} 4"));
    assert_true(has_line(text, "livegate_validator_batch_size_bucket{le=\"+Inf\"} 5"));
    assert_true(has_line(text, "livegate_validator_batch_size_count 5"));
    assert_true(has_line(text, "livegate_validator_batch_size_sum 8199"));
    free(text);
}

static void lag_is_the_oldest_entry_age_and_zero_when_idle(void **state)
{
    (void)state;
    struct lgv_metrics m = {0};
    lgv_metrics_batch(&m, 5, 10000, 12500);
    char *text = render(&m);
    assert_true(has_line(text, "livegate_validator_lag_seconds 2.500"));
    free(text);
    lgv_metrics_batch(&m, 5, 13000, 12500); /* Redis's clock ahead: not negative */
    assert_true(m.lag_s == 0);
    lgv_metrics_batch(&m, 5, 10000, 11000);
    assert_true(m.lag_s == 1);
    lgv_metrics_idle(&m);
    assert_true(m.lag_s == 0);
}

static void every_counter_family_ends_in_total(void **state)
{
    (void)state;
    struct lgv_metrics m = {0};
    char *text = render(&m);
    for (char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128], type[32];
        assert_int_equal(sscanf(p, "# TYPE %127s %31s", name, type), 2);
        if (strcmp(type, "counter") == 0)
            assert_non_null(strstr(name, "_total"));
        char help[160];
        snprintf(help, sizeof(help), "# HELP %s ", name);
        assert_non_null(strstr(text, help));
    }
    free(text);
}

#define PARSE(s) lgv_scrape_parse(s, strlen(s))

static void requests_are_told_apart(void **state)
{
    (void)state;
    assert_int_equal(PARSE(""), LGV_SCRAPE_INCOMPLETE);
    assert_int_equal(PARSE("GET /metrics HTTP/1.1\r\nHost: x\r\n"), LGV_SCRAPE_INCOMPLETE);
    assert_int_equal(PARSE("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), LGV_SCRAPE_METRICS);
    assert_int_equal(PARSE("GET /metrics HTTP/1.0\r\n\r\n"), LGV_SCRAPE_METRICS);
    assert_int_equal(PARSE("GET /metrics?x=1 HTTP/1.1\r\n\r\n"), LGV_SCRAPE_METRICS);
    assert_int_equal(PARSE("GET /metricsx HTTP/1.1\r\n\r\n"), LGV_SCRAPE_NOT_FOUND);
    assert_int_equal(PARSE("GET / HTTP/1.1\r\n\r\n"), LGV_SCRAPE_NOT_FOUND);
    assert_int_equal(PARSE("GET /metric HTTP/1.1\r\n\r\n"), LGV_SCRAPE_NOT_FOUND);
    assert_int_equal(PARSE("POST /metrics HTTP/1.1\r\n\r\n"), LGV_SCRAPE_BAD_METHOD);
    assert_int_equal(PARSE("HEAD /metrics HTTP/1.1\r\n\r\n"), LGV_SCRAPE_BAD_METHOD);
    assert_int_equal(PARSE("GETS /metrics HTTP/1.1\r\n\r\n"), LGV_SCRAPE_BAD_METHOD);
    assert_int_equal(PARSE("get /metrics HTTP/1.1\r\n\r\n"), LGV_SCRAPE_BAD_REQUEST);
    assert_int_equal(PARSE("GET /metrics HTTP/2.0\r\n\r\n"), LGV_SCRAPE_BAD_REQUEST);
    assert_int_equal(PARSE("GET /metrics\r\n\r\n"), LGV_SCRAPE_BAD_REQUEST);
    assert_int_equal(PARSE("GET metrics HTTP/1.1\r\n\r\n"), LGV_SCRAPE_BAD_REQUEST);
    assert_int_equal(PARSE(" /metrics HTTP/1.1\r\n\r\n"), LGV_SCRAPE_BAD_REQUEST);
    assert_int_equal(PARSE("\r\n\r\n"), LGV_SCRAPE_BAD_REQUEST);
}

static void responses_carry_their_length_and_allow(void **state)
{
    (void)state;
    size_t len = 0;
    char *r = lgv_scrape_response(LGV_SCRAPE_METRICS, "a 1\n", 4, &len);
    assert_non_null(r);
    assert_int_equal(strlen(r), len);
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(r, "Content-Length: 4\r\n"));
    assert_non_null(strstr(r, "Connection: close\r\n"));
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, "a 1\n");
    free(r);
    r = lgv_scrape_response(LGV_SCRAPE_BAD_METHOD, NULL, 0, &len);
    assert_non_null(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(r, "Allow: GET\r\n"));
    free(r);
    r = lgv_scrape_response(LGV_SCRAPE_NOT_FOUND, NULL, 0, &len);
    assert_non_null(strstr(r, "HTTP/1.1 404 Not Found\r\n"));
    assert_null(strstr(r, "Allow:"));
    free(r);
    r = lgv_scrape_response(LGV_SCRAPE_INCOMPLETE, NULL, 0, &len); /* the buffer filled up */
    assert_non_null(strstr(r, "HTTP/1.1 431 "));
    free(r);
    r = lgv_scrape_response(LGV_SCRAPE_BAD_REQUEST, NULL, 0, &len);
    assert_non_null(strstr(r, "HTTP/1.1 400 Bad Request\r\n"));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decisions_are_counted_by_code),
        cmocka_unit_test(codes_past_the_limit_count_as_other),
        cmocka_unit_test(batch_sizes_fall_in_their_bucket),
        cmocka_unit_test(lag_is_the_oldest_entry_age_and_zero_when_idle),
        cmocka_unit_test(every_counter_family_ends_in_total),
        cmocka_unit_test(requests_are_told_apart),
        cmocka_unit_test(responses_carry_their_length_and_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
