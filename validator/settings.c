/* settings.c - reads and checks the validator's environment (see
 * settings.h). The integer settings are one table, loaded by the parser
 * the gateway uses too (common/config.c); the rest have a rule each. */
#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"

/* The integer settings: name, default, min, max, where (see config.h).
 * Checked in this order, so the first bad one is the one reported. */
static const struct lg_config_int validator_ints[] = {
    {"LIVEGATE_VALIDATOR_BATCH", 128, 64, 4096, offsetof(struct lg_validator_config, batch)},
    {"LIVEGATE_VALIDATOR_BLOCK_MS", 100, 10, 1000, offsetof(struct lg_validator_config, block_ms)},
    {"LIVEGATE_DEADLINE_MS", 10000, 1000, 600000,
     offsetof(struct lg_validator_config, deadline_ms)},
    {"LIVEGATE_EXPIRE_MARGIN_MS", 1000, 0, 5000, offsetof(struct lg_validator_config, margin_ms)},
    {"LIVEGATE_PAY_WINDOW_MS", 900000, 1000, 86400000,
     offsetof(struct lg_validator_config, pay_window_ms)},
    {"LIVEGATE_CLAIM_IDLE_MS", 3000, 500, 60000,
     offsetof(struct lg_validator_config, claim_idle_ms)},
    {"LIVEGATE_MAX_DELIVERIES", 5, 1, 100, offsetof(struct lg_validator_config, max_deliveries)},
    {"LIVEGATE_STREAM_RETENTION_MS", 900000, 60000, 86400000,
     offsetof(struct lg_validator_config, retention_ms)},
    {"LIVEGATE_REDIS_TIMEOUT_MS", 2000, 100, 60000,
     offsetof(struct lg_validator_config, redis_timeout_ms)},
    /* Above a gateway's one-second throttle of its activity marks (see
     * gateway/features/rooms.c), so a room that takes orders never looks idle. */
    {"LIVEGATE_ROOM_IDLE_MS", 86400000, 5000, 604800000,
     offsetof(struct lg_validator_config, room_idle_ms)},
    {"LIVEGATE_ROOM_CLOSED_IDLE_MS", 60000, 5000, 604800000,
     offsetof(struct lg_validator_config, room_closed_idle_ms)},
    {"LIVEGATE_CONSUMER_IDLE_MS", 3600000, 5000, 604800000,
     offsetof(struct lg_validator_config, consumer_idle_ms)},
    {"LIVEGATE_PRUNE_EVERY_MS", 10000, 200, 600000, offsetof(struct lg_validator_config, prune_ms)},
};

/* LIVEGATE_VALIDATOR_ID, or "v-<pid>-<random>" so two validators started
 * at once on one machine never share a consumer name. */
static int load_consumer(struct lg_validator_config *c, char *err, size_t errsz)
{
    const char *id = lg_config_env("LIVEGATE_VALIDATOR_ID", NULL);
    if (!id) {
        unsigned char rnd[3] = {0};
        RAND_bytes(rnd, sizeof(rnd));
        snprintf(c->consumer, sizeof(c->consumer), "v-%ld-%02x%02x%02x", (long)getpid(), rnd[0],
                 rnd[1], rnd[2]);
        return 0;
    }
    if (!lg_text_is_id(id, strlen(id))) {
        snprintf(err, errsz, "LIVEGATE_VALIDATOR_ID must be 1-64 characters of [A-Za-z0-9_.:-]");
        return -1;
    }
    snprintf(c->consumer, sizeof(c->consumer), "%s", id);
    return 0;
}

/* LIVEGATE_METRICS_LISTEN, as the gateway reads it: the process's own
 * /metrics address. Empty: none. */
static int load_metrics_listen(struct lg_validator_config *c, char *err, size_t errsz)
{
    return lg_config_metrics_listen(c->metrics_host, sizeof(c->metrics_host), &c->metrics_port, err,
                                    errsz);
}

int lg_validator_config_load(struct lg_validator_config *c, char *err, size_t errsz)
{
    memset(c, 0, sizeof(*c));
    const char *url = lg_config_env("LIVEGATE_REDIS_URL", "redis://127.0.0.1:6379/0");
    char why[160];
    if (lg_redis_url_parse(url, &c->redis, why, sizeof(why)) != 0) {
        snprintf(err, errsz, "LIVEGATE_REDIS_URL: %s", why);
        return -1;
    }
    if (load_consumer(c, err, errsz) != 0 || load_metrics_listen(c, err, errsz) != 0)
        return -1;
    if (lg_config_load_ints(validator_ints, sizeof(validator_ints) / sizeof(validator_ints[0]), c,
                            err, errsz) != 0)
        return -1;
    if (c->margin_ms >= c->deadline_ms) {
        snprintf(err, errsz, "LIVEGATE_EXPIRE_MARGIN_MS must be below LIVEGATE_DEADLINE_MS");
        return -1;
    }
    return lg_config_log_level(&c->log_level, err, errsz);
}
