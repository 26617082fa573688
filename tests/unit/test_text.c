/* Unit tests of the text rules (UTF-8, character counts, control
 * characters, the ID alphabet) and of the settings parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/config.h"
#include "livegate/text.h"

#define CHARS(s) lg_text_utf8_chars(s, sizeof(s) - 1)

static void utf8_counts_code_points(void **state)
{
    (void)state;
    assert_int_equal(CHARS(""), 0);
    assert_int_equal(CHARS("abc"), 3);
    assert_int_equal(CHARS("张三"), 2);
    assert_int_equal(CHARS("\xF0\x9F\x98\x80"), 1);
    assert_int_equal(CHARS("\xC2\x80"), 1);
    assert_int_equal(CHARS("\xF4\x8F\xBF\xBF"), 1); /* U+10FFFF */
}

static void utf8_rejects_malformed(void **state)
{
    (void)state;
    assert_int_equal(CHARS("\x80"), -1);             /* stray continuation */
    assert_int_equal(CHARS("\xC3\x28"), -1);         /* bad continuation */
    assert_int_equal(CHARS("\xC0\xAF"), -1);         /* overlong '/' */
    assert_int_equal(CHARS("\xE0\x80\xAF"), -1);     /* overlong 3-byte */
    assert_int_equal(CHARS("\xF0\x80\x80\xAF"), -1); /* overlong 4-byte */
    assert_int_equal(CHARS("\xED\xA0\x80"), -1);     /* surrogate U+D800 */
    assert_int_equal(CHARS("\xF4\x90\x80\x80"), -1); /* above U+10FFFF */
    assert_int_equal(CHARS("\xF5\x80\x80\x80"), -1);
    assert_int_equal(CHARS("\xE6\x9D"), -1); /* truncated */
    assert_int_equal(CHARS("\xFF"), -1);
}

static void control_characters(void **state)
{
    (void)state;
    assert_true(lg_text_has_control("a\x01", 2));
    assert_true(lg_text_has_control("\x1f", 1));
    assert_true(lg_text_has_control("\x7f", 1));
    assert_true(lg_text_has_control("a\0b", 3));
    assert_true(lg_text_has_control("\xC2\x80", 2));  /* U+0080 */
    assert_true(lg_text_has_control("\xC2\x9F", 2));  /* U+009F */
    assert_false(lg_text_has_control("\xC2\xA0", 2)); /* U+00A0 */
    assert_false(lg_text_has_control(" ~", 2));
    assert_false(lg_text_has_control("张三", strlen("张三")));
}

