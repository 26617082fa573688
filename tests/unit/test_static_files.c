/* Unit tests of the page-file mapping: which URL answers with which file
 * and type, and that nothing outside the web root can be named. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rules/static_files.h"

static enum lg_static_result map(const char *root, const char *url, struct lg_static_file *out)
{
    return lg_static_map(root, url, strlen(url), out);
}

static void pages_and_assets(void **state)
{
    (void)state;
    struct lg_static_file f;
    assert_int_equal(map("/srv/web", "/", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/srv/web/index.html");
    assert_string_equal(f.content_type, "text/html; charset=utf-8");
    assert_int_equal(map("/srv/web", "/dashboard", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/srv/web/dashboard.html");
    assert_int_equal(map("/srv/web/", "/static/live.js", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/srv/web/static/live.js");
    assert_string_equal(f.content_type, "text/javascript; charset=utf-8");
    assert_int_equal(map("/srv/web//", "/static/css/style.min.css", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/srv/web/static/css/style.min.css");
    assert_string_equal(f.content_type, "text/css; charset=utf-8");
    assert_int_equal(map("web", "/static/logo.svg", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "web/static/logo.svg");
    assert_string_equal(f.content_type, "image/svg+xml");
}

static void vendor_files_come_from_node_modules(void **state)
{
    (void)state;
    struct lg_static_file f;
    assert_int_equal(map("/w", "/static/vendor/uPlot.iife.min.js", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/w/node_modules/uplot/dist/uPlot.iife.min.js");
    assert_string_equal(f.content_type, "text/javascript; charset=utf-8");
    assert_int_equal(map("/w", "/static/vendor/uPlot.min.css", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/w/node_modules/uplot/dist/uPlot.min.css");
    assert_string_equal(f.content_type, "text/css; charset=utf-8");
    assert_int_equal(map("/w", "/static/vendor/livegate-client.js", &f), LG_STATIC_FILE);
    assert_string_equal(f.path, "/w/node_modules/@livegate/client/index.js");
    assert_string_equal(f.content_type, "text/javascript; charset=utf-8");
    /* only the files the pages load, nothing else of the package trees */
    assert_int_equal(map("/w", "/static/vendor/livegate-client.d.ts", &f), LG_STATIC_NOT_FOUND);
    assert_int_equal(map("/w", "/static/vendor/livegate-client.jsx", &f), LG_STATIC_NOT_FOUND);
    assert_int_equal(map("/w", "/static/vendor/livegate-client", &f), LG_STATIC_NOT_FOUND);
    assert_int_equal(map("/w", "/static/vendor/index.js", &f), LG_STATIC_NOT_FOUND);
    assert_int_equal(map("/w", "/static/vendor/uPlot.esm.js", &f), LG_STATIC_NOT_FOUND);
    assert_int_equal(map("/w", "/static/vendor/../package.json", &f), LG_STATIC_NOT_FOUND);
    assert_int_equal(map("/w", "/static/vendor/", &f), LG_STATIC_NOT_FOUND);
}

static void other_paths_go_to_the_api(void **state)
{
    (void)state;
    struct lg_static_file f;
    assert_int_equal(map("/w", "/healthz", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "/v1/rooms/r1/skus", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "/dashboard/", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "/dashboardx", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "/index.html", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "/static", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "", &f), LG_STATIC_NONE);
    assert_int_equal(map("/w", "/../etc/passwd", &f), LG_STATIC_NONE);
}

static void traversal_and_odd_names_are_refused(void **state)
{
    (void)state;
    struct lg_static_file f;
    const char *bad[] = {
        "/static/",
        "/static/../../etc/passwd",
        "/static/..",
        "/static/a/../../x.js",
        "/static/./live.js",
        "/static/.hidden.js",
        "/static/a//b.js",
        "/static/a/",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e%2fetc.js",
        "/static/..%2f..%2fetc.js",
        "/static/a\\..\\b.js",
        "/static/live.js?x=1",
        "/static/live js.js",
        "/static/\xe4\xb8\xad.js",
        "/static/live",                 /* no type */
        "/static/secret.txt",           /* not a type the pages use */
        "/static/a/b/c/d/e/f/g/h/i.js", /* deeper than 8 segments */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f.path[0] = 'x';
        if (map("/w", bad[i], &f) != LG_STATIC_NOT_FOUND)
            fail_msg("%s was not refused", bad[i]);
        assert_string_equal(f.path, "");
    }
    /* eight segments are still fine */
    assert_int_equal(map("/w", "/static/a/b/c/d/e/f/g/h.js", &f), LG_STATIC_FILE);
    /* a segment of 64 characters is fine, 65 is not */
    char url[128];
    snprintf(url, sizeof(url), "/static/%.61s.js",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(map("/w", url, &f), LG_STATIC_FILE);
    snprintf(url, sizeof(url), "/static/%.62s.js",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(map("/w", url, &f), LG_STATIC_NOT_FOUND);
}

static void embedded_nul_is_refused(void **state)
{
    (void)state;
    struct lg_static_file f;
    const char url[] = "/static/live.js\0.png";
    assert_int_equal(lg_static_map("/w", url, sizeof(url) - 1, &f), LG_STATIC_NOT_FOUND);
    const char page[] = "/\0";
    assert_int_equal(lg_static_map("/w", page, sizeof(page) - 1, &f), LG_STATIC_NONE);
    const char dash[] = "/dashboard\0/x";
    assert_int_equal(lg_static_map("/w", dash, sizeof(dash) - 1, &f), LG_STATIC_NONE);
}

static void roots_that_cannot_hold_the_path(void **state)
{
    (void)state;
    struct lg_static_file f;
    assert_int_equal(map("", "/", &f), LG_STATIC_NOT_FOUND);
    char root[LG_STATIC_ROOT_MAX + 2];
    memset(root, 'r', sizeof(root) - 1);
    root[sizeof(root) - 1] = 0;
    assert_int_equal(map(root, "/", &f), LG_STATIC_NOT_FOUND);
    root[LG_STATIC_ROOT_MAX] = 0; /* exactly the maximum */
    assert_int_equal(map(root, "/static/a/b/c/d/e/f/g/h.js", &f), LG_STATIC_FILE);
    assert_int_equal(strlen(f.path), LG_STATIC_ROOT_MAX + strlen("/static/a/b/c/d/e/f/g/h.js"));
}

static void content_types(void **state)
{
    (void)state;
    assert_string_equal(lg_static_content_type("a.png"), "image/png");
    assert_string_equal(lg_static_content_type("a.ico"), "image/x-icon");
    assert_string_equal(lg_static_content_type("a.json"), "application/json");
    assert_string_equal(lg_static_content_type("a.woff2"), "font/woff2");
    assert_null(lg_static_content_type("a.exe"));
    assert_null(lg_static_content_type("Makefile"));
    assert_null(lg_static_content_type("a.html.bak"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_and_assets),
        cmocka_unit_test(vendor_files_come_from_node_modules),
        cmocka_unit_test(other_paths_go_to_the_api),
        cmocka_unit_test(traversal_and_odd_names_are_refused),
        cmocka_unit_test(embedded_nul_is_refused),
        cmocka_unit_test(roots_that_cannot_hold_the_path),
        cmocka_unit_test(content_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
