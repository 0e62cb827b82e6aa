/* h1.c: the load generator's plain HTTP/1.1 client (see h1.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/clock.h"
#include "load/h1.h"

#define H1_RECV_BYTES 16384     /* one recv; the parser keeps no tail, so this never grows */

/* ---- the response parser ------------------------------------------------- */

/* Where a response is: in a status line and headers (a 1xx goes back
 * here), just past the final headers (the parser paused to tell us where
 * they end), in the body, complete (the parser paused so that nothing
 * after the response is consumed). */
enum { P_HEAD, P_HEADERS_END, P_BODY, P_DONE };

static int on_message_begin(http_parser *p) {
    h1_resp *r = p->data;
    r->reason[0] = '\0';
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t n) {
    h1_resp *r = p->data;                       /* the reason may come in pieces */
    size_t have = strlen(r->reason), room = sizeof r->reason - 1 - have;
    if (n > room) n = room;
    memcpy(r->reason + have, at, n);
    r->reason[have + n] = '\0';
    return 0;
}

/* Returns 1 (no body) for a HEAD request and for 101, whose bytes after
 * the headers are another protocol; -1 for a status below 100, which
 * http_parser lets through ("HTTP/1.1 20 OK"). */
static int on_headers_complete(http_parser *p) {
    h1_resp *r = p->data;
    if (p->status_code < 100) return -1;
    if (p->status_code >= 200 || p->status_code == 101) r->code = p->status_code;
    r->phase = P_HEADERS_END;
    http_parser_pause(p, 1);
    return r->head || p->status_code == 101;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    ((h1_resp *)p->data)->body_bytes += (long)n;
    return 0;
}

static int on_message_complete(http_parser *p) {
    h1_resp *r = p->data;
    if (p->status_code < 200 && p->status_code != 101) {    /* 100 Continue and friends: the real one follows */
        r->phase = P_HEAD;
        return 0;
    }
    r->keepalive = p->status_code != 101 && http_should_keep_alive(p);
    r->phase = P_DONE;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void h1_resp_init(h1_resp *r, int head_request) {
    memset(r, 0, sizeof *r);
    http_parser_init(&r->hp, HTTP_RESPONSE);
    r->hp.data = r;
    r->head = head_request;
}

static int bad(h1_resp *r, const char *why) {
    r->error = why;
    return H1_BAD;
}

/* The parser's error, said for a load-test sample. */
static const char *parse_error(const http_parser *p) {
    enum http_errno err = HTTP_PARSER_ERRNO(p);
    switch (err) {
    case HPE_INVALID_CONSTANT:
    case HPE_INVALID_VERSION: return "malformed status line";
    case HPE_INVALID_STATUS:
    case HPE_CB_headers_complete: return "malformed status code";
    case HPE_INVALID_CONTENT_LENGTH: return "bad Content-Length";
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return p->uses_transfer_encoding ? "Content-Length beside Transfer-Encoding"
                                         : "conflicting Content-Length headers";
    case HPE_INVALID_CHUNK_SIZE: return "malformed chunk size";
    case HPE_HEADER_OVERFLOW: return "response headers too large";
    case HPE_INVALID_HEADER_TOKEN:
    case HPE_LF_EXPECTED:
    case HPE_STRICT: return "malformed header line";
    default: return http_errno_description(err);
    }
}

int h1_resp_feed(h1_resp *r, const char *buf, size_t n, size_t *used) {
    size_t off = 0;
    while (off < n && r->phase != P_DONE) {
        size_t k = http_parser_execute(&r->hp, &settings, buf + off, n - off);
        enum http_errno err = HTTP_PARSER_ERRNO(&r->hp);
        if (err == HPE_PAUSED) {
            http_parser_pause(&r->hp, 0);
            if (r->phase == P_HEADERS_END) {
                /* paused on the headers' last LF, which is fed again */
                r->header_bytes = (long)(r->seen + off + k + 1);
                r->phase = P_BODY;
            }
        } else if (err != HPE_OK) {
            *used = off + k;
            return bad(r, parse_error(&r->hp));
        }
        off += k;
    }
    r->seen += off;
    *used = off;
    return r->phase == P_DONE ? H1_DONE : H1_MORE;
}

int h1_resp_eof(h1_resp *r) {
    if (r->phase == P_DONE) return H1_DONE;
    if (!r->seen) return bad(r, "empty reply from server");
    http_parser_execute(&r->hp, &settings, NULL, 0);        /* the parser's word on an end here */
    if (r->phase == P_DONE) return H1_DONE;
    return bad(r, "connection closed before the response was complete");
}

/* ---- requests ------------------------------------------------------------ */

/* Plain http:// without credentials in the authority (libcurl turns those
 * into an Authorization header; h1 leaves such URLs to it). */
int h1_url_ok(const char *url) {
    if (strncasecmp(url, "http://", 7)) return 0;
    const char *auth = url + 7;
    size_t n = strcspn(auth, "/?#");
    return memchr(auth, '@', n) == NULL;
}

static int user_has(const h1_req_opts *o, const char *name) {
    size_t k = strlen(name);
    for (size_t i = 0; i < o->nheaders; i++)
        if (!strncasecmp(o->headers[i], name, k) && o->headers[i][k] == ':') return 1;
    return 0;
}

static int find_origin(h1_origin **origins, size_t *n, const char *host, const char *port, char *msg,
                       size_t msglen) {
    char key[sizeof (*origins)->host];
    snprintf(key, sizeof key, "%s:%s", host, port);
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*origins)[i].host, key)) return (int)i;
    h1_origin *v = realloc(*origins, (*n + 1) * sizeof *v);
    if (!v) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    *origins = v;
    h1_origin *o = &v[*n];
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "%s", key);
    char bare[256];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {     /* [::1] */
        snprintf(bare, sizeof bare, "%.*s", (int)(hl - 2), host + 1);
    } else {
        snprintf(bare, sizeof bare, "%s", host);
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(bare, port, &hints, &res) == 0 && res) {
        memcpy(&o->sa, res->ai_addr, res->ai_addrlen);
        o->salen = res->ai_addrlen;
    }
    if (res) freeaddrinfo(res);
    return (int)(*n)++;
}

