/* Unit tests of lg_random_fill: draws of every size come out, across the
 * block boundary too, no two draws repeat, and a forked child never hands
 * out the bytes its parent will. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "livegate/random.h"

/* 6-byte draws, as order ids take, through more than two 4 KiB blocks: no
 * draw repeats an earlier one, and none is all zero (the failure filler). */
static void draws_do_not_repeat(void **state)
{
    (void)state;
    enum { N = 2000, W = 6 };
    static unsigned char seen[N][W];
    static const unsigned char zero[W];
    for (int i = 0; i < N; i++) {
        assert_int_equal(lg_random_fill(seen[i], W), 0);
        assert_memory_not_equal(seen[i], zero, W);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(seen[i], seen[j], W);
    }
}

/* A draw larger than the block still fills every byte. */
static void a_draw_larger_than_the_block(void **state)
{
    (void)state;
    static unsigned char big[10000];
    memset(big, 0, sizeof(big));
    assert_int_equal(lg_random_fill(big, sizeof(big)), 0);
    /* 10,000 random bytes with a run of 64 zeros: about 2^-512. */
    static const unsigned char zero[64];
    for (size_t i = 0; i + 64 <= sizeof(big); i += 64)
        assert_memory_not_equal(big + i, zero, 64);
    unsigned char none[1] = {0x5a};
    assert_int_equal(lg_random_fill(none, 0), 0);
    assert_int_equal(none[0], 0x5a);
}

/* After fork the child's next bytes are not the parent's next bytes. */
static void forked_child_does_not_share_the_block(void **state)
{
    (void)state;
    unsigned char warm[4];
    lg_random_fill(warm, sizeof(warm)); /* the block is now part used */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char c[16];
        int rc = lg_random_fill(c, sizeof(c));
        ssize_t w = write(fds[1], c, sizeof(c));
        _exit(rc == 0 && w == (ssize_t)sizeof(c) ? 0 : 1);
    }
    unsigned char parent[16], child[16];
    assert_int_equal(lg_random_fill(parent, sizeof(parent)), 0);
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_not_equal(parent, child, sizeof(parent));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(draws_do_not_repeat),
        cmocka_unit_test(a_draw_larger_than_the_block),
        cmocka_unit_test(forked_child_does_not_share_the_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
