/* log.h - structured logs: one JSON object per line on stderr, so a log
 * shipper needs no parser of ours. Callers pass the fields as a jansson
 * object; nothing personal (tokens, names, phones, addresses) is ever put in
 * one, which is why there is no printf-style entry point. */
#ifndef LG_LIVEGATE_LOG_H
#define LG_LIVEGATE_LOG_H

#include <jansson.h>

enum lg_log_level { LG_LOG_DEBUG = 0, LG_LOG_INFO, LG_LOG_WARN, LG_LOG_ERROR };

/* Sets the program name written as "prog" and the lowest level written. */
void lg_log_init(const char *prog, enum lg_log_level min_level);
/* Parses "debug", "info", "warn" or "error"; -1 when unknown. */
int lg_log_level_parse(const char *name);

/* Writes {"ts_ms":..,"level":..,"prog":..,"event":event, ...fields}. Takes
 * ownership of fields (which may be NULL). */
void lg_log(enum lg_log_level level, const char *event, json_t *fields);

#endif
