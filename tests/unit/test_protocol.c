/* Unit tests of the wire shapes without a socket: envelope parsing, the
 * JSON depth guard, reply builders, HTTP routing and the key layout. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "features/api.h"
#include "keys.h"
#include "rules/protocol.h"

static enum lg_envelope_error parse(const char *text, struct lg_envelope *env)
{
    return lg_msg_parse_envelope(text, strlen(text), env);
}

static void envelopes(void **state)
{
    (void)state;
    struct lg_envelope env;
    assert_int_equal(parse("{\"type\":\"auth\",\"req\":\"r-1\",\"x\":1}", &env), LG_ENVELOPE_OK);
    assert_string_equal(env.type, "auth");
    assert_true(env.has_req);
    assert_string_equal(env.req, "r-1");
    lg_msg_free_envelope(&env);
    assert_int_equal(parse("[1]", &env), LG_ENVELOPE_NOT_JSON);
    assert_int_equal(parse("nope", &env), LG_ENVELOPE_NOT_JSON);
    assert_int_equal(parse("{\"type\":\"a\",\"type\":\"b\"}", &env), LG_ENVELOPE_NOT_JSON);
    assert_int_equal(parse("{\"type\":5}", &env), LG_ENVELOPE_NO_TYPE);
    lg_msg_free_envelope(&env);
    assert_int_equal(parse("{\"type\":\"x\",\"req\":\"a b\"}", &env), LG_ENVELOPE_BAD_REQ);
    assert_int_equal(parse("{\"type\":\"x\",\"req\":7}", &env), LG_ENVELOPE_BAD_REQ);
    assert_int_equal(parse("{\"type\":\"x\",\"req\":null}", &env), LG_ENVELOPE_OK);
    assert_false(env.has_req);
    lg_msg_free_envelope(&env);
}

static void depth_guard(void **state)
{
    (void)state;
    char deep[64] = "";
    for (int i = 0; i < 16; i++)
        strcat(deep, "[");
    assert_true(lg_msg_depth_ok(deep, strlen(deep), 16));
    strcat(deep, "[");
    assert_false(lg_msg_depth_ok(deep, strlen(deep), 16));
    const char *in_string = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}";
    assert_true(lg_msg_depth_ok(in_string, strlen(in_string), 2));
}

/* jansson's compact dump of doc (which it takes): the bytes the text
 * builders must give, as the gateway built these answers before. */
static char *dumped(json_t *doc)
{
    assert_non_null(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    return text;
}

static void assert_text(const char *want, const char *got, size_t len)
{
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
}

/* order.accepted, as text, against jansson's dump of the same document. */
static void accepted_text(void **state)
{
    (void)state;
    char out[LG_MSG_ACCEPTED_MAX];
    char *want = dumped(json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:s}", "type", "order.accepted",
                                  "client_order_id", "c-1", "order_id", "o-1", "priority", "high",
                                  "duplicate", 1, "accepted_at_ms", (json_int_t)123, "req", "q"));
    assert_text(want, out, lg_msg_accepted_text(out, "c-1", "o-1", "high", true, 123, "q"));
    free(want);
    /* IDs of the longest length, no req, a large time */
    char id[LG_ID_MAX + 2];
    memset(id, 'a', LG_ID_MAX);
    id[LG_ID_MAX] = 0;
    want = dumped(json_pack("{s:s,s:s,s:s,s:s,s:b,s:I}", "type", "order.accepted",
                            "client_order_id", id, "order_id", id, "priority", "normal",
                            "duplicate", 0, "accepted_at_ms", (json_int_t)1796228813334LL));
    assert_text(want, out,
                lg_msg_accepted_text(out, id, id, "normal", false, 1796228813334LL, NULL));
    free(want);
    /* one character past an ID, or one outside its alphabet: nothing */
    id[LG_ID_MAX] = 'a';
    id[LG_ID_MAX + 1] = 0;
    assert_int_equal(lg_msg_accepted_text(out, id, "o-1", "high", false, 1, NULL), 0);
    assert_int_equal(lg_msg_accepted_text(out, "c-1", id, "high", false, 1, NULL), 0);
    assert_int_equal(lg_msg_accepted_text(out, "c-1", "o-1", "high", false, 1, id), 0);
    assert_int_equal(lg_msg_accepted_text(out, "c\"1", "o-1", "high", false, 1, NULL), 0);
    assert_int_equal(lg_msg_accepted_text(out, "", "o-1", "high", false, 1, NULL), 0);
}

