/* bus_probe.c - drives gateway/bus.c against a real Redis for the
 * integration tests (tests/integration/bus-api.test.mjs), since no shipped
 * code subscribes and unsubscribes at will yet (monitors will). Reads
 * commands from stdin, one a line:
 *   sub CHANNEL ID      lg_bus_subscribe(CHANNEL, on_message, &ids[ID])
 *   unsub CHANNEL ID    lg_bus_unsubscribe(...) with the same arguments
 *   once CHANNEL ID     subscribe; the first message unsubscribes it from
 *                       inside the callback
 *   quit                close the bus and exit
 * and prints "msg ID CHANNEL PAYLOAD" for every delivered message, "ok" after
 * each command. Usage: bus_probe REDIS_URL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features/bus.h"
#include "core/gateway.h"
#include "livegate/log.h"

#define MAX_IDS 16

static struct lg_gateway gw;
static int ids[MAX_IDS];
static bool once[MAX_IDS];
static char once_channel[MAX_IDS][128];
static uv_pipe_t in;
static char line[512];
static size_t line_len;

static void on_message(const char *channel, const char *payload, size_t len, void *arg)
{
    int id = *(int *)arg;
    printf("msg %d %s %.*s\n", id, channel, (int)len, payload);
    fflush(stdout);
    if (once[id]) {
        once[id] = false;
        lg_bus_unsubscribe(gw.bus, once_channel[id], on_message, arg);
    }
}

static void on_in_closed(uv_handle_t *h)
{
    (void)h;
}

static void quit(void)
{
    if (!gw.bus)
        return;
    uv_read_stop((uv_stream_t *)&in);
    uv_close((uv_handle_t *)&in, on_in_closed);
    lg_bus_close(gw.bus);
    gw.bus = NULL;
}

static void run_command(char *cmd)
{
    char verb[16], channel[128];
    int id = -1;
    if (strcmp(cmd, "quit") == 0) {
        quit();
        return;
    }
    if (sscanf(cmd, "%15s %127s %d", verb, channel, &id) != 3 || id < 0 || id >= MAX_IDS) {
        printf("bad %s\n", cmd);
    } else if (strcmp(verb, "sub") == 0) {
        printf(lg_bus_subscribe(gw.bus, channel, on_message, &ids[id]) == 0 ? "ok\n" : "fail\n");
    } else if (strcmp(verb, "once") == 0) {
        once[id] = true;
        snprintf(once_channel[id], sizeof(once_channel[id]), "%s", channel);
        printf(lg_bus_subscribe(gw.bus, channel, on_message, &ids[id]) == 0 ? "ok\n" : "fail\n");
    } else if (strcmp(verb, "unsub") == 0) {
        lg_bus_unsubscribe(gw.bus, channel, on_message, &ids[id]);
        printf("ok\n");
    } else {
        printf("bad %s\n", cmd);
    }
    fflush(stdout);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char chunk[4096];
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)s;
    if (n < 0) {
        quit();
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char ch = buf->base[i];
        if (ch == '\n') {
            line[line_len] = 0;
            line_len = 0;
            run_command(line);
            if (!gw.bus)
                return;
        } else if (line_len + 1 < sizeof(line)) {
            line[line_len++] = ch;
        }
    }
}

int main(int argc, char **argv)
{
    char err[128];
    if (argc != 2 || lg_redis_url_parse(argv[1], &gw.cfg.redis, err, sizeof(err)) != 0) {
        fprintf(stderr, "usage: bus_probe REDIS_URL\n");
        return 2;
    }
    lg_log_init("bus_probe", LG_LOG_INFO);
    for (int i = 0; i < MAX_IDS; i++)
        ids[i] = i;
    snprintf(gw.cfg.gateway_id, sizeof(gw.cfg.gateway_id), "probe-%d", (int)getpid());
    gw.cfg.redis_timeout_ms = 1000;
    uv_loop_t loop;
    uv_loop_init(&loop);
    gw.loop = &loop;
    gw.bus = lg_bus_new(&gw);
    if (!gw.bus)
        return 1;
    lg_bus_start(gw.bus);
    uv_pipe_init(&loop, &in, 0);
    uv_pipe_open(&in, 0);
    uv_read_start((uv_stream_t *)&in, on_alloc, on_read);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
