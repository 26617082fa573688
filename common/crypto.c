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
 * process uses these.
 *
 * Each value names its key by an id (see crypto.h), so a process holding
 * the current key and older ones opens each value with its own key, without
 * trying them all; a value too old to carry an id is tried with each. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/crypto.h"

#define VERSION_NO_ID 1 /* version | nonce | ct | tag, before key ids */
#define VERSION 2       /* version | key id | nonce | ct | tag */
#define KEY_ID_LEN 4
#define HEADER_LEN (1 + KEY_ID_LEN)
#define NONCE_LEN 12
#define TAG_LEN 16
#define NONCE_FIXED_LEN 8

static EVP_CIPHER *aes_gcm;
static EVP_CIPHER_CTX *seal_ctx, *open_ctx;

/* The key a context was last keyed with (see start_context). */
struct keyed_context {
    unsigned char key[LG_DATA_KEY_LEN];
    int keyed;
};
static struct keyed_context seal_keyed, open_keyed;
static unsigned char nonce_fixed[NONCE_FIXED_LEN];
static uint32_t nonce_counter;
static int nonce_ready;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The older keys, in the order added, with their ids. */
static unsigned char old_keys[LG_DATA_KEYS_OLD_MAX][LG_DATA_KEY_LEN];
static unsigned char old_ids[LG_DATA_KEYS_OLD_MAX][KEY_ID_LEN];
static size_t n_old_keys;

/* The id of the key last asked about: every seal asks about the same one. */
static unsigned char cached_key[LG_DATA_KEY_LEN], cached_id[KEY_ID_LEN];
static int cached_ready;

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

/* Starts ctx for one value under key and nonce. Keying costs more than
 * sealing a short value (the AES key schedule and GCM's hash tables), and
 * every seal of a process uses the same key: a context already keyed with
 * it is given only the new nonce. keyed_with remembers the key; a failed
 * call forgets it, so the next one keys afresh. Returns 1 or 0. */
static int start_context(EVP_CIPHER_CTX *ctx, struct keyed_context *k,
                         const unsigned char key[LG_DATA_KEY_LEN],
                         const unsigned char nonce[NONCE_LEN], int encrypt)
{
    int same = k->keyed && CRYPTO_memcmp(k->key, key, LG_DATA_KEY_LEN) == 0;
    k->keyed = 0;
    int ok = encrypt
                 ? EVP_EncryptInit_ex2(ctx, same ? NULL : aes_gcm, same ? NULL : key, nonce, NULL)
                 : EVP_DecryptInit_ex2(ctx, same ? NULL : aes_gcm, same ? NULL : key, nonce, NULL);
    if (ok != 1)
        return 0;
    if (!same)
        memcpy(k->key, key, LG_DATA_KEY_LEN);
    k->keyed = 1;
    return 1;
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

static int compute_key_id(const unsigned char key[LG_DATA_KEY_LEN], unsigned char id[KEY_ID_LEN])
{
    static const char label[] = "livegate data key id v1";
    unsigned char buf[sizeof(label) - 1 + LG_DATA_KEY_LEN], md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    memcpy(buf, label, sizeof(label) - 1);
    memcpy(buf + sizeof(label) - 1, key, LG_DATA_KEY_LEN);
    int ok = EVP_Q_digest(NULL, "SHA256", NULL, buf, sizeof(buf), md, &md_len) == 1;
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok || md_len < KEY_ID_LEN)
        return -1;
    memcpy(id, md, KEY_ID_LEN);
    return 0;
}

static int key_id(const unsigned char key[LG_DATA_KEY_LEN], unsigned char id[KEY_ID_LEN])
{
    if (!cached_ready || CRYPTO_memcmp(cached_key, key, LG_DATA_KEY_LEN) != 0) {
        if (compute_key_id(key, cached_id) != 0)
            return -1;
        memcpy(cached_key, key, LG_DATA_KEY_LEN);
        cached_ready = 1;
    }
    memcpy(id, cached_id, KEY_ID_LEN);
    return 0;
}

