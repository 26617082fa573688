/* Unit test of the order record's packed fixed fields
 * (queue/order_record.h): every field is named once, packing and unpacking
 * give back the values, empty and absent values included, and a value
 * that does not hold exactly LG_ORDER_NFIXED values is refused on both
 * sides of that count. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "order_record.h"

static void every_field_is_named_once(void **state)
{
    (void)state;
    for (int i = 0; i < LG_ORDER_NFIXED; i++) {
        assert_non_null(lg_order_fixed_names[i]);
        assert_int_equal(lg_order_fixed_index(lg_order_fixed_names[i]), i);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(lg_order_fixed_names[i], lg_order_fixed_names[k]);
    }
    assert_string_equal(lg_order_fixed_names[LG_OF_ORDER_ID], "order_id");
    assert_string_equal(lg_order_fixed_names[LG_OF_PII], "pii");
    assert_string_equal(lg_order_fixed_names[LG_OF_REQ], "req");
    /* What changes after enqueue is not a fixed field. */
    assert_int_equal(lg_order_fixed_index("status"), -1);
    assert_int_equal(lg_order_fixed_index("priority"), -1);
    assert_int_equal(lg_order_fixed_index("accepted_at_ms"), -1);
    assert_int_equal(lg_order_fixed_index(LG_ORDER_RECORD_D), -1);
}

static void sample(const char *values[LG_ORDER_NFIXED])
{
    static const char *const v[LG_ORDER_NFIXED] = {
        "o-1", "r1",   "gw-a", "u-7", "c-1",  "sku-1",       "2",     "9900",    "19800",
        "CNY", "card", "",     "vip", "王**", "138****8000", "req-9", "c2VhbGVk"};
    memcpy(values, v, sizeof(v));
}

static void pack_then_unpack_gives_the_values(void **state)
{
    (void)state;
    const char *in[LG_ORDER_NFIXED];
    sample(in);
    size_t len = lg_order_record_len(in);
    char *d = malloc(len + 1);
    assert_non_null(d);
    lg_order_record_pack(d, in);
    assert_int_equal(d[len], '\0');
    const char *out[LG_ORDER_NFIXED];
    size_t lens[LG_ORDER_NFIXED];
    assert_int_equal(lg_order_record_unpack(d, len, out, lens), 0);
    for (int i = 0; i < LG_ORDER_NFIXED; i++) {
        assert_int_equal(lens[i], strlen(in[i]));
        /* In place, each value ends at a NUL. */
        assert_string_equal(out[i], in[i]);
    }
    free(d);
}

static void absent_values_are_empty(void **state)
{
    (void)state;
    const char *in[LG_ORDER_NFIXED] = {[LG_OF_ORDER_ID] = "o-2"};
    size_t len = lg_order_record_len(in);
    assert_int_equal(len, strlen("o-2") + LG_ORDER_NFIXED - 1);
    char d[64];
    lg_order_record_pack(d, in);
    const char *out[LG_ORDER_NFIXED];
    size_t lens[LG_ORDER_NFIXED];
    assert_int_equal(lg_order_record_unpack(d, len, out, lens), 0);
    assert_string_equal(out[LG_OF_ORDER_ID], "o-2");
    for (int i = 1; i < LG_ORDER_NFIXED; i++)
        assert_int_equal(lens[i], 0);
}

/* n values joined by NUL, as a record would hold them. */
static size_t joined(char *d, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            d[len++] = '\0';
        d[len++] = (char)('a' + i);
    }
    return len;
}

static void only_the_exact_count_unpacks(void **state)
{
    (void)state;
    char d[64];
    const char *out[LG_ORDER_NFIXED];
    size_t lens[LG_ORDER_NFIXED];
    assert_int_equal(lg_order_record_unpack(d, joined(d, LG_ORDER_NFIXED - 1), out, lens), -1);
    assert_int_equal(lg_order_record_unpack(d, joined(d, LG_ORDER_NFIXED), out, lens), 0);
    assert_int_equal(lens[LG_ORDER_NFIXED - 1], 1);
    assert_int_equal(lg_order_record_unpack(d, joined(d, LG_ORDER_NFIXED + 1), out, lens), -1);
    assert_int_equal(lg_order_record_unpack(d, 0, out, lens), -1);
    /* A trailing separator is one value too many. */
    size_t len = joined(d, LG_ORDER_NFIXED);
    d[len] = '\0';
    assert_int_equal(lg_order_record_unpack(d, len + 1, out, lens), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field_is_named_once),
        cmocka_unit_test(pack_then_unpack_gives_the_values),
        cmocka_unit_test(absent_values_are_empty),
        cmocka_unit_test(only_the_exact_count_unpacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
