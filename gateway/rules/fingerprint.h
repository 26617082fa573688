/* fingerprint.h - a digest of everything in an order body that makes it the
 * same order. A resubmit with the same client_order_id and fingerprint is a
 * duplicate; with another fingerprint it is an IDEMPOTENCY_CONFLICT.
 *
 * The digest is keyed, HMAC-SHA256 with a key derived from the data key
 * (HKDF-SHA256, info "livegate order fingerprint v1"): the body holds the
 * buyer's name, phone and address, and a plain hash stored in Redis would
 * let anyone who reads Redis test a guess about a person offline. The data
 * key it is derived from is lg_crypto_fingerprint_base's: the oldest key
 * the process holds, so that fingerprints outlive a key rotation. */
#ifndef LG_RULES_FINGERPRINT_H
#define LG_RULES_FINGERPRINT_H

#include <stdbool.h>

#include "livegate/crypto.h"
#include "rules/order_rules.h"

/* "k1" (the keyed scheme, telling it from the plain SHA-256 fingerprints of
 * earlier releases that idempotency keys may still hold), then 32 hex
 * characters: the first 128 bits of the HMAC. */
#define LG_FINGERPRINT_LEN 34
#define LG_FINGERPRINT_PREFIX "k1"

/* The derived key with its HMAC context, made once per process; owned by
 * whoever made it, used from one thread. */
struct lg_fingerprinter;

/* NULL when OpenSSL cannot derive the key or allocate. */
struct lg_fingerprinter *lg_fingerprinter_new(const unsigned char data_key[LG_DATA_KEY_LEN]);
void lg_fingerprinter_free(struct lg_fingerprinter *f);

/* Writes the fingerprint of o as LG_FINGERPRINT_LEN chars plus NUL; false
 * (and out empty) when the MAC could not be computed. The client_order_id
 * is the key, not part of the body, and is left out. */
bool lg_fingerprint_order(struct lg_fingerprinter *f, const struct lg_order *o,
                          char out[LG_FINGERPRINT_LEN + 1]);

#endif
