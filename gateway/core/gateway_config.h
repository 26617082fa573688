/* gateway_config.h - the gateway's settings, all from the environment (see
 * the README's settings table). Loading checks everything up front so a
 * misconfigured gateway refuses to start instead of failing per request. */
#ifndef LG_CORE_GATEWAY_CONFIG_H
#define LG_CORE_GATEWAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "livegate/config.h"
#include "livegate/crypto.h"
#include "livegate/log.h"
#include "livegate/text.h"
#include "rules/static_files.h"

/* Documented in the README: usable only with LIVEGATE_DEMO=1. */
#define LG_DEMO_SECRET "livegate-demo-secret"
/* The shortest LIVEGATE_JWT_SECRET accepted outside demo mode. */
#define LG_JWT_SECRET_MIN 32

struct lg_gateway_config {
    char jwt_secret[512];
    size_t jwt_secret_len;
    unsigned char data_key[LG_DATA_KEY_LEN];
    /* LIVEGATE_DATA_KEYS_OLD: older keys, newest first, for opening only */
    unsigned char old_data_keys[LG_DATA_KEYS_OLD_MAX][LG_DATA_KEY_LEN];
    size_t n_old_data_keys;
    struct lg_redis_url redis;
    char redis_url_text[600];
    char listen_host[64];
    int listen_port;
    char metrics_host[64]; /* LIVEGATE_METRICS_LISTEN: this process's own /metrics */
    int metrics_port;      /* ... 0: none (the shared port's /metrics has it all) */
    bool demo;
    char tls_cert[512];
    char tls_key[512];
    char gateway_id[LG_ID_MAX + 1];
    int max_conn_per_ip;
    int redis_timeout_ms;
    int idem_ttl_s;
    int order_ttl_s;
    int monitor_feed_per_s; /* monitor.order frames per monitor connection per second */
    int fanout_slice;       /* sku.update frames queued to viewers per loop turn */
    int deadline_ms;        /* an order's answer is due this long after acceptance */
    int margin_ms;          /* ... and it is expired this much before that */
    int admit_wait_ms;      /* the longest predicted queue wait admitted */
    int admit_stall_ms;     /* a backlog with no decision this long: drain rate 0 */
    int user_rate;          /* order.submit per user per second; 0: unlimited */
    int user_burst;         /* ... with bursts of this many */
    int conn_inflight;      /* submits one connection may have unanswered */
    int slow_client_ms;     /* a send queue over its soft cap this long: the socket is dropped */
    int intake_in_flight;   /* orders in unanswered enqueue calls before BUSY without sending */
    enum lg_log_level log_level;
    char web_root[LG_STATIC_ROOT_MAX + 1]; /* the pages' files: see static_files.h */
};

/* Fills *c from getenv(). Returns 0, or -1 with the reason in err. */
int lg_gateway_config_load(struct lg_gateway_config *c, char *err, size_t errsz);

#endif
