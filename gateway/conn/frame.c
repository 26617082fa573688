/* frame.c - reference-counted outgoing frames (see frame.h). */
#include <libwebsockets.h>
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

struct lg_frame *lg_frame_from_json(json_t *msg)
{
    if (!msg)
        return NULL;
    size_t len = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    struct lg_frame *f = len ? frame_alloc(len) : NULL;
    if (f)
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
