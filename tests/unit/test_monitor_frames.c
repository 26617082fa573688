/* Unit tests of the monitor frames: monitor.stats carries every contract
 * field (zeros for an empty room), monitor.order copies only listed fields
 * and never unmasked personal data, the feed's per-second sampling on both
 * sides of its limit, and splicing a count into a shared frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rules/monitor_frames.h"

static json_t *obj(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        fail_msg("missing field %s", key);
    return v;
}

static long long num(json_t *o, const char *key)
{
    json_t *v = obj(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static double real(json_t *o, const char *key)
{
    json_t *v = obj(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void stats_of_an_empty_room_has_every_field(void **state)
{
    (void)state;
    struct lg_stats_view *v = malloc(sizeof(*v));
    lg_stats_view_init(v);
    json_t *m = lg_monframe_stats("r1", 1700000000000LL, v, NULL);
    assert_string_equal(json_string_value(obj(m, "type")), "monitor.stats");
    assert_string_equal(json_string_value(obj(m, "room_id")), "r1");
    assert_int_equal(num(m, "ts_ms"), 1700000000000LL);
    assert_int_equal(num(m, "connections"), 0);
    json_t *orders = obj(m, "orders");
    const char *order_fields[] = {"received", "accepted", "duplicates",   "confirmed",
                                  "rejected", "busy",     "rate_limited", "pay_timeouts"};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(num(orders, order_fields[i]), 0);
    assert_int_equal(json_object_size(orders), 8);
    assert_true(json_is_object(obj(m, "rejected_by_code")));
    assert_int_equal(json_object_size(obj(m, "rejected_by_code")), 0);
    assert_int_equal(num(m, "gmv_fen"), 0);
    json_t *q = obj(m, "queue");
    assert_int_equal(num(q, "high"), 0);
    assert_int_equal(num(q, "normal"), 0);
    assert_int_equal(num(q, "oldest_age_ms"), 0);
    /* No drain rate measured yet: both present, both null. */
    assert_true(json_is_null(obj(q, "drain_per_s")));
    assert_true(json_is_null(obj(q, "predicted_wait_ms")));
    assert_int_equal(json_object_size(q), 5);
    json_t *l = obj(m, "latency_ms");
    const char *lat[] = {"accept_p50", "accept_p99", "confirm_p50", "confirm_p99", "confirm_max"};
    for (size_t i = 0; i < 5; i++)
        assert_true(real(l, lat[i]) == 0);
    assert_int_equal(num(m, "sla_violations"), 0);
    assert_null(json_object_get(m, "req"));
    json_decref(m);
    free(v);
}

static void stats_carry_the_figures_and_the_req(void **state)
{
    (void)state;
    struct lg_stats_view *v = malloc(sizeof(*v));
    lg_stats_view_init(v);
    v->connections = 7;
    v->counters[LG_STAT_RECEIVED] = 10;
    v->counters[LG_STAT_CONFIRMED] = 5;
    v->counters[LG_STAT_REJECTED] = 2;
    v->counters[LG_STAT_BUSY] = 1;
    v->counters[LG_STAT_RATE_LIMITED] = 12;
    v->counters[LG_STAT_GMV_FEN] = 9007199254740991LL;
    v->counters[LG_STAT_SLA_VIOLATIONS] = 1;
    v->counters[LG_STAT_PAY_TIMEOUTS] = 5;
    v->ncodes = 1;
    strcpy(v->codes[0].code, "OUT_OF_STOCK");
    v->codes[0].n = 2;
    v->queue_high = 3;
    v->queue_normal = 4;
    v->oldest_high_ms = 100;
    v->oldest_normal_ms = 250;
    v->drain_per_s = 1234.56;
    v->wait_high_ms = 3;
    v->wait_normal_ms = 6;
    for (int i = 0; i < 99; i++)
        lg_hist_record(&v->accept_us, 100); /* 0.1 ms, an exact bucket */
    lg_hist_record(&v->accept_us, 90000);
    lg_hist_record(&v->confirm_us, 5000);
    v->confirm_max_us = 11000000;
    json_t *m = lg_monframe_stats("*", 1, v, "req-1");
    assert_string_equal(json_string_value(obj(m, "room_id")), "*");
    assert_string_equal(json_string_value(obj(m, "req")), "req-1");
    assert_int_equal(num(m, "connections"), 7);
    assert_int_equal(num(obj(m, "orders"), "received"), 10);
    assert_int_equal(num(obj(m, "orders"), "busy"), 1);
    assert_int_equal(num(obj(m, "orders"), "rate_limited"), 12);
    assert_int_equal(num(obj(m, "orders"), "pay_timeouts"), 5);
    json_t *q = obj(m, "queue");
    assert_int_equal(num(q, "high"), 3);
    assert_int_equal(num(q, "normal"), 4);
    assert_true(real(q, "drain_per_s") == 1234.6); /* to a tenth */
    assert_int_equal(num(obj(q, "predicted_wait_ms"), "high"), 3);
    assert_int_equal(num(obj(q, "predicted_wait_ms"), "normal"), 6);
    assert_int_equal(num(m, "gmv_fen"), 9007199254740991LL);
    assert_int_equal(num(obj(m, "rejected_by_code"), "OUT_OF_STOCK"), 2);
    assert_int_equal(num(obj(m, "queue"), "oldest_age_ms"), 250);
    json_t *l = obj(m, "latency_ms");
    assert_true(real(l, "accept_p50") == 0.1);
    assert_true(real(l, "accept_p99") == 0.1);
    assert_true(real(l, "confirm_p50") == 5.0);
    assert_true(real(l, "confirm_max") == 11000.0);
    assert_int_equal(num(m, "sla_violations"), 1);
    char *text = json_dumps(m, LG_MONITOR_DUMP_FLAGS);
    assert_non_null(strstr(text, "\"accept_p50\":0.1,"));
    free(text);
    json_decref(m);
    free(v);
}

