/* http.c - HTTP request/response glue (see http.h). One response per
 * request, written in one go from the writeable callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conn/http.h"
#include "livegate/token.h"
#include "rules/static_files.h"

void lg_http_set_handler(struct lg_gateway *gw, void (*handler)(struct lg_http *h))
{
    gw->http_handler = handler;
}

/* No handler installed is a gateway that cannot answer yet. */
static void handle(struct lg_http *h)
{
    if (h->gw->http_handler)
        h->gw->http_handler(h);
    else
        lg_http_error(h, 503, "UNAVAILABLE", "the gateway is starting", NULL);
}

static enum lg_http_method method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return LG_HTTP_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI))
        return LG_HTTP_PUT;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return LG_HTTP_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
        return LG_HTTP_DELETE;
    return LG_HTTP_OTHER;
}

/* lws announces no body at all when there is none, so a PUT without one
 * must be answered at once rather than waiting for a body that never comes. */
static long declared_body_length(struct lws *wsi)
{
    char value[32];
    if (lws_hdr_copy(wsi, value, sizeof(value), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 ? 1 : 0;
    return strtol(value, NULL, 10);
}

/* Keeps the request's query arguments. lws splits them at '&' and decodes
 * them; a fragment is at most the header space (8 KiB), so one buffer of
 * that size holds any of them. */
static void capture_args(struct lws *wsi, struct lg_http *h)
{
    static char frag[8192 + 1];
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++) {
        char *eq = strchr(frag, '=');
        size_t name_len = eq ? (size_t)(eq - frag) : strlen(frag);
        const char *value = eq ? eq + 1 : "";
        /* (lws refuses a %00 in the URL, so strlen covers the fragment.) */
        if (h->n_args == LG_HTTP_MAX_ARGS || name_len > LG_HTTP_ARG_NAME_MAX ||
            strlen(value) > LG_HTTP_ARG_VALUE_MAX) {
            h->args_bad = true;
            continue;
        }
        struct lg_http_arg *a = &h->args[h->n_args++];
        memcpy(a->name, frag, name_len);
        a->name[name_len] = 0;
        snprintf(a->value, sizeof(a->value), "%s", value);
    }
}

const char *lg_http_arg(const struct lg_http *h, const char *name)
{
    for (int i = 0; i < h->n_args; i++)
        if (strcmp(h->args[i].name, name) == 0)
            return h->args[i].value;
    return NULL;
}

static void free_http(struct lg_http *h)
{
    if (!h)
        return;
    lg_waiter_orphan_all(&h->waiters);
    json_decref(h->response_json);
    free(h->response_text);
    free(h->authorization);
    free(h->body);
    free(h);
}

/* The pages (see static_files.h) are sent by lws's file serving. A stat
 * first, so a missing file gets the API's JSON 404 rather than lws's HTML
 * one; both the stat and lws's reads are of small local files. Returns what
 * the lws callback returns, with h freed when lws took over. */
static int serve_page_file(struct lg_pss *pss, const struct lg_static_file *file)
{
    struct lg_http *h = pss->http;
    struct stat st;
    if (h->method != LG_HTTP_GET) {
        lg_http_not_allowed(h, "GET", "pages are read with GET");
        return 0;
    }
    if (stat(file->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        lg_http_error(h, 404, "NOT_FOUND", "no such page or file", NULL);
        return 0;
    }
    struct lws *wsi = h->wsi;
    free_http(h);
    pss->http = NULL;
    unsigned char headers[256], *p = headers, *end = headers + sizeof(headers);
    static const char no_cache[] = "no-cache", nosniff[] = "nosniff";
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)no_cache, sizeof(no_cache) - 1, &p,
                                     end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)nosniff, sizeof(nosniff) - 1, &p, end))
        return -1;
    int n = lws_serve_http_file(wsi, file->path, file->content_type, (const char *)headers,
                                (int)(p - headers));
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
        return -1;
    return 0;
}

