/* Unit test of the result layout (queue/result_layout.h): every record
 * field has its name, under the name the order record uses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
