/* Unit tests of the intrusive list (include/livegate/list.h): order of
 * insertion, removal from anywhere (twice is harmless), and the
 * way back from a node to its element. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "livegate/list.h"

struct item {
    int value;
    struct lg_list node;
};

static int values(struct lg_list *head, int *out, int max)
{
    int n = 0;
    for (struct lg_list *q = head->next; q != head && n < max; q = q->next)
        out[n++] = lg_list_entry(q, struct item, node)->value;
    return n;
}

static void an_initialized_list_is_empty(void **state)
{
    (void)state;
    struct lg_list head;
    lg_list_init(&head);
    assert_true(lg_list_empty(&head));
    assert_null(lg_list_first(&head));
}

static void head_and_tail_insertion_keep_their_order(void **state)
{
    (void)state;
    struct lg_list head;
    struct item a = {.value = 1}, b = {.value = 2}, c = {.value = 3};
    lg_list_init(&head);
    lg_list_insert_tail(&head, &b.node);
    lg_list_insert_tail(&head, &c.node);
    lg_list_insert_head(&head, &a.node);
    int got[4];
    assert_int_equal(values(&head, got, 4), 3);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 3);
    assert_ptr_equal(lg_list_entry(lg_list_first(&head), struct item, node), &a);
    assert_ptr_equal(lg_list_entry(head.prev, struct item, node), &c);
    assert_ptr_equal(lg_list_next(&head, &b.node), &c.node);
    assert_null(lg_list_next(&head, &c.node));
}

static void removal_unlinks_and_is_idempotent(void **state)
{
    (void)state;
    struct lg_list head;
    struct item a = {.value = 1}, b = {.value = 2}, c = {.value = 3};
    lg_list_init(&head);
    lg_list_init(&b.node);
    assert_false(lg_list_linked(&b.node));
    lg_list_insert_tail(&head, &a.node);
    lg_list_insert_tail(&head, &b.node);
    lg_list_insert_tail(&head, &c.node);
    assert_true(lg_list_linked(&b.node));
    lg_list_remove(&b.node);
    assert_false(lg_list_linked(&b.node));
    lg_list_remove(&b.node);
    int got[4];
    assert_int_equal(values(&head, got, 4), 2);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 3);
    lg_list_remove(&a.node);
    lg_list_remove(&c.node);
    assert_true(lg_list_empty(&head));
}

static void removal_while_walking(void **state)
{
    (void)state;
    struct lg_list head;
    struct item it[6];
    lg_list_init(&head);
    for (int i = 0; i < 6; i++) {
        it[i].value = i;
        lg_list_insert_tail(&head, &it[i].node);
    }
    for (struct lg_list *q = head.next, *next; q != &head; q = next) {
        next = q->next;
        if (lg_list_entry(q, struct item, node)->value % 2 == 0)
            lg_list_remove(q);
    }
    int got[6];
    assert_int_equal(values(&head, got, 6), 3);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_initialized_list_is_empty),
        cmocka_unit_test(head_and_tail_insertion_keep_their_order),
        cmocka_unit_test(removal_unlinks_and_is_idempotent),
        cmocka_unit_test(removal_while_walking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
