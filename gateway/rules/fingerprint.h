/* fingerprint.h - a digest of everything in an order body that makes it the
 * same order. A resubmit with the same client_order_id and fingerprint is a
 * duplicate; with another fingerprint it is an IDEMPOTENCY_CONFLICT. */
#ifndef LG_RULES_FINGERPRINT_H
#define LG_RULES_FINGERPRINT_H

#include "rules/order_rules.h"

#define LG_FINGERPRINT_LEN 32 /* hex chars: the first 128 bits of SHA-256 */

/* Writes the fingerprint of o as LG_FINGERPRINT_LEN hex chars plus NUL. The
 * client_order_id is the key, not part of the body, and is left out. */
void lg_fingerprint_order(const struct lg_order *o, char out[LG_FINGERPRINT_LEN + 1]);

#endif
