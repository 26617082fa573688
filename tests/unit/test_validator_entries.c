/* Unit test of the validator's reading of queue entries (validator/batch.c):
 * enqueue.lua's one value "o" = order_id|user|sku_id|coupon_id|
 * accepted_at_ms|gw, with exactly six parts, and the six fields of an entry
 * an earlier release wrote. The replies are built by hiredis's reader from
 * RESP, as XREADGROUP's entries arrive from Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "resp_reply.h"

static struct lg_validator v;

static int teardown(void **state)
{
    (void)state;
    lgv_batch_clear(&v);
    free(v.batch);
    memset(&v, 0, sizeof(v));
    return 0;
}

/* Adds the entries of RESP array resp (each [id, fields]) from room r1's
 * normal stream; returns how many were added. */
static size_t add(const char *resp)
{
    redisReply *reply = lg_test_reply(resp, strlen(resp));
    size_t n = lgv_batch_add_entries(&v, "lg:{r1}:q:normal", reply);
    freeReplyObject(reply);
    return n;
}

/* One entry [1-0, ["o", value]]. */
static size_t add_packed(const char *value)
{
    char resp[512];
    snprintf(resp, sizeof(resp), "*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\no\r\n$%zu\r\n%s\r\n",
             strlen(value), value);
    return add(resp);
}

static void a_packed_entry(void **state)
{
    (void)state;
    assert_int_equal(add_packed("o-1|u-1|sku-1|cp-1|1796228813194|gw-1"), 1);
    const struct lgv_entry *e = &v.batch[0];
    assert_string_equal(e->order_id, "o-1");
    assert_string_equal(e->user, "u-1");
    assert_string_equal(e->sku, "sku-1");
    assert_string_equal(e->coupon, "cp-1");
    assert_string_equal(e->gw, "gw-1");
    assert_string_equal(e->room, "r1");
    assert_string_equal(e->id, "1-0");
    assert_int_not_equal(e->outcome, LGV_MALFORMED);
}

static void a_packed_entry_without_coupon(void **state)
{
    (void)state;
    add_packed("o-2|u-1|sku-1||1796228813194|gw-1");
    assert_string_equal(v.batch[0].coupon, "");
    assert_string_equal(v.batch[0].gw, "gw-1");
    assert_int_not_equal(v.batch[0].outcome, LGV_MALFORMED);
}

/* Six parts exactly: five or seven is not what enqueue.lua writes. */
static void six_parts_on_both_sides(void **state)
{
    (void)state;
    add_packed("o-3|u-1|sku-1||1796228813194");
    add_packed("o-4|u-1|sku-1||1796228813194|gw-1|x");
    add_packed("");
    assert_int_equal(v.nbatch, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(v.batch[i].outcome, LGV_MALFORMED);
        assert_string_equal(v.batch[i].order_id, "");
    }
}

static void an_earlier_release_s_entry(void **state)
{
    (void)state;
    assert_int_equal(add("*1\r\n*2\r\n$3\r\n2-0\r\n*12\r\n"
                         "$8\r\norder_id\r\n$3\r\no-5\r\n$4\r\nuser\r\n$3\r\nu-2\r\n"
                         "$6\r\nsku_id\r\n$5\r\nsku-2\r\n$9\r\ncoupon_id\r\n$0\r\n\r\n"
                         "$14\r\naccepted_at_ms\r\n$1\r\n1\r\n$2\r\ngw\r\n$4\r\ngw-2\r\n"),
                     1);
    const struct lgv_entry *e = &v.batch[0];
    assert_string_equal(e->order_id, "o-5");
    assert_string_equal(e->user, "u-2");
    assert_string_equal(e->sku, "sku-2");
    assert_string_equal(e->gw, "gw-2");
    assert_int_not_equal(e->outcome, LGV_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_packed_entry, teardown),
        cmocka_unit_test_teardown(a_packed_entry_without_coupon, teardown),
        cmocka_unit_test_teardown(six_parts_on_both_sides, teardown),
        cmocka_unit_test_teardown(an_earlier_release_s_entry, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
