/* http.h: the libmicrohttpd front end. Plain C: it parses requests, limits
 * bodies, and hands each complete request to one handler callback (the Lua
 * route table lives in bindings/). One thread per connection, so a handler
 * that waits 90 s for pods blocks nobody else. */
#ifndef PG_HTTP_H
#define PG_HTTP_H

#include <stddef.h>

typedef struct http_server http_server;
typedef struct http_req http_req;

typedef struct http_header {
    char *name;
    char *value;
} http_header;

/* A streamed body (watches): read is called on the connection's thread for
 * the next bytes and may block; it returns how many it wrote into buf (> 0),
 * 0 at the end of the body, -1 to cut the connection. done is called once
 * when the response is over (sent, or the connection gone). */
typedef long (*http_stream_fn)(void *ud, char *buf, size_t max);
typedef void (*http_stream_done)(void *ud);

typedef struct http_resp {
    int status;
    char *body;                 /* malloc'ed; the server takes ownership */
    size_t len;
    const char *content_type;   /* static string; default application/json */
    http_header *headers;       /* malloc'ed name/value pairs, owned by the server */
    size_t nheaders;
    http_stream_fn stream;      /* set: the body is streamed (chunked), body is ignored */
    http_stream_done stream_done;
    void *stream_ud;            /* owned by the stream: stream_done frees it */
    int drop;                   /* close the connection without an answer */
} http_resp;

/* Called once per complete request, on the connection's thread. */
typedef void (*http_handler)(void *ud, http_req *req, http_resp *resp);
/* Called on the connection's thread once a request has ended (its response
 * sent, or the connection gone): work that can wait for it goes here, off
 * the response's path. */
typedef void (*http_after)(void *ud);

typedef struct http_opts {
    const char *host;           /* "127.0.0.1", "0.0.0.0", "::1", ... */
    int port;                   /* 0 = any free port */
    long body_bytes;            /* larger bodies get 413 */
    int connections;            /* connection limit: a client over it is answered 503 */
    double timeout_s;           /* each phase of a connection (reading a request, sending its
                                   answer, waiting for the next) but a running route */
    const char *token;          /* non-GET routes need "Bearer <token>" when set */
    const char *tls_cert;       /* PEM file paths: both set = HTTPS, read once in */
    const char *tls_key;        /* http_start; the key's bytes are wiped after */
    http_handler handler;
    http_after after;           /* may be NULL */
    void *ud;
} http_opts;

/* NULL with err filled when it cannot listen (or cannot read or use the
 * TLS files: err names the file, never its contents). */
http_server *http_start(const http_opts *o, char *err, size_t errlen);
/* Whether s serves HTTPS. */
int http_tls(const http_server *s);
/* Whether the server listens on a loopback address only (127.0.0.0/8, ::1). */
int http_loopback(const http_server *s);
int http_port(const http_server *s);
void http_stop(http_server *s);

/* Request accessors, valid during the handler call. */
const char *http_method(const http_req *r);
const char *http_path(const http_req *r);       /* without the query string, percent-decoded */
const char *http_body(const http_req *r, size_t *len);
const char *http_header_get(const http_req *r, const char *name);
/* The connection's socket (-1 when unknown): a stream may peek at it to
 * notice that its client went away. */
int http_req_fd(const http_req *r);
/* 1 when the peer of socket fd has closed its end (never reads data). */
int http_fd_closed(int fd);
/* Iterate headers (kind 0) or query arguments (kind 1); stop when fn returns non-zero. */
typedef int (*http_kv_fn)(void *ud, const char *k, const char *v);
void http_each(const http_req *r, int kind, http_kv_fn fn, void *ud);
enum { HTTP_HEADERS = 0, HTTP_QUERY = 1 };

/* Response helpers: set the body (copied) and add headers (copied). */
int http_resp_set(http_resp *resp, int status, const char *ctype, const char *body, size_t len);
int http_resp_header(http_resp *resp, const char *name, const char *value);
/* {"error":{"code":...,"message":...}} (jansson); bytes that are not UTF-8
 * become U+FFFD, so the body is always valid JSON. */
int http_resp_error(http_resp *resp, int status, const char *code, const char *message);

/* Constant-time comparison of an Authorization header with "Bearer <token>". */
int http_token_ok(const char *authorization, const char *token);

#endif
