/* http.h - thin HTTP glue: collect one request (method, path, bearer token,
 * body up to 16 KiB), hand it to the API (api.c), and write the JSON
 * response when the API has one, which may be after Redis answered. */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>

#include "server.h"
#include "waiter.h"

#define LG_HTTP_MAX_BODY 16384

enum lg_http_method { LG_HTTP_GET, LG_HTTP_PUT, LG_HTTP_POST, LG_HTTP_DELETE, LG_HTTP_OTHER };

struct lg_http {
    struct lg_gateway *gw;
    struct lws *wsi;
    enum lg_http_method method;
    char path[256];
    char query_room[LG_ID_MAX + 2];
    char *authorization; /* the Authorization header, or NULL */
    char *body;
    size_t body_len;
    bool body_too_big;

    int status;
    json_t *response_json;
    char *response_text; /* instead of response_json: a text body (lg_http_respond_text) */
    size_t response_len;
    char content_type[64];
    bool answered;
    struct lg_waiter *waiters; /* API calls in flight for this request */
};

int lg_http_begin(struct lg_gateway *gw, struct lws *wsi, struct lg_pss *pss, const char *uri);
int lg_http_body(struct lg_pss *pss, const void *in, size_t len);
int lg_http_body_done(struct lg_pss *pss);
int lg_http_writeable(struct lws *wsi, struct lg_pss *pss);
void lg_http_closed(struct lg_pss *pss);

/* Answers the request with status and body (stolen). */
void lg_http_respond(struct lg_http *h, int status, json_t *body);
/* Answers with a text body of len bytes (copied) and its content type. */
void lg_http_respond_text(struct lg_http *h, int status, const char *content_type, const char *body,
                          size_t len);
/* Answers {"error":{"code":..,"message":..[,"field":..]}}. */
void lg_http_error(struct lg_http *h, int status, const char *code, const char *message,
                   const char *field);

#endif