int lg_http_begin(struct lg_gateway *gw, struct lws *wsi, struct lg_pss *pss, const char *uri)
{
    free_http(pss->http);
    struct lg_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -1;
    pss->http = h;
    lg_list_init(&h->waiters);
    h->gw = gw;
    h->wsi = wsi;
    h->method = method_of(wsi);
    snprintf(h->path, sizeof(h->path), "%s", uri ? uri : "");

    /* Pages need neither the query nor the token: serve them first. */
    struct lg_static_file file;
    enum lg_static_result page =
        lg_static_map(gw->cfg.web_root, uri ? uri : "", uri ? strlen(uri) : 0, &file);
    if (page == LG_STATIC_FILE)
        return serve_page_file(pss, &file);
    if (page == LG_STATIC_NOT_FOUND) {
        lg_http_error(h, 404, "NOT_FOUND", "no such page or file", NULL);
        return 0;
    }

    capture_args(wsi, h);
    int alen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (alen > 0 && alen < LG_TOKEN_MAX_LEN + 16) {
        h->authorization = malloc((size_t)alen + 1);
        if (h->authorization &&
            lws_hdr_copy(wsi, h->authorization, alen + 1, WSI_TOKEN_HTTP_AUTHORIZATION) < 0) {
            free(h->authorization);
            h->authorization = NULL;
        }
    }
    if ((h->method == LG_HTTP_PUT || h->method == LG_HTTP_POST) && declared_body_length(wsi) > 0)
        return 0; /* the body follows; lg_http_body_done dispatches */
    handle(h);
    return 0;
}

int lg_http_body(struct lg_pss *pss, const void *in, size_t len)
{
    struct lg_http *h = pss->http;
    if (!h)
        return -1;
    if (len == 0)
        return 0; /* "Content-Length: 0" arrives as an empty chunk with in == NULL */
    if (h->body_too_big || h->body_len + len > LG_HTTP_MAX_BODY) {
        h->body_too_big = true;
        return 0;
    }
    char *grown = realloc(h->body, h->body_len + len + 1);
    if (!grown)
        return -1;
    h->body = grown;
    memcpy(h->body + h->body_len, in, len);
    h->body_len += len;
    h->body[h->body_len] = 0;
    return 0;
}

int lg_http_body_done(struct lg_pss *pss)
{
    struct lg_http *h = pss->http;
    if (!h)
        return -1;
    if (h->body_too_big)
        lg_http_error(h, 413, "BAD_REQUEST", "body over 16384 bytes", "body");
    else
        handle(h);
    return 0;
}

void lg_http_allow_seconds(struct lg_http *h, int secs)
{
    lws_set_timeout(h->wsi, PENDING_TIMEOUT_HTTP_CONTENT, secs);
}

void lg_http_respond(struct lg_http *h, int status, json_t *body)
{
    if (h->answered) {
        json_decref(body);
        return;
    }
    h->answered = true;
    h->status = status;
    h->response_json = body;
    lws_callback_on_writable(h->wsi);
}

void lg_http_respond_text(struct lg_http *h, int status, const char *content_type, const char *body,
                          size_t len)
{
    if (h->answered)
        return;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return; /* the client times out; nothing better to do without memory */
    memcpy(copy, body, len);
    h->answered = true;
    h->status = status;
    h->response_text = copy;
    h->response_len = len;
    snprintf(h->content_type, sizeof(h->content_type), "%s", content_type);
    lws_callback_on_writable(h->wsi);
}

void lg_http_error(struct lg_http *h, int status, const char *code, const char *message,
                   const char *field)
{
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", message);
    if (field)
        json_object_set_new(err, "field", json_string(field));
    lg_http_respond(h, status, json_pack("{s:o}", "error", err));
}

void lg_http_not_allowed(struct lg_http *h, const char *allow, const char *message)
{
    if (!h->answered)
        snprintf(h->allow, sizeof(h->allow), "%s", allow);
    lg_http_error(h, 405, "METHOD_NOT_ALLOWED", message, NULL);
}

int lg_http_writeable(struct lws *wsi, struct lg_pss *pss)
{
    struct lg_http *h = pss->http;
    if (!h || !h->answered)
        return 0;
    bool text = h->response_text != NULL;
    size_t body_len = text ? h->response_len : json_dumpb(h->response_json, NULL, 0, JSON_COMPACT);
    size_t cap = LWS_PRE + 1024 + body_len;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap;
    if (lws_add_http_common_headers(wsi, (unsigned int)h->status,
                                    text ? h->content_type : "application/json", body_len, &p,
                                    end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        (h->allow[0] && lws_add_http_header_by_name(
                            wsi, (const unsigned char *)"allow:", (const unsigned char *)h->allow,
                            (int)strlen(h->allow), &p, end)) ||
        lws_finalize_http_header(wsi, &p, end)) {
        free(buf);
        return -1;
    }
    if (text)
        memcpy(p, h->response_text, body_len);
    else
        json_dumpb(h->response_json, (char *)p, body_len, JSON_COMPACT);
    p += body_len;
    int n = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL);
    free(buf);
    free_http(h);
    pss->http = NULL;
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void lg_http_closed(struct lg_pss *pss)
{
    free_http(pss->http);
    pss->http = NULL;
}
