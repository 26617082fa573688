/* gateway_config.c - reads and checks the gateway's environment. Secrets
 * are required outside demo mode: a gateway that silently invented a JWT
 * secret or a data key would accept forged tokens or write data nobody can
 * read after a restart. */
#include <limits.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/gateway_config.h"

/* The source tree's web/ folder, set by CMake, so a gateway run from a
 * build directory serves the pages without further settings. */
#ifndef LG_DEFAULT_WEB_ROOT
#define LG_DEFAULT_WEB_ROOT "web"
#endif
/* Where cmake --install puts the pages, relative to the program's folder
 * (bin/../share/livegate/web), so an installed gateway, wherever its
 * prefix, serves its own copy and needs no source tree. */
#ifndef LG_INSTALLED_WEB_ROOT
#define LG_INSTALLED_WEB_ROOT "../share/livegate/web"
#endif

/* The integer settings: name, default, min, max, where (see config.h).
 * Checked in this order, so the first bad one is the one reported. */
static const struct lg_config_int gateway_ints[] = {
    {"LIVEGATE_MAX_CONN_PER_IP", 10000, 1, 10000000,
     offsetof(struct lg_gateway_config, max_conn_per_ip)},
    {"LIVEGATE_REDIS_TIMEOUT_MS", 2000, 100, 60000,
     offsetof(struct lg_gateway_config, redis_timeout_ms)},
    {"LIVEGATE_IDEMPOTENCY_TTL_S", 86400, 86400, 30 * 86400,
     offsetof(struct lg_gateway_config, idem_ttl_s)},
    {"LIVEGATE_ORDER_TTL_S", 7 * 86400, 86400, 365 * 86400,
     offsetof(struct lg_gateway_config, order_ttl_s)},
    /* monitor.order frames per monitor connection per second */
    {"LIVEGATE_MONITOR_FEED_PER_S", 50, 1, 100000,
     offsetof(struct lg_gateway_config, monitor_feed_per_s)},
    /* viewers given a sku.update per loop turn; bigger rooms take several */
    {"LIVEGATE_FANOUT_SLICE", 2000, 1, 1000000, offsetof(struct lg_gateway_config, fanout_slice)},
    /* the validators' settings of the same names: an order undecided this
     * long after acceptance, less the margin, is answered EXPIRED */
    {"LIVEGATE_DEADLINE_MS", 10000, 1000, 600000, offsetof(struct lg_gateway_config, deadline_ms)},
    {"LIVEGATE_EXPIRE_MARGIN_MS", 1000, 0, 5000, offsetof(struct lg_gateway_config, margin_ms)},
    /* admission: the longest predicted queue wait an order is accepted
     * into, and how long a backlog may see no decision before the drain
     * rate counts as 0 */
    {"LIVEGATE_ADMIT_WAIT_MS", 5000, 100, 600000,
     offsetof(struct lg_gateway_config, admit_wait_ms)},
    {"LIVEGATE_ADMIT_STALL_MS", 2000, 100, 60000,
     offsetof(struct lg_gateway_config, admit_stall_ms)},
    /* order.submit per user per second (0: no limit) and the bucket's size */
    {"LIVEGATE_USER_RATE", 10, 0, 1000000, offsetof(struct lg_gateway_config, user_rate)},
    {"LIVEGATE_USER_BURST", 20, 1, 1000000, offsetof(struct lg_gateway_config, user_burst)},
    /* submits one connection may have waiting for their answer */
    {"LIVEGATE_CONN_INFLIGHT", 32, 1, 1000000, offsetof(struct lg_gateway_config, conn_inflight)},
    /* how long a connection's send queue may stay over its soft cap
     * (a client that stopped reading) before its socket is dropped */
    {"LIVEGATE_SLOW_CLIENT_MS", 5000, 100, 60000,
     offsetof(struct lg_gateway_config, slow_client_ms)},
    /* orders this gateway may have in enqueue calls Redis has not answered;
     * past it submits are refused BUSY without being sent */
    {"LIVEGATE_INTAKE_IN_FLIGHT", 100000, 16, 1000000,
     offsetof(struct lg_gateway_config, intake_in_flight)},
    {"LIVEGATE_INTAKE_CALLS", 2, 1, 64, offsetof(struct lg_gateway_config, intake_calls)},
};

