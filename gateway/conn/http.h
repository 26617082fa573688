/* http.h - thin HTTP glue: collect one request (method, path, bearer token,
 * body up to 16 KiB), hand it to the handler installed from above (the API,
 * features/api.c, set by dispatch/server.c), and write the JSON response
 * when the handler has one, which may be after Redis answered. */
#ifndef LG_CONN_HTTP_H
#define LG_CONN_HTTP_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>

#include "conn/pss.h"
#include "core/gateway.h"
#include "conn/waiter.h"
#include "livegate/list.h"

#define LG_HTTP_MAX_BODY 16384
/* Query arguments kept per request, and the longest name and value kept. */
#define LG_HTTP_MAX_ARGS 8
#define LG_HTTP_ARG_NAME_MAX 32
#define LG_HTTP_ARG_VALUE_MAX 128

enum lg_http_method { LG_HTTP_GET, LG_HTTP_PUT, LG_HTTP_POST, LG_HTTP_DELETE, LG_HTTP_OTHER };

/* One query argument, URL-decoded by lws ("?room=r1" -> name "room", value "r1"). */
struct lg_http_arg {
    char name[LG_HTTP_ARG_NAME_MAX + 1];
    char value[LG_HTTP_ARG_VALUE_MAX + 1];
};

struct lg_http {
    struct lg_gateway *gw;
    struct lws *wsi;
    enum lg_http_method method;
    char path[256];
    struct lg_http_arg args[LG_HTTP_MAX_ARGS];
    int n_args;
    bool args_bad;       /* more arguments, or a longer name or value, than kept */
    char *authorization; /* the Authorization header, or NULL */
    char *body;
    size_t body_len;
    bool body_too_big;

    int status;
    json_t *response_json;
    char *response_text; /* instead of response_json: a text body (lg_http_respond_text) */
    size_t response_len;
    char content_type[64];
    char allow[32]; /* a 405's Allow header (lg_http_not_allowed); "" for none */
    bool answered;
    struct lg_list waiters; /* API calls in flight for this request (lg_waiter) */
};

/* Installs the handler of every complete request on gw: it answers through
 * lg_http_respond, at once or later. */
void lg_http_set_handler(struct lg_gateway *gw, void (*handler)(struct lg_http *h));

int lg_http_begin(struct lg_gateway *gw, struct lws *wsi, struct lg_pss *pss, const char *uri);
int lg_http_body(struct lg_pss *pss, const void *in, size_t len);
int lg_http_body_done(struct lg_pss *pss);
int lg_http_writeable(struct lws *wsi, struct lg_pss *pss);
void lg_http_closed(struct lg_pss *pss);

/* The value of the first query argument called name, or NULL when absent.
 * An argument without '=' has the value "". */
const char *lg_http_arg(const struct lg_http *h, const char *name);

/* Gives a request whose answer takes long (a room delete) up to secs
 * seconds before libwebsockets drops the connection unanswered; its
 * default is 5 s. */
void lg_http_allow_seconds(struct lg_http *h, int secs);

/* Answers the request with status and body (stolen). */
void lg_http_respond(struct lg_http *h, int status, json_t *body);
/* Answers with a text body of len bytes (copied) and its content type. */
void lg_http_respond_text(struct lg_http *h, int status, const char *content_type, const char *body,
                          size_t len);
/* Answers 405 METHOD_NOT_ALLOWED with an Allow header listing allow
 * ("GET, PUT"), as RFC 9110 wants of every 405. */
void lg_http_not_allowed(struct lg_http *h, const char *allow, const char *message);
/* Answers {"error":{"code":..,"message":..[,"field":..]}}. */
void lg_http_error(struct lg_http *h, int status, const char *code, const char *message,
                   const char *field);

#endif
