/* Unit test of the result layout (queue/result_layout.h): every record
 * field has its name, under the name the order record uses, and packed
 * results unpack to the values packed, each bound checked on both sides. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "result_layout.h"

static void every_field_is_named(void **state)
{
    (void)state;
    for (int i = 0; i < LG_RESULT_NRECORD; i++) {
        assert_non_null(lg_result_record_fields[i]);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(lg_result_record_fields[i], lg_result_record_fields[k]);
    }
    assert_string_equal(lg_result_record_fields[LG_RESULT_STATUS], "status");
    assert_string_equal(lg_result_record_fields[LG_RESULT_PAY_DEADLINE], "pay_deadline_ms");
    assert_string_equal(lg_result_record_fields[LG_RESULT_UPDATED_AT], "updated_at_ms");
    assert_string_equal(lg_result_record_fields[LG_RESULT_WATCHERS], "watchers");
    /* validate.lua's two computed values follow the record fields. */
    assert_int_equal(LG_RESULT_DECIDED_NOW, LG_RESULT_NRECORD);
    assert_int_equal(LG_RESULT_NFIELDS, LG_RESULT_NRECORD + 2);
}

static void values_of(const char *v[LG_REPLY_NFIELDS], const char *order_id, const char *status)
{
    for (int i = 0; i < LG_REPLY_NFIELDS; i++)
        v[i] = "";
    v[LG_REPLY_ORDER_ID] = order_id;
    v[LG_REPLY_STATUS] = status;
    v[LG_REPLY_MESSAGE] = "the price has changed; the current price is 9900";
    v[LG_REPLY_CODE] = NULL; /* packed as "" */
}

static void results_unpack_as_packed(void **state)
{
    (void)state;
    struct lg_reply_pack p = {0};
    const char *v[LG_REPLY_NFIELDS];
    values_of(v, "o-1", "rejected");
    assert_int_equal(lg_reply_pack_add(&p, v), 0);
    values_of(v, "o-2", "pending_payment");
    assert_int_equal(lg_reply_pack_add(&p, v), 0);
    assert_int_equal(p.n, 2);
    lg_reply_pack_args(&p, "lg:gw:{g}:replies");
    assert_string_equal(p.args[0], "lg:gw:{g}:replies");
    assert_string_equal(p.args[3], "2");
    assert_ptr_equal(p.args[4], p.buf);
    assert_int_equal(p.lens[4], p.len);

    const char *out[LG_REPLY_NFIELDS];
    size_t pos = 0;
    assert_int_equal(lg_reply_unpack(p.buf, p.len, &pos, out), 0);
    assert_string_equal(out[LG_REPLY_ORDER_ID], "o-1");
    assert_string_equal(out[LG_REPLY_STATUS], "rejected");
    assert_string_equal(out[LG_REPLY_CODE], "");
    assert_string_equal(out[LG_REPLY_MESSAGE], "the price has changed; the current price is 9900");
    assert_int_equal(lg_reply_unpack(p.buf, p.len, &pos, out), 0);
    assert_string_equal(out[LG_REPLY_ORDER_ID], "o-2");
    assert_string_equal(out[LG_REPLY_STATUS], "pending_payment");
    assert_int_equal(pos, p.len);
    /* Nothing left: a third result is not there. */
    assert_int_equal(lg_reply_unpack(p.buf, p.len, &pos, out), -1);
    assert_int_equal(pos, p.len);

    /* A reset pack starts again at its first result. */
    lg_reply_pack_reset(&p);
    assert_int_equal(p.n, 0);
    assert_int_equal(lg_reply_pack_add(&p, v), 0);
    pos = 0;
    assert_int_equal(lg_reply_unpack(p.buf, p.len, &pos, out), 0);
    assert_string_equal(out[LG_REPLY_ORDER_ID], "o-2");
    lg_reply_pack_free(&p);
    assert_null(p.buf);
}

/* The shortest result: every value empty, "0:" and a NUL each. */
static char *empty_result(size_t *len)
{
    *len = 3 * LG_REPLY_NFIELDS;
    char *b = malloc(*len);
    for (int i = 0; i < LG_REPLY_NFIELDS; i++)
        memcpy(b + 3 * i, "0:", 3); /* the NUL included */
    return b;
}

static void bounds_of_a_packed_value(void **state)
{
    (void)state;
    const char *out[LG_REPLY_NFIELDS];
    size_t len, pos = 0;
    char *b = empty_result(&len);
    assert_int_equal(lg_reply_unpack(b, len, &pos, out), 0);
    assert_int_equal(pos, len);
    /* One byte short: the last NUL is missing. */
    pos = 0;
    assert_int_equal(lg_reply_unpack(b, len - 1, &pos, out), -1);
    assert_int_equal(pos, 0);
    /* A length one past what is there. */
    b[0] = '1';
    pos = 0;
    assert_int_equal(lg_reply_unpack(b, len, &pos, out), -1);
    /* No digits, or no ':'. */
    b[0] = ':';
    assert_int_equal(lg_reply_unpack(b, len, &pos, out), -1);
    b[0] = '0';
    b[1] = 'x';
    assert_int_equal(lg_reply_unpack(b, len, &pos, out), -1);
    free(b);

    /* A value of 1 byte is read; the same value holding a NUL is not. */
    char one[3 * LG_REPLY_NFIELDS + 1];
    memcpy(one, "1:a", 4);
    for (int i = 1; i < LG_REPLY_NFIELDS; i++)
        memcpy(one + 1 + 3 * i, "0:", 3);
    pos = 0;
    assert_int_equal(lg_reply_unpack(one, sizeof(one), &pos, out), 0);
    assert_string_equal(out[0], "a");
    one[2] = 0;
    pos = 0;
    assert_int_equal(lg_reply_unpack(one, sizeof(one), &pos, out), -1);
    /* A length of 11 digits is refused before it is added up. */
    char big[40] = "12345678901:";
    pos = 0;
    assert_int_equal(lg_reply_unpack(big, sizeof(big), &pos, out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field_is_named),
        cmocka_unit_test(results_unpack_as_packed),
        cmocka_unit_test(bounds_of_a_packed_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