/* BUSY and RATE_LIMITED, as text, against jansson's dump of the document
 * the gateway built before (lg_msg_error's fields, then ref,
 * retry_after_ms and req). */
static char *refusal_reference(const char *code, const char *message, long long retry,
                               const char *req, const char *ref)
{
    json_t *doc = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message);
    if (ref)
        json_object_set_new(doc, "ref", json_string(ref));
    json_object_set_new(doc, "retry_after_ms", json_integer(retry));
    if (req)
        json_object_set_new(doc, "req", json_string(req));
    return dumped(doc);
}

static void refusal_text(void **state)
{
    (void)state;
    char out[LG_MSG_REFUSAL_MAX];
    char *want = refusal_reference("BUSY", "the room cannot decide more orders; retry later", 1234,
                                   "q-1", "c-1");
    assert_text(want, out,
                lg_msg_refusal_text(out, "BUSY", "the room cannot decide more orders; retry later",
                                    1234, "q-1", "c-1"));
    free(want);
    want = refusal_reference("RATE_LIMITED", "too many", 0, NULL, NULL);
    assert_text(want, out, lg_msg_refusal_text(out, "RATE_LIMITED", "too many", 0, NULL, NULL));
    free(want);
    /* the longest message, every byte one that needs escaping */
    char message[LG_MSG_REFUSAL_MESSAGE_MAX + 2];
    memset(message, '"', LG_MSG_REFUSAL_MESSAGE_MAX);
    message[LG_MSG_REFUSAL_MESSAGE_MAX] = 0;
    char id[LG_ID_MAX + 1];
    memset(id, 'z', LG_ID_MAX);
    id[LG_ID_MAX] = 0;
    want = refusal_reference(id, message, 9223372036854775807LL, id, id);
    assert_text(want, out, lg_msg_refusal_text(out, id, message, 9223372036854775807LL, id, id));
    free(want);
    /* one byte more, bad UTF-8, or a ref, req or code that is no ID: nothing */
    message[LG_MSG_REFUSAL_MESSAGE_MAX] = '"';
    message[LG_MSG_REFUSAL_MESSAGE_MAX + 1] = 0;
    assert_int_equal(lg_msg_refusal_text(out, "BUSY", message, 1, NULL, NULL), 0);
    assert_int_equal(lg_msg_refusal_text(out, "BUSY", "bad \xc3", 1, NULL, NULL), 0);
    assert_int_equal(lg_msg_refusal_text(out, "BUSY", "m", 1, NULL, "c 1"), 0);
    assert_int_equal(lg_msg_refusal_text(out, "BUSY", "m", 1, "", NULL), 0);
    assert_int_equal(lg_msg_refusal_text(out, "BU\"SY", "m", 1, NULL, NULL), 0);
}

/* The result as jansson dumped it: the old builder, kept here as the
 * reference. */
static char *result_reference(const struct lg_result *r)
{
    json_t *cid = *r->client_order_id ? json_string(r->client_order_id) : json_null();
    json_t *doc;
    if (strcmp(r->status, "rejected") == 0)
        doc = json_pack("{s:s,s:o,s:s,s:s,s:o,s:s}", "type", "order.rejected", "client_order_id",
                        cid, "order_id", r->order_id, "code", r->code, "field",
                        *r->field ? json_string(r->field) : json_null(), "message", r->message);
    else
        doc =
            json_pack("{s:s,s:o,s:s,s:s,s:I,s:I,s:I}", "type", "order.confirmed", "client_order_id",
                      cid, "order_id", r->order_id, "status", "pending_payment", "amount",
                      (json_int_t)r->amount, "confirmed_at_ms", (json_int_t)r->confirmed_at_ms,
                      "pay_deadline_ms", (json_int_t)r->pay_deadline_ms);
    if (doc && *r->req)
        json_object_set_new(doc, "req", json_string(r->req));
    return dumped(doc);
}

static void assert_result_text(const struct lg_result *r)
{
    char out[4096];
    size_t max = lg_msg_result_text_max(r);
    assert_true(max <= sizeof(out));
    char *want = result_reference(r);
    assert_text(want, out, lg_msg_result_text(out, max, r));
    free(want);
    /* one byte less room than the bound: nothing written */
    assert_int_equal(lg_msg_result_text(out, max - 1, r), 0);
}

