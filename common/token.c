/* token.c - HS256 JWT verification, and minting through libjwt (see
 * token.h).
 *
 * Verification does not go through libjwt. Its 1.x releases decide the
 * algorithm from the token itself (an "alg":"none" token must never count
 * as signed), and only the distribution's patched build (1.10.2-1+deb12u1)
 * compares signatures in constant time; a build against any other libjwt
 * would leak, through timing, how much of a forged signature is right. So
 * the header must say HS256, and the signature is recomputed here with
 * OpenSSL's HMAC and compared with CRYPTO_memcmp. */
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/token.h"

static const char *const role_names[] = {"viewer", "operator", "admin"};

const char *lg_role_name(enum lg_role role)
{
    return role_names[role];
}

int lg_role_parse(const char *name, enum lg_role *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum lg_role)i;
            return 0;
        }
    }
    return -1;
}

const char *lg_token_error_str(enum lg_token_error e)
{
    switch (e) {
    case LG_TOKEN_OK:
        return "ok";
    case LG_TOKEN_MALFORMED:
        return "the token is not a well-formed JWT";
    case LG_TOKEN_BAD_ALG:
        return "the token is not signed with HS256";
    case LG_TOKEN_BAD_SIGNATURE:
        return "the token signature does not match";
    case LG_TOKEN_EXPIRED:
        return "token claim 'exp' has expired";
    case LG_TOKEN_MISSING_SUB:
        return "token claim 'sub' is missing or not a string";
    case LG_TOKEN_MISSING_ROOM:
        return "token claim 'room' is missing or not a string";
    case LG_TOKEN_MISSING_ROLE:
        return "token claim 'role' is missing or not a string";
    case LG_TOKEN_MISSING_EXP:
        return "token claim 'exp' is missing or not an integer";
    case LG_TOKEN_BAD_SUB:
        return "token claim 'sub' must be 1-64 characters of [A-Za-z0-9_.:-]";
    case LG_TOKEN_BAD_ROLE:
        return "token claim 'role' must be viewer, operator or admin";
    case LG_TOKEN_BAD_ROOM:
        return "token claim 'room' must be a room ID, or * for an operator or admin";
    case LG_TOKEN_BAD_TIER:
        return "token claim 'tier' must be a string or null";
    case LG_TOKEN_NERRORS:
        break;
    }
    return "invalid token";
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes unpadded base64url into JSON; NULL when either step fails. */
static json_t *decode_json_part(const char *s, size_t len)
{
    if (len == 0 || len % 4 == 1)
        return NULL;
    unsigned char *buf = malloc(len * 3 / 4 + 3);
    if (!buf)
        return NULL;
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(buf);
            return NULL;
        }
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* A NUL byte is not JSON, yet json_loadb takes "{\"exp\":1\0}" for an
     * object: such a part is malformed. */
    json_error_t jerr;
    json_t *j = memchr(buf, 0, o) ? NULL : json_loadb((const char *)buf, o, 0, &jerr);
    free(buf);
    return j;
}

static enum lg_token_error check_claims(json_t *claims, long long now_s, struct lg_claims *out)
{
    json_t *sub = json_object_get(claims, "sub");
    json_t *room = json_object_get(claims, "room");
    json_t *role = json_object_get(claims, "role");
    json_t *exp = json_object_get(claims, "exp");
    json_t *tier = json_object_get(claims, "tier");
    if (!json_is_string(sub))
        return LG_TOKEN_MISSING_SUB;
    if (!json_is_string(room))
        return LG_TOKEN_MISSING_ROOM;
    if (!json_is_string(role))
        return LG_TOKEN_MISSING_ROLE;
    if (!json_is_integer(exp))
        return LG_TOKEN_MISSING_EXP;
    if (!lg_text_is_id(json_string_value(sub), json_string_length(sub)))
        return LG_TOKEN_BAD_SUB;
    if (lg_role_parse(json_string_value(role), &out->role) != 0)
        return LG_TOKEN_BAD_ROLE;
    const char *r = json_string_value(room);
    bool star = strcmp(r, "*") == 0;
    if (star ? out->role == LG_ROLE_VIEWER : !lg_text_is_id(r, json_string_length(room)))
        return LG_TOKEN_BAD_ROOM;
    if (tier && !json_is_null(tier) && !json_is_string(tier))
        return LG_TOKEN_BAD_TIER;
    out->exp = json_integer_value(exp);
    if (out->exp <= now_s)
        return LG_TOKEN_EXPIRED;
    strcpy(out->sub, json_string_value(sub));
    strcpy(out->room, r);
    out->vip = json_is_string(tier) && strcmp(json_string_value(tier), "vip") == 0;
    return LG_TOKEN_OK;
}

