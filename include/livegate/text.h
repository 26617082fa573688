/* text.h - the contract's text rules: UTF-8 well-formedness, character
 * counting (lengths count code points, not bytes), control characters and the
 * identifier alphabet. Every string that reaches Redis passes through here. */
#ifndef LG_LIVEGATE_TEXT_H
#define LG_LIVEGATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define LG_ID_MAX 64

/* Length of the UTF-8 sequence starting at s[0..len) (len >= 1), or 0
 * when it is malformed by the rules below. */
size_t lg_text_utf8_seq(const unsigned char *s, size_t len);

/* Number of code points in s[0..len), or -1 when the bytes are not valid
 * UTF-8 (overlong forms, surrogates, code points above U+10FFFF, truncated
 * sequences, stray continuation bytes). */
long lg_text_utf8_chars(const char *s, size_t len);

/* True when valid UTF-8 s contains a control character: U+0000..U+001F,
 * U+007F or U+0080..U+009F. */
bool lg_text_has_control(const char *s, size_t len);

/* True when s is 1..64 characters from [A-Za-z0-9_.:-]. */
bool lg_text_is_id(const char *s, size_t len);

/* The most bytes lg_text_json_quote writes for a string of len bytes. */
#define LG_TEXT_JSON_QUOTED_MAX(len) (6 * (len) + 2)

/* Writes the NUL-terminated UTF-8 string s as a JSON string literal, quotes
 * included, at out (at least LG_TEXT_JSON_QUOTED_MAX(strlen(s)) bytes, no
 * NUL written) and returns its length. '"', '\\' and U+0000..U+001F are
 * escaped, as jansson writes them; everything else is copied as it is. For
 * the hot path's fixed documents, where building a json_t costs more than
 * the work it serves. */
size_t lg_text_json_quote(char *out, const char *s);

/* The most bytes lg_text_i64 writes: "-9223372036854775808" and its NUL. */
#define LG_TEXT_I64_MAX 21

/* Writes v in decimal at out (at least LG_TEXT_I64_MAX bytes), NUL included,
 * and returns its length. What snprintf's "%lld" writes, for the hot path,
 * where its format parsing and locale lookups cost ten times the digits. */
size_t lg_text_i64(char *out, long long v);

/* Copies the string src into dst of n bytes (n >= 1), always NUL-terminated,
 * cut at n - 1 bytes as snprintf's "%s" cuts it; true when all of it fit. */
bool lg_text_copy(char *dst, size_t n, const char *src);

/* Writes the count strings of parts one after the other into buf of n bytes,
 * NUL-terminated, and returns the length; -1, leaving buf "", when they do
 * not fit in n - 1 bytes. The hot path's keys and values are built so. */
int lg_text_join(char *buf, size_t n, const char *const parts[], size_t count);

#endif
