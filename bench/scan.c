/* scan.c - a validating, non-allocating scan of one JSON object: the whole
 * text is checked (RFC 8259, with jansson's extra rules: no \u0000, integers
 * that fit 64 bits, finite reals), and the top-level members are recorded as
 * spans of the text. Nested values are checked and skipped. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/text.h"
#include "scan.h"

struct cursor {
    const unsigned char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char h = p[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* One escape after the backslash at c->p; moves past it. */
static int scan_escape(struct cursor *c)
{
    c->p++;
    if (c->p >= c->end)
        return -1;
    switch (*c->p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        c->p++;
        return 0;
    case 'u':
        break;
    default:
        return -1;
    }
    unsigned u, lo;
    if (hex4(c->p + 1, c->end, &u))
        return -1;
    c->p += 5;
    if (u == 0 || (u >= 0xdc00 && u <= 0xdfff))
        return -1; /* NUL, or a low surrogate alone */
    if (u >= 0xd800 && u <= 0xdbff) {
        if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, c->end, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
            return -1;
        c->p += 6;
    }
    return 0;
}

/* A string at c->p (its opening quote); moves past the closing quote. */
static int scan_string(struct cursor *c, bool *escaped)
{
    *escaped = false;
    c->p++;
    while (c->p < c->end) {
        unsigned char b = *c->p;
        if (b == '"') {
            c->p++;
            return 0;
        }
        if (b == '\\') {
            *escaped = true;
            if (scan_escape(c))
                return -1;
        } else if (b < 0x20) {
            return -1;
        } else if (b < 0x80) {
            c->p++;
        } else {
            size_t n = lg_text_utf8_seq(c->p, (size_t)(c->end - c->p));
            if (!n)
                return -1;
            c->p += n;
        }
    }
    return -1;
}

static int digits(struct cursor *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start ? 0 : -1;
}

/* A number: the grammar, then jansson's range rules. */
static int scan_number(struct cursor *c)
{
    const unsigned char *start = c->p;
    bool real = false;
    if (*c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (digits(c))
        return -1;
    if (c->p < c->end && *c->p == '.') {
        real = true;
        c->p++;
        if (digits(c))
            return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        real = true;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (digits(c))
            return -1;
    }
    size_t n = (size_t)(c->p - start);
    if (!real && n <= 18)
        return 0; /* always fits 64 bits */
    char small[64], *buf = n < sizeof(small) ? small : malloc(n + 1);
    if (!buf)
        return -1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    errno = 0;
    int rc = 0;
    if (real) {
        double d = strtod(buf, NULL);
        rc = (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)) ? -1 : 0;
    } else {
        strtoll(buf, NULL, 10);
        rc = errno == ERANGE ? -1 : 0;
    }
    if (buf != small)
        free(buf);
    return rc;
}

static int scan_literal(struct cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

static int scan_value(struct cursor *c, int depth, enum lg_scan_kind *kind, bool *escaped);

/* An array or object at c->p; `close` is ']' or '}'. */
static int scan_container(struct cursor *c, int depth, unsigned char close)
{
    enum lg_scan_kind kind;
    bool escaped;
    if (depth >= LG_SCAN_MAX_DEPTH)
        return -1;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (c->p >= c->end || *c->p != '"' || scan_string(c, &escaped))
                return -1;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':')
                return -1;
            c->p++;
            skip_ws(c);
        }
        if (scan_value(c, depth + 1, &kind, &escaped))
            return -1;
        skip_ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',')
            return -1;
        c->p++;
        skip_ws(c);
    }
}

static int scan_value(struct cursor *c, int depth, enum lg_scan_kind *kind, bool *escaped)
{
    *escaped = false;
    if (c->p >= c->end)
        return -1;
    switch (*c->p) {
    case '"':
        *kind = LG_SCAN_STRING;
        return scan_string(c, escaped);
    case '{':
        *kind = LG_SCAN_OBJECT;
        return scan_container(c, depth, '}');
    case '[':
        *kind = LG_SCAN_ARRAY;
        return scan_container(c, depth, ']');
    case 't':
        *kind = LG_SCAN_TRUE;
        return scan_literal(c, "true");
    case 'f':
        *kind = LG_SCAN_FALSE;
        return scan_literal(c, "false");
    case 'n':
        *kind = LG_SCAN_NULL;
        return scan_literal(c, "null");
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
            *kind = LG_SCAN_NUMBER;
            return scan_number(c);
        }
        return -1;
    }
}

