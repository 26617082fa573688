/* http_client.h - the few blocking HTTP/1.1 requests the bench makes before
 * and after a run (setting up rooms, reading stock back). They happen
 * outside the measured window, so a plain blocking socket is the simplest
 * thing that works; the load itself goes through libwebsockets. */
#ifndef LG_BENCH_HTTP_CLIENT_H
#define LG_BENCH_HTTP_CLIENT_H

#include <stddef.h>

struct lg_http_response {
    int status; /* 0 when the request failed before a status line */
    char *body; /* NUL-terminated, malloc'd; the caller frees it */
    size_t body_len;
};

/* Sends one request (body may be NULL) with a bearer token, and reads the
 * whole response. Returns 0, or -1 with a reason in err. */
int lg_http_request(const char *host, int port, const char *method, const char *path,
                    const char *token, const char *body, struct lg_http_response *out, char *err,
                    size_t errsz);

/* The same, waiting up to timeout_s for each read and write (lg_http_request
 * waits 10 s): a room delete that cancels a flood's unpaid orders answers
 * only once they all are, which can take longer (the gateway allows it 300 s). */
int lg_http_request_within(const char *host, int port, const char *method, const char *path,
                           const char *token, const char *body, int timeout_s,
                           struct lg_http_response *out, char *err, size_t errsz);

#endif
