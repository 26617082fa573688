/* fuzz_bus.c - libFuzzer target for the payloads the gateway hears on the
 * Redis Pub/Sub bus (lg:ev:*), which any process with access to Redis can
 * publish. Every input is offered to each parser that reads a channel:
 * lg:ev:status and lg:ev:sku (features/fanout.c's pure parsers, whose
 * events become order.status and sku.update frames to clients), and the
 * monitor feed (lg:ev:feed:<room>, and lg:ev:status again), which
 * features/monitor.c turns into monitor.order frames through
 * rules/monitor_frames.c. bus.c itself only routes replies from the socket
 * and holds no parser. Properties checked: an accepted event obeys the ID
 * and range rules, its frame exists, a monitor frame never carries a
 * buyer's name or phone that is not masked, and rules/event_peek.c's
 * "room" and "user" (on which the gateway skips the parse) are the ones
 * jansson finds whenever jansson reads the text as an object. */
#include <limits.h>
#include <string.h>

#include "features/fanout.h"
#include "fuzz.h"
#include "livegate/text.h"
#include "rules/event_peek.h"
#include "rules/mask.h"
#include "rules/monitor_frames.h"
#include "rules/protocol.h"

static bool is_id(const char *s)
{
    return lg_text_is_id(s, strlen(s));
}

static void status_event(const char *payload, size_t len)
{
    struct lg_status_event ev;
    if (lg_fanout_parse_status(payload, len, &ev) != 0)
        return;
    FUZZ_CHECK(is_id(ev.room) && is_id(ev.user) && is_id(ev.order_id) && is_id(ev.status));
    FUZZ_CHECK(ev.client_order_id[0] == 0 || is_id(ev.client_order_id));
    FUZZ_CHECK(strlen(ev.status) <= LG_STATUS_MAX && ev.at_ms >= 0);
    fuzz_check_reply(
        lg_msg_order_status(ev.order_id, ev.client_order_id, ev.status, ev.at_ms, NULL));
}

static void sku_event(const char *payload, size_t len)
{
    struct lg_sku_event ev;
    if (lg_fanout_parse_sku(payload, len, &ev) != 0)
        return;
    FUZZ_CHECK(is_id(ev.room) && is_id(ev.sku_id) && ev.stock_left >= 0 && ev.price >= 0);
    fuzz_check_reply(lg_msg_sku_update(ev.room, ev.sku_id, ev.stock_left, ev.on_sale, ev.price));
}

/* monitor.c's deliver_event and send_feed without the sessions. */
static void feed_event(json_t *event)
{
    json_t *msg = json_is_object(event) ? lg_monframe_order(event) : NULL;
    if (!msg)
        return;
    const char *buyer = json_string_value(json_object_get(msg, "buyer"));
    const char *phone = json_string_value(json_object_get(msg, "phone"));
    FUZZ_CHECK(buyer && lg_mask_is_masked_name(buyer));
    FUZZ_CHECK(phone && lg_mask_is_masked_phone(phone));
    FUZZ_CHECK(json_is_string(json_object_get(msg, "room_id")) &&
               json_is_string(json_object_get(msg, "order_id")));
    char *text = json_dumps(msg, LG_MONITOR_DUMP_FLAGS);
    json_decref(msg);
    FUZZ_CHECK(text != NULL);
    size_t n;
    char *framed = lg_monframe_splice(text, strlen(text), "dropped", 3, false, &n);
    FUZZ_CHECK(framed != NULL && n == strlen(framed));
    json_t *back = json_loadb(framed, n, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(json_integer_value(json_object_get(back, "dropped")) == 3);
    json_decref(back);
    free(framed);
    free(text);
}

static void feed(const char *payload, size_t len)
{
    json_t *event = json_loadb(payload, len, 0, NULL);
    if (json_is_array(event)) {
        size_t i;
        json_t *e;
        json_array_foreach(event, i, e) feed_event(e);
    } else if (event) {
        feed_event(event);
    }
    json_decref(event);
}

static void peek_agrees(const char *payload, size_t len, json_t *root, const char *key)
{
    char peeked[256];
    if (lg_event_peek(payload, len, key, peeked, sizeof(peeked)) != 0)
        return;
    json_t *value = json_object_get(root, key);
    if (!json_is_object(root) || !value)
        return;
    FUZZ_CHECK(json_is_string(value));
    FUZZ_CHECK(json_string_length(value) == strlen(peeked) &&
               strcmp(json_string_value(value), peeked) == 0);
}

static void peek(const char *payload, size_t len)
{
    json_t *root = json_loadb(payload, len, 0, NULL);
    peek_agrees(payload, len, root, "room");
    peek_agrees(payload, len, root, "user");
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *payload = (const char *)data;
    status_event(payload, size);
    sku_event(payload, size);
    feed(payload, size);
    peek(payload, size);
    return 0;
}
