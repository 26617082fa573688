/* fingerprint.c - the body digest behind IDEMPOTENCY_CONFLICT (see
 * fingerprint.h). Each field is written with its length before it and each
 * optional field with a presence byte, so no two different bodies can
 * produce the same byte stream.
 *
 * It runs once per submit, so the stream is built in one buffer and MACed
 * with one update, by a context keyed once per process (one event-loop
 * thread uses it): one update per piece, and a context and an implicit
 * fetch per call, were most of the cost of the plain digest it replaced.
 *
 * The key is derived from the oldest data key the process holds, not the
 * current one: a rotation (a new LIVEGATE_DATA_KEY, the old one moved to
 * LIVEGATE_DATA_KEYS_OLD) then leaves every fingerprint as it was, and a
 * client retrying across it gets its duplicate, not IDEMPOTENCY_CONFLICT. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/text.h"
#include "rules/fingerprint.h"

/* Every string of an order lies within struct lg_order, so the stream fits
 * in its size plus the length prefixes, presence bytes and numbers. */
struct stream {
    size_t len;
    unsigned char buf[sizeof(struct lg_order) + 512];
};

static void put_raw(struct stream *s, const void *data, size_t len)
{
    if (len > sizeof(s->buf) - s->len)
        len = sizeof(s->buf) - s->len; /* cannot happen: see struct stream */
    memcpy(s->buf + s->len, data, len);
    s->len += len;
}

static void put_bytes(struct stream *s, const void *data, size_t len)
{
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)(len >> (8 * i));
    put_raw(s, prefix, sizeof(prefix));
    put_raw(s, data, len);
}

static void put_str(struct stream *s, const char *str)
{
    put_bytes(s, str, strlen(str));
}

static void put_int(struct stream *s, long long v)
{
    char buf[LG_TEXT_I64_MAX];
    put_bytes(s, buf, lg_text_i64(buf, v));
}

static void put_optional(struct stream *s, bool present, const char *str)
{
    unsigned char flag = present ? 1 : 0;
    put_raw(s, &flag, 1);
    if (present)
        put_str(s, str);
}

static void build_stream(const struct lg_order *o, struct stream *s)
{
    s->len = 0;
    put_str(s, "livegate-order-v1");
    put_str(s, o->room_id);
    put_str(s, o->sku_id);
    put_int(s, o->qty);
    put_int(s, o->unit_price);
    put_int(s, o->amount);
    put_str(s, o->currency);
    put_str(s, o->payment_method);
    put_optional(s, o->has_coupon, o->coupon_id);
    const struct lg_address *a = &o->address;
    put_str(s, a->name);
    put_str(s, a->phone);
    put_str(s, a->province);
    put_str(s, a->city);
    put_optional(s, a->has_district, a->district);
    put_str(s, a->detail);
    put_optional(s, a->has_postal_code, a->postal_code);
}

struct lg_fingerprinter {
    EVP_MAC *hmac;
    EVP_MAC_CTX *ctx; /* keyed once; each order re-initialises it with that key */
};

static int derive_key(const unsigned char data_key[LG_DATA_KEY_LEN], unsigned char out[32])
{
    static const char info[] = "livegate order fingerprint v1";
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)data_key, LG_DATA_KEY_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info) - 1),
        OSSL_PARAM_construct_end()};
    int rc = kctx && EVP_KDF_derive(kctx, out, 32, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rc;
}

struct lg_fingerprinter *lg_fingerprinter_new(const unsigned char data_key[LG_DATA_KEY_LEN])
{
    struct lg_fingerprinter *f = calloc(1, sizeof(*f));
    unsigned char key[32];
    if (!f || derive_key(lg_crypto_fingerprint_base(data_key), key) != 0) {
        free(f);
        return NULL;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    f->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    f->ctx = f->hmac ? EVP_MAC_CTX_new(f->hmac) : NULL;
    bool ok = f->ctx && EVP_MAC_init(f->ctx, key, sizeof(key), params) == 1;
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        lg_fingerprinter_free(f);
        return NULL;
    }
    return f;
}

void lg_fingerprinter_free(struct lg_fingerprinter *f)
{
    if (!f)
        return;
    EVP_MAC_CTX_free(f->ctx);
    EVP_MAC_free(f->hmac);
    free(f);
}

bool lg_fingerprint_order(struct lg_fingerprinter *f, const struct lg_order *o,
                          char out[LG_FINGERPRINT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct stream s;
    unsigned char d[EVP_MAX_MD_SIZE];
    size_t dlen = 0;
    out[0] = 0;
    build_stream(o, &s);
    /* A NULL key re-initialises the context with the key it was given. */
    if (EVP_MAC_init(f->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(f->ctx, s.buf, s.len) != 1 ||
        EVP_MAC_final(f->ctx, d, &dlen, sizeof(d)) != 1 || dlen < 16)
        return false;
    size_t p = strlen(LG_FINGERPRINT_PREFIX);
    memcpy(out, LG_FINGERPRINT_PREFIX, p);
    for (size_t i = 0; i < (LG_FINGERPRINT_LEN - p) / 2; i++) {
        out[p + 2 * i] = hex[d[i] >> 4];
        out[p + 2 * i + 1] = hex[d[i] & 15];
    }
    out[LG_FINGERPRINT_LEN] = 0;
    return true;
}
