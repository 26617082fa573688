/* frame.h - an outgoing WebSocket text frame, built once and shared by
 * reference between every session it is queued on. A sku.update for a room
 * of 50,000 viewers is serialized into one buffer, and each viewer's queue
 * holds a reference to it, so the fan-out costs a small node per viewer
 * instead of a JSON dump and a copy of the bytes.
 *
 * Sharing the buffer is safe because lws_write only writes the frame header
 * into the LWS_PRE headroom in front of the payload (the same bytes for every
 * write of one frame, since the length and opcode are the same, and the
 * gateway sends no compressed or masked frames) and copies whatever the
 * socket did not take into its own buffer. */
#ifndef LG_CONN_FRAME_H
#define LG_CONN_FRAME_H

#include <jansson.h>
#include <stddef.h>

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

#endif