static void predicted_wait_is_null_until_both_priorities_are_known(void **state)
{
    (void)state;
    struct lg_stats_view *v = malloc(sizeof(*v));
    lg_stats_view_init(v);
    v->drain_per_s = 0.04; /* known, and rounds to 0.0: still a number */
    v->wait_high_ms = 0;
    v->wait_normal_ms = -1;
    json_t *m = lg_monframe_stats("r1", 1, v, NULL);
    json_t *q = obj(m, "queue");
    assert_true(real(q, "drain_per_s") == 0.0);
    assert_true(json_is_null(obj(q, "predicted_wait_ms")));
    json_decref(m);
    v->wait_normal_ms = 0; /* an empty queue with a known rate waits 0 */
    v->drain_per_s = 1e15; /* too big to round: passed on as it is */
    m = lg_monframe_stats("r1", 1, v, NULL);
    q = obj(m, "queue");
    assert_true(real(q, "drain_per_s") == 1e15);
    assert_int_equal(num(obj(q, "predicted_wait_ms"), "high"), 0);
    assert_int_equal(num(obj(q, "predicted_wait_ms"), "normal"), 0);
    json_decref(m);
    free(v);
}

static json_t *event(const char *text)
{
    json_t *e = json_loads(text, 0, NULL);
    assert_non_null(e);
    return e;
}

static void feed_frames_copy_listed_fields_only(void **state)
{
    (void)state;
    json_t *e = event("{\"room\":\"r1\",\"order_id\":\"o-1\",\"client_order_id\":\"c-1\","
                      "\"status\":\"rejected\",\"code\":\"OUT_OF_STOCK\",\"sku_id\":\"s\","
                      "\"qty\":\"2\",\"amount\":\"39800\",\"priority\":\"normal\","
                      "\"buyer\":\"张*\",\"phone\":\"138****8000\",\"at_ms\":\"1700000000000\","
                      "\"address\":{\"detail\":\"文三路 1 号\"},\"detail\":\"文三路\","
                      "\"user\":\"u-1\",\"pii\":\"sealed\"}");
    json_t *m = lg_monframe_order(e);
    assert_non_null(m);
    assert_string_equal(json_string_value(obj(m, "type")), "monitor.order");
    assert_string_equal(json_string_value(obj(m, "room_id")), "r1");
    assert_string_equal(json_string_value(obj(m, "order_id")), "o-1");
    assert_string_equal(json_string_value(obj(m, "status")), "rejected");
    assert_string_equal(json_string_value(obj(m, "code")), "OUT_OF_STOCK");
    assert_int_equal(num(m, "qty"), 2);
    assert_int_equal(num(m, "amount"), 39800);
    assert_int_equal(num(m, "at_ms"), 1700000000000LL);
    assert_string_equal(json_string_value(obj(m, "buyer")), "张*");
    assert_string_equal(json_string_value(obj(m, "phone")), "138****8000");
    assert_null(json_object_get(m, "address"));
    assert_null(json_object_get(m, "detail"));
    assert_null(json_object_get(m, "user"));
    assert_null(json_object_get(m, "pii"));
    assert_int_equal(json_object_size(m), 13);
    json_decref(m);
    json_decref(e);
}

static void unmasked_personal_data_never_passes(void **state)
{
    (void)state;
    const char *cases[][3] = {
        /* buyer, phone, then what the frame must show for them */
        {"张三", "13800138000", NULL},
        {"张", "1380013800", NULL},
        {"", "138*****000", NULL},
        {"A*b", "abc****defg", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "room", "r1", "order_id", "o-1", "status",
                              "queued", "buyer", cases[i][0], "phone", cases[i][1]);
        json_t *m = lg_monframe_order(e);
        assert_string_equal(json_string_value(obj(m, "buyer")), "*");
        assert_string_equal(json_string_value(obj(m, "phone")), "****");
        json_decref(m);
        json_decref(e);
    }
    /* Masks as mask.c makes them pass; missing ones become stars. */
    json_t *e = event("{\"room\":\"r1\",\"order_id\":\"o\",\"status\":\"paid\",\"buyer\":\"*\","
                      "\"phone\":\"****\",\"qty\":\"x\"}");
    json_t *m = lg_monframe_order(e);
    assert_string_equal(json_string_value(obj(m, "buyer")), "*");
    assert_string_equal(json_string_value(obj(m, "phone")), "****");
    assert_null(json_object_get(m, "qty")); /* not a number: left out */
    json_decref(m);
    json_decref(e);
    e = event("{\"room\":\"r1\",\"order_id\":\"o\",\"status\":\"paid\"}");
    m = lg_monframe_order(e);
    assert_string_equal(json_string_value(obj(m, "buyer")), "*");
    json_decref(m);
    json_decref(e);
}

