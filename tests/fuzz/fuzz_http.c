/* fuzz_http.c - libFuzzer target for the pure parts of an HTTP request's
 * way through the gateway. libwebsockets parses the request itself (there
 * is no parser of ours in conn/http.c to fuzz); what the gateway does with
 * the pieces lws hands over is here: the page mapping (rules/static_files.c)
 * that must keep every request inside the web root, the API routing
 * (features/api.c's lg_api_route), the audit query's rules and the JSON body
 * rules of PUT /v1/rooms, /skus and /coupons (rules/catalog_rules.c).
 *
 * The input is written like a request: "METHOD /path?query" on the first
 * line, then anything, then an empty line and the body. The query is split
 * at '&' and '=' as lws does, without its percent-decoding. */
#include <string.h>

#include "features/api.h"
#include "fuzz.h"
#include "livegate/text.h"
#include "rules/backoffice_rules.h"
#include "rules/catalog_rules.h"
#include "rules/order_rules.h"
#include "rules/static_files.h"

#define ROOT "/srv/livegate/web"

/* The argument called name in query[0..len), NUL-terminated in out (at
 * most LG_HTTP_ARG_VALUE_MAX bytes, as http.c keeps); NULL when absent. */
static const char *query_arg(const char *query, size_t len, const char *name, char *out)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *arg = query + i;
        size_t arg_len = end - i;
        if (arg_len >= name_len && memcmp(arg, name, name_len) == 0 &&
            (arg_len == name_len || arg[name_len] == '=')) {
            size_t v = arg_len > name_len ? arg_len - name_len - 1 : 0;
            if (v > LG_HTTP_ARG_VALUE_MAX || memchr(arg, 0, arg_len))
                return NULL;
            memcpy(out, arg + arg_len - v, v);
            out[v] = 0;
            return out;
        }
        i = end + 1;
    }
    return NULL;
}

/* A mapped file stays under the root: plain segments only. */
static void check_page(const char *url, size_t len, const struct lg_static_file *f)
{
    FUZZ_CHECK(f->content_type != NULL);
    FUZZ_CHECK(f->content_type == lg_static_content_type(f->path));
    FUZZ_CHECK(strncmp(f->path, ROOT "/", strlen(ROOT) + 1) == 0);
    const char *rel = f->path + strlen(ROOT) + 1;
    FUZZ_CHECK(rel[0] != 0 && rel[0] != '/' && rel[0] != '.');
    FUZZ_CHECK(!strstr(rel, "/.") && !strstr(rel, "//") && !strchr(rel, '\\') && !strchr(rel, '%'));
    /* Only the pages and /static/ map to files, and from /static/ only what
     * the pages load from node_modules. */
    bool page = (len == 1 && url[0] == '/') || (len == 10 && memcmp(url, "/dashboard", 10) == 0);
    FUZZ_CHECK(page || (len > 8 && memcmp(url, "/static/", 8) == 0));
    if (strncmp(rel, "node_modules/", 13) == 0)
        FUZZ_CHECK(len > 15 && memcmp(url, "/static/vendor/", 15) == 0);
}

static void pages(const char *url, size_t len)
{
    struct lg_static_file f, g;
    enum lg_static_result r = lg_static_map(ROOT, url, len, &f);
    if (r == LG_STATIC_FILE)
        check_page(url, len, &f);
    else
        FUZZ_CHECK(f.path[0] == 0 && f.content_type == NULL);
    /* A root written with a trailing slash maps the same. */
    FUZZ_CHECK(lg_static_map(ROOT "//", url, len, &g) == r);
    FUZZ_CHECK(strcmp(f.path, g.path) == 0);
}

