/* h1.h: a small non-blocking HTTP/1.1 client for the load generator's
 * plain-http path (load.c): one request at a time per socket, keep-alive,
 * no allocation per request.
 *
 * libcurl does everything (TLS, redirects, multipart) at about 12 us of CPU
 * a request; a load generator that shares two cores with the server it
 * measures cannot afford that. Plain http:// GET/POST/PUT/DELETE with
 * headers and raw bodies, the common load test, goes through here instead:
 * the request bytes are built once per URL, and a keep-alive request costs
 * one send and one recv.
 *
 *   h1_resp    an incremental response reader over http_parser (Debian's
 *              libhttp-parser, what wrk uses): status code and reason,
 *              Content-Length / chunked / until-close bodies, 1xx skipped,
 *              HEAD/204/304 without a body, keep-alive as
 *              http_should_keep_alive says. It consumes every byte it is fed
 *              (the parser keeps its own state), so a caller never keeps a
 *              tail.
 *   h1_req     the bytes of one request, and where it goes.
 *   h1_xfer    one request on a socket: connect if needed, send, receive,
 *              with the times a sample wants. The caller owns the event
 *              loop; h1 says which events a socket wants. */
#ifndef PG_H1_H
#define PG_H1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <http_parser.h>

/* ---- the response parser ------------------------------------------------- */

enum { H1_MORE = 0, H1_DONE = 1, H1_BAD = -1 };

typedef struct h1_resp {
    http_parser hp;             /* private: the parser's state (hp.data points here) */
    int phase;                  /* private */
    size_t seen;                /* private: bytes of this response consumed so far */
    int head;                   /* the request was HEAD: no body whatever the headers say */
    int code;                   /* status of the final response, once its headers are in; else 0 */
    int keepalive;              /* the connection may carry another request */
    long header_bytes;          /* status lines and headers, 1xx included */
    long body_bytes;            /* decoded body bytes */
    char reason[48];            /* "OK", "Internal Server Error" (truncated) */
    const char *error;          /* why H1_BAD (a static string) */
} h1_resp;

void h1_resp_init(h1_resp *r, int head_request);
/* Consume from buf[0..n): returns H1_MORE (all n bytes consumed, the
 * response goes on), H1_DONE (the response is complete after *used bytes;
 * anything after it is not part of it) or H1_BAD (r->error; headers over
 * 80 KiB, http_parser's limit, are refused too). */
int h1_resp_feed(h1_resp *r, const char *buf, size_t n, size_t *used);
/* The peer closed: H1_DONE for a body delimited by the close, else H1_BAD. */
int h1_resp_eof(h1_resp *r);

/* ---- requests ------------------------------------------------------------ */

typedef struct h1_origin {
    struct sockaddr_storage sa;
    socklen_t salen;            /* 0: the host did not resolve */
    char host[256];             /* for messages */
} h1_origin;

typedef struct h1_req {
    char *bytes;                /* request line, headers, body; owned */
    size_t len;
    int origin;                 /* index into the caller's origin table */
    int head;
    int keepalive;
} h1_req;

typedef struct h1_req_opts {
    const char *method;
    char **headers;             /* "Name: value"; a Host, Accept or Content-Type here replaces ours */
    size_t nheaders;
    const char *body;           /* NULL = none */
    size_t body_len;
    int keepalive;
} h1_req_opts;

/* 1 when url is plain http:// that h1 can carry (no user:password@). */
int h1_url_ok(const char *url);
/* Parse url, find or add its origin (host:port) in *origins (resolving it
 * with getaddrinfo once), and build the request bytes into rq (caller frees
 * rq->bytes). -1 with msg filled on a bad URL or out of memory; a host that
 * does not resolve is not an error here: its origin has salen 0. */
int h1_req_build(h1_req *rq, const char *url, const h1_req_opts *o, h1_origin **origins, size_t *norigins,
                 char *msg, size_t msglen);

/* ---- a request on a socket ----------------------------------------------- */

enum { H1_WANT_IN = 1, H1_WANT_OUT = 2 };

typedef struct h1_sock {
    int fd;                     /* -1: not connected */
    int connecting;
    int registered;             /* epoll events the caller registered (H1_WANT_*), 0 = none */
} h1_sock;

typedef struct h1_xfer {
    const h1_req *req;
    h1_sock *s;
    size_t sent;
    int reused;                 /* the socket carried a request before: one silent retry if it was closed */
    int fresh;                  /* this request opened the connection */
    double t_start, t_connected, t_first;
    h1_resp resp;
    char *buf;                  /* what recv reads into (16 KiB); owned */
    const char *msg;            /* failure message */
} h1_xfer;

/* Start rq on s (connecting to origin o when s is closed) at time now.
 * Returns H1_MORE (see h1_xfer_want), H1_DONE cannot happen here, H1_BAD on
 * an immediate failure (x->msg). */
int h1_xfer_begin(h1_xfer *x, h1_sock *s, const h1_req *rq, const h1_origin *o, double now);
/* The events the socket should be watched for now. */
int h1_xfer_want(const h1_xfer *x);
/* Events arrived on x's socket (H1_WANT_* bits; errors as both). Returns
 * H1_MORE, H1_DONE (x->resp complete; the socket is closed unless it may be
 * reused) or H1_BAD (x->msg; the socket is closed). */
int h1_xfer_event(h1_xfer *x, int events, const h1_origin *o, double now);
/* Give up (timeout, abort): closes the socket. */
void h1_xfer_abort(h1_xfer *x);
void h1_xfer_free(h1_xfer *x);

/* An idle keep-alive socket became readable: the peer closed it (or sent
 * something unasked). Closes it. */
void h1_sock_idle_event(h1_sock *s);
void h1_sock_close(h1_sock *s);

#endif
