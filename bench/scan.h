/* scan.h - reads the gateway's JSON replies without building a tree. The
 * bench parses two or three replies per order; a general parser (a tree of
 * allocated nodes and a hash table per object) cost half of a worker's
 * instructions. This one checks the whole text against RFC 8259 (the same
 * texts are refused as by jansson: bad syntax, bad escapes, lone
 * surrogates, \u0000, invalid UTF-8, trailing bytes) and records where each
 * member of the top-level object lies, so a reply is judged exactly as
 * before. Pure, so the unit tests compare it with jansson. */
#ifndef LG_BENCH_SCAN_H
#define LG_BENCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#define LG_SCAN_MAX_MEMBERS 64
#define LG_SCAN_MAX_DEPTH 64

enum lg_scan_kind {
    LG_SCAN_STRING = 's',
    LG_SCAN_NUMBER = 'n',
    LG_SCAN_TRUE = 't',
    LG_SCAN_FALSE = 'f',
    LG_SCAN_NULL = '0',
    LG_SCAN_OBJECT = 'o',
    LG_SCAN_ARRAY = 'a'
};

/* One member of the top-level object. A string's span excludes its quotes
 * and is still escaped when `escaped` says so. */
struct lg_scan_member {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
    enum lg_scan_kind kind;
    bool key_escaped, val_escaped;
};

struct lg_scan {
    struct lg_scan_member m[LG_SCAN_MAX_MEMBERS];
    int n;
};

/* Scans text, which must be one JSON object (with white space around it).
 * Returns 0, or -1 when it is not valid JSON, not an object, nested deeper
 * than LG_SCAN_MAX_DEPTH or has more than LG_SCAN_MAX_MEMBERS members. */
int lg_scan_object(const char *text, size_t len, struct lg_scan *out);

/* The member named key (the last one, when a key repeats), or NULL. */
const struct lg_scan_member *lg_scan_get(const struct lg_scan *s, const char *key);

/* The decoded value of string member key into buf (cut at bufsz - 1 bytes),
 * or NULL when there is no such member or it is not a string. */
const char *lg_scan_str(const struct lg_scan *s, const char *key, char *buf, size_t bufsz);

/* Whether member key is the literal true. */
bool lg_scan_is_true(const struct lg_scan *s, const char *key);

#endif
