/* config.c - parsing of the settings every program shares (see config.h):
 * the integer settings' table loader and its one parser, Redis URLs and
 * listen addresses. Userinfo in a Redis URL is taken literally:
 * percent-encoding is not decoded, so a password holding '@' or ':' cannot
 * be given this way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/config.h"

static int parse_port(const char *s, size_t len, int lo, int *out)
{
    if (len == 0 || len > 5)
        return -1;
    int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    if (port < lo || port > 65535)
        return -1;
    *out = port;
    return 0;
}

static int fail(char *err, size_t errsz, const char *why)
{
    snprintf(err, errsz, "%s", why);
    return -1;
}

/* Splits "host[:port]" or "[v6][:port]" at end; host copied without brackets. */
static int split_host_port(const char *s, size_t len, char *host, size_t hostsz, const char **port,
                           size_t *port_len)
{
    const char *colon = NULL;
    size_t host_len;
    const char *host_start = s;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        host_start = s + 1;
        host_len = (size_t)(close - s) - 1;
        const char *after = close + 1;
        if (after < s + len) {
            if (*after != ':')
                return -1;
            colon = after;
        }
    } else {
        colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
            return -1; /* an IPv6 address must be in brackets */
    }
    if (host_len >= hostsz)
        return -1;
    memcpy(host, host_start, host_len);
    host[host_len] = 0;
    *port = colon ? colon + 1 : NULL;
    *port_len = colon ? len - (size_t)(colon + 1 - s) : 0;
    return 0;
}

int lg_redis_url_parse(const char *url, struct lg_redis_url *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    const char *scheme = "redis://";
    if (strncmp(url, scheme, strlen(scheme)) != 0)
        return fail(err, errsz, "must start with redis://");
    const char *p = url + strlen(scheme);
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        const char *pw = colon ? colon + 1 : NULL;
        size_t plen = colon ? (size_t)(at - pw) : 0;
        if (!colon) {
            /* "redis://secret@host": a lone userinfo is the password */
            pw = p;
            plen = ulen;
            ulen = 0;
        }
        if (ulen >= sizeof(out->username) || plen >= sizeof(out->password))
            return fail(err, errsz, "user name or password too long");
        memcpy(out->username, p, ulen);
        out->username[ulen] = 0;
        memcpy(out->password, pw, plen);
        out->password[plen] = 0;
        p = at + 1;
    }
    const char *port;
    size_t port_len;
    if (split_host_port(p, (size_t)(end - p), out->host, sizeof(out->host), &port, &port_len) != 0)
        return fail(err, errsz, "bad host");
    if (!out->host[0])
        return fail(err, errsz, "a host is required");
    if (port && parse_port(port, port_len, 1, &out->port) != 0)
        return fail(err, errsz, "port must be 1-65535");
    if (slash && slash[1]) {
        char *dend;
        long db = strtol(slash + 1, &dend, 10);
        if (*dend || db < 0 || db > 15 || slash[1] == '-' || slash[1] == '+')
            return fail(err, errsz, "database must be 0-15");
        out->db = (int)db;
    }
    return 0;
}

int lg_listen_parse(const char *s, char *host, size_t hostsz, int *port, char *err, size_t errsz)
{
    const char *p;
    size_t plen;
    if (split_host_port(s, strlen(s), host, hostsz, &p, &plen) != 0)
        return fail(err, errsz, "must be host:port, [v6]:port or :port");
    if (!p || parse_port(p, plen, 0, port) != 0)
        return fail(err, errsz, "port must be 0-65535");
    if (!host[0])
        snprintf(host, hostsz, "0.0.0.0");
    return 0;
}

int lg_config_parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (end == s || *end || errno || n < min || n > max)
        return -1;
    *out = (int)n;
    return 0;
}

const char *lg_config_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

static int *int_at(void *settings, const struct lg_config_int *row)
{
    return (int *)((char *)settings + row->where);
}

int lg_config_load_ints(const struct lg_config_int *table, size_t n, void *settings, char *err,
                        size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        const struct lg_config_int *row = &table[i];
        const char *v = lg_config_env(row->name, NULL);
        if (!v) {
            *int_at(settings, row) = row->fallback;
        } else if (lg_config_parse_int(v, row->min, row->max, int_at(settings, row)) != 0) {
            snprintf(err, errsz, "%s must be an integer from %d to %d", row->name, row->min,
                     row->max);
            return -1;
        }
    }
    return 0;
}

int lg_config_log_level(enum lg_log_level *out, char *err, size_t errsz)
{
    int level = lg_log_level_parse(lg_config_env("LIVEGATE_LOG_LEVEL", "info"));
    if (level < 0) {
        snprintf(err, errsz, "LIVEGATE_LOG_LEVEL must be debug, info, warn or error");
        return -1;
    }
    *out = (enum lg_log_level)level;
    return 0;
}

int lg_config_metrics_listen(char *host, size_t hostsz, int *port, char *err, size_t errsz)
{
    const char *metrics = lg_config_env("LIVEGATE_METRICS_LISTEN", "");
    char why[160];
    *port = 0;
    if (!*metrics)
        return 0;
    if (lg_listen_parse(metrics, host, hostsz, port, why, sizeof(why)) != 0) {
        snprintf(err, errsz, "LIVEGATE_METRICS_LISTEN: %s", why);
        *port = 0;
        return -1;
    }
    if (*port == 0) {
        snprintf(err, errsz, "LIVEGATE_METRICS_LISTEN: port must be 1-65535");
        return -1;
    }
    return 0;
}
