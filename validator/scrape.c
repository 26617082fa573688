/* scrape.c - the validator's /metrics responder (see scrape.h). Every
 * connection gets one answer and is closed ("Connection: close"): there
 * is no keep-alive, no pipelining and no body to read, which keeps the
 * state of a connection to a fixed buffer and two libuv handles. A
 * connection is freed once both handles have closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/list.h"
#include "livegate/log.h"
#include "scrape.h"

#define LISTEN_BACKLOG 64

/* ---- the request and the response (pure) -------------------------------- */

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* "/metrics" or "/metrics?anything". */
static bool is_metrics_target(const char *t, size_t len)
{
    return starts_with(t, len, "/metrics") && (len == 8 || t[8] == '?');
}

enum lgv_scrape_request lgv_scrape_parse(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return LGV_SCRAPE_INCOMPLETE;
    const char *line_end = memmem(buf, len, "\r\n", 2);
    size_t line_len = (size_t)(line_end - buf);
    const char *sp1 = memchr(buf, ' ', line_len);
    if (!sp1 || sp1 == buf)
        return LGV_SCRAPE_BAD_REQUEST;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
    if (!sp2 || sp2 == target || *target != '/')
        return LGV_SCRAPE_BAD_REQUEST;
    size_t vlen = (size_t)(line_end - (sp2 + 1));
    if (vlen != 8 ||
        !(starts_with(sp2 + 1, vlen, "HTTP/1.1") || starts_with(sp2 + 1, vlen, "HTTP/1.0")))
        return LGV_SCRAPE_BAD_REQUEST;
    for (const char *p = buf; p < sp1; p++)
        if (*p < 'A' || *p > 'Z')
            return LGV_SCRAPE_BAD_REQUEST;
    if ((size_t)(sp1 - buf) != 3 || memcmp(buf, "GET", 3) != 0)
        return LGV_SCRAPE_BAD_METHOD;
    return is_metrics_target(target, (size_t)(sp2 - target)) ? LGV_SCRAPE_METRICS
                                                             : LGV_SCRAPE_NOT_FOUND;
}

char *lgv_scrape_response(enum lgv_scrape_request req, const char *body, size_t body_len,
                          size_t *len)
{
    const char *status = "400 Bad Request", *extra = "", *type = "text/plain; charset=utf-8";
    switch (req) {
    case LGV_SCRAPE_METRICS:
        status = "200 OK";
        type = "text/plain; version=0.0.4; charset=utf-8";
        break;
    case LGV_SCRAPE_NOT_FOUND:
        status = "404 Not Found";
        body = "only /metrics here\n";
        break;
    case LGV_SCRAPE_BAD_METHOD:
        status = "405 Method Not Allowed";
        extra = "Allow: GET\r\n";
        body = "/metrics is read with GET\n";
        break;
    case LGV_SCRAPE_INCOMPLETE: /* the buffer filled up first */
        status = "431 Request Header Fields Too Large";
        body = "the request is over 4096 bytes\n";
        break;
    default:
        body = "not an HTTP/1.x request\n";
    }
    if (req != LGV_SCRAPE_METRICS)
        body_len = strlen(body);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f,
            "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sCache-Control: "
            "no-store\r\nConnection: close\r\n\r\n",
            status, type, body_len, extra);
    fwrite(body, 1, body_len, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}

/* ---- serving (event-loop glue) ------------------------------------------- */

struct lgv_scrape {
    uv_tcp_t server;
    lgv_scrape_render_fn render;
    void *arg;
    struct lg_list conns; /* struct conn */
    size_t nconns;        /* allocated, closing ones included */
    bool closing, server_closed;
};

struct conn {
    struct lg_list node;
    struct lgv_scrape *s;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write;
    uv_shutdown_t shutdown;
    int handles; /* open libuv handles: freed at 0 */
    bool closing, answered;
    char *response;
    size_t len;
    char buf[LGV_SCRAPE_REQUEST_MAX];
};

static void maybe_free_scrape(struct lgv_scrape *s)
{
    if (s->closing && s->server_closed && s->nconns == 0)
        free(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles > 0)
        return;
    struct lgv_scrape *s = c->s;
    free(c->response);
    free(c);
    s->nconns--;
    maybe_free_scrape(s);
}

static void close_conn(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    lg_list_remove(&c->node);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    close_conn(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    close_conn(req->data);
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    (void)status; /* a failed write is closed by the shutdown that follows */
}

/* Writes the answer, then half-closes: the client reads it to the end. */
static void answer(struct conn *c, enum lgv_scrape_request req)
{
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    char *body = NULL;
    size_t body_len = 0;
    if (req == LGV_SCRAPE_METRICS && !(body = c->s->render(c->s->arg, &body_len))) {
        close_conn(c);
        return;
    }
    c->response = lgv_scrape_response(req, body, body_len, &c->len);
    free(body);
    uv_buf_t buf = uv_buf_init(c->response, (unsigned)c->len);
    c->write.data = c;
    c->shutdown.data = c;
    if (!c->response || uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0 ||
        uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        close_conn(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = stream->data;
    if (nread < 0) {
        close_conn(c);
        return;
    }
    c->len += (size_t)nread;
    enum lgv_scrape_request req = lgv_scrape_parse(c->buf, c->len);
    if (req != LGV_SCRAPE_INCOMPLETE || c->len == sizeof(c->buf))
        answer(c, req);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct lgv_scrape *s = server->data;
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->s = s;
    c->handles = 2;
    lg_list_init(&c->node);
    lg_list_insert_tail(&s->conns, &c->node);
    s->nconns++;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || s->nconns > LGV_SCRAPE_MAX_CONNS) {
        close_conn(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, LGV_SCRAPE_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        close_conn(c);
}

static int bind_address(const char *host, int port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
}

static void on_server_closed(uv_handle_t *h)
{
    struct lgv_scrape *s = h->data;
    s->server_closed = true;
    maybe_free_scrape(s);
}

struct lgv_scrape *lgv_scrape_start(uv_loop_t *loop, const char *host, int port,
                                    lgv_scrape_render_fn render, void *arg)
{
    struct lgv_scrape *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->render = render;
    s->arg = arg;
    lg_list_init(&s->conns);
    uv_tcp_init(loop, &s->server);
    s->server.data = s;
    struct sockaddr_storage ss;
    int rc = bind_address(host, port, &ss);
    if (rc == 0)
        rc = uv_tcp_bind(&s->server, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->server, LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        lg_log(LG_LOG_ERROR, "validator.listen_failed",
               json_pack("{s:s,s:i,s:s}", "host", host, "port", port, "detail", uv_strerror(rc)));
        s->closing = true;
        uv_close((uv_handle_t *)&s->server, on_server_closed);
        return NULL;
    }
    return s;
}

void lgv_scrape_close(struct lgv_scrape *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    while (!lg_list_empty(&s->conns))
        close_conn(lg_list_entry(lg_list_first(&s->conns), struct conn, node));
    uv_close((uv_handle_t *)&s->server, on_server_closed);
}
