/* Unit tests of the bus fan-out's pure parts: the sku.update frame builder,
 * the lg:ev:status and lg:ev:sku payload rules (each limit on both sides),
 * the shared frames' reference counting and the keys and channels the bus
 * and sku_notify.lua use. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "features/fanout.h"
#include "conn/frame.h"
#include "keys.h"
#include "rules/protocol.h"

static char *dump(json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return s;
}

static void sku_update_frame(void **state)
{
    (void)state;
    char *s = dump(lg_msg_sku_update("r1", "sku-9", 0, false, 19900));
    assert_string_equal(s, "{\"type\":\"sku.update\",\"room_id\":\"r1\",\"sku_id\":\"sku-9\","
                           "\"stock_left\":0,\"on_sale\":false,\"price\":19900}");
    free(s);
    s = dump(lg_msg_sku_update("r1", "s", 12, true, 1));
    assert_non_null(strstr(s, "\"stock_left\":12,\"on_sale\":true,\"price\":1}"));
    free(s);
}

static int parse_sku(const char *text, struct lg_sku_event *ev)
{
    return lg_fanout_parse_sku(text, strlen(text), ev);
}

static void sku_payloads(void **state)
{
    (void)state;
    struct lg_sku_event ev;
    assert_int_equal(parse_sku("{\"room\":\"r1\",\"sku_id\":\"sku-9\",\"stock_left\":0,"
                               "\"on_sale\":false,\"price\":19900,\"extra\":1}",
                               &ev),
                     0);
    assert_string_equal(ev.room, "r1");
    assert_string_equal(ev.sku_id, "sku-9");
    assert_int_equal(ev.stock_left, 0);
    assert_false(ev.on_sale);
    assert_int_equal(ev.price, 19900);
    assert_int_equal(
        parse_sku(
            "{\"room\":\"r1\",\"sku_id\":\"s\",\"stock_left\":5,\"on_sale\":true,\"price\":0}",
            &ev),
        0);
    assert_true(ev.on_sale);
    const char *bad[] = {
        "not json",
        "[1]",
        "{\"sku_id\":\"s\",\"stock_left\":5,\"on_sale\":true,\"price\":1}",
        "{\"room\":\"r 1\",\"sku_id\":\"s\",\"stock_left\":5,\"on_sale\":true,\"price\":1}",
        "{\"room\":\"r1\",\"sku_id\":\"s\",\"stock_left\":-1,\"on_sale\":true,\"price\":1}",
        "{\"room\":\"r1\",\"sku_id\":\"s\",\"stock_left\":1.5,\"on_sale\":true,\"price\":1}",
        "{\"room\":\"r1\",\"sku_id\":\"s\",\"stock_left\":5,\"on_sale\":1,\"price\":1}",
        "{\"room\":\"r1\",\"sku_id\":\"s\",\"stock_left\":5,\"on_sale\":true,\"price\":-1}",
        "{\"room\":\"r1\",\"sku_id\":\"s\",\"stock_left\":5,\"on_sale\":true}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_sku(bad[i], &ev), -1);
}

static int parse_status(const char *text, struct lg_status_event *ev)
{
    return lg_fanout_parse_status(text, strlen(text), ev);
}

static void status_payloads(void **state)
{
    (void)state;
    struct lg_status_event ev;
    char text[512], id64[65], id65[66], st32[33], st33[34];
    memset(id64, 'a', 64);
    id64[64] = 0;
    memset(id65, 'a', 65);
    id65[65] = 0;
    memset(st32, 'p', 32);
    st32[32] = 0;
    memset(st33, 'p', 33);
    st33[33] = 0;

    assert_int_equal(parse_status("{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\","
                                  "\"client_order_id\":\"c-1\",\"status\":\"paid\",\"at_ms\":5,"
                                  "\"phone\":\"138****8000\"}",
                                  &ev),
                     0);
    assert_string_equal(ev.room, "r1");
    assert_string_equal(ev.user, "u1");
    assert_string_equal(ev.order_id, "o1");
    assert_string_equal(ev.client_order_id, "c-1");
    assert_string_equal(ev.status, "paid");
    assert_int_equal(ev.at_ms, 5);
    /* client_order_id may be null or absent */
    assert_int_equal(parse_status("{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\","
                                  "\"client_order_id\":null,\"status\":\"paid\",\"at_ms\":0}",
                                  &ev),
                     0);
    assert_string_equal(ev.client_order_id, "");
    assert_int_equal(
        parse_status(
            "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":0}",
            &ev),
        0);
    /* IDs: 64 characters pass, 65 do not */
    snprintf(
        text, sizeof(text),
        "{\"room\":\"r1\",\"user\":\"%s\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":1}",
        id64);
    assert_int_equal(parse_status(text, &ev), 0);
    snprintf(
        text, sizeof(text),
        "{\"room\":\"r1\",\"user\":\"%s\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":1}",
        id65);
    assert_int_equal(parse_status(text, &ev), -1);
    /* status: 1..32 ID characters */
    snprintf(text, sizeof(text),
             "{\"room\":\"r1\",\"user\":\"u\",\"order_id\":\"o1\",\"status\":\"%s\",\"at_ms\":1}",
             st32);
    assert_int_equal(parse_status(text, &ev), 0);
    snprintf(text, sizeof(text),
             "{\"room\":\"r1\",\"user\":\"u\",\"order_id\":\"o1\",\"status\":\"%s\",\"at_ms\":1}",
             st33);
    assert_int_equal(parse_status(text, &ev), -1);
    const char *bad[] = {
        "",
        "{\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":1}",
        "{\"room\":\"r1\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":1}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"status\":\"paid\",\"at_ms\":1}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"at_ms\":1}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"\",\"at_ms\":1}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"a b\",\"at_ms\":1}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"paid\"}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":-1}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"status\":\"paid\",\"at_ms\":\"1\"}",
        "{\"room\":\"r1\",\"user\":\"u1\",\"order_id\":\"o1\",\"client_order_id\":7,"
        "\"status\":\"paid\",\"at_ms\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_status(bad[i], &ev), -1);
}

