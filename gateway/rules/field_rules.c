/* field_rules.c - field-kind checks shared by the order and catalog rules. */
#include <stdio.h>
#include <string.h>

#include "rules/field_rules.h"
#include "livegate/text.h"

int lg_rule_broken(struct lg_field_error *err, const char *path, const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s", path);
    snprintf(err->message, sizeof(err->message), "%s", message);
    return -1;
}

static int broken_range(struct lg_field_error *err, const char *path, const char *what,
                        long long lo, long long hi)
{
    char message[160];
    snprintf(message, sizeof(message), "%s must be %s of %lld to %lld", path, what, lo, hi);
    return lg_rule_broken(err, path, message);
}

int lg_rule_text(const json_t *obj, const char *key, const char *path, long min, long max,
                 bool optional, char *out, size_t outsz, bool *present, struct lg_field_error *err)
{
    json_t *v = json_object_get(obj, key);
    out[0] = 0;
    if (present)
        *present = false;
    if ((!v || json_is_null(v)) && optional)
        return 0;
    if (!json_is_string(v))
        return broken_range(err, path, "a string", min, max);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    long chars = lg_text_utf8_chars(s, len);
    if (chars < 0 || lg_text_has_control(s, len)) {
        char message[160];
        snprintf(message, sizeof(message), "%s must be valid UTF-8 without control characters",
                 path);
        return lg_rule_broken(err, path, message);
    }
    if (chars < min || chars > max || len >= outsz)
        return broken_range(err, path, "a string with a number of characters", min, max);
    memcpy(out, s, len);
    out[len] = 0;
    if (present)
        *present = true;
    return 0;
}

int lg_rule_id(const json_t *obj, const char *key, const char *path, bool optional, char *out,
               bool *present, struct lg_field_error *err)
{
    json_t *v = json_object_get(obj, key);
    out[0] = 0;
    if (present)
        *present = false;
    if ((!v || json_is_null(v)) && optional)
        return 0;
    if (!json_is_string(v) || !lg_text_is_id(json_string_value(v), json_string_length(v))) {
        char message[160];
        snprintf(message, sizeof(message), "%s must be 1 to 64 characters of [A-Za-z0-9_.:-]",
                 path);
        return lg_rule_broken(err, path, message);
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    if (present)
        *present = true;
    return 0;
}

int lg_rule_int(const json_t *obj, const char *key, const char *path, long long lo, long long hi,
                bool optional, long long fallback, long long *out, struct lg_field_error *err)
{
    json_t *v = json_object_get(obj, key);
    if ((!v || json_is_null(v)) && optional) {
        *out = fallback;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return broken_range(err, path, "an integer", lo, hi);
    *out = json_integer_value(v);
    return 0;
}

int lg_rule_bool(const json_t *obj, const char *key, const char *path, bool *out,
                 struct lg_field_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_boolean(v)) {
        char message[160];
        snprintf(message, sizeof(message), "%s must be true or false", path);
        return lg_rule_broken(err, path, message);
    }
    *out = json_is_true(v);
    return 0;
}
