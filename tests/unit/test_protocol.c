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

static void replies(void **state)
{
    (void)state;
    json_t *m = lg_msg_accepted("c-1", "o-1", "high", true, 123, "q");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "order.accepted");
    assert_true(json_is_true(json_object_get(m, "duplicate")));
    assert_int_equal(json_integer_value(json_object_get(m, "accepted_at_ms")), 123);
    assert_string_equal(json_string_value(json_object_get(m, "req")), "q");
    json_decref(m);
    m = lg_msg_invalid_field(NULL, "qty", "bad", NULL);
    assert_true(json_is_null(json_object_get(m, "client_order_id")));
    assert_null(json_object_get(m, "order_id"));
    assert_null(json_object_get(m, "req"));
    json_decref(m);
    struct lg_result r = {.order_id = "o-1",
                          .client_order_id = "c-1",
                          .status = "rejected",
                          .code = "EXPIRED",
                          .field = "",
                          .message = "late",
                          .req = ""};
    m = lg_msg_result(&r);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "order.rejected");
    assert_true(json_is_null(json_object_get(m, "field")));
    assert_null(json_object_get(m, "req"));
    json_decref(m);
    r.status = "paid";
    r.amount = 500;
    m = lg_msg_result(&r);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "order.confirmed");
    assert_string_equal(json_string_value(json_object_get(m, "status")), "pending_payment");
    json_decref(m);
    /* Read back later, a result states what the order is now. */
    r.status = "pending_payment";
    m = lg_msg_result_now(&r);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "order.confirmed");
    json_decref(m);
    r.status = "rejected";
    m = lg_msg_result_now(&r);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "order.rejected");
    json_decref(m);
    r.status = "cancelled";
    r.updated_at_ms = 4242;
    m = lg_msg_result_now(&r);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "order.status");
    assert_string_equal(json_string_value(json_object_get(m, "status")), "cancelled");
    assert_int_equal(json_integer_value(json_object_get(m, "at_ms")), 4242);
    json_decref(m);
    m = lg_msg_refusal("BUSY", "full", 1234, "q", "c-7");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(m, "code")), "BUSY");
    assert_true(json_is_integer(json_object_get(m, "retry_after_ms")));
    assert_int_equal(json_integer_value(json_object_get(m, "retry_after_ms")), 1234);
    assert_string_equal(json_string_value(json_object_get(m, "ref")), "c-7");
    assert_string_equal(json_string_value(json_object_get(m, "req")), "q");
    json_decref(m);
    m = lg_msg_order_state("c-9", NULL, "unknown", NULL, "q");
    assert_true(json_is_null(json_object_get(m, "order_id")));
    assert_true(json_is_null(json_object_get(m, "code")));
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
        cmocka_unit_test(envelopes), cmocka_unit_test(depth_guard), cmocka_unit_test(replies),
        cmocka_unit_test(routes),    cmocka_unit_test(key_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
