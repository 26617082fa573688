/* pss.h - the per-connection data libwebsockets allocates for us. It sits
 * in the connection layer because both halves of a connection (ws.c for a
 * WebSocket, http.c for an HTTP request) keep their state in it, and the
 * lws callback in dispatch/server.c only routes to them. */
#ifndef LG_CONN_PSS_H
#define LG_CONN_PSS_H

struct lg_session;
struct lg_http;

/* One of the two is set, depending on whether the connection is a
 * WebSocket or an HTTP request. */
struct lg_pss {
    struct lg_session *session;
    struct lg_http *http;
};

#endif
