/* Unit tests of the WebSocket framing the writer uses to put several
 * frames in one write (frame.h: lg_frame_ws_header, lg_frame_put_ws).
 * The header's length form changes at 125/126 and 65535/65536 bytes
 * (RFC 6455, 5.2), so each bound is checked on both sides, and frames put
 * one after another are read back, by a decoder written from the RFC, as
 * the same messages in the same order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conn/frame.h"

/* What a client reads from the front of buf: one frame's fields. */
struct decoded {
    int fin, opcode, masked;
    uint64_t len;
    size_t header;
};

static struct decoded decode(const unsigned char *buf)
{
    struct decoded d = {.fin = buf[0] >> 7, .opcode = buf[0] & 0x0f, .masked = buf[1] >> 7};
    unsigned code = buf[1] & 0x7f;
    if (code < 126) {
        d.len = code;
        d.header = 2;
    } else if (code == 126) {
        d.len = (uint64_t)buf[2] << 8 | buf[3];
        d.header = 4;
    } else {
        for (int i = 2; i < 10; i++)
            d.len = d.len << 8 | buf[i];
        d.header = 10;
    }
    return d;
}

static struct lg_frame *filled_frame(size_t len, char fill)
{
    char *payload = malloc(len ? len : 1);
    assert_non_null(payload);
    memset(payload, fill, len);
    struct lg_frame *f = lg_frame_new(payload, len);
    free(payload);
    assert_non_null(f);
    return f;
}

static void check_length(size_t len, size_t header)
{
    unsigned char out[LG_FRAME_WS_HEADER_MAX];
    assert_int_equal(lg_frame_ws_header(out, len), header);
    struct decoded d = decode(out);
    assert_int_equal(d.fin, 1);
    assert_int_equal(d.opcode, 1); /* text */
    assert_int_equal(d.masked, 0); /* a server never masks */
    assert_int_equal(d.len, len);
    assert_int_equal(d.header, header);
}

static void each_length_form_on_both_sides_of_its_bounds(void **state)
{
    (void)state;
    check_length(0, 2);
    check_length(1, 2);
    check_length(124, 2);
    check_length(125, 2);
    check_length(126, 4);
    check_length(127, 4);
    check_length(65534, 4);
    check_length(65535, 4);
    check_length(65536, 10);
    check_length(65537, 10);
    check_length((size_t)1 << 32, 10); /* the high bytes are written too */
}

static void the_exact_bytes_of_each_form(void **state)
{
    (void)state;
    unsigned char out[LG_FRAME_WS_HEADER_MAX];
    lg_frame_ws_header(out, 125);
    assert_memory_equal(out, "\x81\x7d", 2);
    lg_frame_ws_header(out, 126);
    assert_memory_equal(out, "\x81\x7e\x00\x7e", 4);
    lg_frame_ws_header(out, 65535);
    assert_memory_equal(out, "\x81\x7e\xff\xff", 4);
    lg_frame_ws_header(out, 65536);
    assert_memory_equal(out, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
}

/* Frames of every length form, back to back as in one write, read back in
 * order with their payloads whole. */
static void frames_put_back_to_back_read_back_in_order(void **state)
{
    (void)state;
    const size_t lens[] = {0, 125, 126, 65535, 65536, 3};
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    struct lg_frame *frames[N];
    size_t total = 0;
    for (size_t i = 0; i < N; i++) {
        frames[i] = filled_frame(lens[i], (char)('a' + i));
        total += lg_frame_wire_len(frames[i]);
    }
    unsigned char *buf = malloc(total);
    assert_non_null(buf);
    size_t used = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = lg_frame_put_ws(buf + used, frames[i]);
        assert_int_equal(n, lg_frame_wire_len(frames[i]));
        used += n;
    }
    assert_int_equal(used, total);

    size_t at = 0;
    for (size_t i = 0; i < N; i++) {
        struct decoded d = decode(buf + at);
        assert_int_equal(d.len, lens[i]);
        assert_memory_equal(buf + at + d.header, lg_frame_payload(frames[i]), lens[i]);
        at += d.header + (size_t)d.len;
        lg_frame_unref(frames[i]);
    }
    assert_int_equal(at, total);
    free(buf);
}

/* lg_frame_from_json dumps into a 2 KiB stack buffer and copies, and takes a
 * second pass for anything larger: payloads of 2047, 2048 and 2049 bytes
 * (and a much larger one) come out whole and byte for byte as json_dumps
 * writes them. */
static void json_frames_on_both_sides_of_the_stack_buffer(void **state)
{
    (void)state;
    /* {"s":"xxx..."} is 8 bytes plus the string. */
    const size_t sizes[] = {2, 2047, 2048, 2049, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t want = sizes[i];
        json_t *msg;
        if (want == 2) {
            msg = json_object();
        } else {
            char *x = malloc(want - 8 + 1);
            memset(x, 'x', want - 8);
            x[want - 8] = 0;
            msg = json_pack("{s:s}", "s", x);
            free(x);
        }
        char *expect = json_dumps(msg, JSON_COMPACT);
        assert_int_equal(strlen(expect), want);
        json_incref(msg);
        struct lg_frame *f = lg_frame_from_json(msg); /* takes one reference */
        assert_non_null(f);
        assert_int_equal(f->len, want);
        assert_memory_equal(lg_frame_payload(f), expect, want);
        lg_frame_unref(f);
        free(expect);
        json_decref(msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_length_form_on_both_sides_of_its_bounds),
        cmocka_unit_test(the_exact_bytes_of_each_form),
        cmocka_unit_test(frames_put_back_to_back_read_back_in_order),
        cmocka_unit_test(json_frames_on_both_sides_of_the_stack_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
