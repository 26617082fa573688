/* Unit tests of RESP command formatting (queue/resp.h): the bytes are
 * hiredis's own for the same arguments (redisFormatCommandArgv, which the
 * connection used before), for empty, binary and long arguments, with and
 * without lengths, and the length is what is written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

static void assert_as_hiredis(int argc, const char **argv, const size_t *lens)
{
    char *want = NULL;
    int want_len = redisFormatCommandArgv(&want, argc, argv, lens);
    assert_true(want_len > 0);
    size_t len = lg_resp_command_len(argc, argv, lens);
    assert_int_equal(len, (size_t)want_len);
    /* one byte of room past the end, to see nothing is written there */
    char *out = malloc(len + 1);
    out[len] = '#';
    assert_int_equal(lg_resp_command(out, argc, argv, lens), len);
    assert_memory_equal(out, want, len);
    assert_int_equal(out[len], '#');
    free(out);
    redisFreeCommand(want);
}

static void simple_commands(void **state)
{
    (void)state;
    const char *ping[] = {"PING"};
    assert_as_hiredis(1, ping, NULL);
    const char *set[] = {"SET", "lg:oidx:{o-1}", "room-1", "EX", "604800"};
    assert_as_hiredis(5, set, NULL);
    const char *empty[] = {"HSET", "k", "f", ""};
    assert_as_hiredis(4, empty, NULL);
    /* the shape itself, spelled out once */
    char out[64];
    const char *get[] = {"GET", ""};
    size_t n = lg_resp_command(out, 2, get, NULL);
    assert_int_equal(n, 19);
    assert_memory_equal(out, "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", 19);
}

/* Lengths given: bytes after a NUL, CR LF inside an argument, and lengths
 * across the digit boundaries (9/10, 99/100, 9999/10000). */
static void binary_and_long_arguments(void **state)
{
    (void)state;
    static char big[10001];
    memset(big, 'x', sizeof(big));
    const char *argv[] = {"XADD", "a\0b", "c\r\nd", big, big, big, big, big, big, big, big};
    size_t lens[] = {4, 3, 4, 9, 10, 99, 100, 9999, 10000, 10001, 0};
    assert_as_hiredis(11, argv, lens);
}

/* Argument counts across the digit boundaries too. */
static void many_arguments(void **state)
{
    (void)state;
    static const char *argv[1001];
    for (int i = 0; i < 1001; i++)
        argv[i] = (i % 3) ? "o-lx2k9a-000123" : "";
    int counts[] = {9, 10, 99, 100, 999, 1000, 1001};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        assert_as_hiredis(counts[i], argv, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_commands),
        cmocka_unit_test(binary_and_long_arguments),
        cmocka_unit_test(many_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