static void result_text(void **state)
{
    (void)state;
    struct lg_result r = {.order_id = "o-1",
                          .client_order_id = "c-1",
                          .status = "rejected",
                          .code = "EXPIRED",
                          .field = "",
                          .message = "late",
                          .req = ""};
    assert_result_text(&r);
    /* every escape jansson writes, and UTF-8 as it is */
    r.client_order_id = "";
    r.field = "coupon_id";
    r.message = "a \"quote\", a \\ back\\slash, \n\t\r\b\f, \x01 and \x1f, 价格 \x7f /";
    r.req = "q-7";
    assert_result_text(&r);
    r.status = "pending_payment";
    r.amount = 19800;
    r.confirmed_at_ms = 1796228813334LL;
    r.pay_deadline_ms = 1796229713334LL;
    assert_result_text(&r);
    /* any later state is written as the confirmation (see lg_msg_result_text) */
    r.status = "paid";
    r.amount = -9223372036854775807LL - 1;
    assert_result_text(&r);
    /* a long message takes a larger buffer, within its bound */
    char long_message[1500];
    memset(long_message, '"', sizeof(long_message) - 1);
    long_message[sizeof(long_message) - 1] = 0;
    r.status = "rejected";
    r.message = long_message;
    char *big = malloc(lg_msg_result_text_max(&r));
    char *want = result_reference(&r);
    assert_text(want, big, lg_msg_result_text(big, lg_msg_result_text_max(&r), &r));
    free(want);
    free(big);
    /* not UTF-8 (from Redis): nothing, as jansson refused it */
    char out[1024];
    r.message = "bad \xff byte";
    assert_int_equal(lg_msg_result_text(out, sizeof(out), &r), 0);
    r.message = "late";
    r.code = NULL;
    assert_int_equal(lg_msg_result_text(out, sizeof(out), &r), 0);
}

static void results_as_decided(void **state)
{
    (void)state;
    struct lg_result r = {.status = "rejected"};
    assert_true(lg_result_as_decided(&r));
    r.status = "pending_payment";
    assert_true(lg_result_as_decided(&r));
    r.status = "paid";
    assert_false(lg_result_as_decided(&r));
    r.status = "cancelled";
    assert_false(lg_result_as_decided(&r));
    r.status = "";
    assert_false(lg_result_as_decided(&r));
}

static void replies(void **state)
{
    (void)state;
    json_t *m;
    m = lg_msg_invalid_field(NULL, "qty", "bad", NULL);
    assert_true(json_is_null(json_object_get(m, "client_order_id")));
    assert_null(json_object_get(m, "order_id"));
    assert_null(json_object_get(m, "req"));
    json_decref(m);
}

