/* Unit test of the validator's reading of validate.lua's answer
 * (validator/decide.c): an order's result is one string of exactly
 * LG_RESULT_NFIELDS values joined by NULs; {"missing"} and {"error", why}
 * stay arrays. take_row is static, so decide.c is compiled in here (its
 * copy in lg_validator is then not linked). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.c"
#include "resp_reply.h"

static struct lgv_entry entry;

static int setup(void **state)
{
    (void)state;
    lg_log_init("test_validator_results", LG_LOG_ERROR + 1);
    memset(&entry, 0, sizeof(entry));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(entry.result_block);
    return 0;
}

/* k values "v0", "v1", ... joined by NULs, as a RESP bulk string. */
static redisReply *values(int k)
{
    char body[512], resp[600];
    size_t len = 0;
    for (int i = 0; i < k; i++)
        len += (size_t)sprintf(body + len, "%sv%d", i ? "|" : "", i);
    for (size_t i = 0; i < len; i++)
        if (body[i] == '|')
            body[i] = 0;
    int h = sprintf(resp, "$%zu\r\n", len);
    memcpy(resp + h, body, len);
    memcpy(resp + h + len, "\r\n", 2);
    return lg_test_reply(resp, (size_t)h + len + 2);
}

static void a_result_of_every_value(void **state)
{
    (void)state;
    redisReply *r = values(LG_RESULT_NFIELDS);
    take_row(&entry, r);
    freeReplyObject(r);
    assert_int_equal(entry.outcome, LGV_DECIDED);
    assert_string_equal(entry.result[LG_RESULT_STATUS], "v0");
    assert_string_equal(entry.result[LG_RESULT_STOCK_LEFT], "v14");
    assert_int_equal(LG_RESULT_STOCK_LEFT, 14);
}

/* One value fewer or more is not validate.lua's answer. */
static void one_value_fewer_or_more(void **state)
{
    (void)state;
    for (int k = LG_RESULT_NFIELDS - 1; k <= LG_RESULT_NFIELDS + 1; k += 2) {
        memset(&entry, 0, sizeof(entry));
        redisReply *r = values(k);
        take_row(&entry, r);
        freeReplyObject(r);
        assert_int_equal(entry.outcome, LGV_FAILED);
        assert_null(entry.result_block);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_result_of_every_value, setup, teardown),
        cmocka_unit_test_setup_teardown(one_value_fewer_or_more, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
