/* Unit tests of AES-256-GCM sealing: round trips, fresh nonces, and every
 * kind of tampering (version, key id, nonce, ciphertext, tag, truncation,
 * wrong key, wrong associated data) refused; key ids and rotation (older
 * keys open what they sealed, values from before key ids still open). */
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

/* The nonce of a sealed value: bytes 5..16 of the decoded text, after the
 * version and the key id. */
static void nonce_of(const char *sealed, unsigned char nonce[12])
{
    size_t len = strlen(sealed);
    unsigned char *raw = malloc(len);
    EVP_DecodeBlock(raw, (const unsigned char *)sealed, (int)len);
    memcpy(nonce, raw + 5, 12);
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
    size_t raw_len = 1 + 4 + 12 + strlen(PT) + 16;
    /* version, key id (first and last byte), nonce (first and last),
     * ciphertext, tag */
    size_t offsets[] = {0, 1, 4, 5, 16, 17 + strlen(PT) / 2, raw_len - 16, raw_len - 1};
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

static const char *K0 = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *K1 = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *K2 = "3333333333333333333333333333333333333333333333333333333333333333";

static void parse(const char *hex, unsigned char out[LG_DATA_KEY_LEN])
{
    assert_int_equal(lg_crypto_parse_key(hex, out), 0);
}

/* Decodes a sealed value; returns its length. */
static int decode(const char *sealed, unsigned char *raw)
{
    size_t len = strlen(sealed);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)sealed, (int)len);
    if (sealed[len - 1] == '=')
        n--;
    if (sealed[len - 2] == '=')
        n--;
    return n;
}

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* A value sealed the way releases before key ids did: version 1 | nonce |
 * ciphertext | tag, the order id alone as associated data. */
static char *seal_without_id(const unsigned char k[LG_DATA_KEY_LEN], const char *aad)
{
    size_t pt_len = strlen(PT), raw_len = 1 + 12 + pt_len + 16;
    unsigned char *raw = malloc(raw_len);
    raw[0] = 1;
    memset(raw + 1, 7, 12);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, raw + 1), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)),
                     1);
    assert_int_equal(EVP_EncryptUpdate(ctx, raw + 13, &n, (const unsigned char *)PT, (int)pt_len),
                     1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, raw + 13 + n, &n), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, raw + 13 + pt_len), 1);
    EVP_CIPHER_CTX_free(ctx);
    char *text = malloc(4 * ((raw_len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)text, raw, (int)raw_len);
    free(raw);
    return text;
}

static void assert_opens(const unsigned char k[LG_DATA_KEY_LEN], const char *sealed)
{
    size_t len = 0;
    unsigned char *pt = lg_crypto_open(k, "o-1", sealed, &len);
    assert_non_null(pt);
    assert_int_equal(len, strlen(PT));
    assert_memory_equal(pt, PT, len);
    free(pt);
}

/* A sealed value is version 2 with its key's id; the id is the documented
 * hash, differs between keys and never shows the key. */
static void sealed_values_name_their_key(void **state)
{
    (void)state;
    unsigned char k0[LG_DATA_KEY_LEN], k1[LG_DATA_KEY_LEN], raw[256], md[32];
    parse(K0, k0);
    parse(K1, k1);
    char id0[LG_DATA_KEY_ID_TEXT_LEN + 1], id1[LG_DATA_KEY_ID_TEXT_LEN + 1], in[9];
    lg_crypto_key_id_text(k0, id0);
    lg_crypto_key_id_text(k1, id1);
    assert_int_equal(strlen(id0), 8);
    assert_string_not_equal(id0, id1);

    unsigned char buf[23 + LG_DATA_KEY_LEN];
    memcpy(buf, "livegate data key id v1", 23);
    memcpy(buf + 23, k0, LG_DATA_KEY_LEN);
    size_t md_len = 0;
    assert_int_equal(EVP_Q_digest(NULL, "SHA256", NULL, buf, sizeof(buf), md, &md_len), 1);
    char expect[9];
    hex_of(md, 4, expect);
    assert_string_equal(id0, expect);

    for (int round = 0; round < 2; round++) { /* the second from the id cache */
        char *sealed = lg_crypto_seal(k0, "o-1", (const unsigned char *)PT, strlen(PT));
        assert_true(decode(sealed, raw) == (int)(1 + 4 + 12 + strlen(PT) + 16));
        assert_int_equal(raw[0], 2);
        hex_of(raw + 1, 4, in);
        assert_string_equal(in, id0);
        free(sealed);
    }
    char *sealed = lg_crypto_seal(k1, "o-1", (const unsigned char *)PT, strlen(PT));
    decode(sealed, raw);
    hex_of(raw + 1, 4, in);
    assert_string_equal(in, id1);
    free(sealed);
}