int h1_req_build(h1_req *rq, const char *url, const h1_req_opts *o, h1_origin **origins, size_t *norigins,
                 char *msg, size_t msglen) {
    memset(rq, 0, sizeof *rq);
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *given_port = NULL;
    int rc = -1;
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || !h1_url_ok(url)) {
        snprintf(msg, msglen, "bad URL '%.300s'", url);
        goto out;
    }
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_PORT, &given_port, 0);
    int oi = find_origin(origins, norigins, host, port, msg, msglen);
    if (oi < 0) goto out;

    pg_buf b = PG_BUF_INIT;
    int has_body = o->body != NULL || !strcmp(o->method, "POST");
    pg_buf_printf(&b, "%s %s%s%s HTTP/1.1\r\n", o->method, path[0] ? path : "/", query ? "?" : "",
                  query ? query : "");
    if (!user_has(o, "Host"))
        pg_buf_printf(&b, "Host: %s%s%s\r\n", host, given_port ? ":" : "", given_port ? given_port : "");
    if (!user_has(o, "Accept")) pg_buf_adds(&b, "Accept: */*\r\n");
    if (!o->keepalive && !user_has(o, "Connection")) pg_buf_adds(&b, "Connection: close\r\n");
    for (size_t i = 0; i < o->nheaders; i++) pg_buf_printf(&b, "%s\r\n", o->headers[i]);
    if (has_body) {
        pg_buf_printf(&b, "Content-Length: %zu\r\n", o->body ? o->body_len : 0);
        if (!user_has(o, "Content-Type")) pg_buf_adds(&b, "Content-Type: application/x-www-form-urlencoded\r\n");
    }
    pg_buf_adds(&b, "\r\n");
    if (o->body) pg_buf_add(&b, o->body, o->body_len);
    rq->bytes = pg_buf_take(&b, &rq->len);
    if (!rq->bytes) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    rq->origin = oi;
    rq->head = !strcmp(o->method, "HEAD");
    rq->keepalive = o->keepalive;
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(given_port);
    curl_url_cleanup(u);
    return rc;
}

/* ---- a request on a socket ----------------------------------------------- */

void h1_sock_close(h1_sock *s) {
    if (s->fd >= 0) close(s->fd);     /* leaves epoll by itself */
    s->fd = -1;
    s->connecting = 0;
    s->registered = 0;
}

static int fail(h1_xfer *x, int err, const char *msg) {
    h1_sock_close(x->s);
    x->msg = msg ? msg : strerror(err);
    return H1_BAD;
}

