/* text.c - UTF-8 and identifier rules (see text.h). Written out by hand
 * rather than trusting the JSON parser: the rules are part of the contract
 * and must hold for every string, whatever produced it. */
#include <string.h>

#include "livegate/text.h"

size_t lg_text_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned int cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, overlong lead (C0, C1) or beyond F4 */
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

long lg_text_utf8_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long chars = 0;
    size_t i = 0;
    while (i < len) {
        size_t n = lg_text_utf8_seq(p + i, len - i);
        if (n == 0)
            return -1;
        i += n;
        chars++;
    }
    return chars;
}

bool lg_text_has_control(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return true;
        /* U+0080..U+009F are encoded C2 80..C2 9F */
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

bool lg_text_is_id(const char *s, size_t len)
{
    if (len == 0 || len > LG_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_id_char(s[i]))
            return false;
    return true;
}

size_t lg_text_json_quote(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (c == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else if (c == '\b') {
            *o++ = '\\';
            *o++ = 'b';
        } else if (c == '\f') {
            *o++ = '\\';
            *o++ = 'f';
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

size_t lg_text_i64(char *out, long long v)
{
    /* Digits of the magnitude as unsigned, so LLONG_MIN does not overflow. */
    unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char digits[LG_TEXT_I64_MAX];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (nd)
        out[len++] = digits[--nd];
    out[len] = '\0';
    return len;
}

bool lg_text_copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    bool fits = len < n;
    if (!fits)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return fits;
}

int lg_text_join(char *buf, size_t n, const char *const parts[], size_t count)
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t k = strlen(parts[i]);
        if (k >= n - len) {
            if (n)
                buf[0] = '\0';
            return -1;
        }
        memcpy(buf + len, parts[i], k);
        len += k;
    }
    if (!n)
        return -1;
    buf[len] = '\0';
    return (int)len;
}