static void shared_frames(void **state)
{
    (void)state;
    struct lg_frame *f = lg_frame_from_json(lg_msg_sku_update("r1", "s", 3, true, 10));
    assert_non_null(f);
    const char *want =
        "{\"type\":\"sku.update\",\"room_id\":\"r1\",\"sku_id\":\"s\",\"stock_left\":3,"
        "\"on_sale\":true,\"price\":10}";
    assert_int_equal(f->len, strlen(want));
    assert_memory_equal(lg_frame_payload(f), want, f->len);
    assert_int_equal(f->refs, 1);
    /* one reference per session it is queued on */
    struct lg_frame *refs[3];
    for (int i = 0; i < 3; i++)
        refs[i] = lg_frame_ref(f);
    assert_ptr_equal(refs[0], f);
    assert_int_equal(f->refs, 4);
    for (int i = 0; i < 3; i++)
        lg_frame_unref(refs[i]);
    assert_int_equal(f->refs, 1);
    assert_memory_equal(lg_frame_payload(f), want, f->len);
    lg_frame_unref(f); /* the last reference frees it (the ASan build checks) */
    lg_frame_unref(NULL);
    assert_null(lg_frame_from_json(NULL));

    struct lg_frame *g = lg_frame_new("abc", 3);
    assert_int_equal(g->len, 3);
    assert_memory_equal(lg_frame_payload(g), "abc", 3);
    assert_ptr_equal(lg_frame_payload(g), g->buf + LWS_PRE);
    lg_frame_unref(g);
}

static void bus_keys(void **state)
{
    (void)state;
    char k[LG_KEY_MAX];
    assert_int_equal(lg_key_sku_gate(k, sizeof(k), "r1", "sku-9"), 21);
    assert_string_equal(k, "lg:{r1}:skugate:sku-9");
    lg_chan_heartbeat(k, sizeof(k), "livegate:gw-1:bus");
    assert_string_equal(k, "lg:ev:hb:livegate:gw-1:bus");
    assert_string_equal(LG_CHAN_STATUS, "lg:ev:status");
    assert_string_equal(LG_CHAN_SKU, "lg:ev:sku");
    char tiny[12];
    assert_int_equal(lg_key_sku_gate(tiny, sizeof(tiny), "r1", "sku-9"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sku_update_frame), cmocka_unit_test(sku_payloads),
        cmocka_unit_test(status_payloads),  cmocka_unit_test(shared_frames),
        cmocka_unit_test(bus_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
