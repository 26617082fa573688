/* fingerprint.c - the body digest behind IDEMPOTENCY_CONFLICT (see
 * fingerprint.h). Each field is written with its length before it and each
 * optional field with a presence byte, so no two different bodies can
 * produce the same byte stream.
 *
 * It runs once per submit, so the stream is built in one buffer and hashed
 * with one update, by a digest fetched and a context made once per process
 * (one event-loop thread uses them): one EVP_DigestUpdate per piece, and a
 * context and an implicit fetch per call, were most of its cost. The bytes
 * hashed, and so the value, are what they always were. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

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
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    put_bytes(s, buf, (size_t)n);
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

static EVP_MD *sha256;
static EVP_MD_CTX *md_ctx;

static int digest(const struct stream *s, unsigned char out[EVP_MAX_MD_SIZE])
{
    if (!sha256)
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256 && !md_ctx)
        md_ctx = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    return md_ctx && EVP_DigestInit_ex2(md_ctx, sha256, NULL) == 1 &&
                   EVP_DigestUpdate(md_ctx, s->buf, s->len) == 1 &&
                   EVP_DigestFinal_ex(md_ctx, out, &dlen) == 1
               ? 0
               : -1;
}

void lg_fingerprint_order(const struct lg_order *o, char out[LG_FINGERPRINT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct stream s;
    unsigned char d[EVP_MAX_MD_SIZE] = {0};
    build_stream(o, &s);
    /* The digest fails only when OpenSSL cannot allocate; the zeros left
     * then make a changed resubmit read as a duplicate instead of a
     * conflict, never as a new order. */
    digest(&s, d);
    for (int i = 0; i < LG_FINGERPRINT_LEN / 2; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[LG_FINGERPRINT_LEN] = 0;
}
