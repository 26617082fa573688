/* main.c - the livegate-validator process. Run as many as the
 * load needs, on any machine that reaches Redis: they share the work
 * through one consumer group and take over each other's entries. SIGTERM
 * or SIGINT finishes the batch in hand (its results sent, its entries
 * acknowledged) before exiting. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "livegate/heap.h"
#include "livegate/log.h"
#include "scripts.h"
#include "validator.h"

#ifndef LIVEGATE_VERSION
#define LIVEGATE_VERSION "unknown"
#endif

static uv_signal_t sig_int, sig_term;

static const char HELP[] =
    "usage: livegate-validator\n"
    "       livegate-validator --version | --help\n"
    "Runs one validator worker: it reads the rooms' order streams in Redis\n"
    "(LIVEGATE_REDIS_URL), decides each order and sends the results. Run as many\n"
    "as the load needs; they share the work through one consumer group.\n"
    "SIGTERM or SIGINT finishes the batch in hand, then exits.\n"
    "Settings come from the environment; see the README.\n";

/* The only arguments are --help and --version; anything else is refused,
 * so a mistyped option does not start a worker. */
static int command_line(int argc, char **argv)
{
    const char *arg = argv[1];
    if (argc == 2 && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
        fputs(HELP, stdout);
        return 0;
    }
    if (argc == 2 && (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0)) {
        printf("livegate-validator %s\n", LIVEGATE_VERSION);
        return 0;
    }
    fprintf(stderr, "livegate-validator: unexpected argument '%.64s'\n%s", arg, HELP);
    return 2;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    lg_log(LG_LOG_INFO, "validator.stopping", json_pack("{s:i}", "signal", signum));
    lg_validator_stop(sig->data);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return command_line(argc, argv);
    struct lg_validator_config cfg;
    char err[256];
    lg_log_init("livegate-validator", LG_LOG_INFO);
    if (lg_validator_config_load(&cfg, err, sizeof(err)) != 0) {
        lg_log(LG_LOG_ERROR, "validator.config_invalid", json_pack("{s:s}", "detail", err));
        return 1;
    }
    lg_log_init("livegate-validator", cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    lg_heap_tune();
    lg_scripts_init();

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct lg_validator *v = lg_validator_new(&loop, &cfg);
    if (!v)
        return 1;
    if (lg_validator_listen_metrics(v) != 0) {
        /* Stopped before its first cycle: it closes what it opened. */
        lg_validator_stop(v);
        lg_validator_start(v);
        uv_run(&loop, UV_RUN_DEFAULT);
        lg_validator_free(v);
        uv_loop_close(&loop);
        return 1;
    }
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_term);
    sig_int.data = sig_term.data = v;
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    lg_log(LG_LOG_INFO, "validator.started",
           json_pack("{s:s,s:i,s:i}", "consumer", cfg.consumer, "batch", cfg.batch, "deadline_ms",
                     cfg.deadline_ms));
    lg_validator_start(v);
    uv_run(&loop, UV_RUN_DEFAULT);
    lg_validator_free(v);
    uv_loop_close(&loop);
    return 0;
}
