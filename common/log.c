/* log.c - JSON-lines logging (see log.h for why fields are jansson objects).
 * Lines are written with one fwrite so concurrent processes sharing a
 * terminal or file do not interleave within a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/clock.h"
#include "livegate/log.h"

static const char *log_prog = "livegate";
static enum lg_log_level log_min = LG_LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void lg_log_init(const char *prog, enum lg_log_level min_level)
{
    log_prog = prog;
    log_min = min_level;
}

int lg_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void lg_log(enum lg_log_level level, const char *event, json_t *fields)
{
    if (level < log_min) {
        json_decref(fields);
        return;
    }
    json_t *line = json_object();
    json_object_set_new(line, "ts_ms", json_integer(lg_wall_ms()));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "prog", json_string(log_prog));
    json_object_set_new(line, "event", json_string(event));
    if (fields)
        json_object_update(line, fields);
    json_decref(fields);

    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return;
    size_t len = strlen(text);
    text[len] = '\n'; /* overwrite the NUL: we write an exact length */
    fwrite(text, 1, len + 1, stderr);
    fflush(stderr);
    free(text);
}
