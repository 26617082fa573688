/* Unit tests of token verification: HS256 only (alg none and HS512
 * refused), signature, expiry at its exact bound, each claim missing or of
 * the wrong type, unknown roles, "*" rooms, and minting round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/token.h"

#define SECRET "test-secret"
#define NOW 1800000000LL

static void b64url(const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = 0;
}

/* Builds a token by hand so tests can forge what libjwt would not mint. */
static char *forge(const char *header, const char *payload, const char *secret, const char *alg)
{
    static char token[4096];
    char h[1024], p[2048];
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)payload, strlen(payload), p);
    snprintf(token, sizeof(token), "%s.%s.", h, p);
    if (!secret)
        return token;
    unsigned char mac[64];
    unsigned int maclen = 0;
    const EVP_MD *md = strcmp(alg, "HS512") == 0 ? EVP_sha512() : EVP_sha256();
    char signing[3200];
    snprintf(signing, sizeof(signing), "%s.%s", h, p);
    HMAC(md, secret, (int)strlen(secret), (unsigned char *)signing, strlen(signing), mac, &maclen);
    b64url(mac, maclen, token + strlen(token));
    return token;
}

static enum lg_token_error check(const char *token, struct lg_claims *c)
{
    return lg_token_verify(SECRET, strlen(SECRET), token, NOW, c);
}

static const char *HS256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static enum lg_token_error claims_result(const char *payload)
{
    struct lg_claims c;
    return check(forge(HS256, payload, SECRET, "HS256"), &c);
}

static void a_good_token(void **state)
{
    (void)state;
    struct lg_claims c;
    char payload[256];
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"u1\",\"room\":\"r1\",\"role\":\"viewer\",\"exp\":%lld,\"tier\":\"vip\","
             "\"extra\":[1]}",
             NOW + 60);
    assert_int_equal(check(forge(HS256, payload, SECRET, "HS256"), &c), LG_TOKEN_OK);
    assert_string_equal(c.sub, "u1");
    assert_string_equal(c.room, "r1");
    assert_int_equal(c.role, LG_ROLE_VIEWER);
    assert_true(c.vip);
    assert_int_equal(c.exp, NOW + 60);
}

static void signature_and_algorithm(void **state)
{
    (void)state;
    struct lg_claims c;
    char payload[256];
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"u1\",\"room\":\"r1\",\"role\":\"viewer\",\"exp\":%lld}", NOW + 60);
    assert_int_equal(check(forge(HS256, payload, "other-secret", "HS256"), &c),
                     LG_TOKEN_BAD_SIGNATURE);
    assert_int_equal(check(forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, NULL, NULL), &c),
                     LG_TOKEN_BAD_ALG);
    assert_int_equal(
        check(forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, SECRET, "HS512"), &c),
        LG_TOKEN_BAD_ALG);
    assert_int_equal(check(forge("{\"typ\":\"JWT\"}", payload, SECRET, "HS256"), &c),
                     LG_TOKEN_BAD_ALG);
    /* A flipped payload byte breaks the signature. */
    char *t = forge(HS256, payload, SECRET, "HS256");
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_not_equal(check(t, &c), LG_TOKEN_OK);
    assert_string_equal(c.sub, "");
}

/* A NUL byte is not JSON, but jansson reads "...\"exp\":1900000000\0}" as
 * a whole object: a part holding one is malformed, whatever else it says. */
static void a_nul_inside_a_part(void **state)
{
    (void)state;
    static const char payload[] = "{\"sub\":\"u1\",\"room\":\"r1\",\"role\":\"viewer\","
                                  "\"exp\":1900000000\0}";
    char h[64], p[256], signing[512], token[600];
    b64url((const unsigned char *)HS256, strlen(HS256), h);
    b64url((const unsigned char *)payload, sizeof(payload) - 1, p);
    snprintf(signing, sizeof(signing), "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)signing, strlen(signing), mac,
         &maclen);
    snprintf(token, sizeof(token), "%s.", signing);
    b64url(mac, maclen, token + strlen(token));
    struct lg_claims c;
    assert_int_equal(check(token, &c), LG_TOKEN_MALFORMED);
}

/* The signature is compared as its canonical base64url text, whole: no
 * padding, no stray low bits in the last character, no extra or missing
 * characters. */
