/* Unit tests of the integer settings: the one parser and range check both
 * programs use (common/config.c), the table loader, and the gateway's and
 * the validator's tables (every variable's default and both sides of both
 * bounds, as the README documents them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gateway_config.h"
#include "livegate/config.h"
#include "settings.h"

static int parse(const char *s, int min, int max)
{
    int out = -12345;
    if (lg_config_parse_int(s, min, max, &out) != 0) {
        assert_int_equal(out, -12345); /* untouched on failure */
        return -1;
    }
    return out;
}

static void parse_accepts_each_limit_and_rejects_past_it(void **state)
{
    (void)state;
    assert_int_equal(parse("10", 10, 20), 10);
    assert_int_equal(parse("20", 10, 20), 20);
    assert_int_equal(parse("15", 10, 20), 15);
    assert_int_equal(parse("9", 10, 20), -1);
    assert_int_equal(parse("21", 10, 20), -1);
    assert_int_equal(parse("0", 0, 5000), 0);
    assert_int_equal(parse("-1", 0, 5000), -1);
    assert_int_equal(parse("-5", -10, -1), -5);
    assert_int_equal(parse("0", -10, -1), -1);
    assert_int_equal(parse("2147483647", 0, 2147483647), 2147483647);
    assert_int_equal(parse("-2147483648", -2147483647 - 1, 0), -2147483647 - 1);
}

