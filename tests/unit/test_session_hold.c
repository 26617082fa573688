/* Unit tests of the connection's result holds (session.h): a result that
 * overtakes its order.accepted is kept by the open hold naming its order,
 * only the first one, and handed back when the hold closes. The holds are
 * plain list work, so a session built by hand (no socket) is enough. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "conn/session.h"

static void init_session(struct lg_session *s)
{
    memset(s, 0, sizeof(*s));
    lg_list_init(&s->holds);
}

static void a_result_for_an_open_hold_is_kept_until_it_closes(void **state)
{
    (void)state;
    struct lg_session s;
    init_session(&s);
    struct lg_session_hold a, b;
    char id_a[] = "o-a", id_b[] = "o-b";
    lg_session_hold_open(&s, &a, id_a);
    lg_session_hold_open(&s, &b, id_b);

    struct lg_frame *first = lg_frame_new("{\"type\":\"order.confirmed\"}", 26);
    struct lg_frame *repeat = lg_frame_new("{\"type\":\"order.rejected\"}", 25);
    assert_false(lg_session_hold_result(&s, "o-c", first)); /* nobody waits: send now */
    assert_int_equal(first->refs, 1);
    assert_true(lg_session_hold_result(&s, "o-b", first));
    assert_true(lg_session_hold_result(&s, "o-b", repeat)); /* held, but the first one wins */
    assert_int_equal(first->refs, 2);                       /* the hold's own reference */
    assert_int_equal(repeat->refs, 1);
    assert_true(lg_session_hold_result(&s, "o-a", NULL)); /* a result not written: none held */

    assert_null(lg_session_hold_close(&a));
    struct lg_frame *held = lg_session_hold_close(&b);
    assert_ptr_equal(held, first);
    lg_frame_unref(held);
    assert_int_equal(first->refs, 1);
    assert_null(lg_session_hold_close(&b)); /* closing twice hands nothing back twice */
    assert_false(lg_session_hold_result(&s, "o-b", first));
    assert_true(lg_list_empty(&s.holds));
    lg_frame_unref(first);
    lg_frame_unref(repeat);
}

static void a_hold_never_opened_closes_to_nothing(void **state)
{
    (void)state;
    struct lg_session_hold h;
    memset(&h, 0, sizeof(h));
    assert_null(lg_session_hold_close(&h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_result_for_an_open_hold_is_kept_until_it_closes),
        cmocka_unit_test(a_hold_never_opened_closes_to_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