static void signature_encoding_is_exact(void **state)
{
    (void)state;
    struct lg_claims c;
    char payload[256], t[1024];
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"u1\",\"room\":\"r1\",\"role\":\"viewer\",\"exp\":%lld}", NOW + 60);
    snprintf(t, sizeof(t), "%s", forge(HS256, payload, SECRET, "HS256"));
    size_t n = strlen(t);
    assert_int_equal(check(t, &c), LG_TOKEN_OK);
    assert_int_equal(strlen(strrchr(t, '.') + 1), 43);

    char v[4096];
    snprintf(v, sizeof(v), "%s=", t);
    assert_int_equal(check(v, &c), LG_TOKEN_BAD_SIGNATURE);
    snprintf(v, sizeof(v), "%sA", t);
    assert_int_equal(check(v, &c), LG_TOKEN_BAD_SIGNATURE);
    snprintf(v, sizeof(v), "%.*s", (int)(n - 1), t);
    assert_int_equal(check(v, &c), LG_TOKEN_BAD_SIGNATURE);
    /* The 43rd character carries 4 bits of the MAC and 2 zero bits: set a
     * zero bit and the decoded bytes stay the same, the text does not. */
    snprintf(v, sizeof(v), "%s", t);
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int last = (int)(strchr(abc, v[n - 1]) - abc);
    v[n - 1] = abc[last | 1];
    assert_int_equal(check(v, &c), LG_TOKEN_BAD_SIGNATURE);
    /* An empty signature. */
    snprintf(v, sizeof(v), "%.*s", (int)(strrchr(t, '.') + 1 - t), t);
    assert_int_equal(check(v, &c), LG_TOKEN_BAD_SIGNATURE);
}

static void malformed_tokens(void **state)
{
    (void)state;
    struct lg_claims c;
    const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "!!.??.##", "e30.e30"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(check(bad[i], &c), LG_TOKEN_MALFORMED);
    char *huge = malloc(LG_TOKEN_MAX_LEN + 2);
    memset(huge, 'a', LG_TOKEN_MAX_LEN + 1);
    huge[LG_TOKEN_MAX_LEN + 1] = 0;
    assert_int_equal(check(huge, &c), LG_TOKEN_MALFORMED);
    free(huge);
}

static void expiry_bound(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":%lld}", NOW);
    assert_int_equal(claims_result(p), LG_TOKEN_EXPIRED);
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":%lld}",
             NOW + 1);
    assert_int_equal(claims_result(p), LG_TOKEN_OK);
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":%lld}",
             NOW - 1000);
    assert_int_equal(claims_result(p), LG_TOKEN_EXPIRED);
}

static void missing_and_mistyped_claims(void **state)
{
    (void)state;
    static const struct {
        const char *payload;
        enum lg_token_error e;
    } missing[] = {
        {"{\"room\":\"r\",\"role\":\"viewer\",\"exp\":1900000000}", LG_TOKEN_MISSING_SUB},
        {"{\"sub\":\"u\",\"role\":\"viewer\",\"exp\":1900000000}", LG_TOKEN_MISSING_ROOM},
        {"{\"sub\":\"u\",\"room\":\"r\",\"exp\":1900000000}", LG_TOKEN_MISSING_ROLE},
        {"{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\"}", LG_TOKEN_MISSING_EXP},
        {"{\"sub\":null,\"room\":\"r\",\"role\":\"viewer\",\"exp\":1900000000}",
         LG_TOKEN_MISSING_SUB},
        {"{\"sub\":7,\"room\":\"r\",\"role\":\"viewer\",\"exp\":1900000000}", LG_TOKEN_MISSING_SUB},
        {"{\"sub\":\"u\",\"room\":[],\"role\":\"viewer\",\"exp\":1900000000}",
         LG_TOKEN_MISSING_ROOM},
        {"{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":\"1900000000\"}",
         LG_TOKEN_MISSING_EXP},
        {"{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":1900000000.5}",
         LG_TOKEN_MISSING_EXP},
        /* Several at fault: the first in the order sub, room, role, exp. */
        {"{\"role\":\"viewer\"}", LG_TOKEN_MISSING_SUB},
        {"{\"sub\":\"u\"}", LG_TOKEN_MISSING_ROOM},
    };
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
        assert_int_equal(claims_result(missing[i].payload), missing[i].e);
}

