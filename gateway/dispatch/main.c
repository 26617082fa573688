/* main.c - the livegate gateway process: wires the libuv loop, the Redis
 * connection and the lws server together, and handles a graceful stop:
 * on SIGTERM or SIGINT viewers are closed with 1001 (so they reconnect to
 * another gateway), orders in flight get their replies, then the process
 * exits. Also hosts `livegate token`, which mints tokens for demos and
 * tests. With no command it prints its usage and serves nothing: a typo or
 * a bare `livegate` must not bind a port and join a running gateway's. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/bus.h"
#include "features/expiry.h"
#include "features/fanout.h"
#include "features/intake.h"
#include "core/gateway.h"
#include "features/monitor.h"
#include "features/token_watch.h"
#include "features/results.h"
#include "features/rooms.h"
#include "conn/session.h"
#include "conn/ws.h"
#include "sku_notify.h"
#include "livegate/crypto.h"
#include "livegate/heap.h"
#include "livegate/log.h"
#include "livegate/token.h"
#include "scripts.h"
#include "dispatch/server.h"
#include "stats.h"

/* How long a stopping gateway waits for in-flight orders and closes. */
#define STOP_GRACE_MS 5000
#define STOP_POLL_MS 50

static void on_redis_state(struct lg_redis *r, bool up, void *arg)
{
    struct lg_gateway *gw = arg;
    if (up) {
        lg_scripts_load_all(r);
        lg_rooms_forget(gw);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void finish_stop(struct lg_gateway *gw)
{
    uv_timer_stop(&gw->stop_timer);
    uv_close((uv_handle_t *)&gw->stop_timer, on_handle_closed);
    uv_close((uv_handle_t *)&gw->sig_int, on_handle_closed);
    uv_close((uv_handle_t *)&gw->sig_term, on_handle_closed);
    if (gw->monitors)
        lg_monitor_stop(gw->monitors);
    lg_token_watch_close(gw->token_watch);
    gw->token_watch = NULL;
    lg_server_stop(gw);
    lg_ws_write_soon_close(gw);  /* the sessions are gone with the server */
    lg_intake_close(gw->intake); /* before the connection it sends on */
    gw->intake = NULL;
    lg_expiry_close(gw->expiry); /* likewise */
    gw->expiry = NULL;
    lg_stats_stop(gw->stats);
    struct lg_results *results = gw->results;
    gw->results = NULL;
    if (results)
        lg_results_close(results);
    lg_fanout_stop(gw);
    lg_sku_notifier_free(gw->sku_notifier); /* before the connection it uses */
    gw->sku_notifier = NULL;
    struct lg_bus *bus = gw->bus;
    gw->bus = NULL;
    if (bus)
        lg_bus_close(bus);
    lg_redis_close(gw->redis);
    lg_log(LG_LOG_INFO, "gateway.stopped", NULL);
}

/* A session is closed with 1001 once nothing it sent is still in flight,
 * so a viewer whose order was being queued still gets order.accepted. */
static void close_idle_sessions(struct lg_gateway *gw)
{
    for (struct lg_list *q = gw->sessions.next; q != &gw->sessions; q = q->next) {
        struct lg_session *s = lg_list_entry(q, struct lg_session, node);
        if (lg_list_empty(&s->waiters))
            lg_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "gateway shutting down");
    }
}

static void on_stop_poll(uv_timer_t *t)
{
    struct lg_gateway *gw = t->data;
    static int waited_ms;
    waited_ms += STOP_POLL_MS;
    close_idle_sessions(gw);
    bool drained = gw->n_sessions == 0 && lg_redis_in_flight(gw->redis) == 0;
    if (drained || waited_ms >= STOP_GRACE_MS)
        finish_stop(gw);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct lg_gateway *gw = sig->data;
    if (gw->stopping)
        return;
    gw->stopping = true;
    lg_server_stop_accepting(gw);
    lg_log(LG_LOG_INFO, "gateway.stopping",
           json_pack("{s:i,s:I}", "signal", signum, "sessions", (json_int_t)gw->n_sessions));
    close_idle_sessions(gw);
    uv_timer_start(&gw->stop_timer, on_stop_poll, STOP_POLL_MS, STOP_POLL_MS);
}

#ifndef LIVEGATE_VERSION
#define LIVEGATE_VERSION "unknown"
#endif

static const char USAGE[] =
    "usage: livegate serve          run a gateway process\n"
    "       livegate token OPTION...  mint a token (livegate token --help)\n"
    "       livegate --version | --help\n"
    "Settings come from the environment; see the README.\n";

static const char SERVE_HELP[] =
    "usage: livegate serve\n"
    "Runs one gateway process: WebSocket /v1/ws, the HTTP API /v1/..., /healthz,\n"
    "/metrics and the web pages, on LIVEGATE_LISTEN (default 127.0.0.1:8080).\n"
    "Several processes may share the port (SO_REUSEPORT). SIGTERM or SIGINT stops\n"
    "it gracefully: viewers are closed with 1001 once their orders are answered.\n"
    "Needs LIVEGATE_JWT_SECRET and LIVEGATE_DATA_KEY (or LIVEGATE_DEMO=1) and a\n"
    "Redis (LIVEGATE_REDIS_URL); every setting is in the README.\n";

static const char TOKEN_HELP[] =
    "usage: livegate token --sub USER --room ROOM --role viewer|operator|admin\n"
    "                      [--tier vip] [--ttl SECONDS]\n"
    "Prints an HS256 token signed with LIVEGATE_JWT_SECRET (or, with\n"
    "LIVEGATE_DEMO=1 and no secret, the demo secret).\n"
    "  --sub USER     the user id (claim sub)\n"
    "  --room ROOM    the room, or '*' for every room (admins)\n"
    "  --role ROLE    viewer, operator or admin\n"
    "  --tier vip     a VIP viewer (its orders are queued first)\n"
    "  --ttl SECONDS  lifetime, default 3600\n"
    "  --help         this text\n";

/* Prints text to stdout (asked for: exit 0), or why and text to stderr. */
static int usage(const char *text, const char *why)
{
    if (!why) {
        fputs(text, stdout);
        return 0;
    }
    fprintf(stderr, "%s\n%s", why, text);
    return 2;
}

static int is_flag(const char *arg, const char *long_name, const char *short_name)
{
    return strcmp(arg, long_name) == 0 || (short_name && strcmp(arg, short_name) == 0);
}

static int token_command(int argc, char **argv)
{
    static const struct option opts[] = {{"sub", required_argument, NULL, 's'},
                                         {"room", required_argument, NULL, 'r'},
                                         {"role", required_argument, NULL, 'o'},
                                         {"tier", required_argument, NULL, 't'},
                                         {"ttl", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct lg_claims claims;
    memset(&claims, 0, sizeof(claims));
    long ttl = 3600;
    bool have_role = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            snprintf(claims.sub, sizeof(claims.sub), "%s", optarg);
            break;
        case 'r':
            snprintf(claims.room, sizeof(claims.room), "%s", optarg);
            break;
        case 'o':
            have_role = lg_role_parse(optarg, &claims.role) == 0;
            if (!have_role)
                return usage(TOKEN_HELP,
                             "livegate token: --role must be viewer, operator or admin");
            break;
        case 't':
            if (strcmp(optarg, "vip") != 0)
                return usage(TOKEN_HELP, "livegate token: --tier must be vip");
            claims.vip = true;
            break;
        case 'l': {
            char *end = NULL;
            ttl = strtol(optarg, &end, 10);
            if (!*optarg || *end || ttl <= 0)
                return usage(TOKEN_HELP,
                             "livegate token: --ttl must be a whole number of seconds above 0");
            break;
        }
        case 'h':
            return usage(TOKEN_HELP, NULL);
        default:
            return usage(TOKEN_HELP, "livegate token: unknown option or missing value");
        }
    }
    if (optind < argc)
        return usage(TOKEN_HELP, "livegate token: unexpected argument");
    if (!claims.sub[0] || !claims.room[0] || !have_role)
        return usage(TOKEN_HELP, "livegate token: --sub, --room and --role are required");
    const char *secret = getenv("LIVEGATE_JWT_SECRET");
    if (!secret || !*secret) {
        const char *demo = getenv("LIVEGATE_DEMO");
        if (!demo || strcmp(demo, "1") != 0) {
            fprintf(stderr, "livegate token: LIVEGATE_JWT_SECRET is not set\n");
            return 1;
        }
        secret = LG_DEMO_SECRET;
    }
    claims.exp = (long long)time(NULL) + ttl;
    char *token = lg_token_mint(secret, strlen(secret), &claims);
    if (!token) {
        fprintf(stderr, "livegate token: the claims break the token rules\n");
        return 1;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}

static int serve(void)
{
    static struct lg_gateway gw;
    char err[256];
    if (lg_gateway_config_load(&gw.cfg, err, sizeof(err)) != 0) {
        lg_log_init("livegate", LG_LOG_INFO);
        lg_log(LG_LOG_ERROR, "gateway.config_invalid", json_pack("{s:s}", "detail", err));
        return 1;
    }
    lg_log_init("livegate", gw.cfg.log_level);
    /* Before the intake is made: its fingerprinter derives its key from the
     * oldest key held (see gateway/rules/fingerprint.h). */
    for (size_t i = 0; i < gw.cfg.n_old_data_keys; i++)
        lg_crypto_add_old_key(gw.cfg.old_data_keys[i]);
    signal(SIGPIPE, SIG_IGN);
    lg_heap_tune();
    lg_scripts_init();

    uv_loop_t loop;
    uv_loop_init(&loop);
    gw.loop = &loop;
    gw.listen_fd = -1;
    lg_list_init(&gw.sessions);
    lg_ws_write_soon_init(&gw);
    gw.conns_per_ip = lg_strmap_new();
    gw.registered_rooms = lg_strmap_new();
    gw.sessions_by_user = lg_strmap_new();
    gw.sessions_by_room = lg_strmap_new();

    char conn_name[96];
    snprintf(conn_name, sizeof(conn_name), "livegate:%s", gw.cfg.gateway_id);
    gw.redis = lg_redis_new(&loop, &gw.cfg.redis, conn_name, gw.cfg.redis_timeout_ms);
    lg_redis_on_state(gw.redis, on_redis_state, &gw);
    gw.sku_notifier = lg_sku_notifier_new(&loop, gw.redis);
    gw.intake = lg_intake_new(&gw);

    if (lg_server_start(&gw) != 0) {
        lg_server_stop(&gw);
        lg_ws_write_soon_close(&gw);
        lg_intake_close(gw.intake);
        lg_sku_notifier_free(gw.sku_notifier);
        lg_redis_close(gw.redis);
        uv_run(&loop, UV_RUN_DEFAULT);
        /* What the loop itself holds, so a refused start (a taken port)
         * leaves nothing behind for a leak checker either. */
        uv_loop_close(&loop);
        lg_strmap_free(gw.conns_per_ip);
        lg_strmap_free(gw.registered_rooms);
        lg_strmap_free(gw.sessions_by_user);
        lg_strmap_free(gw.sessions_by_room);
        return 1;
    }
    lg_redis_start(gw.redis);
    gw.bus = lg_bus_new(&gw);
    if (gw.bus) {
        lg_fanout_start(&gw);
        lg_bus_start(gw.bus);
    }
    gw.results = lg_results_new(&gw);
    if (gw.results)
        lg_results_start(gw.results);
    gw.expiry = lg_expiry_new(&gw);
    if (gw.expiry)
        lg_expiry_start(gw.expiry);
    gw.stats = lg_stats_new(gw.cfg.gateway_id, true);
    /* Started before the monitors' tick, so each second's flush runs just
     * before that second's read. */
    if (gw.stats)
        lg_stats_start(gw.stats, &loop, gw.redis);
    gw.monitors = lg_monitor_new(&gw);
    if (gw.monitors)
        lg_monitor_start(gw.monitors);
    gw.token_watch = lg_token_watch_new(&gw);
    if (gw.token_watch)
        lg_token_watch_start(gw.token_watch);

    uv_timer_init(&loop, &gw.stop_timer);
    gw.stop_timer.data = &gw;
    uv_signal_init(&loop, &gw.sig_int);
    uv_signal_init(&loop, &gw.sig_term);
    gw.sig_int.data = gw.sig_term.data = &gw;
    uv_signal_start(&gw.sig_int, on_signal, SIGINT);
    uv_signal_start(&gw.sig_term, on_signal, SIGTERM);

    char key_id[LG_DATA_KEY_ID_TEXT_LEN + 1];
    lg_crypto_key_id_text(gw.cfg.data_key, key_id);
    lg_log(LG_LOG_INFO, "gateway.listening",
           json_pack("{s:s,s:i,s:s,s:b,s:b,s:s,s:s,s:I}", "host", gw.cfg.listen_host, "port",
                     gw.cfg.listen_port, "gateway_id", gw.cfg.gateway_id, "tls",
                     gw.cfg.tls_cert[0] != 0, "demo", gw.cfg.demo, "version", LIVEGATE_VERSION,
                     "data_key_id", key_id, "old_data_keys", (json_int_t)gw.cfg.n_old_data_keys));
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    lg_monitor_free(gw.monitors);
    lg_stats_free(gw.stats);
    lg_strmap_free(gw.conns_per_ip);
    lg_strmap_free(gw.registered_rooms);
    lg_strmap_free(gw.sessions_by_user);
    lg_strmap_free(gw.sessions_by_room);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(USAGE, "livegate: a command is needed (livegate serve runs the gateway)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "token") == 0)
        return token_command(argc - 1, argv + 1);
    if (is_flag(cmd, "--help", "-h") || strcmp(cmd, "help") == 0)
        return argc == 2 ? usage(USAGE, NULL) : usage(USAGE, "livegate: unexpected argument");
    if (is_flag(cmd, "--version", "-V") && argc == 2) {
        printf("livegate %s\n", LIVEGATE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) {
        if (argc == 3 && is_flag(argv[2], "--help", "-h"))
            return usage(SERVE_HELP, NULL);
        if (argc > 2)
            return usage(SERVE_HELP,
                         "livegate serve: takes no arguments (settings come from the environment)");
        return serve();
    }
    char why[160];
    snprintf(why, sizeof(why), "livegate: unknown command '%.64s'", cmd);
    return usage(USAGE, why);
}
