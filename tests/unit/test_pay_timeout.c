/* test_pay_timeout.c - the pure half of the validator's payment-timeout
 * drain (validator/pay_timeout.h): reading pay_timeout.lua's answer, every
 * malformed shape refused; when a room is looked at again, on both sides of
 * LGV_PAY_RECHECK_MAX_MS; the due index's key; and the audit cap kept equal
 * to the gateway's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "pay_timeout.h"
#include "rules/backoffice_rules.h"

static redisReply *integer(long long n)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = n;
    return r;
}

static redisReply *str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *arr(size_t n, ...)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void free_reply(redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        free_reply(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static void reads_the_answer(void **state)
{
    (void)state;
    struct lgv_pay_result res;
    redisReply *r = arr(5, integer(3), integer(0), integer(420), str("sku-1"), str("sku-2"));
    assert_int_equal(lgv_pay_read_reply(r, &res), 0);
    assert_int_equal(res.cancelled, 3);
    assert_false(res.more);
    assert_int_equal(res.next_due_in, 420);
    assert_int_equal(res.nskus, 2);
    assert_string_equal(res.sku_ids[0], "sku-1");
    assert_string_equal(res.sku_ids[1], "sku-2");
    free_reply(r);

    /* Nothing due and an empty index: the smallest answer. */
    r = arr(3, integer(0), integer(1), integer(-1));
    assert_int_equal(lgv_pay_read_reply(r, &res), 0);
    assert_int_equal(res.cancelled, 0);
    assert_true(res.more);
    assert_int_equal(res.next_due_in, -1);
    assert_int_equal(res.nskus, 0);
    free_reply(r);
}

static void refuses_what_is_not_the_answer(void **state)
{
    (void)state;
    struct lgv_pay_result res;
    assert_int_equal(lgv_pay_read_reply(NULL, &res), -1);
    redisReply *bad[] = {
        arr(0),
        arr(2, integer(0), integer(0)),
        arr(3, str("0"), integer(0), integer(-1)),
        arr(3, integer(-1), integer(0), integer(-1)),
        arr(3, integer(0), integer(2), integer(-1)),
        arr(3, integer(0), integer(0), integer(-2)),
        arr(4, integer(1), integer(0), integer(-1), integer(7)),
        arr(4, integer(1), integer(0), integer(-1), str("bad id!")),
        str("ERR pay_timeout.lua: bad arguments"),
    };
    bad[8]->type = REDIS_REPLY_ERROR;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lgv_pay_read_reply(bad[i], &res), -1);
        free_reply(bad[i]);
    }
}

/* LGV_PAY_MAX_SKUS SKUs are taken, one more is not an answer. */
static void sku_list_bound(void **state)
{
    (void)state;
    for (size_t extra = 0; extra < 2; extra++) {
        size_t n = 3 + LGV_PAY_MAX_SKUS + extra;
        redisReply *r = arr(0);
        free(r->element);
        r->elements = n;
        r->element = calloc(n, sizeof(*r->element));
        r->element[0] = integer((long long)(n - 3));
        r->element[1] = integer(0);
        r->element[2] = integer(-1);
        for (size_t i = 3; i < n; i++)
            r->element[i] = str("sku-1");
        struct lgv_pay_result res;
        assert_int_equal(lgv_pay_read_reply(r, &res), extra ? -1 : 0);
        if (!extra)
            assert_int_equal(res.nskus, LGV_PAY_MAX_SKUS);
        free_reply(r);
    }
}

static void when_to_look_again(void **state)
{
    (void)state;
    struct lgv_pay_result res = {.more = true, .next_due_in = 0};
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5000);
    res.more = false;
    res.next_due_in = -1; /* empty: another validator may add an order */
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5000 + LGV_PAY_RECHECK_MAX_MS);
    res.next_due_in = 0;
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5000);
    res.next_due_in = 300;
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5300);
    res.next_due_in = LGV_PAY_RECHECK_MAX_MS;
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5000 + LGV_PAY_RECHECK_MAX_MS);
    res.next_due_in = LGV_PAY_RECHECK_MAX_MS + 1;
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5000 + LGV_PAY_RECHECK_MAX_MS);
    res.next_due_in = 900000; /* 15 minutes off: still looked at every second */
    assert_int_equal(lgv_pay_next_check_ms(5000, &res), 5000 + LGV_PAY_RECHECK_MAX_MS);
}

static void due_index_key_and_audit_cap(void **state)
{
    (void)state;
    char k[LG_KEY_MAX];
    assert_int_equal(lg_key_pay_due(k, sizeof(k), "r1"), 14);
    assert_string_equal(k, "lg:{r1}:paydue");
    char tiny[14];
    assert_int_equal(lg_key_pay_due(tiny, sizeof(tiny), "r1"), -1);
    char exact[15];
    assert_int_equal(lg_key_pay_due(exact, sizeof(exact), "r1"), 14);
    /* The validator's audit entries are capped like the back office's. */
    assert_int_equal(LGV_PAY_AUDIT_KEEP, LG_AUDIT_KEEP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_the_answer),
        cmocka_unit_test(refuses_what_is_not_the_answer),
        cmocka_unit_test(sku_list_bound),
        cmocka_unit_test(when_to_look_again),
        cmocka_unit_test(due_index_key_and_audit_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