/* Each claim's error names the claim, so a client can tell what to fix. */
static void claim_errors_name_the_claim(void **state)
{
    (void)state;
    static const struct {
        enum lg_token_error e;
        const char *claim;
    } named[] = {{LG_TOKEN_EXPIRED, "'exp'"},       {LG_TOKEN_MISSING_SUB, "'sub'"},
                 {LG_TOKEN_MISSING_ROOM, "'room'"}, {LG_TOKEN_MISSING_ROLE, "'role'"},
                 {LG_TOKEN_MISSING_EXP, "'exp'"},   {LG_TOKEN_BAD_SUB, "'sub'"},
                 {LG_TOKEN_BAD_ROLE, "'role'"},     {LG_TOKEN_BAD_ROOM, "'room'"},
                 {LG_TOKEN_BAD_TIER, "'tier'"}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        const char *text = lg_token_error_str(named[i].e);
        assert_non_null(strstr(text, "token claim "));
        assert_non_null(strstr(text, named[i].claim));
    }
    assert_string_equal(lg_token_error_str(LG_TOKEN_EXPIRED), "token claim 'exp' has expired");
}

static void claim_values(void **state)
{
    (void)state;
    assert_int_equal(
        claims_result("{\"sub\":\"u\",\"room\":\"r\",\"role\":\"root\",\"exp\":1900000000}"),
        LG_TOKEN_BAD_ROLE);
    assert_int_equal(
        claims_result("{\"sub\":\"u\",\"room\":\"*\",\"role\":\"viewer\",\"exp\":1900000000}"),
        LG_TOKEN_BAD_ROOM);
    assert_int_equal(
        claims_result("{\"sub\":\"u\",\"room\":\"*\",\"role\":\"operator\",\"exp\":1900000000}"),
        LG_TOKEN_OK);
    assert_int_equal(
        claims_result("{\"sub\":\"u\",\"room\":\"*\",\"role\":\"admin\",\"exp\":1900000000}"),
        LG_TOKEN_OK);
    assert_int_equal(
        claims_result("{\"sub\":\"a b\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":1900000000}"),
        LG_TOKEN_BAD_SUB);
    assert_int_equal(
        claims_result("{\"sub\":\"u\",\"room\":\"r/1\",\"role\":\"viewer\",\"exp\":1900000000}"),
        LG_TOKEN_BAD_ROOM);
    assert_int_equal(claims_result("{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":"
                                   "1900000000,\"tier\":5}"),
                     LG_TOKEN_BAD_TIER);
    struct lg_claims c;
    assert_int_equal(check(forge(HS256,
                                 "{\"sub\":\"u\",\"room\":\"r\",\"role\":\"viewer\",\"exp\":"
                                 "1900000000,\"tier\":\"gold\"}",
                                 SECRET, "HS256"),
                           &c),
                     LG_TOKEN_OK);
    assert_false(c.vip);
}

static void minting_round_trips(void **state)
{
    (void)state;
    struct lg_claims in = {.sub = "op-1", .room = "*", .role = LG_ROLE_OPERATOR, .exp = NOW + 5},
                     out;
    char *t = lg_token_mint(SECRET, strlen(SECRET), &in);
    assert_non_null(t);
    assert_int_equal(check(t, &out), LG_TOKEN_OK);
    assert_string_equal(out.sub, "op-1");
    assert_string_equal(out.room, "*");
    assert_int_equal(out.role, LG_ROLE_OPERATOR);
    assert_false(out.vip);
    free(t);
    struct lg_claims viewer_star = {.sub = "u", .room = "*", .role = LG_ROLE_VIEWER, .exp = NOW};
    assert_null(lg_token_mint(SECRET, strlen(SECRET), &viewer_star));
}

static void role_names(void **state)
{
    (void)state;
    enum lg_role r;
    assert_int_equal(lg_role_parse("admin", &r), 0);
    assert_int_equal(r, LG_ROLE_ADMIN);
    assert_int_equal(lg_role_parse("Admin", &r), -1);
    assert_string_equal(lg_role_name(LG_ROLE_OPERATOR), "operator");
    for (int e = LG_TOKEN_OK; e < LG_TOKEN_NERRORS; e++)
        assert_true(strlen(lg_token_error_str((enum lg_token_error)e)) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_good_token),
        cmocka_unit_test(signature_and_algorithm),
        cmocka_unit_test(signature_encoding_is_exact),
        cmocka_unit_test(malformed_tokens),
        cmocka_unit_test(a_nul_inside_a_part),
        cmocka_unit_test(expiry_bound),
        cmocka_unit_test(missing_and_mistyped_claims),
        cmocka_unit_test(claim_values),
        cmocka_unit_test(claim_errors_name_the_claim),
        cmocka_unit_test(minting_round_trips),
        cmocka_unit_test(role_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
