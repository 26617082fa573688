/* config.h - settings shared by every livegate program, read from the
 * environment. Parsing is pure so each rule is unit-tested.
 *
 * Integer settings are rows of a table, one table per program (as Redis's
 * config.c does): the variable's name, its default, the range it accepts
 * and where in the program's settings struct the value goes. One parser and
 * one range check serve every row, so the programs cannot drift apart. */
#ifndef LG_LIVEGATE_CONFIG_H
#define LG_LIVEGATE_CONFIG_H

#include <stddef.h>

#include "livegate/log.h"

struct lg_redis_url {
    char host[256]; /* hostname or IP literal, without brackets */
    int port;       /* default 6379 */
    int db;         /* default 0 */
    char username[128];
    char password[256];
};

/* Parses redis://[[user]:password@]host[:port][/db]. IPv6 hosts in brackets.
 * Returns 0, or -1 with a reason in err. */
int lg_redis_url_parse(const char *url, struct lg_redis_url *out, char *err, size_t errsz);

/* Parses "host:port", "[v6]:port" or ":port" (all interfaces). Port 0..65535.
 * Returns 0, or -1 with a reason in err. */
int lg_listen_parse(const char *s, char *host, size_t hostsz, int *port, char *err, size_t errsz);

/* LIVEGATE_METRICS_LISTEN, which the gateway and the validator read the
 * same way: the process's own /metrics address. Returns 0 with *port 0
 * (unset: none) or the address set (port 1..65535), or -1 with the rule in
 * err. */
int lg_config_metrics_listen(char *host, size_t hostsz, int *port, char *err, size_t errsz);

/* One integer setting. where is the offsetof() of its int in the settings
 * struct the table is loaded into. */
struct lg_config_int {
    const char *name; /* the environment variable */
    int fallback;     /* used when the variable is unset or empty */
    int min, max;     /* accepted range, both included */
    size_t where;
};

/* Parses s as a whole decimal integer (strtol's syntax: optional leading
 * space and sign) within [min, max]. Returns 0 with *out set, or -1 for an
 * empty string, garbage, overflow or a value out of range (*out untouched). */
int lg_config_parse_int(const char *s, int min, int max, int *out);

/* Sets every row's int in settings from the environment, in table order.
 * Returns 0, or -1 at the first bad value with "NAME must be an integer
 * from MIN to MAX" in err. */
int lg_config_load_ints(const struct lg_config_int *table, size_t n, void *settings, char *err,
                        size_t errsz);

/* The variable's value, or fallback when it is unset or empty. */
const char *lg_config_env(const char *name, const char *fallback);

/* LIVEGATE_LOG_LEVEL, which every program reads the same way (default
 * info). Returns 0 with *out set, or -1 with the rule in err. */
int lg_config_log_level(enum lg_log_level *out, char *err, size_t errsz);

#endif
