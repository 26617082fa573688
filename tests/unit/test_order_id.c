/* Unit test of the gateway's order ids (rules/order_id.h, and
 * features/intake.h's lg_intake_new_order_id): "o-", the milliseconds in
 * base 36, "-", 12 random hex digits, then "-" and the room id when the
 * whole fits in an ID's 64 characters; each one an ID by the contract's
 * rules, its time part now, and none drawn twice. The room is read back
 * only from an id of exactly that shape. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "features/intake.h"
#include "rules/order_id.h"
#include "livegate/clock.h"
#include "livegate/strmap.h"
#include "livegate/text.h"

static const unsigned char RND[LG_ORDER_ID_RANDOM] = {0x63, 0x7b, 0xeb, 0x83, 0x47, 0x9e};
/* 1,764,000,000,000 ms is "midc1z40" in base 36: ids of 23 characters
 * before the room, so a room of 40 is the longest that fits. */
static const uint64_t MS = 1764000000000ULL;

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
    char id[LG_ID_MAX + 1];
    assert_true(lg_intake_new_order_id(id, "r1"));
    unsigned long long after = (unsigned long long)lg_wall_ms();
    size_t len = strlen(id);
    assert_true(lg_text_is_id(id, len));
    assert_memory_equal(id, "o-", 2);
    const char *dash = strchr(id + 2, '-');
    assert_non_null(dash);
    for (const char *p = id + 2; p < dash; p++)
        assert_non_null(strchr("0123456789abcdefghijklmnopqrstuvwxyz", *p));
    for (const char *p = dash + 1; p < dash + 13; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    assert_string_equal(dash + 13, "-r1");
    unsigned long long ms = from_base36(id + 2, (size_t)(dash - (id + 2)));
    assert_true(ms >= before && ms <= after);
    char room[LG_ID_MAX + 1];
    assert_true(lg_order_id_room(id, room));
    assert_string_equal(room, "r1");
}

static void the_room_is_named_while_the_id_fits_in_64(void **state)
{
    (void)state;
    char id[LG_ID_MAX + 1], room[LG_ID_MAX + 1], back[LG_ID_MAX + 1];
    memset(room, 'r', 40);
    room[40] = 0;
    assert_true(lg_order_id_format(id, MS, RND, room));
    assert_int_equal(strlen(id), 64);
    assert_memory_equal(id, "o-midc1z40-637beb83479e-", 24);
    assert_true(lg_order_id_room(id, back));
    assert_string_equal(back, room);

    /* One character more: the id names no room (the order gets its index). */
    room[40] = 'r';
    room[41] = 0;
    assert_false(lg_order_id_format(id, MS, RND, room));
    assert_string_equal(id, "o-midc1z40-637beb83479e");
    assert_false(lg_order_id_room(id, back));

    /* A room id of the contract's full 64 characters, and none at all. */
    memset(room, 'r', 64);
    room[64] = 0;
    assert_false(lg_order_id_format(id, MS, RND, room));
    assert_string_equal(id, "o-midc1z40-637beb83479e");
    assert_false(lg_order_id_format(id, MS, RND, ""));
    assert_string_equal(id, "o-midc1z40-637beb83479e");
}

static void a_room_is_read_only_from_an_id_of_that_shape(void **state)
{
    (void)state;
    char room[LG_ID_MAX + 1];
    /* Rooms may hold the characters of any ID, '-' included. */
    assert_true(lg_order_id_room("o-midc1z40-637beb83479e-live-2026.12:A_b", room));
    assert_string_equal(room, "live-2026.12:A_b");
    assert_true(lg_order_id_room("o-0-000000000000-x", room));
    assert_string_equal(room, "x");

    static const char *const none[] = {
        "o-mx4dacfg-637beb83479e",          /* an earlier release's id */
        "o-midc1z40-637beb83479e-",         /* an empty room */
        "o-midc1z40-637beb83479er1",        /* no dash before the room */
        "o-midc1z40-637beb83479-r1",        /* 11 hex digits */
        "o-midc1z40-637BEB83479e-r1",       /* hex in capitals */
        "o--637beb83479e-r1",               /* no time */
        "o-midc1z40z-637beb83479e-r1/x",    /* a room that is no ID */
        "o-midc1z40-637beb83479e-r 1",      /* a room that is no ID */
        "x-midc1z40-637beb83479e-r1",       /* not "o-" */
        "o-MIDC1Z40-637beb83479e-r1",       /* time not in base 36 */
        "o-00000000000000-637beb83479e-r1", /* 14 digits of time: past 64 bits */
        "",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        strcpy(room, "untouched");
        assert_false(lg_order_id_room(none[i], room));
        assert_string_equal(room, "untouched");
    }

    /* 64 characters is an ID; 65 is not, though its room would be one. */
    char id[LG_ID_MAX + 2];
    memcpy(id, "o-midc1z40-637beb83479e-", 24);
    memset(id + 24, 'r', 40);
    id[64] = 0;
    assert_true(lg_order_id_room(id, room));
    id[64] = 'r';
    id[65] = 0;
    assert_false(lg_order_id_room(id, room));
}

static void ids_are_not_drawn_twice(void **state)
{
    (void)state;
    enum { N = 20000 };
    char(*ids)[LG_ID_MAX + 1] = malloc(N * sizeof(*ids));
    struct lg_strmap *seen = lg_strmap_new();
    for (int i = 0; i < N; i++) {
        lg_intake_new_order_id(ids[i], "r1");
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
        cmocka_unit_test(the_room_is_named_while_the_id_fits_in_64),
        cmocka_unit_test(a_room_is_read_only_from_an_id_of_that_shape),
        cmocka_unit_test(ids_are_not_drawn_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