/* base64url without padding, as JWT writes a signature: 32 bytes give 43
 * characters. */
static void b64url_encode(const unsigned char *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
    }
    out[o] = 0;
}

/* Whether sig (sig_len characters) is the HS256 signature of the first
 * signed_len characters of token, compared in constant time. Only the
 * canonical encoding matches: a signature with padding or stray low bits
 * is refused. */
static bool hs256_matches(const char *secret, size_t secret_len, const char *token,
                          size_t signed_len, const char *sig, size_t sig_len)
{
    enum { MAC_LEN = 32, SIG_CHARS = 43 };
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)token, signed_len, mac,
              &mac_len) ||
        mac_len != MAC_LEN)
        return false;
    char want[SIG_CHARS + 1];
    b64url_encode(mac, mac_len, want);
    bool same = sig_len == SIG_CHARS && CRYPTO_memcmp(want, sig, SIG_CHARS) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(want, sizeof(want));
    return same;
}

enum lg_token_error lg_token_verify(const char *secret, size_t secret_len, const char *token,
                                    long long now_s, struct lg_claims *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(token);
    if (len == 0 || len > LG_TOKEN_MAX_LEN)
        return LG_TOKEN_MALFORMED;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.'))
        return LG_TOKEN_MALFORMED;

    json_t *header = decode_json_part(token, (size_t)(dot1 - token));
    json_t *payload = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    enum lg_token_error result = LG_TOKEN_OK;
    if (!json_is_object(header) || !json_is_object(payload)) {
        result = LG_TOKEN_MALFORMED;
    } else {
        json_t *alg = json_object_get(header, "alg");
        if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
            result = LG_TOKEN_BAD_ALG;
    }
    if (result == LG_TOKEN_OK && !hs256_matches(secret, secret_len, token, (size_t)(dot2 - token),
                                                dot2 + 1, len - (size_t)(dot2 + 1 - token)))
        result = LG_TOKEN_BAD_SIGNATURE;
    if (result == LG_TOKEN_OK)
        result = check_claims(payload, now_s, out);
    json_decref(header);
    json_decref(payload);
    if (result != LG_TOKEN_OK)
        memset(out, 0, sizeof(*out));
    return result;
}

char *lg_token_mint(const char *secret, size_t secret_len, const struct lg_claims *claims)
{
    bool star = strcmp(claims->room, "*") == 0;
    if (!lg_text_is_id(claims->sub, strlen(claims->sub)) ||
        (star ? claims->role == LG_ROLE_VIEWER
              : !lg_text_is_id(claims->room, strlen(claims->room))))
        return NULL;
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    char *out = NULL;
    if (jwt_add_grant(jwt, "sub", claims->sub) == 0 &&
        jwt_add_grant(jwt, "room", claims->room) == 0 &&
        jwt_add_grant(jwt, "role", lg_role_name(claims->role)) == 0 &&
        jwt_add_grant_int(jwt, "exp", (long)claims->exp) == 0 &&
        (!claims->vip || jwt_add_grant(jwt, "tier", "vip") == 0) &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)secret_len) == 0)
        out = jwt_encode_str(jwt);
    jwt_free(jwt);
    return out;
}