static enum lg_http_method method_of(const char *line, size_t len)
{
    static const struct {
        const char *name;
        enum lg_http_method method;
    } methods[] = {{"GET ", LG_HTTP_GET},
                   {"PUT ", LG_HTTP_PUT},
                   {"POST ", LG_HTTP_POST},
                   {"DELETE ", LG_HTTP_DELETE}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (len >= strlen(methods[i].name) &&
            memcmp(line, methods[i].name, strlen(methods[i].name)) == 0)
            return methods[i].method;
    return LG_HTTP_OTHER;
}

static void route(enum lg_http_method method, const char *path)
{
    struct lg_route rt;
    lg_api_route(method, path, &rt);
    FUZZ_CHECK(rt.id >= LG_ROUTE_NOT_FOUND && rt.id <= LG_ROUTE_AUDIT_GET);
    if (rt.id == LG_ROUTE_BAD_ID)
        FUZZ_CHECK(rt.bad_field != NULL);
    bool has_room = rt.id == LG_ROUTE_ROOM_PUT || rt.id == LG_ROUTE_SKU_PUT ||
                    rt.id == LG_ROUTE_SKUS_GET || rt.id == LG_ROUTE_COUPON_PUT;
    bool has_item =
        rt.id == LG_ROUTE_SKU_PUT || rt.id == LG_ROUTE_COUPON_PUT || rt.id == LG_ROUTE_ORDER_GET;
    if (has_room)
        FUZZ_CHECK(lg_text_is_id(rt.room, strlen(rt.room)));
    if (has_item)
        FUZZ_CHECK(lg_text_is_id(rt.item, strlen(rt.item)));
}

static void audit_query(const char *query, size_t len)
{
    char room_buf[LG_HTTP_ARG_VALUE_MAX + 1], limit_buf[LG_HTTP_ARG_VALUE_MAX + 1];
    const char *room = query_arg(query, len, "room", room_buf);
    const char *limit = query_arg(query, len, "limit", limit_buf);
    struct lg_audit_query q;
    struct lg_field_error err;
    if (lg_backoffice_parse_audit_query(room, limit, &q, &err) != 0) {
        FUZZ_CHECK(strcmp(err.field, "room") == 0 || strcmp(err.field, "limit") == 0);
        return;
    }
    FUZZ_CHECK(room && strcmp(q.room, room) == 0 && lg_text_is_id(q.room, strlen(q.room)));
    FUZZ_CHECK(q.limit >= 1 && q.limit <= LG_AUDIT_MAX_LIMIT);
    if (!limit)
        FUZZ_CHECK(q.limit == LG_AUDIT_DEFAULT_LIMIT);
}

static void bodies(const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return;
    struct lg_field_error err;
    struct lg_room_conf room;
    if (lg_catalog_parse_room(j, &room, &err) == 0) {
        FUZZ_CHECK(room.payment_methods != 0 &&
                   (room.payment_methods & ~(unsigned)LG_PAY_ALL) == 0);
        FUZZ_CHECK(room.high_value_threshold >= 0 && room.high_value_threshold <= LG_MONEY_MAX);
        FUZZ_CHECK(lg_text_utf8_chars(room.title, strlen(room.title)) <= 100);
    } else {
        FUZZ_CHECK(err.field[0] != 0);
    }
    struct lg_sku_conf sku;
    if (lg_catalog_parse_sku(j, &sku, &err) == 0) {
        FUZZ_CHECK(sku.price >= 1 && sku.price <= LG_MONEY_MAX && sku.stock >= 0);
        FUZZ_CHECK(sku.limit_per_user >= 0);
        long chars = lg_text_utf8_chars(sku.name, strlen(sku.name));
        FUZZ_CHECK(chars >= 1 && chars <= 100 && !lg_text_has_control(sku.name, strlen(sku.name)));
    }
    struct lg_coupon_conf coupon;
    if (lg_catalog_parse_coupon(j, &coupon, &err) == 0)
        FUZZ_CHECK(coupon.discount >= 1 && coupon.min_amount >= 0 && coupon.total >= 0);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *eol = memchr(in, '\n', size);
    size_t line_len = eol ? (size_t)(eol - in) : size;
    if (line_len && in[line_len - 1] == '\r')
        line_len--;
    enum lg_http_method method = method_of(in, line_len);
    const char *sp = memchr(in, ' ', line_len);
    const char *target = sp ? sp + 1 : in;
    size_t target_len = line_len - (size_t)(target - in);
    const char *q = memchr(target, '?', target_len);
    size_t path_len = q ? (size_t)(q - target) : target_len;

    pages(target, path_len);

    /* http.c keeps the path as a C string of at most 255 bytes. */
    char path[256];
    size_t n = strnlen(target, path_len < sizeof(path) - 1 ? path_len : sizeof(path) - 1);
    memcpy(path, target, n);
    path[n] = 0;
    route(method, path);

    if (q)
        audit_query(q + 1, target_len - path_len - 1);

    if (size > LG_HTTP_MAX_BODY + 4096)
        return 0;
    const char *blank = eol ? memmem(eol, size - (size_t)(eol - in), "\n\r\n", 3) : NULL;
    size_t skip = 3;
    if (!blank && eol) {
        blank = memmem(eol, size - (size_t)(eol - in), "\n\n", 2);
        skip = 2;
    }
    if (blank) {
        const char *body = blank + skip;
        size_t body_len = size - (size_t)(body - in);
        if (body_len <= LG_HTTP_MAX_BODY)
            bodies(body, body_len);
    }
    return 0;
}
