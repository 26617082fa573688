/* config.h - settings shared by every livegate program, read from the
 * environment. Parsing is pure so each rule is unit-tested. */
#ifndef LIVEGATE_CONFIG_H
#define LIVEGATE_CONFIG_H

#include <stddef.h>

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

#endif
