/* frame.c - reference-counted outgoing frames (see frame.h), and their
 * WebSocket framing for writers that put several frames in one write. */
#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn/frame.h"

static struct lg_frame *frame_alloc(size_t len)
{
    struct lg_frame *f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return NULL;
    f->refs = 1;
    f->len = len;
    return f;
}

struct lg_frame *lg_frame_new(const char *payload, size_t len)
{
    struct lg_frame *f = frame_alloc(len);
    if (f)
        memcpy(f->buf + LWS_PRE, payload, len);
    return f;
}

/* Most frames (answers, updates) are a few hundred bytes: they are dumped
 * once into this much stack and copied, since json_dumpb's sizing pass costs
 * as much as the dump itself. Larger ones take the two passes. */
#define DUMP_ON_STACK 2048

struct lg_frame *lg_frame_from_json(json_t *msg)
{
    if (!msg)
        return NULL;
    char stack[DUMP_ON_STACK];
    size_t len = json_dumpb(msg, stack, sizeof(stack), JSON_COMPACT);
    struct lg_frame *f = len ? frame_alloc(len) : NULL;
    if (f && len <= sizeof(stack))
        memcpy(f->buf + LWS_PRE, stack, len);
    else if (f)
        json_dumpb(msg, (char *)f->buf + LWS_PRE, len, JSON_COMPACT);
    json_decref(msg);
    return f;
}

struct lg_frame *lg_frame_ref(struct lg_frame *f)
{
    f->refs++;
    return f;
}

void lg_frame_unref(struct lg_frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

unsigned char *lg_frame_payload(struct lg_frame *f)
{
    return f->buf + LWS_PRE;
}

/* RFC 6455, 5.2: FIN set, opcode 1 (text). */
#define WS_FIN_TEXT 0x81
/* The length byte's codes for a 16-bit and a 64-bit extended length. */
#define WS_LEN_16 126
#define WS_LEN_64 127

size_t lg_frame_ws_header(unsigned char out[LG_FRAME_WS_HEADER_MAX], size_t payload_len)
{
    out[0] = WS_FIN_TEXT;
    if (payload_len <= 125) {
        out[1] = (unsigned char)payload_len;
        return 2;
    }
    if (payload_len <= 0xffff) {
        out[1] = WS_LEN_16;
        out[2] = (unsigned char)(payload_len >> 8);
        out[3] = (unsigned char)payload_len;
        return 4;
    }
    /* Network byte order, most significant first. */
    out[1] = WS_LEN_64;
    uint64_t n = payload_len;
    for (int i = 9; i >= 2; i--) {
        out[i] = (unsigned char)n;
        n >>= 8;
    }
    return 10;
}

size_t lg_frame_wire_len(const struct lg_frame *f)
{
    size_t header = f->len <= 125 ? 2 : f->len <= 0xffff ? 4 : 10;
    return header + f->len;
}

size_t lg_frame_put_ws(unsigned char *out, const struct lg_frame *f)
{
    size_t header = lg_frame_ws_header(out, f->len);
    memcpy(out + header, f->buf + LWS_PRE, f->len);
    return header + f->len;
}
