/* Unit tests of the Redis Cluster hash slots (queue/slots.c): the slot of
 * a key against Redis's own test vectors and hash-tag rules, and the
 * grouping of rooms by slot the validator's reads are split by. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "slots.h"

#define SLOT(s) lg_slot_of_key(s, strlen(s))

static void slot_matches_known_vectors(void **state)
{
    (void)state;
    /* CLUSTER KEYSLOT answers of a real Redis */
    assert_int_equal(SLOT("foo"), 12182);
    assert_int_equal(SLOT("bar"), 5061);
    assert_int_equal(SLOT("123456789"), 0x31C3 % 16384); /* the CRC16/XMODEM check value */
    assert_int_equal(SLOT(""), 0);
}

static void slot_follows_the_hash_tag(void **state)
{
    (void)state;
    assert_int_equal(SLOT("{foo}"), 12182);
    assert_int_equal(SLOT("lg:{foo}:q:high"), 12182);
    assert_int_equal(SLOT("{user1000}.following"), SLOT("{user1000}.followers"));
    /* an empty tag does not count: the whole key is hashed */
    assert_int_equal(SLOT("foo{}{bar}"), lg_slot_of_key("foo{}{bar}", 10));
    assert_int_not_equal(SLOT("foo{}{bar}"), SLOT("bar"));
    /* the tag ends at the first '}' after the first '{' */
    assert_int_equal(SLOT("foo{{bar}}zap"), SLOT("{bar"));
    assert_int_equal(SLOT("foo{bar}{zap}"), SLOT("bar"));
    /* no closing brace: the whole key */
    assert_int_equal(SLOT("{foo"), lg_slot_of_key("{foo", 4));
    assert_int_not_equal(SLOT("{foo"), SLOT("foo"));
}

static void room_slot_is_the_slot_of_its_keys(void **state)
{
    (void)state;
    const char *rooms[] = {"foo", "bar", "r-1", "flash", "直播间"};
    for (size_t i = 0; i < sizeof(rooms) / sizeof(rooms[0]); i++) {
        char high[LG_KEY_MAX], normal[LG_KEY_MAX];
        lg_key_stream(high, sizeof(high), rooms[i], true);
        lg_key_stream(normal, sizeof(normal), rooms[i], false);
        assert_int_equal(lg_slot_of_room(rooms[i]), SLOT(high));
        assert_int_equal(lg_slot_of_room(rooms[i]), SLOT(normal));
    }
    assert_int_equal(lg_slot_of_room("foo"), 12182);
}

static void groups_rooms_by_slot(void **state)
{
    (void)state;
    const unsigned slots[] = {7, 3, 7, 9, 3, 7};
    size_t order[6], starts[7];
    size_t groups = lg_slot_group(slots, 6, order, starts);
    assert_int_equal(groups, 3);
    const size_t want_order[] = {1, 4, 0, 2, 5, 3};
    const size_t want_starts[] = {0, 2, 5, 6};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(order[i], want_order[i]);
    for (size_t g = 0; g <= groups; g++)
        assert_int_equal(starts[g], want_starts[g]);
    for (size_t g = 0; g < groups; g++)
        for (size_t i = starts[g]; i < starts[g + 1]; i++)
            assert_int_equal(slots[order[i]], slots[order[starts[g]]]);
}

static void groups_edge_cases(void **state)
{
    (void)state;
    size_t order[4], starts[5];
    assert_int_equal(lg_slot_group(NULL, 0, order, starts), 0);
    assert_int_equal(starts[0], 0);
    const unsigned one[] = {42};
    assert_int_equal(lg_slot_group(one, 1, order, starts), 1);
    assert_int_equal(order[0], 0);
    assert_int_equal(starts[1], 1);
    const unsigned same[] = {5, 5, 5, 5};
    assert_int_equal(lg_slot_group(same, 4, order, starts), 1);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(order[i], i);
    const unsigned apart[] = {16383, 0, 1, 16382};
    assert_int_equal(lg_slot_group(apart, 4, order, starts), 4);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[3], 0);
}

/* Two real rooms known to share a slot go in one group, and rooms of
 * other slots do not join it. */
static void rooms_of_one_slot_share_a_group(void **state)
{
    (void)state;
    char rooms[4][16] = {"foo", "bar", "", "x"};
    /* find a room name other than "foo" with foo's slot */
    for (int i = 0; i < 1000000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "r%d", i);
        if (lg_slot_of_room(name) == 12182) {
            memcpy(rooms[2], name, sizeof(name));
            break;
        }
    }
    assert_true(rooms[2][0] != 0);
    unsigned slots[4];
    for (int i = 0; i < 4; i++)
        slots[i] = lg_slot_of_room(rooms[i]);
    size_t order[4], starts[5];
    size_t groups = lg_slot_group(slots, 4, order, starts);
    assert_int_equal(groups, 3);
    int foo_group = -1, other_group = -1;
    for (size_t g = 0; g < groups; g++)
        for (size_t i = starts[g]; i < starts[g + 1]; i++) {
            if (order[i] == 0)
                foo_group = (int)g;
            if (order[i] == 2)
                other_group = (int)g;
        }
    assert_int_equal(foo_group, other_group);
    assert_int_equal(starts[foo_group + 1] - starts[foo_group], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slot_matches_known_vectors),
        cmocka_unit_test(slot_follows_the_hash_tag),
        cmocka_unit_test(room_slot_is_the_slot_of_its_keys),
        cmocka_unit_test(groups_rooms_by_slot),
        cmocka_unit_test(groups_edge_cases),
        cmocka_unit_test(rooms_of_one_slot_share_a_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
