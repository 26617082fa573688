/* crypto.h - personal data at rest: AES-256-GCM through OpenSSL. A sealed
 * value is base64 text of version(1) | nonce(12) | ciphertext | tag(16); the
 * associated data (the order id) binds a ciphertext to its record, so a value
 * copied onto another order does not open. */
#ifndef LG_LIVEGATE_CRYPTO_H
#define LG_LIVEGATE_CRYPTO_H

#include <stddef.h>

#define LG_DATA_KEY_LEN 32

/* Parses LIVEGATE_DATA_KEY: 64 hex characters, or base64 of exactly 32 bytes.
 * Returns 0 and fills key, or -1. */
int lg_crypto_parse_key(const char *text, unsigned char key[LG_DATA_KEY_LEN]);

/* Encrypts pt with a fresh random nonce. Returns malloc'd NUL-terminated
 * base64 text the caller frees, or NULL on failure. */
char *lg_crypto_seal(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                     const unsigned char *pt, size_t pt_len);

/* Decrypts and authenticates sealed. Returns malloc'd plaintext (with a
 * trailing NUL not counted in *pt_len) the caller frees, or NULL when the
 * text is malformed, the key or aad is wrong, or anything was tampered with. */
unsigned char *lg_crypto_open(const unsigned char key[LG_DATA_KEY_LEN], const char *aad,
                              const char *sealed, size_t *pt_len);

#endif
