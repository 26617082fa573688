/* scripts.c - EVALSHA with a NOSCRIPT fallback (see scripts.h). The
 * arguments of each call are copied into one block so the call can be
 * replayed after a reload without the caller keeping them alive. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/log.h"
#include "scripts.h"

extern const char lg_lua_enqueue[];
extern const size_t lg_lua_enqueue_len;
extern const char lg_lua_validate[];
extern const size_t lg_lua_validate_len;
extern const char lg_lua_stats_flush[];
extern const size_t lg_lua_stats_flush_len;
extern const char lg_lua_stats_read[];
extern const size_t lg_lua_stats_read_len;
extern const char lg_lua_watch[];
extern const size_t lg_lua_watch_len;
extern const char lg_lua_transition[];
extern const size_t lg_lua_transition_len;
extern const char lg_lua_room_open[];
extern const size_t lg_lua_room_open_len;
extern const char lg_lua_sku_notify[];
extern const size_t lg_lua_sku_notify_len;
extern const char lg_lua_reply[];
extern const size_t lg_lua_reply_len;
extern const char lg_lua_expire[];
extern const size_t lg_lua_expire_len;
extern const char lg_lua_pay_timeout[];
extern const size_t lg_lua_pay_timeout_len;
extern const char lg_lua_room_touch[];
extern const size_t lg_lua_room_touch_len;
extern const char lg_lua_room_prune[];
extern const size_t lg_lua_room_prune_len;
extern const char lg_lua_room_delete[];
extern const size_t lg_lua_room_delete_len;
extern const char lg_lua_consumer_prune[];
extern const size_t lg_lua_consumer_prune_len;

struct lg_script lg_script_enqueue = {.name = "enqueue"};
struct lg_script lg_script_validate = {.name = "validate"};
struct lg_script lg_script_stats_flush = {.name = "stats_flush"};
struct lg_script lg_script_stats_read = {.name = "stats_read"};
struct lg_script lg_script_transition = {.name = "transition"};
struct lg_script lg_script_watch = {.name = "watch"};
struct lg_script lg_script_room_open = {.name = "room_open"};
struct lg_script lg_script_sku_notify = {.name = "sku_notify"};
struct lg_script lg_script_reply = {.name = "reply"};
struct lg_script lg_script_expire = {.name = "expire"};
struct lg_script lg_script_pay_timeout = {.name = "pay_timeout"};
struct lg_script lg_script_room_touch = {.name = "room_touch"};
struct lg_script lg_script_room_prune = {.name = "room_prune"};
struct lg_script lg_script_room_delete = {.name = "room_delete"};
struct lg_script lg_script_consumer_prune = {.name = "consumer_prune"};

static struct lg_script *all_scripts[] = {
    &lg_script_enqueue, &lg_script_validate, &lg_script_stats_flush, &lg_script_stats_read,
    &lg_script_transition, &lg_script_room_open, &lg_script_sku_notify, &lg_script_watch,
    &lg_script_reply, &lg_script_expire, &lg_script_pay_timeout,
    /* the active-room index and the group's consumers */
    &lg_script_room_touch, &lg_script_room_prune, &lg_script_consumer_prune,
    &lg_script_room_delete};
#define NSCRIPTS (sizeof(all_scripts) / sizeof(all_scripts[0]))

static void set_body(struct lg_script *s, const char *body, size_t len)
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    s->body = body;
    s->len = len;
    SHA1((const unsigned char *)body, len, digest);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(s->sha + 2 * i, 3, "%02x", digest[i]);
}

