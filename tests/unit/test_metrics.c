/* Unit tests of GET /metrics' text: every line is a HELP, TYPE or sample
 * line of the Prometheus text format, counters end in _total, histogram
 * buckets are cumulative up to +Inf = _count, and the values are the
 * snapshot's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/metrics.h"

static char *render(const struct lg_metrics *m)
{
    size_t len = 0;
    char *text = lg_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    return text;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void observe_counts_each_sample_in_its_bucket(void **state)
{
    (void)state;
    struct lg_prom_hist h = {0};
    lg_prom_hist_observe(&h, 0.001); /* exactly on a bound: that bucket (le is <=) */
    lg_prom_hist_observe(&h, 0.0010001);
    lg_prom_hist_observe(&h, 10);
    lg_prom_hist_observe(&h, 11); /* only +Inf */
    lg_prom_hist_observe(&h, -1); /* clock step: counted as 0 */
    assert_int_equal(h.buckets[0], 1);
    assert_int_equal(h.buckets[1], 1);
    assert_int_equal(h.buckets[2], 1);
    assert_int_equal(h.buckets[LG_PROM_NBUCKETS - 1], 1);
    assert_int_equal(h.count, 5);
    assert_true(h.sum > 21.0019 && h.sum < 21.0021);
}

static void every_line_is_prometheus_text(void **state)
{
    (void)state;
    struct lg_prom_hist accept = {0}, confirm = {0};
    lg_prom_hist_observe(&accept, 0.0003);
    lg_prom_hist_observe(&accept, 0.004);
    lg_prom_hist_observe(&confirm, 0.2);
    struct lg_metrics m = {
        .gateway_id = "gw-1",
        .connections = 12,
        .monitors = 1,
        .counters = {[LG_CTR_ORDERS_RECEIVED] = 9,
                     [LG_CTR_ORDERS_ACCEPTED] = 7,
                     [LG_CTR_ORDERS_INVALID] = 2,
                     [LG_CTR_ORDERS_BUSY] = 3,
                     [LG_CTR_ORDERS_RATE_LIMITED] = 4,
                     [LG_CTR_ACCEPTED_NORMAL] = 7,
                     [LG_CTR_FRAMES_IN] = 30,
                     [LG_CTR_FRAMES_OUT] = 44,
                     [LG_CTR_SKU_UPDATES_OUT] = 77,
                     [LG_CTR_INTAKE_CALLS_HIGH] = 5,
                     [LG_CTR_INTAKE_CALL_ORDERS_HIGH] = 6,
                     [LG_CTR_INTAKE_CALLS_NORMAL] = 8,
                     [LG_CTR_INTAKE_CALL_ORDERS_NORMAL] = 90},
        .accept = &accept,
        .confirm = &confirm,
        .nredis = 1,
        .redis = {{.conn = "main", .up = true, .stats = {.errors = 2, .reconnects = 1}}},
        .bus_known = true,
        .bus_reconnects = 4,
    };
    char *text = render(&m);
    regex_t help, type, sample;
    assert_int_equal(regcomp(&help, "^# HELP [a-z_]+ [^ ].*$", REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regcomp(&type, "^# TYPE ([a-z_]+) (counter|gauge|histogram)$", REG_EXTENDED),
                     0);
    assert_int_equal(regcomp(&sample,
                             "^[a-z_]+(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
                             "(-?[0-9]+(\\.[0-9]+)?(e[-+][0-9]+)?)$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char *copy = strdup(text), *save = NULL;
    char current_type[32] = "", current_family[96] = "";
    int samples = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        regmatch_t mt[3];
        if (regexec(&help, line, 0, NULL, 0) == 0)
            continue;
        if (regexec(&type, line, 3, mt, 0) == 0) {
            snprintf(current_family, sizeof(current_family), "%.*s",
                     (int)(mt[1].rm_eo - mt[1].rm_so), line + mt[1].rm_so);
            snprintf(current_type, sizeof(current_type), "%.*s", (int)(mt[2].rm_eo - mt[2].rm_so),
                     line + mt[2].rm_so);
            if (strcmp(current_type, "counter") == 0) {
                size_t n = strlen(current_family);
                assert_true(n > 6 && strcmp(current_family + n - 6, "_total") == 0);
            }
            continue;
        }
        if (regexec(&sample, line, 0, NULL, 0) != 0)
            fail_msg("not a Prometheus line: %s", line);
        assert_true(strncmp(line, current_family, strlen(current_family)) == 0);
        samples++;
    }
    assert_true(samples > 40);
    free(copy);
    regfree(&help);
    regfree(&type);
    regfree(&sample);

    assert_true(has_line(text, "livegate_connections 12"));
    assert_true(has_line(text, "livegate_orders_total{outcome=\"received\"} 9"));
    assert_true(has_line(text, "livegate_orders_total{outcome=\"invalid\"} 2"));
    assert_true(has_line(text, "livegate_orders_total{outcome=\"busy\"} 3"));
    assert_true(has_line(text, "livegate_orders_total{outcome=\"rate_limited\"} 4"));
    assert_true(has_line(text, "livegate_orders_accepted_total{priority=\"normal\"} 7"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_bucket{le=\"0.0005\"} 1"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_bucket{le=\"0.0025\"} 1"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_bucket{le=\"0.005\"} 2"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_bucket{le=\"+Inf\"} 2"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_count 2"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_sum 0.004300"));
    assert_true(has_line(text, "livegate_confirm_latency_seconds_bucket{le=\"0.1\"} 0"));
    assert_true(has_line(text, "livegate_confirm_latency_seconds_bucket{le=\"0.25\"} 1"));
    assert_true(has_line(text, "livegate_redis_errors_total{conn=\"main\"} 2"));
    assert_true(has_line(text, "livegate_redis_reconnects_total{conn=\"main\"} 1"));
    assert_true(has_line(text, "livegate_redis_reconnects_total{conn=\"bus\"} 4"));
    assert_true(has_line(text, "livegate_redis_up{conn=\"main\"} 1"));
    assert_true(has_line(text, "livegate_frames_total{direction=\"in\"} 30"));
    assert_true(has_line(text, "livegate_frames_total{direction=\"out\"} 44"));
    assert_true(has_line(text, "livegate_sku_updates_total 77"));
    assert_true(has_line(text, "livegate_intake_calls_total{priority=\"high\"} 5"));
    assert_true(has_line(text, "livegate_intake_calls_total{priority=\"normal\"} 8"));
    assert_true(has_line(text, "livegate_intake_call_orders_total{priority=\"high\"} 6"));
    assert_true(has_line(text, "livegate_intake_call_orders_total{priority=\"normal\"} 90"));
    assert_true(has_line(text, "# TYPE livegate_accept_latency_seconds histogram"));
    free(text);
}

static void a_process_document_has_no_redis_figures(void **state)
{
    (void)state;
    struct lg_metrics m = {
        .gateway_id = "gw-2"}; /* no histograms yet; queue figures are the rooms document's */
    char *text = render(&m);
    assert_null(strstr(text, "livegate_queue_depth"));
    assert_null(strstr(text, "livegate_pay_timeouts_total"));
    assert_null(strstr(text, "livegate_room_"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_bucket{le=\"+Inf\"} 0"));
    assert_true(has_line(text, "livegate_accept_latency_seconds_count 0"));
    assert_null(strstr(text, "conn=\"bus\""));
    assert_true(has_line(text, "livegate_info{gateway_id=\"gw-2\"} 1"));
    free(text);
}

static char *render_rooms(const struct lg_metrics_rooms *r)
{
    size_t len = 0;
    char *text = lg_metrics_render_rooms(r, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    return text;
}

/* The shared port's room totals: the view's figures, the queue only when
 * the process document does not carry it, a HELP that says the figures
 * come from Redis and are cached, and label values quoted. */
static void room_totals_are_the_view_and_say_where_from(void **state)
{
    (void)state;
    struct lg_stats_view v;
    lg_stats_view_init(&v);
    v.counters[LG_STAT_RECEIVED] = 12;
    v.counters[LG_STAT_BUSY] = 2;
    v.counters[LG_STAT_GMV_FEN] = 39800;
    v.connections = 7;
    v.queue_high = 1;
    v.oldest_normal_ms = 2500;
    snprintf(v.codes[0].code, sizeof(v.codes[0].code), "OUT_OF_STOCK");
    v.codes[0].n = 3;
    snprintf(v.codes[1].code, sizeof(v.codes[1].code), "A\"B\\C");
    v.codes[1].n = 1;
    v.ncodes = 2;
    v.counters[LG_STAT_PAY_TIMEOUTS] = 6;
    struct lg_metrics_rooms r = {.total = &v, .process_elsewhere = true};
    char *text = render_rooms(&r);
    assert_true(has_line(text, "livegate_room_totals_up 1"));
    assert_non_null(strstr(text, "# HELP livegate_room_totals_up The room figures that follow "
                                 "are read from Redis"));
    assert_non_null(strstr(text, "cached up to 1000 ms"));
    assert_non_null(strstr(text, "LIVEGATE_METRICS_LISTEN"));
    assert_true(has_line(text, "livegate_room_orders{outcome=\"received\"} 12"));
    assert_true(has_line(text, "livegate_room_orders{outcome=\"busy\"} 2"));
    assert_true(has_line(text, "livegate_room_rejections{code=\"OUT_OF_STOCK\"} 3"));
    assert_true(has_line(text, "livegate_room_rejections{code=\"A\\\"B\\\\C\"} 1"));
    assert_true(has_line(text, "livegate_room_gmv_fen 39800"));
    assert_true(has_line(text, "livegate_room_connections 7"));
    assert_true(has_line(text, "livegate_queue_depth{priority=\"high\"} 1"));
    assert_true(has_line(text, "livegate_queue_oldest_age_seconds{priority=\"normal\"} 2.500"));
    assert_true(has_line(text, "livegate_pay_timeouts_total 6"));
    assert_true(has_line(text, "livegate_room_orders{outcome=\"pay_timeouts\"} 6"));
    assert_null(strstr(text, "livegate_orders_total")); /* no process counters here */
    free(text);

    r.process_elsewhere = false; /* appended to the process document */
    text = render_rooms(&r);
    assert_non_null(strstr(text, "those of the gateway process that answered"));
    free(text);

    r.total = NULL; /* Redis could not be read */
    text = render_rooms(&r);
    assert_true(has_line(text, "livegate_room_totals_up 0"));
    assert_null(strstr(text, "livegate_room_orders"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(observe_counts_each_sample_in_its_bucket),
        cmocka_unit_test(every_line_is_prometheus_text),
        cmocka_unit_test(a_process_document_has_no_redis_figures),
        cmocka_unit_test(room_totals_are_the_view_and_say_where_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
