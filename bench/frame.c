/* frame.c - writing (and, for the tests, reading) masked WebSocket client
 * frames. The payload is masked 8 bytes at a time: the key repeated twice
 * makes a 64-bit mask that lines up with every 8-byte step. */
#include <string.h>

#include "frame.h"

void lg_frame_mask(unsigned char *dst, const char *src, size_t len, uint32_t mask_key)
{
    /* 8 bytes at a time: the key repeated twice lines up with every step */
    unsigned char key[8] = {(unsigned char)(mask_key >> 24), (unsigned char)(mask_key >> 16),
                            (unsigned char)(mask_key >> 8), (unsigned char)mask_key};
    memcpy(key + 4, key, 4);
    uint64_t k64;
    memcpy(&k64, key, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k64;
        memcpy(dst + i, &v, 8);
    }
    for (; i < len; i++)
        dst[i] = (unsigned char)src[i] ^ key[i & 3];
}

size_t lg_frame_text(unsigned char *out, size_t cap, const char *payload, size_t len,
                     uint32_t mask_key)
{
    return lg_frame_put(out, cap, 1, payload, len, mask_key);
}

size_t lg_frame_put(unsigned char *out, size_t cap, int opcode, const char *payload, size_t len,
                    uint32_t mask_key)
{
    size_t h = 0;
    unsigned char hdr[LG_FRAME_HEADER_MAX];
    hdr[h++] = (unsigned char)(0x80 | (opcode & 0x0f)); /* FIN */
    if (len <= 125) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char key[4] = {(unsigned char)(mask_key >> 24), (unsigned char)(mask_key >> 16),
                            (unsigned char)(mask_key >> 8), (unsigned char)mask_key};
    memcpy(hdr + h, key, 4);
    h += 4;
    if (cap < h || cap - h < len)
        return 0;
    memcpy(out, hdr, h);
    lg_frame_mask(out + h, payload, len, mask_key);
    return h + len;
}

size_t lg_frame_read(const unsigned char *in, size_t len, int *opcode, int *fin, char *payload,
                     size_t cap, size_t *payload_len)
{
    struct lg_frame_info fi;
    if (lg_frame_parse(in, len, cap, &fi) != 1 || !fi.masked)
        return 0;
    lg_frame_mask((unsigned char *)payload, (const char *)in + fi.header, fi.payload_len, fi.mask);
    *opcode = fi.opcode;
    *fin = fi.fin;
    *payload_len = fi.payload_len;
    return fi.header + fi.payload_len;
}

int lg_frame_parse(const unsigned char *in, size_t len, size_t max_payload,
                   struct lg_frame_info *fi)
{
    if (len < 2)
        return 0;
    fi->fin = in[0] >> 7;
    fi->opcode = in[0] & 0x0f;
    fi->masked = in[1] >> 7;
    if (in[0] & 0x70)
        return -1;
    switch (fi->opcode) {
    case 0: /* continuation */
    case 1: /* text */
    case 2: /* binary */
        break;
    case 8:  /* close */
    case 9:  /* ping */
    case 10: /* pong */
        if (!fi->fin || (in[1] & 0x7f) > 125)
            return -1;
        break;
    default:
        return -1;
    }
    size_t h = 2;
    uint64_t n = in[1] & 0x7f;
    if (n == 126) {
        if (len < 4)
            return 0;
        n = (uint64_t)in[2] << 8 | in[3];
        h = 4;
    } else if (n == 127) {
        if (len < 10)
            return 0;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | in[2 + i];
        h = 10;
    }
    if (n > max_payload)
        return -1;
    fi->mask = 0;
    if (fi->masked) {
        if (len < h + 4)
            return 0;
        fi->mask = (uint32_t)in[h] << 24 | (uint32_t)in[h + 1] << 16 | (uint32_t)in[h + 2] << 8 |
                   in[h + 3];
        h += 4;
    }
    fi->header = h;
    fi->payload_len = (size_t)n;
    return len - h >= n ? 1 : 0;
}
