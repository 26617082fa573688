/* crypto.c - AES-256-GCM sealing of personal data (see crypto.h). GCM gives
 * confidentiality and integrity at once: a flipped bit anywhere, a wrong key
 * or a ciphertext moved to another order fails to open.
 *
 * Sealing runs once per order, so its fixed costs matter: the cipher is
 * fetched and the context allocated once per process, not per call, and the
 * nonce is built as NIST SP 800-38D 8.2.1 describes (a fixed field and an
 * invocation counter) instead of drawing 12 random bytes each time. The
 * fixed field is 8 random bytes per process, so processes sharing the key
 * (every gateway) never share a nonce prefix except with probability about
 * P^2 / 2^65 for P process starts; it is drawn again when the 32-bit
 * counter is used up, and in a forked child. One event-loop thread per
 * process uses these. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/crypto.h"

#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define NONCE_FIXED_LEN 8

static EVP_CIPHER *aes_gcm;
static EVP_CIPHER_CTX *seal_ctx, *open_ctx;
static unsigned char nonce_fixed[NONCE_FIXED_LEN];
static uint32_t nonce_counter;
static int nonce_ready;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_nonce(void)
{
    nonce_ready = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_nonce);
}

/* The next nonce: fixed field | big-endian counter. Returns 0 or -1. */
static int next_nonce(unsigned char nonce[NONCE_LEN])
{
    pthread_once(&atfork_once, register_atfork);
    if (!nonce_ready || nonce_counter == UINT32_MAX) {
        if (RAND_bytes(nonce_fixed, sizeof(nonce_fixed)) != 1)
            return -1;
        nonce_counter = 0;
        nonce_ready = 1;
    }
    uint32_t c = nonce_counter++;
    memcpy(nonce, nonce_fixed, NONCE_FIXED_LEN);
    nonce[8] = (unsigned char)(c >> 24);
    nonce[9] = (unsigned char)(c >> 16);
    nonce[10] = (unsigned char)(c >> 8);
    nonce[11] = (unsigned char)c;
    return 0;
}

/* The cipher and one context for each direction, made on first use and kept
 * for the life of the process (EVP_*Init_ex2 re-keys a context per call). */
static EVP_CIPHER_CTX *context_for(EVP_CIPHER_CTX **slot)
{
    if (!aes_gcm)
        aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (aes_gcm && !*slot)
        *slot = EVP_CIPHER_CTX_new();
    return aes_gcm ? *slot : NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Standard base64 with padding; returns the decoded length or -1. */
static long base64_decode(const char *text, size_t len, unsigned char *out, size_t outsz)
{
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > outsz)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes. */
    if (text[len - 1] == '=')
        n--;
    if (text[len - 2] == '=')
        n--;
    return n;
}

int lg_crypto_parse_key(const char *text, unsigned char key[LG_DATA_KEY_LEN])
{
    size_t len = strlen(text);
    if (len == 2 * LG_DATA_KEY_LEN) {
        for (size_t i = 0; i < LG_DATA_KEY_LEN; i++) {
            int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            key[i] = (unsigned char)(hi * 16 + lo);
        }
        return 0;
    }
    unsigned char buf[64];
    long n = base64_decode(text, len, buf, sizeof(buf));
    if (n != LG_DATA_KEY_LEN)
        return -1;
    memcpy(key, buf, LG_DATA_KEY_LEN);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

char *lg_crypto_seal(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                     const unsigned char *pt, size_t pt_len)
{
    size_t raw_len = 1 + NONCE_LEN + pt_len + TAG_LEN;
    unsigned char *raw = malloc(raw_len);
    char *text = malloc(4 * ((raw_len + 2) / 3) + 1);
    EVP_CIPHER_CTX *ctx = context_for(&seal_ctx);
    int ok = raw && text && ctx;
    int n = 0;
    if (ok) {
        raw[0] = VERSION;
        unsigned char *nonce = raw + 1, *ct = raw + 1 + NONCE_LEN;
        ok = next_nonce(nonce) == 0 && EVP_EncryptInit_ex2(ctx, aes_gcm, key, nonce, NULL) == 1 &&
             EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
             EVP_EncryptUpdate(ctx, ct, &n, pt, (int)pt_len) == 1 &&
             EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + pt_len) == 1;
    }
    if (ok)
        EVP_EncodeBlock((unsigned char *)text, raw, (int)raw_len);
    if (raw)
        OPENSSL_cleanse(raw, raw_len);
    free(raw);
    if (!ok) {
        free(text);
        return NULL;
    }
    return text;
}

unsigned char *lg_crypto_open(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                              const char *sealed, size_t *pt_len)
{
    size_t len = strlen(sealed);
    unsigned char *raw = malloc(len / 4 * 3 + 1);
    if (!raw)
        return NULL;
    long raw_len = base64_decode(sealed, len, raw, len / 4 * 3 + 1);
    if (raw_len < 1 + NONCE_LEN + TAG_LEN || raw[0] != VERSION) {
        free(raw);
        return NULL;
    }
    size_t ct_len = (size_t)raw_len - 1 - NONCE_LEN - TAG_LEN;
    unsigned char *pt = malloc(ct_len + 1);
    EVP_CIPHER_CTX *ctx = context_for(&open_ctx);
    const unsigned char *nonce = raw + 1, *ct = raw + 1 + NONCE_LEN;
    unsigned char *tag = raw + 1 + NONCE_LEN + ct_len;
    int n = 0, m = 0;
    int ok = pt && ctx && EVP_DecryptInit_ex2(ctx, aes_gcm, key, nonce, NULL) == 1 &&
             EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
             EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ct_len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
             EVP_DecryptFinal_ex(ctx, pt + n, &m) == 1;
    free(raw);
    if (!ok) {
        if (pt)
            OPENSSL_cleanse(pt, ct_len + 1);
        free(pt);
        return NULL;
    }
    pt[ct_len] = 0;
    *pt_len = ct_len;
    return pt;
}