/* After a rotation (K1 current, K0 older) a value K0 sealed opens, through
 * the older key; without it, it does not; a key never added opens nothing. */
static void older_keys_open_what_they_sealed(void **state)
{
    (void)state;
    unsigned char k0[LG_DATA_KEY_LEN], k1[LG_DATA_KEY_LEN], k2[LG_DATA_KEY_LEN];
    parse(K0, k0);
    parse(K1, k1);
    parse(K2, k2);
    lg_crypto_forget_old_keys();
    char *old = lg_crypto_seal(k0, "o-1", (const unsigned char *)PT, strlen(PT));
    size_t len;
    assert_null(lg_crypto_open(k1, "o-1", old, &len));

    assert_int_equal(lg_crypto_add_old_key(k0), 0);
    assert_opens(k1, old);
    assert_null(lg_crypto_open(k1, "o-2", old, &len)); /* still bound to its order */
    char *fresh = lg_crypto_seal(k1, "o-1", (const unsigned char *)PT, strlen(PT));
    assert_opens(k1, fresh);
    /* A value K2 sealed: neither the current key nor the older one. */
    char *other = lg_crypto_seal(k2, "o-1", (const unsigned char *)PT, strlen(PT));
    assert_null(lg_crypto_open(k1, "o-1", other, &len));

    lg_crypto_forget_old_keys();
    assert_null(lg_crypto_open(k1, "o-1", old, &len));
    assert_opens(k1, fresh);
    free(old);
    free(fresh);
    free(other);
}

/* Values from before key ids open with the current key, and after a
 * rotation with the older key; a wrong key or order still fails. */
static void values_without_a_key_id_still_open(void **state)
{
    (void)state;
    unsigned char k0[LG_DATA_KEY_LEN], k1[LG_DATA_KEY_LEN];
    parse(K0, k0);
    parse(K1, k1);
    lg_crypto_forget_old_keys();
    char *legacy = seal_without_id(k0, "o-1");
    size_t len;
    assert_opens(k0, legacy);
    assert_null(lg_crypto_open(k1, "o-1", legacy, &len));
    assert_null(lg_crypto_open(k0, "o-2", legacy, &len));
    assert_int_equal(lg_crypto_add_old_key(k0), 0);
    assert_opens(k1, legacy);
    lg_crypto_forget_old_keys();
    free(legacy);
}

/* At most LG_DATA_KEYS_OLD_MAX older keys; the fingerprint's base is the
 * last added (the oldest), or the current key when there is none. */
static void older_keys_are_bounded_and_the_oldest_keys_fingerprints(void **state)
{
    (void)state;
    unsigned char k0[LG_DATA_KEY_LEN], k1[LG_DATA_KEY_LEN], k2[LG_DATA_KEY_LEN];
    parse(K0, k0);
    parse(K1, k1);
    parse(K2, k2);
    lg_crypto_forget_old_keys();
    assert_ptr_equal(lg_crypto_fingerprint_base(k2), k2);
    assert_int_equal(lg_crypto_add_old_key(k1), 0);
    assert_memory_equal(lg_crypto_fingerprint_base(k2), k1, LG_DATA_KEY_LEN);
    assert_int_equal(lg_crypto_add_old_key(k0), 0);
    assert_memory_equal(lg_crypto_fingerprint_base(k2), k0, LG_DATA_KEY_LEN);
    for (int i = 2; i < LG_DATA_KEYS_OLD_MAX; i++)
        assert_int_equal(lg_crypto_add_old_key(k2), 0);
    assert_int_equal(lg_crypto_add_old_key(k2), -1);
    lg_crypto_forget_old_keys();
    assert_ptr_equal(lg_crypto_fingerprint_base(k2), k2);
}

