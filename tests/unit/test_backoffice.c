/* Unit tests of the back office's pure rules and shapes: order.update
 * fields (each rule, missing/null/wrong type, first broken field), who may
 * act on which room, the GET /v1/audit query on both sides of each bound,
 * routing of /v1/audit, the audit key, reading transition.lua's answers and
 * XREVRANGE entries, and the JSON of order.updated, errors and the
 * lg:ev:status event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "features/api.h"
#include "rules/backoffice_rules.h"
#include "keys.h"

/* Parses an order.update frame; returns the broken field, or "" when it passed. */
static const char *broken(const char *text, struct lg_order_update *u)
{
    static struct lg_field_error err;
    memset(&err, 0, sizeof(err));
    json_error_t jerr;
    json_t *msg = json_loads(text, JSON_ALLOW_NUL, &jerr);
    assert_non_null(msg);
    int rc = lg_backoffice_parse_update(msg, u, &err);
    json_decref(msg);
    if (rc == 0)
        return "";
    assert_true(err.message[0] != 0);
    return err.field;
}

static void update_fields(void **state)
{
    (void)state;
    struct lg_order_update u;
    const char *statuses[] = {"paid", "shipped", "delivered", "cancelled"};
    for (size_t i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof(text),
                 "{\"type\":\"order.update\",\"order_id\":\"o-1\",\"status\":\"%s\"}", statuses[i]);
        assert_string_equal(broken(text, &u), "");
        assert_string_equal(u.order_id, "o-1");
        assert_string_equal(u.status, statuses[i]);
    }
    /* Unknown fields are ignored. */
    assert_string_equal(broken("{\"order_id\":\"o-1\",\"status\":\"paid\",\"x\":[1]}", &u), "");

    assert_string_equal(broken("{\"status\":\"paid\"}", &u), "order_id");
    assert_string_equal(broken("{\"order_id\":null,\"status\":\"paid\"}", &u), "order_id");
    assert_string_equal(broken("{\"order_id\":7,\"status\":\"paid\"}", &u), "order_id");
    assert_string_equal(broken("{\"order_id\":\"\",\"status\":\"paid\"}", &u), "order_id");
    assert_string_equal(broken("{\"order_id\":\"o 1\",\"status\":\"paid\"}", &u), "order_id");
    assert_string_equal(broken("{\"order_id\":\"o/1\",\"status\":\"paid\"}", &u), "order_id");

    char id64[65], text[160];
    memset(id64, 'o', 64);
    id64[64] = 0;
    snprintf(text, sizeof(text), "{\"order_id\":\"%s\",\"status\":\"paid\"}", id64);
    assert_string_equal(broken(text, &u), "");
    snprintf(text, sizeof(text), "{\"order_id\":\"%so\",\"status\":\"paid\"}", id64);
    assert_string_equal(broken(text, &u), "order_id");

    assert_string_equal(broken("{\"order_id\":\"o-1\"}", &u), "status");
    assert_string_equal(broken("{\"order_id\":\"o-1\",\"status\":null}", &u), "status");
    assert_string_equal(broken("{\"order_id\":\"o-1\",\"status\":1}", &u), "status");
    assert_string_equal(broken("{\"order_id\":\"o-1\",\"status\":[\"paid\"]}", &u), "status");
    const char *bad[] = {"PAID",   "paid ",    "",        "pending_payment",
                         "queued", "rejected", "unknown", "paidpaidpaidpaidpaidpaidpaid"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "{\"order_id\":\"o-1\",\"status\":\"%s\"}", bad[i]);
        assert_string_equal(broken(text, &u), "status");
    }
    /* An embedded NUL does not pass as "paid". */
    assert_string_equal(broken("{\"order_id\":\"o-1\",\"status\":\"paid\\u0000x\"}", &u), "status");
    /* The first broken field is named. */
    assert_string_equal(broken("{\"order_id\":1,\"status\":2}", &u), "order_id");
}

static struct lg_claims claims(enum lg_role role, const char *room)
{
    struct lg_claims c;
    memset(&c, 0, sizeof(c));
    c.role = role;
    snprintf(c.sub, sizeof(c.sub), "u");
    snprintf(c.room, sizeof(c.room), "%s", room);
    return c;
}

static void who_may_act(void **state)
{
    (void)state;
    struct lg_claims c = claims(LG_ROLE_OPERATOR, "r1");
    assert_true(lg_backoffice_may_act(&c, "r1"));
    assert_false(lg_backoffice_may_act(&c, "r2"));
    assert_false(lg_backoffice_may_act(&c, "r10"));
    c = claims(LG_ROLE_OPERATOR, "*");
    assert_true(lg_backoffice_may_act(&c, "r2"));
    c = claims(LG_ROLE_ADMIN, "r1");
    assert_true(lg_backoffice_may_act(&c, "r2"));
    c = claims(LG_ROLE_ADMIN, "*");
    assert_true(lg_backoffice_may_act(&c, "r2"));
    c = claims(LG_ROLE_VIEWER, "r1");
    assert_false(lg_backoffice_may_act(&c, "r1"));
}