/* One "key": value of the top-level object, recorded. */
static int scan_member(struct cursor *c, struct lg_scan *out)
{
    if (out->n == LG_SCAN_MAX_MEMBERS || c->p >= c->end || *c->p != '"')
        return -1;
    struct lg_scan_member *m = &out->m[out->n];
    const unsigned char *key = c->p + 1;
    if (scan_string(c, &m->key_escaped))
        return -1;
    m->key = (const char *)key;
    m->key_len = (size_t)(c->p - 1 - key);
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return -1;
    c->p++;
    skip_ws(c);
    const unsigned char *val = c->p;
    if (scan_value(c, 1, &m->kind, &m->val_escaped))
        return -1;
    m->val = (const char *)val;
    m->val_len = (size_t)(c->p - val);
    if (m->kind == LG_SCAN_STRING) {
        m->val++;
        m->val_len -= 2;
    }
    out->n++;
    return 0;
}

int lg_scan_object(const char *text, size_t len, struct lg_scan *out)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};
    out->n = 0;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return -1;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            if (scan_member(&c, out))
                return -1;
            skip_ws(&c);
            if (c.p >= c.end)
                return -1;
            if (*c.p == '}') {
                c.p++;
                break;
            }
            if (*c.p != ',')
                return -1;
            c.p++;
            skip_ws(&c);
        }
    }
    skip_ws(&c);
    return c.p == c.end ? 0 : -1;
}

/* Appends code point cp as UTF-8 if it fits. */
static size_t put_utf8(char *buf, size_t at, size_t cap, unsigned cp)
{
    unsigned char tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (unsigned char)(0xc0 | (cp >> 6));
        tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (unsigned char)(0xe0 | (cp >> 12));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        tmp[0] = (unsigned char)(0xf0 | (cp >> 18));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    for (size_t i = 0; i < n && at < cap; i++)
        buf[at++] = (char)tmp[i];
    return at;
}

/* Decodes a string span the scan found valid; cut at bufsz - 1 bytes. */
static void decode(const char *s, size_t len, bool escaped, char *buf, size_t bufsz)
{
    size_t cap = bufsz - 1, at = 0;
    if (!escaped) {
        at = len < cap ? len : cap;
        memcpy(buf, s, at);
        buf[at] = '\0';
        return;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end && at < cap) {
        if (*p != '\\') {
            buf[at++] = (char)*p++;
            continue;
        }
        p++;
        unsigned cp = *p;
        switch (*p) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u': {
            unsigned lo = 0;
            hex4(p + 1, end, &cp);
            p += 4;
            /* a high surrogate takes the low one after it, when there is one */
            if (cp >= 0xd800 && cp <= 0xdbff && hex4(p + 3, end, &lo) == 0 && lo >= 0xdc00 &&
                lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            break;
        }
        default:
            break; /* '"', '\\', '/' stand for themselves */
        }
        p++;
        at = put_utf8(buf, at, cap, cp);
    }
    buf[at] = '\0';
}

const struct lg_scan_member *lg_scan_get(const struct lg_scan *s, const char *key)
{
    size_t klen = strlen(key);
    for (int i = s->n - 1; i >= 0; i--) {
        const struct lg_scan_member *m = &s->m[i];
        if (!m->key_escaped) {
            if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
                return m;
            continue;
        }
        char buf[256];
        if (klen < sizeof(buf) - 1) {
            decode(m->key, m->key_len, true, buf, sizeof(buf));
            if (strcmp(buf, key) == 0)
                return m;
        }
    }
    return NULL;
}

const char *lg_scan_str(const struct lg_scan *s, const char *key, char *buf, size_t bufsz)
{
    const struct lg_scan_member *m = lg_scan_get(s, key);
    if (!m || m->kind != LG_SCAN_STRING || bufsz == 0)
        return NULL;
    decode(m->val, m->val_len, m->val_escaped, buf, bufsz);
    return buf;
}

bool lg_scan_is_true(const struct lg_scan *s, const char *key)
{
    const struct lg_scan_member *m = lg_scan_get(s, key);
    return m && m->kind == LG_SCAN_TRUE;
}
