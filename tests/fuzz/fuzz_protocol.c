/* fuzz_protocol.c - libFuzzer target for what a client's text frame goes
 * through before anything is queued: the JSON depth guard and the envelope
 * (rules/protocol.c), then the field rules of the commands that have them,
 * order.submit (rules/order_rules.c on rules/field_rules.c) and order.update
 * (rules/backoffice_rules.c), and the replies built from what was parsed.
 * Besides memory and UB errors it checks what the rest of the gateway relies
 * on: a frame deeper than the guard never parses, a valid order obeys every
 * rule of the contract, and each reply exists (a NULL reply is a client left
 * without an answer). dispatch.c is the glue this mirrors. */
#include <string.h>

#include "fuzz.h"
#include "livegate/text.h"
#include "rules/backoffice_rules.h"
#include "rules/mask.h"
#include "rules/order_rules.h"
#include "rules/protocol.h"

/* The room of the submitting viewer's token; the seeds use it. */
#define TOKEN_ROOM "room-1"

static int json_depth(const json_t *j)
{
    int deepest = 0;
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
            int d = json_depth(v);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = json_depth(v);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

static bool is_id(const char *s)
{
    return lg_text_is_id(s, strlen(s));
}

/* A text field of the address: valid UTF-8, no control characters, its
 * length in characters within the rule's bounds. */
static bool is_text(const char *s, long min, long max)
{
    long chars = lg_text_utf8_chars(s, strlen(s));
    return chars >= min && chars <= max && !lg_text_has_control(s, strlen(s));
}

static void check_valid_order(const struct lg_order *o)
{
    FUZZ_CHECK(is_id(o->client_order_id) && is_id(o->sku_id));
    FUZZ_CHECK(strcmp(o->room_id, TOKEN_ROOM) == 0);
    FUZZ_CHECK(o->qty >= 1 && o->qty <= 999);
    FUZZ_CHECK(o->unit_price >= 1 && o->unit_price <= LG_MONEY_MAX);
    FUZZ_CHECK(o->amount >= 0 && o->amount <= LG_MONEY_MAX);
    FUZZ_CHECK(o->has_coupon ? is_id(o->coupon_id) : o->amount == o->qty * o->unit_price);
    FUZZ_CHECK(strcmp(o->currency, "CNY") == 0);
    FUZZ_CHECK(lg_order_payment_bit(o->payment_method) != 0);
    const struct lg_address *a = &o->address;
    FUZZ_CHECK(is_text(a->name, 1, 50) && is_text(a->province, 1, 32) && is_text(a->city, 1, 32) &&
               is_text(a->detail, 1, 200));
    FUZZ_CHECK(a->has_district ? is_text(a->district, 0, 32) : a->district[0] == 0);
    FUZZ_CHECK(strlen(a->phone) == 11 && a->phone[0] == '1' && a->phone[1] >= '3');
    for (int i = 0; i < 11; i++)
        FUZZ_CHECK(a->phone[i] >= '0' && a->phone[i] <= '9');
    FUZZ_CHECK(a->has_postal_code ? strlen(a->postal_code) == 6 : a->postal_code[0] == 0);

    /* What the back office and the monitor feed show of the buyer. */
    char name[64], phone[16];
    lg_mask_name(a->name, name, sizeof(name));
    lg_mask_phone(a->phone, phone, sizeof(phone));
    FUZZ_CHECK(lg_mask_is_masked_name(name) && lg_mask_is_masked_phone(phone));
    FUZZ_CHECK(strncmp(phone, a->phone, 3) == 0 && strcmp(phone + 7, a->phone + 7) == 0);
}

/* dispatch.c's echo of client_order_id in an INVALID_FIELD reply. */
static const char *echoable_client_order_id(const json_t *root)
{
    json_t *v = json_object_get(root, "client_order_id");
    if (json_is_string(v) && lg_text_is_id(json_string_value(v), json_string_length(v)))
        return json_string_value(v);
    return NULL;
}

static void submit(const json_t *root, const char *req)
{
    struct lg_order order;
    struct lg_field_error err;
    if (lg_order_parse(root, TOKEN_ROOM, &order, &err) != 0) {
        FUZZ_CHECK(err.field[0] != 0 && err.message[0] != 0);
        fuzz_check_reply(
            lg_msg_invalid_field(echoable_client_order_id(root), err.field, err.message, req));
        return;
    }
    check_valid_order(&order);
    char accepted[LG_MSG_ACCEPTED_MAX];
    fuzz_check_reply_text(accepted, lg_msg_accepted_text(accepted, order.client_order_id, "o-1",
                                                         "normal", false, 1700000000000, req));
}

static void update(const json_t *root, const char *req)
{
    struct lg_order_update u;
    struct lg_field_error err;
    if (lg_backoffice_parse_update(root, &u, &err) != 0) {
        fuzz_check_reply(
            lg_backoffice_msg_error("INVALID_FIELD", err.message, err.field, NULL, req));
        return;
    }
    FUZZ_CHECK(is_id(u.order_id));
    fuzz_check_reply(lg_backoffice_msg_updated(u.order_id, u.status, req));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* ws.c closes the connection on a longer message before parsing it. */
    if (size > LG_MAX_MESSAGE)
        return 0;
    const char *text = (const char *)data;
    struct lg_envelope env;
    enum lg_envelope_error e = lg_msg_parse_envelope(text, size, &env);
    const char *req = env.has_req ? env.req : NULL;
    if (req)
        FUZZ_CHECK(is_id(req));
    if (!lg_msg_depth_ok(text, size, LG_MAX_JSON_DEPTH))
        FUZZ_CHECK(e == LG_ENVELOPE_NOT_JSON);
    switch (e) {
    case LG_ENVELOPE_OK:
        FUZZ_CHECK(json_is_object(env.root) && env.type != NULL);
        FUZZ_CHECK(json_depth(env.root) <= LG_MAX_JSON_DEPTH);
        /* Every command's rules see every frame: more paths per input than
         * dispatching on "type" alone would give. */
        submit(env.root, req);
        update(env.root, req);
        break;
    case LG_ENVELOPE_NO_TYPE:
        FUZZ_CHECK(json_is_object(env.root));
        fuzz_check_reply(lg_msg_error("BAD_REQUEST", "type must be a string", req, NULL));
        break;
    default:
        FUZZ_CHECK(env.root == NULL && !env.has_req);
        fuzz_check_reply(
            lg_msg_error("BAD_REQUEST", "a frame must be one JSON object", NULL, NULL));
    }
    lg_msg_free_envelope(&env);
    return 0;
}