static const char *audit_broken(const char *room, const char *limit, struct lg_audit_query *q)
{
    static struct lg_field_error err;
    memset(&err, 0, sizeof(err));
    if (lg_backoffice_parse_audit_query(room, limit, q, &err) == 0)
        return "";
    assert_true(err.message[0] != 0);
    return err.field;
}

static void audit_query(void **state)
{
    (void)state;
    struct lg_audit_query q;
    assert_string_equal(audit_broken("r1", NULL, &q), "");
    assert_string_equal(q.room, "r1");
    assert_int_equal(q.limit, LG_AUDIT_DEFAULT_LIMIT);
    assert_int_equal(q.limit, 100);
    assert_string_equal(audit_broken("r1", "1", &q), "");
    assert_int_equal(q.limit, 1);
    assert_string_equal(audit_broken("r1", "1000", &q), "");
    assert_int_equal(q.limit, 1000);
    assert_string_equal(audit_broken("r1", "0999", &q), "");
    assert_int_equal(q.limit, 999);

    const char *bad_limits[] = {"0",  "1001", "-1",  "+5",         "5 ",  " 5",
                                "5x", "",     "1e3", "9999999999", "0x10"};
    for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++)
        assert_string_equal(audit_broken("r1", bad_limits[i], &q), "limit");

    assert_string_equal(audit_broken(NULL, NULL, &q), "room");
    assert_string_equal(audit_broken("", NULL, &q), "room");
    assert_string_equal(audit_broken("*", NULL, &q), "room");
    assert_string_equal(audit_broken("a b", NULL, &q), "room");
    char room[66];
    memset(room, 'r', 64);
    room[64] = 0;
    assert_string_equal(audit_broken(room, NULL, &q), "");
    room[64] = 'r';
    room[65] = 0;
    assert_string_equal(audit_broken(room, NULL, &q), "room");
    /* The room is checked first. */
    assert_string_equal(audit_broken(NULL, "0", &q), "room");
}

static void audit_route_and_key(void **state)
{
    (void)state;
    struct lg_route rt;
    lg_api_route(LG_HTTP_GET, "/v1/audit", &rt);
    assert_int_equal(rt.id, LG_ROUTE_AUDIT_GET);
    lg_api_route(LG_HTTP_PUT, "/v1/audit", &rt);
    assert_int_equal(rt.id, LG_ROUTE_METHOD_NOT_ALLOWED);
    lg_api_route(LG_HTTP_GET, "/v1/audit/", &rt);
    assert_int_equal(rt.id, LG_ROUTE_NOT_FOUND);
    lg_api_route(LG_HTTP_GET, "/v1/audit/r1", &rt);
    assert_int_equal(rt.id, LG_ROUTE_NOT_FOUND);
    lg_api_route(LG_HTTP_GET, "/v2/audit", &rt);
    assert_int_equal(rt.id, LG_ROUTE_NOT_FOUND);

    char key[LG_KEY_MAX];
    assert_int_equal(lg_key_audit(key, sizeof(key), "r1"), (int)strlen("lg:{r1}:audit"));
    assert_string_equal(key, "lg:{r1}:audit");
    assert_int_equal(lg_key_audit(key, 8, "r1"), -1);
}

/* ---- hand-built hiredis replies -------------------------------------- */

