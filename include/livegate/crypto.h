/* crypto.h - personal data at rest: AES-256-GCM through OpenSSL. A sealed
 * value is base64 text of version(1) = 2 | key id(4) | nonce(12) |
 * ciphertext | tag(16); the associated data (the version and key id, then
 * the order id) binds a ciphertext to its record, so a value copied onto
 * another order does not open. The key id names the key that sealed it, so
 * that after a rotation (LIVEGATE_DATA_KEY a new key, the old ones in
 * LIVEGATE_DATA_KEYS_OLD) old records still open. Values of version 1, from
 * before key ids, hold no id: they are tried with every key held. */
#ifndef LG_LIVEGATE_CRYPTO_H
#define LG_LIVEGATE_CRYPTO_H

#include <stddef.h>

#define LG_DATA_KEY_LEN 32
/* Older keys a process may hold for opening (LIVEGATE_DATA_KEYS_OLD). */
#define LG_DATA_KEYS_OLD_MAX 8
/* A key id as text: 8 hex characters. */
#define LG_DATA_KEY_ID_TEXT_LEN 8

/* Parses LIVEGATE_DATA_KEY: 64 hex characters, or base64 of exactly 32 bytes.
 * Returns 0 and fills key, or -1. */
int lg_crypto_parse_key(const char *text, unsigned char key[LG_DATA_KEY_LEN]);

/* Parses LIVEGATE_DATA_KEYS_OLD: keys as lg_crypto_parse_key takes them,
 * separated by commas, at most max of them (an empty text is no key).
 * Returns 0 and sets *n; the 1-based position of the first bad key; or -1
 * when there are more than max. */
int lg_crypto_parse_key_list(const char *text, unsigned char (*keys)[LG_DATA_KEY_LEN], size_t max,
                             size_t *n);

/* The id a key's sealed values carry, as 8 lower-case hex characters: the
 * first 4 bytes of SHA-256("livegate data key id v1" | key). It names a key
 * without revealing it, for logs and for the operator rotating keys. */
void lg_crypto_key_id_text(const unsigned char key[LG_DATA_KEY_LEN],
                           char out[LG_DATA_KEY_ID_TEXT_LEN + 1]);

/* Adds an older key that lg_crypto_open tries, for this process, after the
 * key it is given. Returns 0, or -1 when LG_DATA_KEYS_OLD_MAX are held. */
int lg_crypto_add_old_key(const unsigned char key[LG_DATA_KEY_LEN]);
/* Drops the older keys (for tests). */
void lg_crypto_forget_old_keys(void);

/* The key the order fingerprint is derived from: the last key added with
 * lg_crypto_add_old_key (the oldest, as LIVEGATE_DATA_KEYS_OLD lists them
 * newest first), or current when none was. A rotation that keeps the old
 * key listed thus keeps the fingerprints, so a resubmit across it is still
 * a duplicate (see gateway/rules/fingerprint.h). */
const unsigned char *lg_crypto_fingerprint_base(const unsigned char current[LG_DATA_KEY_LEN]);

/* Encrypts pt under key, with its key id, and a fresh nonce. Returns malloc'd NUL-terminated
 * base64 text the caller frees, or NULL on failure. */
char *lg_crypto_seal(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                     const unsigned char *pt, size_t pt_len);

/* Decrypts and authenticates sealed, with key or, when the value names
 * another key (or, sealed before key ids, none), with the older keys added
 * by lg_crypto_add_old_key. Returns malloc'd plaintext (with a
 * trailing NUL not counted in *pt_len) the caller frees, or NULL when the
 * text is malformed, no key held opens it, the aad is wrong, or anything was tampered with. */
unsigned char *lg_crypto_open(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                              const char *sealed, size_t *pt_len);

#endif