/* The installed pages' folder when this program runs from an installed
 * tree (it holds index.html), else the source tree's. */
static void default_web_root(char *out, size_t n)
{
    char exe[PATH_MAX], candidate[PATH_MAX + 64], real[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    snprintf(out, n, "%s", LG_DEFAULT_WEB_ROOT);
    if (len <= 0)
        return;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = 0;
    snprintf(candidate, sizeof(candidate), "%s/%s/index.html", exe, LG_INSTALLED_WEB_ROOT);
    if (access(candidate, R_OK) != 0 || !realpath(candidate, real))
        return;
    *strrchr(real, '/') = 0;
    if (strlen(real) <= LG_STATIC_ROOT_MAX)
        snprintf(out, n, "%s", real);
}

static void default_gateway_id(char *out, size_t n)
{
    unsigned char rnd[3] = {0};
    RAND_bytes(rnd, sizeof(rnd));
    snprintf(out, n, "gw-%ld-%02x%02x%02x", (long)getpid(), rnd[0], rnd[1], rnd[2]);
}

/* LIVEGATE_METRICS_LISTEN: this process's own /metrics, on an address of
 * its own. The shared port cannot serve it: SO_REUSEPORT hands each scrape
 * to whichever sibling process accepts it. Empty: none. */
static int load_metrics_listen(struct lg_gateway_config *c, char *err, size_t errsz)
{
    if (lg_config_metrics_listen(c->metrics_host, sizeof(c->metrics_host), &c->metrics_port, err,
                                 errsz) != 0)
        return -1;
    if (c->metrics_port != 0 && c->metrics_port == c->listen_port) {
        snprintf(err, errsz, "LIVEGATE_METRICS_LISTEN must have another port than LIVEGATE_LISTEN");
        return -1;
    }
    return 0;
}

int lg_gateway_config_load(struct lg_gateway_config *c, char *err, size_t errsz)
{
    memset(c, 0, sizeof(*c));
    c->demo = strcmp(lg_config_env("LIVEGATE_DEMO", "0"), "1") == 0;

    const char *secret = getenv("LIVEGATE_JWT_SECRET");
    if (secret && *secret) {
        if (strlen(secret) >= sizeof(c->jwt_secret)) {
            snprintf(err, errsz, "LIVEGATE_JWT_SECRET is too long");
            return -1;
        }
        /* An HMAC key shorter than its hash (32 bytes for SHA-256) is
         * easier to guess than the signature is to forge (RFC 7518 3.2). */
        if (strlen(secret) < LG_JWT_SECRET_MIN && !c->demo) {
            snprintf(err, errsz, "LIVEGATE_JWT_SECRET must be at least %d bytes",
                     LG_JWT_SECRET_MIN);
            return -1;
        }
        snprintf(c->jwt_secret, sizeof(c->jwt_secret), "%s", secret);
    } else if (c->demo) {
        snprintf(c->jwt_secret, sizeof(c->jwt_secret), "%s", LG_DEMO_SECRET);
    } else {
        snprintf(err, errsz, "LIVEGATE_JWT_SECRET is not set (set it, or LIVEGATE_DEMO=1)");
        return -1;
    }
    c->jwt_secret_len = strlen(c->jwt_secret);

    const char *key = getenv("LIVEGATE_DATA_KEY");
    if (key && *key) {
        if (lg_crypto_parse_key(key, c->data_key) != 0) {
            snprintf(err, errsz,
                     "LIVEGATE_DATA_KEY must be 64 hex characters or base64 of 32 bytes");
            return -1;
        }
    } else if (c->demo) {
        /* Demo only: personal data written now cannot be read after a restart. */
        RAND_bytes(c->data_key, sizeof(c->data_key));
    } else {
        snprintf(err, errsz, "LIVEGATE_DATA_KEY is not set (set it, or LIVEGATE_DEMO=1)");
        return -1;
    }
    int bad = lg_crypto_parse_key_list(lg_config_env("LIVEGATE_DATA_KEYS_OLD", ""),
                                       c->old_data_keys, LG_DATA_KEYS_OLD_MAX, &c->n_old_data_keys);
    if (bad < 0) {
        snprintf(err, errsz, "LIVEGATE_DATA_KEYS_OLD holds more than %d keys",
                 LG_DATA_KEYS_OLD_MAX);
        return -1;
    }
    if (bad > 0) {
        snprintf(err, errsz,
                 "LIVEGATE_DATA_KEYS_OLD: key %d must be 64 hex characters or base64 of 32 bytes "
                 "(keys are separated by commas)",
                 bad);
        return -1;
    }

    const char *url = lg_config_env("LIVEGATE_REDIS_URL", "redis://127.0.0.1:6379/0");
    snprintf(c->redis_url_text, sizeof(c->redis_url_text), "%s", url);
    char why[160];
    if (lg_redis_url_parse(url, &c->redis, why, sizeof(why)) != 0) {
        snprintf(err, errsz, "LIVEGATE_REDIS_URL: %s", why);
        return -1;
    }
    if (lg_listen_parse(lg_config_env("LIVEGATE_LISTEN", "127.0.0.1:8080"), c->listen_host,
                        sizeof(c->listen_host), &c->listen_port, why, sizeof(why)) != 0) {
        snprintf(err, errsz, "LIVEGATE_LISTEN: %s", why);
        return -1;
    }

    if (load_metrics_listen(c, err, errsz) != 0)
        return -1;

    const char *cert = lg_config_env("LIVEGATE_TLS_CERT", "");
    const char *tkey = lg_config_env("LIVEGATE_TLS_KEY", "");
    if ((*cert != 0) != (*tkey != 0)) {
        snprintf(err, errsz, "LIVEGATE_TLS_CERT and LIVEGATE_TLS_KEY must be set together");
        return -1;
    }
    snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", cert);
    snprintf(c->tls_key, sizeof(c->tls_key), "%s", tkey);

    const char *gid = getenv("LIVEGATE_GATEWAY_ID");
    if (gid && *gid) {
        if (!lg_text_is_id(gid, strlen(gid))) {
            snprintf(err, errsz, "LIVEGATE_GATEWAY_ID must be 1-64 characters of [A-Za-z0-9_.:-]");
            return -1;
        }
        snprintf(c->gateway_id, sizeof(c->gateway_id), "%s", gid);
    } else {
        default_gateway_id(c->gateway_id, sizeof(c->gateway_id));
    }

    if (lg_config_load_ints(gateway_ints, sizeof(gateway_ints) / sizeof(gateway_ints[0]), c, err,
                            errsz) != 0)
        return -1;
    if (c->idem_ttl_s > c->order_ttl_s) {
        /* A duplicate found by its key must find the order it names. */
        snprintf(err, errsz, "LIVEGATE_IDEMPOTENCY_TTL_S must not exceed LIVEGATE_ORDER_TTL_S");
        return -1;
    }
    if (c->margin_ms >= c->deadline_ms) {
        snprintf(err, errsz, "LIVEGATE_EXPIRE_MARGIN_MS must be below LIVEGATE_DEADLINE_MS");
        return -1;
    }
    if (c->admit_wait_ms > c->deadline_ms - c->margin_ms) {
        snprintf(err, errsz,
                 "LIVEGATE_ADMIT_WAIT_MS must be at most LIVEGATE_DEADLINE_MS minus "
                 "LIVEGATE_EXPIRE_MARGIN_MS");
        return -1;
    }

    char fallback_root[LG_STATIC_ROOT_MAX + 1];
    default_web_root(fallback_root, sizeof(fallback_root));
    const char *web_root = lg_config_env("LIVEGATE_WEB_ROOT", fallback_root);
    if (strlen(web_root) > LG_STATIC_ROOT_MAX) {
        snprintf(err, errsz, "LIVEGATE_WEB_ROOT is longer than %d bytes", LG_STATIC_ROOT_MAX);
        return -1;
    }
    snprintf(c->web_root, sizeof(c->web_root), "%s", web_root);

    return lg_config_log_level(&c->log_level, err, errsz);
}