void lg_scripts_init(void)
{
    set_body(&lg_script_enqueue, lg_lua_enqueue, lg_lua_enqueue_len);
    set_body(&lg_script_validate, lg_lua_validate, lg_lua_validate_len);
    set_body(&lg_script_stats_flush, lg_lua_stats_flush, lg_lua_stats_flush_len);
    set_body(&lg_script_stats_read, lg_lua_stats_read, lg_lua_stats_read_len);
    set_body(&lg_script_transition, lg_lua_transition, lg_lua_transition_len);
    set_body(&lg_script_watch, lg_lua_watch, lg_lua_watch_len);
    set_body(&lg_script_room_open, lg_lua_room_open, lg_lua_room_open_len);
    set_body(&lg_script_sku_notify, lg_lua_sku_notify, lg_lua_sku_notify_len);
    set_body(&lg_script_reply, lg_lua_reply, lg_lua_reply_len);
    set_body(&lg_script_expire, lg_lua_expire, lg_lua_expire_len);
    set_body(&lg_script_pay_timeout, lg_lua_pay_timeout, lg_lua_pay_timeout_len);
    set_body(&lg_script_room_touch, lg_lua_room_touch, lg_lua_room_touch_len);
    set_body(&lg_script_room_prune, lg_lua_room_prune, lg_lua_room_prune_len);
    set_body(&lg_script_room_delete, lg_lua_room_delete, lg_lua_room_delete_len);
    set_body(&lg_script_consumer_prune, lg_lua_consumer_prune, lg_lua_consumer_prune_len);
}

static void on_loaded(redisReply *reply, void *arg)
{
    struct lg_script *s = arg;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        lg_log(LG_LOG_ERROR, "redis.script_load_failed",
               json_pack("{s:s,s:s}", "script", s->name, "detail", reply->str));
}

static int send_load(struct lg_redis *r, struct lg_script *s)
{
    const char *argv[] = {"SCRIPT", "LOAD", s->body};
    size_t lens[] = {6, 4, s->len};
    return lg_redis_argv(r, on_loaded, s, 3, argv, lens);
}

void lg_scripts_load_all(struct lg_redis *r)
{
    for (size_t i = 0; i < NSCRIPTS; i++)
        send_load(r, all_scripts[i]);
}

/* One in-flight call: the argv for EVALSHA plus everything needed to replay it. */
struct script_call {
    struct lg_redis *r;
    struct lg_script *s;
    lg_redis_reply_fn fn;
    void *arg;
    int argc;
    bool retried;
    const char **argv;
    size_t *lens;
    char numkeys[16];
    /* argument bytes follow */
};

static int send_evalsha(struct script_call *c);

static void on_evalsha_reply(redisReply *reply, void *arg)
{
    struct script_call *c = arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && !c->retried &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        c->retried = true;
        lg_log(LG_LOG_WARN, "redis.noscript", json_pack("{s:s}", "script", c->s->name));
        /* Same connection, so the load is applied before the replayed call. */
        if (send_load(c->r, c->s) == 0 && send_evalsha(c) == 0)
            return;
        c->fn(NULL, c->arg);
        free(c);
        return;
    }
    c->fn(reply, c->arg);
    free(c);
}

static int send_evalsha(struct script_call *c)
{
    return lg_redis_argv(c->r, on_evalsha_reply, c, c->argc, c->argv, c->lens);
}

int lg_script_call(struct lg_redis *r, struct lg_script *s, lg_redis_reply_fn fn, void *arg,
                   int nkeys, int nargs, const char **args, const size_t *lens)
{
    int argc = nargs + 3;
    size_t bytes = 0;
    for (int i = 0; i < nargs; i++)
        bytes += lens ? lens[i] : strlen(args[i]);

    struct script_call *c =
        malloc(sizeof(*c) + (size_t)argc * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (!c)
        return -1;
    c->r = r;
    c->s = s;
    c->fn = fn;
    c->arg = arg;
    c->argc = argc;
    c->retried = false;
    c->argv = (const char **)(c + 1);
    c->lens = (size_t *)(c->argv + argc);
    char *data = (char *)(c->lens + argc);

    snprintf(c->numkeys, sizeof(c->numkeys), "%d", nkeys);
    c->argv[0] = "EVALSHA";
    c->lens[0] = 7;
    c->argv[1] = s->sha;
    c->lens[1] = 40;
    c->argv[2] = c->numkeys;
    c->lens[2] = strlen(c->numkeys);
    for (int i = 0; i < nargs; i++) {
        size_t len = lens ? lens[i] : strlen(args[i]);
        memcpy(data, args[i], len);
        c->argv[i + 3] = data;
        c->lens[i + 3] = len;
        data += len;
    }
    if (send_evalsha(c) != 0) {
        free(c);
        return -1;
    }
    return 0;
}