static void routes(void **state)
{
    (void)state;
    struct lg_route r;
    lg_api_route(LG_HTTP_GET, "/healthz", &r);
    assert_int_equal(r.id, LG_ROUTE_HEALTHZ);
    lg_api_route(LG_HTTP_PUT, "/v1/rooms/r1", &r);
    assert_int_equal(r.id, LG_ROUTE_ROOM_PUT);
    assert_string_equal(r.room, "r1");
    lg_api_route(LG_HTTP_PUT, "/v1/rooms/r1/skus/s-1", &r);
    assert_int_equal(r.id, LG_ROUTE_SKU_PUT);
    assert_string_equal(r.item, "s-1");
    lg_api_route(LG_HTTP_GET, "/v1/rooms/r1/skus", &r);
    assert_int_equal(r.id, LG_ROUTE_SKUS_GET);
    lg_api_route(LG_HTTP_PUT, "/v1/rooms/r1/coupons/c1", &r);
    assert_int_equal(r.id, LG_ROUTE_COUPON_PUT);
    lg_api_route(LG_HTTP_GET, "/v1/orders/o-1", &r);
    assert_int_equal(r.id, LG_ROUTE_ORDER_GET);
    lg_api_route(LG_HTTP_GET, "/v1/rooms/r1", &r);
    assert_int_equal(r.id, LG_ROUTE_ROOM_GET);
    assert_string_equal(r.room, "r1");
    lg_api_route(LG_HTTP_DELETE, "/v1/rooms/r1", &r);
    assert_int_equal(r.id, LG_ROUTE_ROOM_DELETE);
    assert_string_equal(r.room, "r1");
    lg_api_route(LG_HTTP_POST, "/v1/rooms/r1", &r);
    assert_int_equal(r.id, LG_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(r.allow, "GET, PUT, DELETE");
    lg_api_route(LG_HTTP_DELETE, "/v1/rooms/r1/skus/s-1", &r);
    assert_int_equal(r.id, LG_ROUTE_SKU_DELETE);
    assert_string_equal(r.item, "s-1");
    lg_api_route(LG_HTTP_GET, "/v1/rooms/r1/skus/s-1", &r);
    assert_int_equal(r.id, LG_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(r.allow, "PUT, DELETE");
    lg_api_route(LG_HTTP_GET, "/v1/rooms/r1/coupons/c1", &r);
    assert_int_equal(r.id, LG_ROUTE_COUPON_GET);
    assert_string_equal(r.item, "c1");
    lg_api_route(LG_HTTP_DELETE, "/v1/rooms/r1/coupons/c1", &r);
    assert_int_equal(r.id, LG_ROUTE_COUPON_DELETE);
    lg_api_route(LG_HTTP_POST, "/v1/rooms/r1/coupons/c1", &r);
    assert_int_equal(r.id, LG_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(r.allow, "GET, PUT, DELETE");
    lg_api_route(LG_HTTP_PUT, "/v1/rooms/r1/skus", &r);
    assert_int_equal(r.id, LG_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(r.allow, "GET");
    lg_api_route(LG_HTTP_DELETE, "/v1/orders/o-1", &r);
    assert_int_equal(r.id, LG_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(r.allow, "GET");
    lg_api_route(LG_HTTP_POST, "/metrics", &r);
    assert_string_equal(r.allow, "GET");
    lg_api_route(LG_HTTP_DELETE, "/v1/rooms/r1/coupons/c%2A", &r);
    assert_int_equal(r.id, LG_ROUTE_BAD_ID);
    assert_string_equal(r.bad_field, "coupon");
    lg_api_route(LG_HTTP_PUT, "/v1/rooms/r%201", &r);
    assert_int_equal(r.id, LG_ROUTE_BAD_ID);
    assert_string_equal(r.bad_field, "room");
    lg_api_route(LG_HTTP_PUT, "/v1/rooms/r1/skus/a*b", &r);
    assert_int_equal(r.id, LG_ROUTE_BAD_ID);
    assert_string_equal(r.bad_field, "sku");
    const char *missing[] = {"/",
                             "/v1",
                             "/v1/rooms/",
                             "/v1/rooms//skus",
                             "/v1/rooms/r1/",
                             "/v2/rooms/r1",
                             "/v1/rooms/r1/skus/s/x",
                             "/v1/rooms/r1/other/x",
                             "healthz"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        lg_api_route(LG_HTTP_GET, missing[i], &r);
        assert_int_equal(r.id, LG_ROUTE_NOT_FOUND);
    }
}

static void key_layout(void **state)
{
    (void)state;
    char k[LG_KEY_MAX], room[65];
    bool high;
    lg_key_idem(k, sizeof(k), "r1", "a:b", "c");
    assert_string_equal(k, "lg:{r1}:idem:a:b/c");
    lg_key_stream(k, sizeof(k), "r.1", true);
    assert_string_equal(k, "lg:{r.1}:q:high");
    assert_int_equal(lg_key_parse_stream(k, room, sizeof(room), &high), 0);
    assert_string_equal(room, "r.1");
    assert_true(high);
    assert_int_equal(lg_key_parse_stream("lg:{r1}:q:low", room, sizeof(room), &high), -1);
    assert_int_equal(lg_key_parse_stream("lg:{}:q:high", room, sizeof(room), &high), -1);
    char tiny[8];
    assert_int_equal(lg_key_room(tiny, sizeof(tiny), "a-long-room"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelopes),
        cmocka_unit_test(depth_guard),
        cmocka_unit_test(replies),
        cmocka_unit_test(accepted_text),
        cmocka_unit_test(refusal_text),
        cmocka_unit_test(result_text),
        cmocka_unit_test(results_as_decided),
        cmocka_unit_test(routes),
        cmocka_unit_test(key_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
