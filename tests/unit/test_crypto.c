/* Unit tests of AES-256-GCM sealing: round trips, fresh nonces, and every
 * kind of tampering (version, nonce, ciphertext, tag, truncation, wrong key,
 * wrong associated data) refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "livegate/crypto.h"

static unsigned char key[LG_DATA_KEY_LEN];

static int setup(void **state)
{
    (void)state;
    return lg_crypto_parse_key("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                               key);
}

static const char *PT = "{\"name\":\"张三\",\"phone\":\"13800138000\"}";

static void round_trip(void **state)
{
    (void)state;
    char *sealed = lg_crypto_seal(key, "o-1", (const unsigned char *)PT, strlen(PT));
    assert_non_null(sealed);
    assert_null(strstr(sealed, "13800138000"));
    size_t len = 0;
    unsigned char *pt = lg_crypto_open(key, "o-1", sealed, &len);
    assert_non_null(pt);
    assert_int_equal(len, strlen(PT));
    assert_memory_equal(pt, PT, len);
    assert_int_equal(pt[len], 0);
    free(pt);
    char *again = lg_crypto_seal(key, "o-1", (const unsigned char *)PT, strlen(PT));
    assert_string_not_equal(sealed, again); /* a fresh nonce each time */
    free(again);
    free(sealed);
    char *empty = lg_crypto_seal(key, "o-1", (const unsigned char *)"", 0);
    pt = lg_crypto_open(key, "o-1", empty, &len);
    assert_non_null(pt);
    assert_int_equal(len, 0);
    free(pt);
    free(empty);
}

/* Flips one byte of the decoded sealed value at offset and re-encodes it. */
static char *tamper(const char *sealed, size_t offset)
{
    size_t len = strlen(sealed);
    unsigned char *raw = malloc(len);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)sealed, (int)len);
    if (sealed[len - 1] == '=')
        n--;
    if (sealed[len - 2] == '=')
        n--;
    if (offset >= (size_t)n)
        offset = (size_t)n - 1;
    raw[offset] ^= 0x01;
    char *out = malloc(len + 4);
    EVP_EncodeBlock((unsigned char *)out, raw, n);
    free(raw);
    return out;
}

/* The nonce of a sealed value: bytes 1..12 of the decoded text. */
static void nonce_of(const char *sealed, unsigned char nonce[12])
{
    size_t len = strlen(sealed);
    unsigned char *raw = malloc(len);
    EVP_DecodeBlock(raw, (const unsigned char *)sealed, (int)len);
    memcpy(nonce, raw + 1, 12);
    free(raw);
}

/* Nonces are fixed field | counter: within a process the first 8 bytes stay
 * and the counter moves by one per seal, so no two seals share a nonce. */
static void nonces_count_up(void **state)
{
    (void)state;
    unsigned char first[12], prev[12], cur[12];
    for (int i = 0; i < 1000; i++) {
        char *sealed = lg_crypto_seal(key, "o-1", (const unsigned char *)PT, strlen(PT));
        assert_non_null(sealed);
        nonce_of(sealed, cur);
        free(sealed);
        if (i == 0) {
            memcpy(first, cur, 12);
        } else {
            assert_memory_equal(cur, first, 8);
            unsigned long a =
                (unsigned long)prev[8] << 24 | prev[9] << 16 | prev[10] << 8 | prev[11];
            unsigned long b = (unsigned long)cur[8] << 24 | cur[9] << 16 | cur[10] << 8 | cur[11];
            assert_int_equal(b, a + 1);
        }
        memcpy(prev, cur, 12);
    }
}

/* A forked child must not continue its parent's nonce sequence: it would
 * seal with nonces the parent also uses, under the same key. */
static void forked_child_draws_a_new_fixed_field(void **state)
{
    (void)state;
    char *sealed = lg_crypto_seal(key, "o-1", (const unsigned char *)PT, strlen(PT));
    unsigned char parent[12];
    nonce_of(sealed, parent);
    free(sealed);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *c = lg_crypto_seal(key, "o-1", (const unsigned char *)PT, strlen(PT));
        unsigned char child[12] = {0};
        if (c)
            nonce_of(c, child);
        ssize_t w = write(fds[1], child, sizeof(child));
        _exit(w == (ssize_t)sizeof(child) ? 0 : 1);
    }
    unsigned char child[12];
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_not_equal(child, parent, 8);
}

static void tampering_is_refused(void **state)
{
    (void)state;
    char *sealed = lg_crypto_seal(key, "o-1", (const unsigned char *)PT, strlen(PT));
    size_t raw_len = 1 + 12 + strlen(PT) + 16;
    size_t offsets[] = {0, 1, 12, 13, 13 + strlen(PT) / 2, raw_len - 16, raw_len - 1};
    size_t len;
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        char *bad = tamper(sealed, offsets[i]);
        assert_null(lg_crypto_open(key, "o-1", bad, &len));
        free(bad);
    }
    assert_null(lg_crypto_open(key, "o-2", sealed, &len));
    unsigned char other[LG_DATA_KEY_LEN];
    memcpy(other, key, sizeof(other));
    other[5] ^= 0x80;
    assert_null(lg_crypto_open(other, "o-1", sealed, &len));
    char *cut = strdup(sealed);
    cut[strlen(cut) - 8] = 0;
    assert_null(lg_crypto_open(key, "o-1", cut, &len));
    assert_null(lg_crypto_open(key, "o-1", "", &len));
    assert_null(lg_crypto_open(key, "o-1", "not base64!", &len));
    assert_null(lg_crypto_open(key, "o-1", "AAAA", &len));
    free(cut);
    free(sealed);
}

static void key_parsing(void **state)
{
    (void)state;
    unsigned char k[LG_DATA_KEY_LEN];
    assert_int_equal(
        lg_crypto_parse_key("000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f", k),
        0);
    assert_memory_equal(k, key, sizeof(k));
    /* base64 of the same 32 bytes */
    assert_int_equal(lg_crypto_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", k), 0);
    assert_memory_equal(k, key, sizeof(k));
    assert_int_equal(lg_crypto_parse_key("00010203", k), -1);
    assert_int_equal(
        lg_crypto_parse_key("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", k),
        -1);
    assert_int_equal(
        lg_crypto_parse_key("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", k),
        -1);
    assert_int_equal(lg_crypto_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", k), -1);
    assert_int_equal(lg_crypto_parse_key("", k), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(nonces_count_up),
        cmocka_unit_test(forked_child_draws_a_new_fixed_field),
        cmocka_unit_test(tampering_is_refused),
        cmocka_unit_test(key_parsing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
