/* scrape.h - the validator's GET /metrics over HTTP/1.1, on
 * LIVEGATE_METRICS_LISTEN. A validator has no web server, and Prometheus
 * scrapes plain HTTP over TCP, so this is the smallest responder that does:
 * one GET per connection, answered and closed. It is bounded on every side:
 * a request is at most LGV_SCRAPE_REQUEST_MAX bytes and must arrive within
 * LGV_SCRAPE_TIMEOUT_MS, and at most LGV_SCRAPE_MAX_CONNS connections are
 * served at once (more are closed on accept). */
#ifndef LG_VALIDATOR_SCRAPE_H
#define LG_VALIDATOR_SCRAPE_H

#include <stddef.h>
#include <uv.h>

#define LGV_SCRAPE_REQUEST_MAX 4096
#define LGV_SCRAPE_TIMEOUT_MS 5000
#define LGV_SCRAPE_MAX_CONNS 16

enum lgv_scrape_request {
    LGV_SCRAPE_INCOMPLETE,  /* no end of headers yet */
    LGV_SCRAPE_METRICS,     /* GET /metrics (a query is ignored) */
    LGV_SCRAPE_NOT_FOUND,   /* GET of another path */
    LGV_SCRAPE_BAD_METHOD,  /* another method */
    LGV_SCRAPE_BAD_REQUEST, /* not an HTTP/1.x request line */
};

/* What the len bytes received so far ask for. Pure. */
enum lgv_scrape_request lgv_scrape_parse(const char *buf, size_t len);

/* The whole response to a request (status line, headers, body); the
 * caller frees it. body is the metrics text for LGV_SCRAPE_METRICS. NULL
 * when out of memory. Pure. */
char *lgv_scrape_response(enum lgv_scrape_request req, const char *body, size_t body_len,
                          size_t *len);

/* Renders the document for a scrape; the caller frees it (NULL: no memory). */
typedef char *(*lgv_scrape_render_fn)(void *arg, size_t *len);

struct lgv_scrape;
/* Listens on host:port. NULL, with the reason logged, when it cannot. */
struct lgv_scrape *lgv_scrape_start(uv_loop_t *loop, const char *host, int port,
                                    lgv_scrape_render_fn render, void *arg);
/* Stops listening and drops the connections; frees itself once libuv has
 * closed every handle. NULL is fine. */
void lgv_scrape_close(struct lgv_scrape *s);

#endif
