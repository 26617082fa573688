/* fuzz_token.c - libFuzzer target for bearer-token verification
 * (common/token.c over libjwt). The first byte picks what the rest is:
 *   0  a token string as a client sends it (almost never correctly signed,
 *      so this exercises the parsing and the refusals in front of libjwt);
 *   1  a JWT payload (raw bytes, meant to be JSON claims) under the HS256
 *      header, signed correctly with the secret, so that the claim checks
 *      are reached with any claims at all;
 *   2  a header and a payload separated by '\n', signed correctly (other
 *      algorithms, odd headers);
 *   3  claims as fields (role, tier, exp, then sub and room separated by a
 *      NUL) minted by lg_token_mint.
 * Properties checked: a correctly signed token is never refused for its
 * signature, and always refused for it under another secret; an accepted
 * token's claims obey the contract; and minting then verifying gives back
 * the same claims, or EXPIRED exactly when exp is not after now. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "fuzz.h"
#include "livegate/text.h"
#include "livegate/token.h"

#define SECRET "fuzz-secret-0123456789abcdefghij"
#define OTHER_SECRET "fuzz-secret-0123456789abcdefghiJ"
#define NOW 1800000000LL
#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static enum lg_token_error verify(const char *secret, const char *token, struct lg_claims *out)
{
    return lg_token_verify(secret, strlen(secret), token, NOW, out);
}

/* Unpadded base64url of in[0..len) at out (4 * len / 3 + 4 bytes); returns
 * the length written. */
static size_t b64url(const unsigned char *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = abc[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = abc[v & 63];
    }
    out[o] = 0;
    return o;
}

/* header.payload.signature, HS256 with secret; the caller frees it. */
static char *sign(const unsigned char *header, size_t hlen, const unsigned char *payload,
                  size_t plen, const char *secret)
{
    char *token = malloc((hlen + plen) * 4 / 3 + 64 + 8);
    FUZZ_CHECK(token != NULL);
    size_t n = b64url(header, hlen, token);
    token[n++] = '.';
    n += b64url(payload, plen, token + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    FUZZ_CHECK(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token, n, mac,
                    &maclen) != NULL);
    token[n++] = '.';
    b64url(mac, maclen, token + n);
    return token;
}

static void check_claims(const struct lg_claims *c)
{
    FUZZ_CHECK(lg_text_is_id(c->sub, strlen(c->sub)));
    FUZZ_CHECK(strcmp(c->room, "*") == 0 ? c->role != LG_ROLE_VIEWER
                                         : lg_text_is_id(c->room, strlen(c->room)));
    FUZZ_CHECK(c->role >= LG_ROLE_VIEWER && c->role <= LG_ROLE_ADMIN);
    FUZZ_CHECK(c->exp > NOW);
}

static bool same_claims(const struct lg_claims *a, const struct lg_claims *b)
{
    return strcmp(a->sub, b->sub) == 0 && strcmp(a->room, b->room) == 0 && a->role == b->role &&
           a->vip == b->vip && a->exp == b->exp;
}

/* Mints c and checks that verification gives c back. */
static void round_trip(const struct lg_claims *c)
{
    char *token = lg_token_mint(SECRET, strlen(SECRET), c);
    bool valid = lg_text_is_id(c->sub, strlen(c->sub)) &&
                 (strcmp(c->room, "*") == 0 ? c->role != LG_ROLE_VIEWER
                                            : lg_text_is_id(c->room, strlen(c->room)));
    FUZZ_CHECK((token != NULL) == valid);
    if (!token)
        return;
    struct lg_claims back;
    enum lg_token_error e = verify(SECRET, token, &back);
    if (c->exp > NOW) {
        FUZZ_CHECK(e == LG_TOKEN_OK);
        FUZZ_CHECK(same_claims(c, &back));
    } else {
        FUZZ_CHECK(e == LG_TOKEN_EXPIRED);
    }
    free(token);
}

static void signed_token(const unsigned char *header, size_t hlen, const unsigned char *payload,
                         size_t plen, bool hs256_header)
{
    char *token = sign(header, hlen, payload, plen, SECRET);
    struct lg_claims c;
    enum lg_token_error e = verify(SECRET, token, &c);
    if (hs256_header)
        FUZZ_CHECK(e != LG_TOKEN_BAD_SIGNATURE && e != LG_TOKEN_BAD_ALG);
    if (e == LG_TOKEN_OK) {
        check_claims(&c);
        round_trip(&c);
    }
    if (e != LG_TOKEN_MALFORMED && e != LG_TOKEN_BAD_ALG) {
        struct lg_claims other;
        FUZZ_CHECK(verify(OTHER_SECRET, token, &other) == LG_TOKEN_BAD_SIGNATURE);
    }
    free(token);
}

static void minted_token(const uint8_t *data, size_t size)
{
    struct lg_claims c = {.role = LG_ROLE_VIEWER};
    if (size < 10)
        return;
    c.role = (enum lg_role)(data[0] % 3);
    c.vip = data[1] & 1;
    /* exp within a few days of now, either side, so both outcomes come up. */
    int64_t offset;
    memcpy(&offset, data + 2, sizeof(offset));
    c.exp = NOW + offset % (4 * 86400);
    const char *sub = (const char *)data + 10;
    size_t rest = size - 10;
    const char *nul = memchr(sub, 0, rest);
    size_t sub_len = nul ? (size_t)(nul - sub) : rest;
    size_t room_len = nul ? rest - sub_len - 1 : 0;
    if (sub_len > LG_ID_MAX || room_len > LG_ID_MAX)
        return;
    memcpy(c.sub, sub, sub_len);
    if (nul)
        memcpy(c.room, nul + 1, room_len);
    if (memchr(c.room, 0, room_len))
        return; /* a NUL inside the room: not a C string the caller could hold */
    round_trip(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 2 * LG_TOKEN_MAX_LEN)
        return 0;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        char *token = malloc(n + 1);
        FUZZ_CHECK(token != NULL);
        memcpy(token, rest, n);
        token[n] = 0;
        struct lg_claims c;
        if (verify(SECRET, token, &c) == LG_TOKEN_OK)
            check_claims(&c);
        free(token);
        break;
    }
    case 1:
        signed_token((const unsigned char *)HS256_HEADER, strlen(HS256_HEADER), rest, n, true);
        break;
    case 2: {
        const uint8_t *nl = memchr(rest, '\n', n);
        if (!nl)
            break;
        signed_token(rest, (size_t)(nl - rest), nl + 1, n - (size_t)(nl - rest) - 1, false);
        break;
    }
    default:
        minted_token(rest, n);
    }
    return 0;
}