void lg_crypto_key_id_text(const unsigned char key[LG_DATA_KEY_LEN],
                           char out[LG_DATA_KEY_ID_TEXT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char id[KEY_ID_LEN] = {0};
    if (compute_key_id(key, id) != 0) {
        out[0] = 0;
        return;
    }
    for (int i = 0; i < KEY_ID_LEN; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[LG_DATA_KEY_ID_TEXT_LEN] = 0;
}

int lg_crypto_parse_key_list(const char *text, unsigned char (*keys)[LG_DATA_KEY_LEN], size_t max,
                             size_t *n)
{
    *n = 0;
    if (!*text)
        return 0;
    int position = 0;
    for (const char *p = text;; p++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char one[128];
        position++;
        if ((size_t)(position - 1) >= max)
            return -1;
        if (len >= sizeof(one))
            return position;
        memcpy(one, p, len);
        one[len] = 0;
        int rc = lg_crypto_parse_key(one, keys[*n]);
        OPENSSL_cleanse(one, sizeof(one));
        if (rc != 0)
            return position;
        (*n)++;
        if (!end)
            return 0;
        p = end;
    }
}

int lg_crypto_add_old_key(const unsigned char key[LG_DATA_KEY_LEN])
{
    if (n_old_keys == LG_DATA_KEYS_OLD_MAX || compute_key_id(key, old_ids[n_old_keys]) != 0)
        return -1;
    memcpy(old_keys[n_old_keys++], key, LG_DATA_KEY_LEN);
    return 0;
}

void lg_crypto_forget_old_keys(void)
{
    OPENSSL_cleanse(old_keys, sizeof(old_keys));
    n_old_keys = 0;
}

const unsigned char *lg_crypto_fingerprint_base(const unsigned char current[LG_DATA_KEY_LEN])
{
    return n_old_keys ? old_keys[n_old_keys - 1] : current;
}

char *lg_crypto_seal(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                     const unsigned char *pt, size_t pt_len)
{
    size_t raw_len = HEADER_LEN + NONCE_LEN + pt_len + TAG_LEN;
    unsigned char *raw = malloc(raw_len);
    char *text = malloc(4 * ((raw_len + 2) / 3) + 1);
    EVP_CIPHER_CTX *ctx = context_for(&seal_ctx);
    int ok = raw && text && ctx;
    int n = 0;
    if (ok) {
        raw[0] = VERSION;
        unsigned char *nonce = raw + HEADER_LEN, *ct = nonce + NONCE_LEN;
        ok = key_id(key, raw + 1) == 0 && next_nonce(nonce) == 0 &&
             start_context(ctx, &seal_keyed, key, nonce, 1) &&
             EVP_EncryptUpdate(ctx, NULL, &n, raw, HEADER_LEN) == 1 &&
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

/* A decoded sealed value split in its parts; header is what the tag covers
 * before the order id (nothing for version 1). */
struct sealed_parts {
    const unsigned char *header, *nonce, *ct, *tag;
    size_t header_len, ct_len;
};

static int split_sealed(const unsigned char *raw, long raw_len, struct sealed_parts *p)
{
    size_t header_len;
    if (raw_len >= HEADER_LEN + NONCE_LEN + TAG_LEN && raw[0] == VERSION)
        header_len = HEADER_LEN;
    else if (raw_len >= 1 + NONCE_LEN + TAG_LEN && raw[0] == VERSION_NO_ID)
        header_len = 0;
    else
        return -1;
    p->header = raw;
    p->header_len = header_len;
    p->nonce = raw + (header_len ? header_len : 1);
    p->ct = p->nonce + NONCE_LEN;
    p->ct_len = (size_t)raw_len - (size_t)(p->ct - raw) - TAG_LEN;
    p->tag = p->ct + p->ct_len;
    return 0;
}

/* Whether key may have sealed p: the same id, or no id to tell. */
static int may_have_sealed(const struct sealed_parts *p, const unsigned char id[KEY_ID_LEN])
{
    return p->header_len == 0 || memcmp(p->header + 1, id, KEY_ID_LEN) == 0;
}

/* Opens p with one key into pt (ct_len + 1 bytes); 0 or -1. */
static int open_with(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                     const struct sealed_parts *p, unsigned char *pt)
{
    EVP_CIPHER_CTX *ctx = context_for(&open_ctx);
    int n = 0, m = 0;
    int ok = ctx && start_context(ctx, &open_keyed, key, p->nonce, 0) &&
             (p->header_len == 0 ||
              EVP_DecryptUpdate(ctx, NULL, &n, p->header, (int)p->header_len) == 1) &&
             EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
             EVP_DecryptUpdate(ctx, pt, &n, p->ct, (int)p->ct_len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)p->tag) == 1 &&
             EVP_DecryptFinal_ex(ctx, pt + n, &m) == 1;
    return ok ? 0 : -1;
}

/* Tries key, then each older key, that may have sealed p; 0 when one opened it. */
static int open_with_any(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                         const struct sealed_parts *p, unsigned char *pt)
{
    unsigned char id[KEY_ID_LEN];
    if (key_id(key, id) == 0 && may_have_sealed(p, id) && open_with(key, aad, p, pt) == 0)
        return 0;
    for (size_t i = 0; i < n_old_keys; i++)
        if (may_have_sealed(p, old_ids[i]) && open_with(old_keys[i], aad, p, pt) == 0)
            return 0;
    return -1;
}

unsigned char *lg_crypto_open(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                              const char *sealed, size_t *pt_len)
{
    size_t len = strlen(sealed);
    unsigned char *raw = malloc(len / 4 * 3 + 1);
    if (!raw)
        return NULL;
    long raw_len = base64_decode(sealed, len, raw, len / 4 * 3 + 1);
    struct sealed_parts p;
    if (raw_len < 0 || split_sealed(raw, raw_len, &p) != 0) {
        free(raw);
        return NULL;
    }
    unsigned char *pt = malloc(p.ct_len + 1);
    int ok = pt && open_with_any(key, aad, &p, pt) == 0;
    size_t ct_len = p.ct_len;
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
