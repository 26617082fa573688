/* token.h - bearer tokens: JWT (RFC 7519) signed HS256 with the shared
 * secret, through libjwt. Verification refuses any other alg (including
 * "none"), expired tokens and tokens whose claims break the contract. */
#ifndef LG_LIVEGATE_TOKEN_H
#define LG_LIVEGATE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "livegate/text.h"

enum lg_role { LG_ROLE_VIEWER = 0, LG_ROLE_OPERATOR, LG_ROLE_ADMIN };

struct lg_claims {
    char sub[LG_ID_MAX + 1];  /* user id, ID rules */
    char room[LG_ID_MAX + 1]; /* ID rules, or "*" for operator/admin only */
    enum lg_role role;
    bool vip;      /* tier == "vip" */
    long long exp; /* Unix seconds */
};

enum lg_token_error {
    LG_TOKEN_OK = 0,
    LG_TOKEN_MALFORMED,     /* not three base64url parts of JSON, or too long */
    LG_TOKEN_BAD_ALG,       /* header alg is not HS256 */
    LG_TOKEN_BAD_SIGNATURE, /* HMAC does not match */
    LG_TOKEN_EXPIRED,       /* exp <= now */
    /* A claim absent or of the wrong JSON type, one error per claim so that
     * the message names it (checked in this order). */
    LG_TOKEN_MISSING_SUB,
    LG_TOKEN_MISSING_ROOM,
    LG_TOKEN_MISSING_ROLE,
    LG_TOKEN_MISSING_EXP,
    /* A claim present with a value the contract does not allow. */
    LG_TOKEN_BAD_SUB,
    LG_TOKEN_BAD_ROLE,
    LG_TOKEN_BAD_ROOM,
    LG_TOKEN_BAD_TIER,
    LG_TOKEN_NERRORS
};

/* Longest token accepted, in bytes. */
#define LG_TOKEN_MAX_LEN 4096

/* Verifies token against secret at time now_s (Unix seconds). On LG_TOKEN_OK
 * fills *out; otherwise *out is left zeroed. */
enum lg_token_error lg_token_verify(const char *secret, size_t secret_len, const char *token,
                                    long long now_s, struct lg_claims *out);

/* A short human-readable reason, for logs and error messages (never the
 * token); a claim's error names the claim ("token claim 'exp' has expired"). */
const char *lg_token_error_str(enum lg_token_error e);

/* Mints an HS256 token carrying *claims (tier "vip" when claims->vip).
 * Returns a malloc'd string the caller frees, or NULL on failure. */
char *lg_token_mint(const char *secret, size_t secret_len, const struct lg_claims *claims);

const char *lg_role_name(enum lg_role role);
/* 0 and *out set when name is "viewer", "operator" or "admin"; -1 otherwise. */
int lg_role_parse(const char *name, enum lg_role *out);

#endif