static void parse_rejects_garbage_overflow_and_empty(void **state)
{
    (void)state;
    int out;
    assert_int_equal(lg_config_parse_int("", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int(" ", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("abc", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("12abc", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("12 ", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("1.5", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("0x10", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("-", 0, 100, &out), -1);
    assert_int_equal(lg_config_parse_int("+", 0, 100, &out), -1);
    /* Past long, and past int within long: both out of any int range. */
    assert_int_equal(lg_config_parse_int("99999999999999999999999", 0, 2147483647, &out), -1);
    assert_int_equal(lg_config_parse_int("-99999999999999999999999", -2147483647 - 1, 0, &out), -1);
    assert_int_equal(lg_config_parse_int("2147483648", 0, 2147483647, &out), -1);
    assert_int_equal(lg_config_parse_int("9223372036854775807", 0, 2147483647, &out), -1);
    assert_int_equal(lg_config_parse_int("9223372036854775808", 0, 2147483647, &out), -1);
}

static void parse_keeps_strtol_syntax(void **state)
{
    (void)state;
    /* What the settings have always accepted: a leading sign or space. */
    assert_int_equal(parse("+7", 0, 10), 7);
    assert_int_equal(parse(" 7", 0, 10), 7);
    assert_int_equal(parse("007", 0, 10), 7);
}

struct two {
    int a, b;
};

static const struct lg_config_int two_table[] = {
    {"LG_TEST_A", 5, 1, 9, offsetof(struct two, a)},
    {"LG_TEST_B", -3, -5, 0, offsetof(struct two, b)},
};

static void table_fills_defaults_and_values_and_names_the_first_bad_one(void **state)
{
    (void)state;
    struct two t = {0, 0};
    char err[128] = "";
    unsetenv("LG_TEST_A");
    setenv("LG_TEST_B", "", 1); /* empty is unset */
    assert_int_equal(lg_config_load_ints(two_table, 2, &t, err, sizeof(err)), 0);
    assert_int_equal(t.a, 5);
    assert_int_equal(t.b, -3);

    setenv("LG_TEST_A", "9", 1);
    setenv("LG_TEST_B", "-5", 1);
    assert_int_equal(lg_config_load_ints(two_table, 2, &t, err, sizeof(err)), 0);
    assert_int_equal(t.a, 9);
    assert_int_equal(t.b, -5);

    setenv("LG_TEST_A", "10", 1);
    setenv("LG_TEST_B", "junk", 1);
    assert_int_equal(lg_config_load_ints(two_table, 2, &t, err, sizeof(err)), -1);
    assert_string_equal(err, "LG_TEST_A must be an integer from 1 to 9");
    setenv("LG_TEST_A", "1", 1);
    assert_int_equal(lg_config_load_ints(two_table, 2, &t, err, sizeof(err)), -1);
    assert_string_equal(err, "LG_TEST_B must be an integer from -5 to 0");
    unsetenv("LG_TEST_A");
    unsetenv("LG_TEST_B");
}

/* One documented integer setting of a program. */
struct expect {
    const char *name;
    int fallback, min, max;
    size_t where;
};

typedef int (*load_fn)(void *settings, char *err, size_t errsz);

static int value_at(const void *settings, size_t where)
{
    int v;
    memcpy(&v, (const char *)settings + where, sizeof(v));
    return v;
}

static void set_int(const char *name, long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    setenv(name, buf, 1);
}

/* Each variable alone: unset gives the default, each bound is accepted,
 * one past it is refused with the message the operators see. */
static void check_program(load_fn load, void *settings, const struct expect *x, size_t n)
{
    char err[256], want[256];
    for (size_t i = 0; i < n; i++) {
        unsetenv(x[i].name);
        assert_int_equal(load(settings, err, sizeof(err)), 0);
        assert_int_equal(value_at(settings, x[i].where), x[i].fallback);
        set_int(x[i].name, x[i].min);
        assert_int_equal(load(settings, err, sizeof(err)), 0);
        assert_int_equal(value_at(settings, x[i].where), x[i].min);
        set_int(x[i].name, x[i].max);
        if (load(settings, err, sizeof(err)) != 0)
            fail_msg("%s=%d: %s", x[i].name, x[i].max, err);
        assert_int_equal(value_at(settings, x[i].where), x[i].max);
        snprintf(want, sizeof(want), "%s must be an integer from %d to %d", x[i].name, x[i].min,
                 x[i].max);
        set_int(x[i].name, (long long)x[i].min - 1);
        assert_int_equal(load(settings, err, sizeof(err)), -1);
        assert_string_equal(err, want);
        set_int(x[i].name, (long long)x[i].max + 1);
        assert_int_equal(load(settings, err, sizeof(err)), -1);
        assert_string_equal(err, want);
        setenv(x[i].name, "12x", 1);
        assert_int_equal(load(settings, err, sizeof(err)), -1);
        assert_string_equal(err, want);
        unsetenv(x[i].name);
    }
}

static int load_gateway(void *settings, char *err, size_t errsz)
{
    return lg_gateway_config_load(settings, err, errsz);
}

static void gateway_table_keeps_every_default_and_range(void **state)
{
    (void)state;
    static const struct expect x[] = {
        {"LIVEGATE_MAX_CONN_PER_IP", 10000, 1, 10000000,
         offsetof(struct lg_gateway_config, max_conn_per_ip)},
        {"LIVEGATE_REDIS_TIMEOUT_MS", 2000, 100, 60000,
         offsetof(struct lg_gateway_config, redis_timeout_ms)},
        {"LIVEGATE_IDEMPOTENCY_TTL_S", 86400, 86400, 30 * 86400,
         offsetof(struct lg_gateway_config, idem_ttl_s)},
        {"LIVEGATE_ORDER_TTL_S", 7 * 86400, 86400, 365 * 86400,
         offsetof(struct lg_gateway_config, order_ttl_s)},
        {"LIVEGATE_MONITOR_FEED_PER_S", 50, 1, 100000,
         offsetof(struct lg_gateway_config, monitor_feed_per_s)},
        {"LIVEGATE_FANOUT_SLICE", 2000, 1, 1000000,
         offsetof(struct lg_gateway_config, fanout_slice)},
        {"LIVEGATE_DEADLINE_MS", 10000, 1000, 600000,
         offsetof(struct lg_gateway_config, deadline_ms)},
        {"LIVEGATE_EXPIRE_MARGIN_MS", 1000, 0, 5000, offsetof(struct lg_gateway_config, margin_ms)},
        {"LIVEGATE_ADMIT_WAIT_MS", 5000, 100, 600000,
         offsetof(struct lg_gateway_config, admit_wait_ms)},
        {"LIVEGATE_ADMIT_STALL_MS", 2000, 100, 60000,
         offsetof(struct lg_gateway_config, admit_stall_ms)},
        {"LIVEGATE_USER_RATE", 10, 0, 1000000, offsetof(struct lg_gateway_config, user_rate)},
        {"LIVEGATE_USER_BURST", 20, 1, 1000000, offsetof(struct lg_gateway_config, user_burst)},
        {"LIVEGATE_CONN_INFLIGHT", 32, 1, 1000000,
         offsetof(struct lg_gateway_config, conn_inflight)},
        {"LIVEGATE_SLOW_CLIENT_MS", 5000, 100, 60000,
         offsetof(struct lg_gateway_config, slow_client_ms)},
        {"LIVEGATE_INTAKE_IN_FLIGHT", 100000, 16, 1000000,
         offsetof(struct lg_gateway_config, intake_in_flight)},
        {"LIVEGATE_INTAKE_CALLS", 2, 1, 64, offsetof(struct lg_gateway_config, intake_calls)},
    };
    enum { IDEM_TTL = 2, DEADLINE = 6, MARGIN, ADMIT_WAIT, AFTER_ADMIT_WAIT };
    setenv("LIVEGATE_DEMO", "1", 1);
    struct lg_gateway_config c;
    /* The idempotency TTL may not pass the order TTL: each bound of one
     * against a partner that allows it. */
    check_program(load_gateway, &c, x, IDEM_TTL);
    setenv("LIVEGATE_ORDER_TTL_S", "2592000", 1);
    check_program(load_gateway, &c, x + IDEM_TTL, 1);
    unsetenv("LIVEGATE_ORDER_TTL_S");
    check_program(load_gateway, &c, x + IDEM_TTL + 1, DEADLINE - IDEM_TTL - 1);
    /* The deadline, its margin and the admitted wait bound one another:
     * test each bound against partners that allow it. */
    setenv("LIVEGATE_EXPIRE_MARGIN_MS", "0", 1);
    setenv("LIVEGATE_ADMIT_WAIT_MS", "100", 1);
    check_program(load_gateway, &c, x + DEADLINE, 1);
    setenv("LIVEGATE_DEADLINE_MS", "600000", 1);
    unsetenv("LIVEGATE_EXPIRE_MARGIN_MS");
    check_program(load_gateway, &c, x + MARGIN, 1);
    unsetenv("LIVEGATE_ADMIT_WAIT_MS");
    setenv("LIVEGATE_EXPIRE_MARGIN_MS", "0", 1);
    check_program(load_gateway, &c, x + ADMIT_WAIT, 1);
    unsetenv("LIVEGATE_DEADLINE_MS");
    unsetenv("LIVEGATE_EXPIRE_MARGIN_MS");
    check_program(load_gateway, &c, x + AFTER_ADMIT_WAIT,
                  sizeof(x) / sizeof(x[0]) - AFTER_ADMIT_WAIT);

    char err[256];
    setenv("LIVEGATE_DEADLINE_MS", "2000", 1);
    setenv("LIVEGATE_EXPIRE_MARGIN_MS", "2000", 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_EXPIRE_MARGIN_MS must be below LIVEGATE_DEADLINE_MS");
    /* The admitted wait may reach the deadline less the margin, not pass it. */
    setenv("LIVEGATE_EXPIRE_MARGIN_MS", "500", 1);
    setenv("LIVEGATE_ADMIT_WAIT_MS", "1500", 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), 0);
    assert_int_equal(c.admit_wait_ms, 1500);
    setenv("LIVEGATE_ADMIT_WAIT_MS", "1501", 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_ADMIT_WAIT_MS must be at most LIVEGATE_DEADLINE_MS minus "
                             "LIVEGATE_EXPIRE_MARGIN_MS");
    unsetenv("LIVEGATE_DEADLINE_MS");
    unsetenv("LIVEGATE_EXPIRE_MARGIN_MS");
    unsetenv("LIVEGATE_ADMIT_WAIT_MS");

    setenv("LIVEGATE_IDEMPOTENCY_TTL_S", "86401", 1);
    setenv("LIVEGATE_ORDER_TTL_S", "86400", 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_IDEMPOTENCY_TTL_S must not exceed LIVEGATE_ORDER_TTL_S");
    setenv("LIVEGATE_IDEMPOTENCY_TTL_S", "86400", 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), 0);
    unsetenv("LIVEGATE_IDEMPOTENCY_TTL_S");
    unsetenv("LIVEGATE_ORDER_TTL_S");
    unsetenv("LIVEGATE_DEMO");
}

/* Outside demo mode the JWT secret must be at least 32 bytes; a demo may
 * use a short one. */
static void jwt_secret_length_bound(void **state)
{
    (void)state;
    struct lg_gateway_config c;
    char err[256];
    unsetenv("LIVEGATE_DEMO");
    setenv("LIVEGATE_DATA_KEY", "0000000000000000000000000000000000000000000000000000000000000007",
           1);
    setenv("LIVEGATE_JWT_SECRET", "0123456789abcdef0123456789abcde", 1); /* 31 */
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_JWT_SECRET must be at least 32 bytes");
    setenv("LIVEGATE_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1); /* 32 */
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), 0);
    assert_int_equal(c.jwt_secret_len, 32);
    setenv("LIVEGATE_DEMO", "1", 1);
    setenv("LIVEGATE_JWT_SECRET", "short", 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), 0);
    unsetenv("LIVEGATE_DEMO");
    unsetenv("LIVEGATE_JWT_SECRET");
    unsetenv("LIVEGATE_DATA_KEY");
}

/* LIVEGATE_DATA_KEYS_OLD: empty is none; 8 keys pass, 9 do not; a bad
 * key is named by its position. */
static void old_data_keys(void **state)
{
    (void)state;
    struct lg_gateway_config c;
    char err[256], list[1024] = "";
    const char *k = "0000000000000000000000000000000000000000000000000000000000000009";
    unsetenv("LIVEGATE_DEMO");
    setenv("LIVEGATE_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    setenv("LIVEGATE_DATA_KEY", "0000000000000000000000000000000000000000000000000000000000000007",
           1);
    unsetenv("LIVEGATE_DATA_KEYS_OLD");
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), 0);
    assert_int_equal(c.n_old_data_keys, 0);
    for (int i = 0; i < LG_DATA_KEYS_OLD_MAX; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "", k);
    setenv("LIVEGATE_DATA_KEYS_OLD", list, 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), 0);
    assert_int_equal(c.n_old_data_keys, LG_DATA_KEYS_OLD_MAX);
    assert_int_equal(c.old_data_keys[7][31], 9);
    snprintf(list + strlen(list), sizeof(list) - strlen(list), ",%s", k);
    setenv("LIVEGATE_DATA_KEYS_OLD", list, 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_DATA_KEYS_OLD holds more than 8 keys");
    snprintf(list, sizeof(list), "%s,nothex", k);
    setenv("LIVEGATE_DATA_KEYS_OLD", list, 1);
    assert_int_equal(lg_gateway_config_load(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LIVEGATE_DATA_KEYS_OLD: key 2 must be 64 hex characters"));
    unsetenv("LIVEGATE_DATA_KEYS_OLD");
    unsetenv("LIVEGATE_JWT_SECRET");
    unsetenv("LIVEGATE_DATA_KEY");
}

static int load_validator(void *settings, char *err, size_t errsz)
{
    return lg_validator_config_load(settings, err, errsz);
}

static void validator_table_keeps_every_default_and_range(void **state)
{
    (void)state;
    static const struct expect x[] = {
        {"LIVEGATE_VALIDATOR_BATCH", 128, 64, 4096, offsetof(struct lg_validator_config, batch)},
        {"LIVEGATE_VALIDATOR_BLOCK_MS", 100, 10, 1000,
         offsetof(struct lg_validator_config, block_ms)},
        {"LIVEGATE_DEADLINE_MS", 10000, 1000, 600000,
         offsetof(struct lg_validator_config, deadline_ms)},
        {"LIVEGATE_EXPIRE_MARGIN_MS", 1000, 0, 5000,
         offsetof(struct lg_validator_config, margin_ms)},
        {"LIVEGATE_PAY_WINDOW_MS", 900000, 1000, 86400000,
         offsetof(struct lg_validator_config, pay_window_ms)},
        {"LIVEGATE_CLAIM_IDLE_MS", 3000, 500, 60000,
         offsetof(struct lg_validator_config, claim_idle_ms)},
        {"LIVEGATE_MAX_DELIVERIES", 5, 1, 100,
         offsetof(struct lg_validator_config, max_deliveries)},
        {"LIVEGATE_STREAM_RETENTION_MS", 900000, 60000, 86400000,
         offsetof(struct lg_validator_config, retention_ms)},
        {"LIVEGATE_REDIS_TIMEOUT_MS", 2000, 100, 60000,
         offsetof(struct lg_validator_config, redis_timeout_ms)},
        {"LIVEGATE_ROOM_IDLE_MS", 86400000, 5000, 604800000,
         offsetof(struct lg_validator_config, room_idle_ms)},
        {"LIVEGATE_ROOM_CLOSED_IDLE_MS", 60000, 5000, 604800000,
         offsetof(struct lg_validator_config, room_closed_idle_ms)},
        {"LIVEGATE_CONSUMER_IDLE_MS", 3600000, 5000, 604800000,
         offsetof(struct lg_validator_config, consumer_idle_ms)},
        {"LIVEGATE_PRUNE_EVERY_MS", 10000, 200, 600000,
         offsetof(struct lg_validator_config, prune_ms)},
    };
    struct lg_validator_config c;
    /* The margin must stay below the deadline: test each bound against a
     * partner that allows it. */
    setenv("LIVEGATE_DEADLINE_MS", "600000", 1);
    check_program(load_validator, &c, x + 3, 1);
    setenv("LIVEGATE_EXPIRE_MARGIN_MS", "0", 1);
    check_program(load_validator, &c, x + 2, 1);
    unsetenv("LIVEGATE_EXPIRE_MARGIN_MS");
    unsetenv("LIVEGATE_DEADLINE_MS");
    check_program(load_validator, &c, x, 2);
    check_program(load_validator, &c, x + 4, sizeof(x) / sizeof(x[0]) - 4);

    char err[256];
    setenv("LIVEGATE_DEADLINE_MS", "1000", 1);
    setenv("LIVEGATE_EXPIRE_MARGIN_MS", "1000", 1);
    assert_int_equal(lg_validator_config_load(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_EXPIRE_MARGIN_MS must be below LIVEGATE_DEADLINE_MS");
    unsetenv("LIVEGATE_DEADLINE_MS");
    unsetenv("LIVEGATE_EXPIRE_MARGIN_MS");
}

static void log_level_is_read_one_way_by_every_program(void **state)
{
    (void)state;
    char err[128] = "";
    enum lg_log_level lv = LG_LOG_ERROR;
    unsetenv("LIVEGATE_LOG_LEVEL");
    assert_int_equal(lg_config_log_level(&lv, err, sizeof(err)), 0);
    assert_int_equal(lv, LG_LOG_INFO);
    setenv("LIVEGATE_LOG_LEVEL", "debug", 1);
    assert_int_equal(lg_config_log_level(&lv, err, sizeof(err)), 0);
    assert_int_equal(lv, LG_LOG_DEBUG);
    setenv("LIVEGATE_LOG_LEVEL", "error", 1);
    assert_int_equal(lg_config_log_level(&lv, err, sizeof(err)), 0);
    assert_int_equal(lv, LG_LOG_ERROR);
    setenv("LIVEGATE_LOG_LEVEL", "verbose", 1);
    assert_int_equal(lg_config_log_level(&lv, err, sizeof(err)), -1);
    assert_int_equal(lv, LG_LOG_ERROR); /* untouched */
    assert_string_equal(err, "LIVEGATE_LOG_LEVEL must be debug, info, warn or error");

    /* Both programs refuse it with the same words. */
    struct lg_gateway_config gc;
    setenv("LIVEGATE_DEMO", "1", 1);
    err[0] = 0;
    assert_int_equal(lg_gateway_config_load(&gc, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_LOG_LEVEL must be debug, info, warn or error");
    unsetenv("LIVEGATE_DEMO");
    unsetenv("LIVEGATE_LOG_LEVEL");
}

/* LIVEGATE_METRICS_LISTEN, read the same way by both programs: unset is
 * none, a port is 1-65535 (0 and 65536 refused), and the gateway's may not
 * be its shared port. */
static void metrics_listen_bounds(void **state)
{
    (void)state;
    char err[256];
    struct lg_gateway_config gc;
    struct lg_validator_config vc;
    setenv("LIVEGATE_DEMO", "1", 1);
    unsetenv("LIVEGATE_METRICS_LISTEN");
    assert_int_equal(lg_gateway_config_load(&gc, err, sizeof(err)), 0);
    assert_int_equal(gc.metrics_port, 0);
    assert_int_equal(lg_validator_config_load(&vc, err, sizeof(err)), 0);
    assert_int_equal(vc.metrics_port, 0);

    static const struct {
        const char *value;
        int port; /* 0: refused */
    } cases[] = {{"127.0.0.1:1", 1},  {"127.0.0.1:65535", 65535}, {"127.0.0.1:9101", 9101},
                 {"127.0.0.1:0", 0},  {"127.0.0.1:65536", 0},     {"nonsense", 0},
                 {"[::1]:9101", 9101}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv("LIVEGATE_METRICS_LISTEN", cases[i].value, 1);
        int g = lg_gateway_config_load(&gc, err, sizeof(err));
        int v = lg_validator_config_load(&vc, err, sizeof(err));
        if (cases[i].port) {
            assert_int_equal(g, 0);
            assert_int_equal(v, 0);
            assert_int_equal(gc.metrics_port, cases[i].port);
            assert_int_equal(vc.metrics_port, cases[i].port);
        } else {
            assert_int_equal(g, -1);
            assert_int_equal(v, -1);
            assert_non_null(strstr(err, "LIVEGATE_METRICS_LISTEN"));
        }
    }
    setenv("LIVEGATE_METRICS_LISTEN", "127.0.0.1:8080", 1); /* LIVEGATE_LISTEN's default */
    assert_int_equal(lg_gateway_config_load(&gc, err, sizeof(err)), -1);
    assert_string_equal(err, "LIVEGATE_METRICS_LISTEN must have another port than LIVEGATE_LISTEN");
    setenv("LIVEGATE_METRICS_LISTEN", "127.0.0.1:8081", 1);
    assert_int_equal(lg_gateway_config_load(&gc, err, sizeof(err)), 0);
    assert_string_equal(gc.metrics_host, "127.0.0.1");
    unsetenv("LIVEGATE_METRICS_LISTEN");
    unsetenv("LIVEGATE_DEMO");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_each_limit_and_rejects_past_it),
        cmocka_unit_test(parse_rejects_garbage_overflow_and_empty),
        cmocka_unit_test(parse_keeps_strtol_syntax),
        cmocka_unit_test(table_fills_defaults_and_values_and_names_the_first_bad_one),
        cmocka_unit_test(gateway_table_keeps_every_default_and_range),
        cmocka_unit_test(jwt_secret_length_bound),
        cmocka_unit_test(old_data_keys),
        cmocka_unit_test(validator_table_keeps_every_default_and_range),
        cmocka_unit_test(log_level_is_read_one_way_by_every_program),
        cmocka_unit_test(metrics_listen_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