static void id_alphabet_and_length(void **state)
{
    (void)state;
    char id[70];
    memset(id, 'a', sizeof(id));
    assert_false(lg_text_is_id(id, 0));
    assert_true(lg_text_is_id(id, 1));
    assert_true(lg_text_is_id(id, 64));
    assert_false(lg_text_is_id(id, 65));
    assert_true(lg_text_is_id("Az09_.:-", 8));
    const char *bad[] = {"a b", "a/b", "a{b", "a}b", "a*", "a|b", "é", "a\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(lg_text_is_id(bad[i], strlen(bad[i])));
}

static void redis_urls(void **state)
{
    (void)state;
    struct lg_redis_url u;
    char err[128];
    assert_int_equal(lg_redis_url_parse("redis://127.0.0.1:6379/0", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(lg_redis_url_parse("redis://cache.local", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "cache.local");
    assert_int_equal(u.port, 6379);
    assert_int_equal(lg_redis_url_parse("redis://:pw@h:7000/3", &u, err, sizeof(err)), 0);
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.username, "");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 3);
    assert_int_equal(lg_redis_url_parse("redis://alice:pw@h/15", &u, err, sizeof(err)), 0);
    assert_string_equal(u.username, "alice");
    assert_int_equal(u.db, 15);
    assert_int_equal(lg_redis_url_parse("redis://[::1]:6380", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6380);
    const char *bad[] = {"http://h",        "redis://",    "redis://h:0",
                         "redis://h:65536", "redis://h:x", "redis://h/16",
                         "redis://h/-1",    "redis://::1", "redis://h/abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(lg_redis_url_parse(bad[i], &u, err, sizeof(err)), -1);
        assert_true(err[0] != 0);
    }
}

static void listen_addresses(void **state)
{
    (void)state;
    char host[64], err[128];
    int port;
    assert_int_equal(lg_listen_parse("127.0.0.1:8080", host, sizeof(host), &port, err, sizeof(err)),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(lg_listen_parse(":9000", host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(lg_listen_parse("[::1]:65535", host, sizeof(host), &port, err, sizeof(err)),
                     0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    const char *bad[] = {"127.0.0.1", "h:65536", "h:", "h:-1", "::1:80", "[::1]80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lg_listen_parse(bad[i], host, sizeof(host), &port, err, sizeof(err)), -1);
}

/* lg_text_json_quote writes what jansson writes for the same string: every
 * ASCII byte alone (the escaped ones and their unescaped neighbours: 0x1F,
 * 0x20, '"', '\\', 0x7F), UTF-8 text, and a string at its bound of
 * LG_TEXT_JSON_QUOTED_MAX when every byte needs \\u00XX. The output also
 * parses back to the input. */
static void json_quote_matches_jansson(void **state)
{
    (void)state;
    char in[64], out[LG_TEXT_JSON_QUOTED_MAX(63) + 1];
    const char *samples[] = {"", "张三", "文三路 1 号 \"A\" \\ b/c", "a\x01\x1f\x7f\xc2\x80z"};
    for (int c = 1; c < 0x80 + 4; c++) {
        const char *src = in;
        if (c < 0x80) {
            in[0] = (char)c;
            in[1] = 0;
        } else {
            src = samples[c - 0x80];
        }
        size_t n = lg_text_json_quote(out, src);
        assert_true(n <= LG_TEXT_JSON_QUOTED_MAX(strlen(src)));
        out[n] = 0;
        json_t *j = json_string(src);
        char *want = json_dumps(j, JSON_ENCODE_ANY);
        assert_string_equal(out, want);
        json_t *back = json_loads(out, JSON_DECODE_ANY, NULL);
        assert_non_null(back);
        assert_string_equal(json_string_value(back), src);
        json_decref(back);
        free(want);
        json_decref(j);
    }
    /* The worst case fills the bound exactly. */
    memset(in, 0x01, 63);
    in[63] = 0;
    memset(out, 'Z', sizeof(out));
    size_t n = lg_text_json_quote(out, in);
    assert_int_equal(n, LG_TEXT_JSON_QUOTED_MAX(63));
    assert_int_equal(out[n], 'Z');
}

/* lg_text_i64 writes what "%lld" writes, the extremes included, and never
 * more than LG_TEXT_I64_MAX bytes. */
static void i64_matches_printf(void **state)
{
    (void)state;
    const long long values[] = {0,
                                1,
                                -1,
                                9,
                                10,
                                -10,
                                99,
                                100,
                                9900,
                                1796389973464LL,
                                LLONG_MAX,
                                LLONG_MIN,
                                LLONG_MIN + 1,
                                -9223372036854775807LL};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char want[64], got[LG_TEXT_I64_MAX + 1];
        int wlen = snprintf(want, sizeof(want), "%lld", values[i]);
        memset(got, 'Z', sizeof(got));
        size_t n = lg_text_i64(got, values[i]);
        assert_int_equal(n, (size_t)wlen);
        assert_string_equal(got, want);
        assert_int_equal(got[LG_TEXT_I64_MAX], 'Z'); /* nothing past the bound */
    }
    char got[LG_TEXT_I64_MAX];
    assert_int_equal(lg_text_i64(got, LLONG_MIN), LG_TEXT_I64_MAX - 1);
}

/* A copy fits up to n - 1 bytes; one more is cut there, as "%s" cuts it. */
static void copy_cuts_at_its_bound(void **state)
{
    (void)state;
    char dst[8];
    memset(dst, 'Z', sizeof(dst));
    assert_true(lg_text_copy(dst, sizeof(dst), "1234567")); /* 7 bytes: fits */
    assert_string_equal(dst, "1234567");
    assert_false(lg_text_copy(dst, sizeof(dst), "12345678")); /* 8: cut */
    assert_string_equal(dst, "1234567");
    assert_true(lg_text_copy(dst, sizeof(dst), ""));
    assert_string_equal(dst, "");
    assert_false(lg_text_copy(dst, 1, "a"));
    assert_string_equal(dst, "");
}

/* A join fits up to n - 1 bytes; one more fails with -1 and leaves "". */
static void join_fits_or_fails_whole(void **state)
{
    (void)state;
    char buf[8];
    const char *const parts[] = {"ab", "", "cd", "efg"};
    assert_int_equal(lg_text_join(buf, sizeof(buf), parts, 4), 7);
    assert_string_equal(buf, "abcdefg");
    assert_int_equal(lg_text_join(buf, 7, parts, 4), -1);
    assert_string_equal(buf, "");
    assert_int_equal(lg_text_join(buf, sizeof(buf), parts, 0), 0);
    assert_string_equal(buf, "");
    const char *const long_first[] = {"123456789"};
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(lg_text_join(buf, sizeof(buf), long_first, 1), -1);
    assert_string_equal(buf, "");
    assert_int_equal(lg_text_join(buf, 0, parts, 4), -1);
    assert_int_equal(lg_text_join(buf, 0, parts, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_counts_code_points), cmocka_unit_test(utf8_rejects_malformed),
        cmocka_unit_test(control_characters),      cmocka_unit_test(json_quote_matches_jansson),
        cmocka_unit_test(id_alphabet_and_length),  cmocka_unit_test(redis_urls),
        cmocka_unit_test(listen_addresses),        cmocka_unit_test(i64_matches_printf),
        cmocka_unit_test(copy_cuts_at_its_bound),  cmocka_unit_test(join_fits_or_fails_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
