/* frame.h - WebSocket client frames written by the bench itself. libwebsockets
 * writes one frame per lws_write, one send() each, and reads 4 bytes of
 * /dev/urandom for each frame's masking key: three system calls per order
 * and a poll-set change for every writeable callback. The bench instead
 * puts every frame a connection has due in one buffer (text frames, FIN set,
 * masked as RFC 6455 5.3 requires, keys from the worker's PRNG) and hands it
 * to lws as raw bytes: one send() per connection per loop turn. Pure, so the
 * unit tests read the frames back. */
#ifndef LG_BENCH_FRAME_H
#define LG_BENCH_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The most header a frame can take: 2 + 8 (length) + 4 (masking key). */
#define LG_FRAME_HEADER_MAX 14

/* Appends one masked text frame of payload to out[0..cap). Returns the bytes
 * written, or 0 when it does not fit. */
size_t lg_frame_text(unsigned char *out, size_t cap, const char *payload, size_t len,
                     uint32_t mask_key);

/* Reads one client frame back (the tests, and a check of the writer): its
 * opcode, FIN bit and unmasked payload into payload[0..cap). Returns the
 * bytes the frame took, or 0 for an incomplete or unmasked frame or one too
 * big for payload. */
size_t lg_frame_read(const unsigned char *in, size_t len, int *opcode, int *fin, char *payload,
                     size_t cap, size_t *payload_len);

#endif
