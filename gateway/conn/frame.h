/* frame.h - an outgoing WebSocket text frame, built once and shared by
 * reference between every session it is queued on. A sku.update for a room
 * of 50,000 viewers is serialized into one buffer, and each viewer's queue
 * holds a reference to it, so the fan-out costs a small node per viewer
 * instead of a JSON dump and a copy of the bytes.
 *
 * The writer (ws.c) usually copies several frames of one session, each with
 * its own header (lg_frame_put_ws), into one buffer, so that one write
 * carries them all. A frame too big for that buffer is written alone with
 * lws_write, which only writes the frame header into the LWS_PRE headroom
 * in front of the payload (the same bytes for every write of one frame,
 * since the length and opcode are the same, and the gateway sends no
 * compressed or masked frames) and copies whatever the socket did not take
 * into its own buffer; so sharing the buffer is safe either way. */
#ifndef LG_CONN_FRAME_H
#define LG_CONN_FRAME_H

#include <jansson.h>
#include <stddef.h>

/* The longest header of a frame the server sends: the FIN+opcode byte, the
 * length byte and a 64-bit extended length. Server frames carry no mask
 * (RFC 6455, 5.1). */
#define LG_FRAME_WS_HEADER_MAX 10

struct lg_frame {
    unsigned refs;
    size_t len;          /* payload bytes */
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the payload */
};

/* A frame holding a copy of payload, with one reference; NULL on OOM. */
struct lg_frame *lg_frame_new(const char *payload, size_t len);
/* Serializes msg compactly into a new frame with one reference; takes msg's
 * reference whatever happens. NULL for a NULL msg or on OOM. */
struct lg_frame *lg_frame_from_json(json_t *msg);
/* Adds a reference and returns f. */
struct lg_frame *lg_frame_ref(struct lg_frame *f);
/* Drops a reference; the last one frees f. NULL is ignored. */
void lg_frame_unref(struct lg_frame *f);
/* Where the payload starts (after the headroom). */
unsigned char *lg_frame_payload(struct lg_frame *f);

/* Writes the header of an unmasked, final text frame of payload_len bytes
 * into out; returns its length: 2 (up to 125 bytes), 4 (up to 65535) or 10. */
size_t lg_frame_ws_header(unsigned char out[LG_FRAME_WS_HEADER_MAX], size_t payload_len);
/* How many bytes f takes on the wire as one text frame, header included. */
size_t lg_frame_wire_len(const struct lg_frame *f);
/* Writes f at out as one complete text frame (lg_frame_wire_len(f) bytes)
 * and returns that length. */
size_t lg_frame_put_ws(unsigned char *out, const struct lg_frame *f);

#endif