static redisReply *str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *arr(size_t n, ...)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void free_reply(redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        free_reply(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static redisReply *ok_reply(void)
{
    return arr(12, str("ok"), str("paid"), str("cancelled"), str("1700000000123"), str("u-1"),
               str("c-1"), str("sku-9"), str("2"), str("39800"), str("normal"), str("张*"),
               str("138****8000"));
}

static void transition_replies(void **state)
{
    (void)state;
    struct lg_transition t = {.order_id = "o-1", .room = "r1"};
    redisReply *r = ok_reply();
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_OK);
    assert_string_equal(t.from, "paid");
    assert_string_equal(t.to, "cancelled");
    assert_true(t.at_ms == 1700000000123LL);
    assert_string_equal(t.user, "u-1");
    assert_string_equal(t.client_order_id, "c-1");
    assert_string_equal(t.sku_id, "sku-9");
    assert_true(t.qty == 2 && t.amount == 39800);
    assert_string_equal(t.priority, "normal");
    assert_string_equal(t.buyer, "张*");
    assert_string_equal(t.phone, "138****8000");
    assert_string_equal(t.order_id, "o-1");

    /* The lg:ev:status payload carries exactly the contract's fields. */
    json_t *ev = lg_backoffice_status_event(&t);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"amount\":39800,\"at_ms\":1700000000123,\"buyer\":\"张*\","
                              "\"client_order_id\":\"c-1\",\"from\":\"paid\",\"order_id\":\"o-1\","
                              "\"phone\":\"138****8000\",\"priority\":\"normal\",\"qty\":2,"
                              "\"room\":\"r1\",\"sku_id\":\"sku-9\",\"status\":\"cancelled\","
                              "\"user\":\"u-1\"}");
    free(text);
    json_decref(ev);
    free_reply(r);

    r = arr(2, str("invalid"), str("shipped"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_INVALID);
    assert_string_equal(t.from, "shipped");
    assert_false(t.pay_deadline_passed);
    free_reply(r);
    /* paid refused past the payment deadline (transition.lua's race rule). */
    r = arr(3, str("invalid"), str("pending_payment"), str("pay_deadline"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_INVALID);
    assert_string_equal(t.from, "pending_payment");
    assert_true(t.pay_deadline_passed);
    free_reply(r);
    r = arr(3, str("invalid"), str("pending_payment"), str("other"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_INVALID);
    assert_false(t.pay_deadline_passed);
    free_reply(r);
    r = arr(4, str("invalid"), str("pending_payment"), str("pay_deadline"), str("x"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_FAILED);
    free_reply(r);
    r = arr(1, str("missing"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_MISSING);
    free_reply(r);

    /* Anything else is a failure, never a success. */
    assert_int_equal(lg_backoffice_read_transition(NULL, &t), LG_TRANSITION_FAILED);
    r = arr(0);
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_FAILED);
    free_reply(r);
    r = arr(2, str("ok"), str("paid"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_FAILED);
    free_reply(r);
    r = arr(1, str("invalid"));
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_FAILED);
    free_reply(r);
    r = ok_reply();
    r->element[5]->type = REDIS_REPLY_NIL;
    assert_int_equal(lg_backoffice_read_transition(r, &t), LG_TRANSITION_FAILED);
    free_reply(r);
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "ERR boom", .len = 8};
    assert_int_equal(lg_backoffice_read_transition(&err, &t), LG_TRANSITION_FAILED);
}

static void reply_shapes(void **state)
{
    (void)state;
    json_t *m = lg_backoffice_msg_updated("o-1", "paid", "q-1");
    char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"order_id\":\"o-1\",\"req\":\"q-1\",\"status\":\"paid\",\"type\":"
                              "\"order.updated\"}");
    free(text);
    json_decref(m);
    m = lg_backoffice_msg_updated("o-1", "paid", NULL);
    assert_null(json_object_get(m, "req"));
    json_decref(m);

    m = lg_backoffice_msg_error("INVALID_FIELD", "bad", "status", "o-1", "q-2");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(m, "code")), "INVALID_FIELD");
    assert_string_equal(json_string_value(json_object_get(m, "field")), "status");
    assert_string_equal(json_string_value(json_object_get(m, "ref")), "o-1");
    assert_string_equal(json_string_value(json_object_get(m, "req")), "q-2");
    json_decref(m);
    /* A ref is only ever a valid ID; no field when none is at fault. */
    m = lg_backoffice_msg_error("NOT_FOUND", "no such order", NULL, "o 1<script>", NULL);
    assert_null(json_object_get(m, "ref"));
    assert_null(json_object_get(m, "field"));
    assert_null(json_object_get(m, "req"));
    json_decref(m);
}

static redisReply *entry(const char *id, const char *at, const char *actor, const char *order)
{
    return arr(2, str(id),
               arr(12, str("at_ms"), str(at), str("actor"), str(actor), str("role"),
                   str("operator"), str("order_id"), str(order), str("from"), str("paid"),
                   str("to"), str("shipped")));
}

static void audit_entries(void **state)
{
    (void)state;
    redisReply *r =
        arr(2, entry("2-0", "2000", "op-2", "o-2"), entry("1-0", "1000", "op-1", "o-1"));
    json_t *e = lg_backoffice_audit_entries(r);
    assert_non_null(e);
    assert_int_equal(json_array_size(e), 2);
    char *text = json_dumps(json_array_get(e, 0), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"actor\":\"op-2\",\"at_ms\":2000,\"from\":\"paid\","
                              "\"order_id\":\"o-2\",\"role\":\"operator\",\"to\":\"shipped\"}");
    free(text);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 1), "order_id")),
                        "o-1");
    json_decref(e);
    free_reply(r);

    r = arr(0);
    e = lg_backoffice_audit_entries(r);
    assert_int_equal(json_array_size(e), 0);
    json_decref(e);
    free_reply(r);

    assert_null(lg_backoffice_audit_entries(NULL));
    r = arr(1, str("not an entry"));
    assert_null(lg_backoffice_audit_entries(r));
    free_reply(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(update_fields),      cmocka_unit_test(who_may_act),
        cmocka_unit_test(audit_query),        cmocka_unit_test(audit_route_and_key),
        cmocka_unit_test(transition_replies), cmocka_unit_test(reply_shapes),
        cmocka_unit_test(audit_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
