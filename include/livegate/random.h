/* random.h - unpredictable bytes for identifiers, from OpenSSL's CSPRNG,
 * drawn in blocks so that the hot path does not pay RAND_bytes' per-call
 * cost (its locking and fork check showed in the gateway's profile at a
 * call per order). Not for keys: those come from RAND_bytes directly. */
#ifndef LG_LIVEGATE_RANDOM_H
#define LG_LIVEGATE_RANDOM_H

#include <stddef.h>

/* Fills out with n random bytes. Returns 0, or -1 when the CSPRNG failed
 * (out is then zeroed). Meant for the one event-loop thread of a process;
 * a forked child draws fresh bytes, never its parent's. */
int lg_random_fill(void *out, size_t n);

#endif
