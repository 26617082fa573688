/* Unit test of the gateway's order ids (features/intake.h): "o-", the
 * milliseconds in base 36, "-", 12 random hex digits; each one an ID by the
 * contract's rules, its time part now, and none drawn twice. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "features/intake.h"
#include "livegate/clock.h"
#include "livegate/strmap.h"
#include "livegate/text.h"

static unsigned long long from_base36(const char *s, size_t n)
{
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 36 + (unsigned long long)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

static void ids_have_their_shape_and_time(void **state)
{
    (void)state;
    unsigned long long before = (unsigned long long)lg_wall_ms();
    char id[32];
    lg_intake_new_order_id(id);
    unsigned long long after = (unsigned long long)lg_wall_ms();
    size_t len = strlen(id);
    assert_true(lg_text_is_id(id, len));
    assert_memory_equal(id, "o-", 2);
    const char *dash = strchr(id + 2, '-');
    assert_non_null(dash);
    assert_int_equal(strlen(dash + 1), 12);
    for (const char *p = dash + 1; *p; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    for (const char *p = id + 2; p < dash; p++)
        assert_non_null(strchr("0123456789abcdefghijklmnopqrstuvwxyz", *p));
    unsigned long long ms = from_base36(id + 2, (size_t)(dash - (id + 2)));
    assert_true(ms >= before && ms <= after);
}

static void ids_are_not_drawn_twice(void **state)
{
    (void)state;
    enum { N = 20000 };
    char(*ids)[32] = malloc(N * sizeof(*ids));
    struct lg_strmap *seen = lg_strmap_new();
    for (int i = 0; i < N; i++) {
        lg_intake_new_order_id(ids[i]);
        assert_null(lg_strmap_get(seen, ids[i]));
        lg_strmap_put(seen, ids[i], ids[i]);
    }
    lg_strmap_free(seen);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_have_their_shape_and_time),
        cmocka_unit_test(ids_are_not_drawn_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
