/* fingerprint.c - the body digest behind IDEMPOTENCY_CONFLICT (see
 * fingerprint.h). Each field is written with its length before it and each
 * optional field with a presence byte, so no two different bodies can
 * produce the same byte stream. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "rules/fingerprint.h"

static void put_bytes(EVP_MD_CTX *md, const void *data, size_t len)
{
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)(len >> (8 * i));
    EVP_DigestUpdate(md, prefix, sizeof(prefix));
    EVP_DigestUpdate(md, data, len);
}

static void put_str(EVP_MD_CTX *md, const char *s)
{
    put_bytes(md, s, strlen(s));
}

static void put_int(EVP_MD_CTX *md, long long v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    put_bytes(md, buf, (size_t)n);
}

static void put_optional(EVP_MD_CTX *md, bool present, const char *s)
{
    unsigned char flag = present ? 1 : 0;
    EVP_DigestUpdate(md, &flag, 1);
    if (present)
        put_str(md, s);
}

void lg_fingerprint_order(const struct lg_order *o, char out[LG_FINGERPRINT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    put_str(md, "livegate-order-v1");
    put_str(md, o->room_id);
    put_str(md, o->sku_id);
    put_int(md, o->qty);
    put_int(md, o->unit_price);
    put_int(md, o->amount);
    put_str(md, o->currency);
    put_str(md, o->payment_method);
    put_optional(md, o->has_coupon, o->coupon_id);
    const struct lg_address *a = &o->address;
    put_str(md, a->name);
    put_str(md, a->phone);
    put_str(md, a->province);
    put_str(md, a->city);
    put_optional(md, a->has_district, a->district);
    put_str(md, a->detail);
    put_optional(md, a->has_postal_code, a->postal_code);
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < LG_FINGERPRINT_LEN / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}
