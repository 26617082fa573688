/* settings.h - the validator's settings, all from the environment (see the
 * README's settings table). Loading checks everything up front so a
 * misconfigured validator refuses to start. */
#ifndef LG_VALIDATOR_SETTINGS_H
#define LG_VALIDATOR_SETTINGS_H

#include <stddef.h>

#include "livegate/config.h"
#include "livegate/log.h"
#include "livegate/text.h"

struct lg_validator_config {
    struct lg_redis_url redis;
    char consumer[LG_ID_MAX + 1];
    int batch;          /* entries per read, >= 64 */
    int block_ms;       /* how long an idle read waits */
    int deadline_ms;    /* the contract's 10 s */
    int margin_ms;      /* EXPIRED is decided this much before the deadline */
    int pay_window_ms;  /* pay_deadline_ms = confirmation + this */
    int claim_idle_ms;  /* pending this long with a silent consumer: claim it */
    int max_deliveries; /* more than this: dead letter + EXPIRED */
    int retention_ms;   /* stream entries older than this are trimmed */
    int redis_timeout_ms;
    int room_idle_ms;        /* a live room idle this long leaves the active index */
    int room_closed_idle_ms; /* the same for a closed (or never set up) room */
    int consumer_idle_ms;    /* a consumer idle this long, with nothing pending, is removed */
    int prune_ms;            /* how often rooms and consumers are pruned */
    char metrics_host[64];   /* LIVEGATE_METRICS_LISTEN: GET /metrics; port 0: none */
    int metrics_port;
    enum lg_log_level log_level;
};

/* Fills *c from getenv(). Returns 0, or -1 with the reason in err. */
int lg_validator_config_load(struct lg_validator_config *c, char *err, size_t errsz);

#endif
