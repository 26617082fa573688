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

/* Appends one masked frame of the given opcode (1 text, 8 close, 10 pong). */
size_t lg_frame_put(unsigned char *out, size_t cap, int opcode, const char *payload, size_t len,
                    uint32_t mask_key);

/* What the header of one received frame says. */
struct lg_frame_info {
    int opcode;
    int fin;
    size_t header;      /* bytes before the payload */
    size_t payload_len; /* the payload follows the header, unmasked when mask is 0 */
    uint32_t mask;      /* 0: not masked (the server's frames never are) */
    int masked;
};

/* Parses the frame at in[0..len). Returns 1 when the whole frame is there,
 * 0 when more bytes are needed, -1 for a frame the bench refuses: reserved
 * bits set (no extension is negotiated), an unknown opcode, a control frame
 * over 125 bytes or fragmented, or a payload over max_payload. */
int lg_frame_parse(const unsigned char *in, size_t len, size_t max_payload,
                   struct lg_frame_info *fi);

/* Writes src[0..len) XORed with the 4-byte mask_key (RFC 6455 5.3) to
 * dst; masking and unmasking are the same, and dst may be src. */
void lg_frame_mask(unsigned char *dst, const char *src, size_t len, uint32_t mask_key);

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