static int do_connect(h1_xfer *x, const h1_origin *o) {
    h1_sock *s = x->s;
    if (!o->salen) return fail(x, 0, "could not resolve host");
    s->fd = socket(o->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (s->fd < 0) return fail(x, errno, NULL);
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    x->fresh = 1;
    x->reused = 0;
    if (connect(s->fd, (const struct sockaddr *)&o->sa, o->salen) == 0) {
        x->t_connected = pg_mono();
        return H1_MORE;
    }
    if (errno != EINPROGRESS) return fail(x, errno, NULL);
    s->connecting = 1;
    return H1_MORE;
}

static int try_send(h1_xfer *x, const h1_origin *o);

/* A reused keep-alive connection that the server had closed: one retry on a
 * new connection, as browsers and libcurl do. */
static int io_error(h1_xfer *x, int err, const h1_origin *o) {
    if (x->reused && !x->t_first) {
        h1_sock_close(x->s);
        x->sent = 0;
        if (do_connect(x, o) == H1_BAD) return H1_BAD;
        return x->s->connecting ? H1_MORE : try_send(x, o);
    }
    return fail(x, err, NULL);
}

static int try_send(h1_xfer *x, const h1_origin *o) {
    const h1_req *rq = x->req;
    while (x->sent < rq->len) {
        ssize_t n = send(x->s->fd, rq->bytes + x->sent, rq->len - x->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            x->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return H1_MORE;
        } else {
            return io_error(x, n < 0 ? errno : EPIPE, o);
        }
    }
    return H1_MORE;
}

int h1_xfer_begin(h1_xfer *x, h1_sock *s, const h1_req *rq, const h1_origin *o, double now) {
    x->req = rq;
    x->s = s;
    x->sent = 0;
    x->fresh = 0;
    x->reused = s->fd >= 0;
    x->t_start = now;
    x->t_connected = x->t_first = 0;
    x->msg = NULL;
    h1_resp_init(&x->resp, rq->head);
    if (!x->buf && !(x->buf = malloc(H1_RECV_BYTES))) return fail(x, ENOMEM, NULL);
    if (s->fd < 0 && do_connect(x, o) == H1_BAD) return H1_BAD;
    return s->connecting ? H1_MORE : try_send(x, o);
}

int h1_xfer_want(const h1_xfer *x) {
    if (x->s->fd < 0) return 0;
    if (x->s->connecting || x->sent < x->req->len) return H1_WANT_OUT | H1_WANT_IN;
    return H1_WANT_IN;
}

/* The response is complete. The connection goes on only when the request
 * went out whole, nothing came after the response and both sides keep it. */
static int finished(h1_xfer *x, int extra) {
    if (extra || x->sent < x->req->len || !x->resp.keepalive || !x->req->keepalive) h1_sock_close(x->s);
    return H1_DONE;
}

static int receive(h1_xfer *x, const h1_origin *o, double now) {
    ssize_t n = recv(x->s->fd, x->buf, H1_RECV_BYTES, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return H1_MORE;
        return io_error(x, errno, o);
    }
    if (n == 0) {
        if (x->reused && !x->t_first) return io_error(x, ECONNRESET, o);
        if (h1_resp_eof(&x->resp) == H1_DONE) return finished(x, 0);
        return fail(x, 0, x->resp.error);
    }
    if (!x->t_first) x->t_first = now;
    size_t used = 0;
    int rc = h1_resp_feed(&x->resp, x->buf, (size_t)n, &used);
    if (rc == H1_BAD) return fail(x, 0, x->resp.error);
    return rc == H1_DONE ? finished(x, used < (size_t)n) : H1_MORE;
}

int h1_xfer_event(h1_xfer *x, int events, const h1_origin *o, double now) {
    h1_sock *s = x->s;
    if (s->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) return fail(x, err, NULL);
        if (!(events & H1_WANT_OUT)) return H1_MORE;
        s->connecting = 0;
        x->t_connected = pg_mono();
    }
    if (x->sent < x->req->len) {
        int rc = try_send(x, o);
        if (rc != H1_MORE || x->s->connecting) return rc;
    }
    if (events & H1_WANT_IN) return receive(x, o, now);
    return H1_MORE;
}

void h1_xfer_abort(h1_xfer *x) {
    if (x->s) h1_sock_close(x->s);
}

void h1_xfer_free(h1_xfer *x) {
    free(x->buf);
    x->buf = NULL;
}

void h1_sock_idle_event(h1_sock *s) {
    char b[512];
    ssize_t n = recv(s->fd, b, sizeof b, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    h1_sock_close(s);               /* closed by the peer, an error, or bytes nobody asked for */
}
