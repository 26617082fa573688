/* field_rules.h - the building blocks of every body check: one function per
 * kind of field (text, id, integer, boolean), each enforcing the contract's
 * convention that a missing, null or wrongly typed required field breaks
 * its rule like a bad value. Each returns 0, or -1 with *err naming path. */
#ifndef LG_RULES_FIELD_RULES_H
#define LG_RULES_FIELD_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "livegate/field_error.h"

int lg_rule_broken(struct lg_field_error *err, const char *path, const char *message);

/* A text of min..max code points, valid UTF-8 without control characters.
 * With optional, absent or null leaves out "" and *present false. */
int lg_rule_text(const json_t *obj, const char *key, const char *path, long min, long max,
                 bool optional, char *out, size_t outsz, bool *present, struct lg_field_error *err);

/* An ID (1..64 of [A-Za-z0-9_.:-]); optional as above. out holds 65 bytes. */
int lg_rule_id(const json_t *obj, const char *key, const char *path, bool optional, char *out,
               bool *present, struct lg_field_error *err);

/* A JSON integer in lo..hi. With optional, absent or null gives fallback. */
int lg_rule_int(const json_t *obj, const char *key, const char *path, long long lo, long long hi,
                bool optional, long long fallback, long long *out, struct lg_field_error *err);

int lg_rule_bool(const json_t *obj, const char *key, const char *path, bool *out,
                 struct lg_field_error *err);

#endif