static void key_lists(void **state)
{
    (void)state;
    unsigned char keys[LG_DATA_KEYS_OLD_MAX][LG_DATA_KEY_LEN], k0[LG_DATA_KEY_LEN];
    parse(K0, k0);
    size_t n = 99;
    assert_int_equal(lg_crypto_parse_key_list("", keys, LG_DATA_KEYS_OLD_MAX, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(lg_crypto_parse_key_list(K0, keys, LG_DATA_KEYS_OLD_MAX, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(keys[0], k0, LG_DATA_KEY_LEN);
    /* hex and base64 mixed, in the order given */
    char two[256];
    snprintf(two, sizeof(two), "%s,AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", K1);
    assert_int_equal(lg_crypto_parse_key_list(two, keys, LG_DATA_KEYS_OLD_MAX, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(keys[1][31], 0x1f);
    /* the bound: 8 keys pass, 9 do not */
    char many[1024] = "";
    for (int i = 0; i < LG_DATA_KEYS_OLD_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%s", i ? "," : "", K2);
    assert_int_equal(lg_crypto_parse_key_list(many, keys, LG_DATA_KEYS_OLD_MAX, &n), 0);
    assert_int_equal(n, LG_DATA_KEYS_OLD_MAX);
    snprintf(many + strlen(many), sizeof(many) - strlen(many), ",%s", K2);
    assert_int_equal(lg_crypto_parse_key_list(many, keys, LG_DATA_KEYS_OLD_MAX, &n), -1);
    /* the position of the first bad key */
    snprintf(two, sizeof(two), "%s,00112233", K1);
    assert_int_equal(lg_crypto_parse_key_list(two, keys, LG_DATA_KEYS_OLD_MAX, &n), 2);
    snprintf(two, sizeof(two), "%s,", K1);
    assert_int_equal(lg_crypto_parse_key_list(two, keys, LG_DATA_KEYS_OLD_MAX, &n), 2);
    snprintf(two, sizeof(two), ",%s", K1);
    assert_int_equal(lg_crypto_parse_key_list(two, keys, LG_DATA_KEYS_OLD_MAX, &n), 1);
    snprintf(two, sizeof(two), "%s, %s", K1, K2);
    assert_int_equal(lg_crypto_parse_key_list(two, keys, LG_DATA_KEYS_OLD_MAX, &n), 2);
}

/* Opens a version 2 value with a context of its own, keyed here: the truth
 * crypto.c's reused contexts are checked against. Returns 1 when the value
 * opens under k and the aad "o-1" to PT. */
static int opens_with_fresh_context(const unsigned char k[LG_DATA_KEY_LEN], const char *sealed)
{
    unsigned char raw[256], pt[256];
    int raw_len = decode(sealed, raw), n = 0, m = 0;
    int ct_len = raw_len - 5 - 12 - 16;
    assert_true(ct_len >= 0 && raw[0] == 2);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, raw + 5) == 1 &&
             EVP_DecryptUpdate(ctx, NULL, &n, raw, 5) == 1 &&
             EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)"o-1", 3) == 1 &&
             EVP_DecryptUpdate(ctx, pt, &n, raw + 17, ct_len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, raw + 17 + ct_len) == 1 &&
             EVP_DecryptFinal_ex(ctx, pt + n, &m) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok && (size_t)ct_len == strlen(PT) && memcmp(pt, PT, (size_t)ct_len) == 0;
}

/* A context keyed once is given only a new nonce while the key stays the
 * same (crypto.c, start_context). Switching keys between seals and between
 * opens, with failed opens in between, must key it afresh: each value is
 * what a freshly keyed context makes of it, and opens with its own key
 * only. */
static void switching_keys_rekeys_the_context(void **state)
{
    (void)state;
    unsigned char other[LG_DATA_KEY_LEN];
    for (size_t i = 0; i < sizeof(other); i++)
        other[i] = (unsigned char)(0xa0 + i);
    const unsigned char *keys[] = {key, other, other, key, key, other};
    char *sealed[6];
    for (size_t i = 0; i < 6; i++) {
        sealed[i] = lg_crypto_seal(keys[i], "o-1", (const unsigned char *)PT, strlen(PT));
        assert_non_null(sealed[i]);
        assert_true(opens_with_fresh_context(keys[i], sealed[i]));
    }
    for (size_t i = 0; i < 6; i++) {
        size_t n = 0;
        assert_null(lg_crypto_open(keys[i], "o-2", sealed[i], &n));
        assert_opens(keys[i], sealed[i]);
    }
    /* the opening context, switched between keys with values of version 1
     * (no key id, so each is tried with the key given) */
    const unsigned char *open_keys[] = {key, other, other, key};
    for (size_t i = 0; i < 4; i++) {
        char *old = seal_without_id(open_keys[i], "o-1");
        size_t n = 0;
        assert_null(lg_crypto_open(open_keys[i] == key ? other : key, "o-1", old, &n));
        assert_opens(open_keys[i], old);
        free(old);
    }
    for (size_t i = 0; i < 6; i++)
        free(sealed[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(nonces_count_up),
        cmocka_unit_test(forked_child_draws_a_new_fixed_field),
        cmocka_unit_test(tampering_is_refused),
        cmocka_unit_test(key_parsing),
        cmocka_unit_test(sealed_values_name_their_key),
        cmocka_unit_test(older_keys_open_what_they_sealed),
        cmocka_unit_test(values_without_a_key_id_still_open),
        cmocka_unit_test(older_keys_are_bounded_and_the_oldest_keys_fingerprints),
        cmocka_unit_test(key_lists),
        cmocka_unit_test(switching_keys_rekeys_the_context),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
