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
        cmocka_unit_test(tampering_is_refused),
        cmocka_unit_test(key_parsing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