static void feed_frames_need_room_order_and_status(void **state)
{
    (void)state;
    const char *bad[] = {"{\"order_id\":\"o\",\"status\":\"paid\"}",
                         "{\"room\":\"r1\",\"status\":\"paid\"}",
                         "{\"room\":\"r1\",\"order_id\":\"o\"}",
                         "{\"room\":\"\",\"order_id\":\"o\",\"status\":\"paid\"}",
                         "{\"room\":5,\"order_id\":\"o\",\"status\":\"paid\"}",
                         "[1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *e = event(bad[i]);
        assert_null(lg_monframe_order(e));
        json_decref(e);
    }
    /* room_id is accepted as well as room */
    json_t *e = event("{\"room_id\":\"r2\",\"order_id\":\"o\",\"status\":\"paid\",\"from\":"
                      "\"pending_payment\"}");
    json_t *m = lg_monframe_order(e);
    assert_string_equal(json_string_value(obj(m, "room_id")), "r2");
    assert_string_equal(json_string_value(obj(m, "from")), "pending_payment");
    json_decref(m);
    json_decref(e);
}

static void the_gate_admits_the_limit_then_counts_drops(void **state)
{
    (void)state;
    struct lg_monframe_gate g = {0};
    int64_t t = 1000000;
    for (unsigned i = 0; i < 50; i++) {
        assert_true(lg_monframe_gate_admit(&g, t + i, 50));
        lg_monframe_gate_sent(&g);
    }
    assert_false(lg_monframe_gate_admit(&g, t + 60, 50)); /* the 51st in the second */
    assert_false(lg_monframe_gate_admit(&g, t + 999, 50));
    assert_int_equal(g.dropped_since_sent, 2);
    assert_int_equal(g.dropped_total, 2);
    /* A new second: admitted, and the caller reports the 2 dropped with it. */
    assert_true(lg_monframe_gate_admit(&g, t + 1000, 50));
    assert_int_equal(g.dropped_since_sent, 2);
    lg_monframe_gate_sent(&g);
    assert_int_equal(g.dropped_since_sent, 0);
    assert_int_equal(g.dropped_total, 2);
    /* Admitted but not queued (slow monitor): counted as dropped too. */
    assert_true(lg_monframe_gate_admit(&g, t + 1001, 50));
    lg_monframe_gate_drop(&g);
    assert_int_equal(g.dropped_since_sent, 1);
    assert_int_equal(g.dropped_total, 3);
    /* A clock going backwards starts a new window instead of blocking. */
    assert_true(lg_monframe_gate_admit(&g, t - 5000, 1));
    assert_false(lg_monframe_gate_admit(&g, t - 4999, 1));
}

static void splicing_a_count_into_a_frame(void **state)
{
    (void)state;
    size_t n;
    char *s = lg_monframe_splice("{\"a\":1}", 7, "dropped", 5, false, &n);
    assert_string_equal(s, "{\"a\":1,\"dropped\":5}");
    assert_int_equal(n, strlen(s));
    free(s);
    s = lg_monframe_splice("{\"a\":1}", 7, "dropped", 0, false, &n);
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    s = lg_monframe_splice("{\"a\":1}", 7, "feed_dropped", 0, true, &n);
    assert_string_equal(s, "{\"a\":1,\"feed_dropped\":0}");
    free(s);
    s = lg_monframe_splice("{}", 2, "n", 18446744073709551615ULL, true, &n);
    assert_string_equal(s, "{\"n\":18446744073709551615}");
    free(s);
    s = lg_monframe_splice("{\"x\":{}}", 8, "n", 123, true, &n);
    json_t *back = json_loads(s, 0, NULL);
    assert_non_null(back); /* still JSON */
    json_decref(back);
    free(s);
    assert_null(lg_monframe_splice("[1]", 3, "n", 1, true, &n));
    assert_null(lg_monframe_splice("{", 1, "n", 1, true, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_of_an_empty_room_has_every_field),
        cmocka_unit_test(stats_carry_the_figures_and_the_req),
        cmocka_unit_test(predicted_wait_is_null_until_both_priorities_are_known),
        cmocka_unit_test(feed_frames_copy_listed_fields_only),
        cmocka_unit_test(unmasked_personal_data_never_passes),
        cmocka_unit_test(feed_frames_need_room_order_and_status),
        cmocka_unit_test(the_gate_admits_the_limit_then_counts_drops),
        cmocka_unit_test(splicing_a_count_into_a_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
