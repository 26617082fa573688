/* settings.c - reads and checks the validator's environment (see
 * settings.h). */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"

static int env_int(const char *name, int fallback, int lo, int hi, int *out, char *err, size_t n)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        *out = fallback;
        return 0;
    }
    char *end;
    long val = strtol(s, &end, 10);
    if (*end || val < lo || val > hi) {
        snprintf(err, n, "%s must be an integer from %d to %d", name, lo, hi);
        return -1;
    }
    *out = (int)val;
    return 0;
}

int lg_validator_config_load(struct lg_validator_config *c, char *err, size_t errsz)
{
    memset(c, 0, sizeof(*c));
    const char *url = getenv("LIVEGATE_REDIS_URL");
    char why[160];
    if (lg_redis_url_parse(url && *url ? url : "redis://127.0.0.1:6379/0", &c->redis, why,
                           sizeof(why)) != 0) {
        snprintf(err, errsz, "LIVEGATE_REDIS_URL: %s", why);
        return -1;
    }
    const char *id = getenv("LIVEGATE_VALIDATOR_ID");
    if (id && *id) {
        if (!lg_text_is_id(id, strlen(id))) {
            snprintf(err, errsz,
                     "LIVEGATE_VALIDATOR_ID must be 1-64 characters of [A-Za-z0-9_.:-]");
            return -1;
        }
        snprintf(c->consumer, sizeof(c->consumer), "%s", id);
    } else {
        unsigned char rnd[3] = {0};
        RAND_bytes(rnd, sizeof(rnd));
        snprintf(c->consumer, sizeof(c->consumer), "v-%ld-%02x%02x%02x", (long)getpid(), rnd[0],
                 rnd[1], rnd[2]);
    }
    if (env_int("LIVEGATE_VALIDATOR_BATCH", 128, 64, 4096, &c->batch, err, errsz) ||
        env_int("LIVEGATE_VALIDATOR_BLOCK_MS", 100, 10, 1000, &c->block_ms, err, errsz) ||
        env_int("LIVEGATE_DEADLINE_MS", 10000, 1000, 600000, &c->deadline_ms, err, errsz) ||
        env_int("LIVEGATE_EXPIRE_MARGIN_MS", 1000, 0, 5000, &c->margin_ms, err, errsz) ||
        env_int("LIVEGATE_PAY_WINDOW_MS", 900000, 1000, 86400000, &c->pay_window_ms, err, errsz) ||
        env_int("LIVEGATE_CLAIM_IDLE_MS", 3000, 500, 60000, &c->claim_idle_ms, err, errsz) ||
        env_int("LIVEGATE_MAX_DELIVERIES", 5, 1, 100, &c->max_deliveries, err, errsz) ||
        env_int("LIVEGATE_STREAM_RETENTION_MS", 900000, 60000, 86400000, &c->retention_ms, err,
                errsz) ||
        env_int("LIVEGATE_REDIS_TIMEOUT_MS", 2000, 100, 60000, &c->redis_timeout_ms, err, errsz))
        return -1;
    if (c->margin_ms >= c->deadline_ms) {
        snprintf(err, errsz, "LIVEGATE_EXPIRE_MARGIN_MS must be below LIVEGATE_DEADLINE_MS");
        return -1;
    }
    const char *level = getenv("LIVEGATE_LOG_LEVEL");
    int lv = lg_log_level_parse(level && *level ? level : "info");
    if (lv < 0) {
        snprintf(err, errsz, "LIVEGATE_LOG_LEVEL must be debug, info, warn or error");
        return -1;
    }
    c->log_level = (enum lg_log_level)lv;
    return 0;
}
