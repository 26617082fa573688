/* server.c - the libwebsockets context (see server.h). One protocol serves
 * both the HTTP API and the WebSocket endpoint, so a plain GET and an
 * upgrade on the same port reach the same callback; the callback only
 * routes each reason to ws.c or http.c. */
#include <openssl/ssl.h>
#include <string.h>

#include "conn/http.h"
#include "conn/listener.h"
#include "livegate/fd.h"
#include "livegate/log.h"
#include "dispatch/dispatch.h"
#include "dispatch/server.h"
#include "features/api.h"
#include "conn/ws.h"

/* The per-process metrics address serves GET /metrics and nothing else:
 * no pages, no API, no WebSocket. */
static bool on_metrics_port(struct lg_gateway *gw, struct lws *wsi)
{
    return gw->metrics_vhost && lws_get_vhost(wsi) == gw->metrics_vhost;
}

static int refuse_on_metrics_port(struct lws *wsi)
{
    if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "only /metrics here"))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback_livegate(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct lg_pss *pss = user;
    struct lg_gateway *gw = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_metrics_port(gw, wsi) ? 1 : lg_ws_filter(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return lg_ws_established(gw, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return lg_ws_receive(wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return lg_ws_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED:
        lg_ws_closed(gw, pss);
        return 0;
    case LWS_CALLBACK_HTTP:
        if (on_metrics_port(gw, wsi) && (!in || strcmp(in, "/metrics") != 0))
            return refuse_on_metrics_port(wsi);
        return lg_http_begin(gw, wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        return lg_http_body(pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return lg_http_body_done(pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return lg_http_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss)
            lg_http_closed(pss);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size is the receive buffer lws allocates for every
     * connection, so it is most of an idle connection's memory: 1 KiB holds
     * a submit (about 500 bytes) in one callback, and longer messages are
     * assembled by ws.c up to 16 KiB. (4 KiB cost 6.1 KiB per idle
     * connection, 1 KiB 3.2.) tx_packet_size
     * lets one send() carry all that ws.c writes at once; left 0, lws
     * would send rx_buffer_size bytes a time and copy the rest. */
    {"livegate", callback_livegate, sizeof(struct lg_pss), 1024, 0, NULL, LG_WS_WRITE_MAX},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_to_json(int level, const char *line)
{
    char text[512];
    size_t n = strlen(line);
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    memcpy(text, line, n);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    text[n] = 0;
    lg_log(level == LLL_ERR ? LG_LOG_ERROR : LG_LOG_WARN, "lws", json_pack("{s:s}", "line", text));
}

/* The per-process metrics address: lws listens on it itself, without
 * SO_REUSEPORT, so a second process given the same address fails to start
 * instead of sharing it. Plain HTTP: it is meant for a local scraper. */
static int start_metrics_vhost(struct lg_gateway *gw, const struct lws_context_creation_info *base)
{
    struct lws_context_creation_info info = *base;
    info.vhost_name = "metrics";
    info.port = gw->cfg.metrics_port;
    info.iface = gw->cfg.metrics_host;
    info.ssl_cert_filepath = NULL;
    info.ssl_private_key_filepath = NULL;
    info.alpn = NULL;
    gw->metrics_vhost = lws_create_vhost(gw->lws, &info);
    if (!gw->metrics_vhost) {
        lg_log(LG_LOG_ERROR, "gateway.listen_failed",
               json_pack("{s:s,s:i,s:s}", "host", gw->cfg.metrics_host, "port",
                         gw->cfg.metrics_port, "detail",
                         "LIVEGATE_METRICS_LISTEN could not be bound (in use?)"));
        return -1;
    }
    lg_log(LG_LOG_INFO, "metrics.listening",
           json_pack("{s:s,s:i,s:s}", "host", gw->cfg.metrics_host, "port", gw->cfg.metrics_port,
                     "gateway_id", gw->cfg.gateway_id));
    return 0;
}

int lg_server_start(struct lg_gateway *gw)
{
    static void *foreign_loops[1];
    foreign_loops[0] = gw->loop;
    const struct lg_gateway_config *cfg = &gw->cfg;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_json);
    /* The connection layer calls up only through what is installed here. */
    lg_dispatch_install(gw);
    lg_http_set_handler(gw, lg_api_handle);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    /* lws serves connections but does not listen: listener.c accepts them. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = foreign_loops;
    info.user = gw;
    info.max_http_header_data = 8192;
    /* No lws "validity" timers (idle ping after 300 s, hang-up at 310 s, the
     * default): lws 4.1 keeps one per connection in a sorted list and walks
     * it from the head on each reschedule, which took over a third of a
     * gateway's CPU in a 20,000-viewer burst (livegate-bench under perf).
     * TCP keepalive finds dead peers instead, at no cost per frame: the
     * listener sets it on each accepted socket (lws does not on adopted
     * ones). */
    static const lws_retry_bo_t no_validity_timers = {.secs_since_valid_ping = 0,
                                                      .secs_since_valid_hangup = 0};
    info.retry_and_idle_policy = &no_validity_timers;
    /* lws sizes its fd table from the soft limit; use all we may have. */
    info.fd_limit_per_thread = (unsigned int)lg_fd_raise_limit();
    if (cfg->tls_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        info.ssl_options_set =
            SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        info.alpn = "http/1.1";
    }
    gw->lws = lws_create_context(&info);
    if (gw->lws)
        gw->vhost = lws_create_vhost(gw->lws, &info);
    if (!gw->lws || !gw->vhost) {
        lg_log(LG_LOG_ERROR, "gateway.start_failed",
               json_pack("{s:s}", "detail", "libwebsockets could not start (TLS files?)"));
        return -1;
    }
    if (cfg->metrics_port && start_metrics_vhost(gw, &info) != 0)
        return -1;
    return lg_listener_start(gw);
}

void lg_server_stop_accepting(struct lg_gateway *gw)
{
    lg_listener_stop(gw);
}

void lg_server_stop(struct lg_gateway *gw)
{
    lg_listener_stop(gw);
    if (gw->lws) {
        lws_context_destroy(gw->lws);
        gw->lws = NULL;
    }
}
