/* event_peek.c - one top-level string of a bus event without parsing it
 * (see event_peek.h). The scan knows strings, escapes and nesting, and
 * nothing else of JSON: it answers only when the answer cannot differ from
 * a parser's, and gives up (-1) on anything it does not follow. */
#include <stdbool.h>
#include <string.h>

#include "rules/event_peek.h"

struct span {
    size_t at, len;
    bool escaped;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
    while (i < len && is_space(s[i]))
        i++;
    return i;
}

/* s[i] is a string's opening quote: its contents, and the index after its
 * closing quote; 0 when the string does not end. */
static size_t read_string(const char *s, size_t len, size_t i, struct span *out)
{
    out->at = ++i;
    out->escaped = false;
    while (i < len && s[i] != '"') {
        if (s[i] == '\\') {
            out->escaped = true;
            i++;
        }
        i++;
    }
    if (i >= len)
        return 0;
    out->len = i - out->at;
    return i + 1;
}

static bool span_is(const char *s, const struct span *sp, const char *text)
{
    return !sp->escaped && sp->len == strlen(text) && memcmp(s + sp->at, text, sp->len) == 0;
}

int lg_event_peek(const char *json, size_t len, const char *key, char *out, size_t outsz)
{
    if (outsz == 0)
        return -1;
    out[0] = 0;
    size_t i = skip_space(json, len, 0);
    if (i >= len || json[i] != '{')
        return -1;
    unsigned depth = 0;
    bool found = false;
    struct span value = {0, 0, false};
    while (i < len) {
        char c = json[i];
        if (c == '{' || c == '[') {
            depth++;
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            i++;
            if (--depth == 0)
                break;
            continue;
        }
        if (c != '"') {
            i++;
            continue;
        }
        struct span str;
        size_t next = read_string(json, len, i, &str);
        if (next == 0)
            return -1;
        size_t colon = skip_space(json, len, next);
        bool is_key = depth == 1 && colon < len && json[colon] == ':';
        i = next;
        if (!is_key)
            continue;
        /* An escaped key could spell the one asked for. */
        if (str.escaped)
            return -1;
        if (!span_is(json, &str, key))
            continue;
        size_t v = skip_space(json, len, colon + 1);
        if (found || v >= len || json[v] != '"')
            return -1;
        i = read_string(json, len, v, &value);
        if (i == 0 || value.escaped || value.len >= outsz)
            return -1;
        found = true;
    }
    if (depth != 0 || !found)
        return -1;
    memcpy(out, json + value.at, value.len);
    out[value.len] = 0;
    return 0;
}
