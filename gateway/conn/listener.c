/* listener.c - SO_REUSEPORT listening socket feeding lws (see listener.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn/listener.h"
#include "livegate/log.h"

/* Connections accepted per readiness event, so one burst of thousands of
 * connects cannot starve the rest of the loop. */
#define ACCEPTS_PER_WAKE 256
#define BACKLOG 4096

/* A peer gone without a FIN (a phone that lost its network) is found by TCP
 * keepalive: probes after 5 idle minutes, closed after 3 unanswered ones 10 s
 * apart - what lws's own idle timers did before server.c turned them off. */
static void set_keepalive(int fd)
{
    int on = 1, idle = 300, interval = 10, probes = 3;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

static int open_socket(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof(*v6);
    } else {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    struct lg_gateway *gw = poll->data;
    if (status < 0 || !(events & UV_READABLE))
        return;
    lws_adoption_type type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
    if (gw->cfg.tls_cert[0])
        type |= LWS_ADOPT_ALLOW_SSL;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(gw->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                lg_log(LG_LOG_WARN, "gateway.accept_failed",
                       json_pack("{s:s}", "detail", strerror(errno)));
            return;
        }
        set_keepalive(fd);
        lws_sock_file_fd_type desc = {.sockfd = fd};
        /* On failure lws closes the fd itself. */
        lws_adopt_descriptor_vhost(gw->vhost, type, desc, NULL, NULL);
    }
}

int lg_listener_start(struct lg_gateway *gw)
{
    gw->listen_fd = open_socket(gw->cfg.listen_host, gw->cfg.listen_port);
    if (gw->listen_fd < 0) {
        lg_log(LG_LOG_ERROR, "gateway.listen_failed",
               json_pack("{s:s,s:i,s:s}", "host", gw->cfg.listen_host, "port", gw->cfg.listen_port,
                         "detail", strerror(errno)));
        return -1;
    }
    uv_poll_init_socket(gw->loop, &gw->listen_poll, gw->listen_fd);
    gw->listen_poll.data = gw;
    uv_poll_start(&gw->listen_poll, UV_READABLE, on_readable);
    return 0;
}

static void on_poll_closed(uv_handle_t *h)
{
    struct lg_gateway *gw = h->data;
    close(gw->listen_fd);
    gw->listen_fd = -1;
}

void lg_listener_stop(struct lg_gateway *gw)
{
    if (gw->listen_fd < 0 || uv_is_closing((uv_handle_t *)&gw->listen_poll))
        return;
    uv_poll_stop(&gw->listen_poll);
    uv_close((uv_handle_t *)&gw->listen_poll, on_poll_closed);
}
