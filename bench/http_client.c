/* http_client.c - a minimal blocking HTTP/1.1 client ("Connection: close",
 * Content-Length bodies) for the bench's set-up and stock check. The caller
 * ignores SIGPIPE. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_client.h"
#include "livegate/fd.h"

static int dial(const char *host, int port, int timeout_s, char *err, size_t errsz)
{
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc) {
        snprintf(err, errsz, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = timeout_s};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errsz, "cannot connect to %s:%d: %s", host, port, strerror(errno));
    return fd;
}

int lg_http_request(const char *host, int port, const char *method, const char *path,
                    const char *token, const char *body, struct lg_http_response *out, char *err,
                    size_t errsz)
{
    return lg_http_request_within(host, port, method, path, token, body, 10, out, err, errsz);
}

int lg_http_request_within(const char *host, int port, const char *method, const char *path,
                           const char *token, const char *body, int timeout_s,
                           struct lg_http_response *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    int fd = dial(host, port, timeout_s, err, errsz);
    if (fd < 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    char head[8192];
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      method, path, host, port, token ? token : "", blen);
    if (hl < 0 || (size_t)hl >= sizeof(head) || lg_fd_write_all(fd, head, (size_t)hl) ||
        (blen && lg_fd_write_all(fd, body, blen))) {
        snprintf(err, errsz, "%s %s: could not send the request", method, path);
        close(fd);
        return -1;
    }
    /* Read to EOF: the request said "Connection: close". */
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 == cap) {
            char *n = realloc(buf, cap * 2);
            if (!n) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = n;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (!buf) {
        snprintf(err, errsz, "out of memory");
        close(fd);
        return -1;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1 || !sep) {
        snprintf(err, errsz, "%s %s: no HTTP response", method, path);
        free(buf);
        return -1;
    }
    size_t off = (size_t)(sep + 4 - buf);
    memmove(buf, buf + off, len - off + 1);
    out->body = buf;
    out->body_len = len - off;
    return 0;
}
