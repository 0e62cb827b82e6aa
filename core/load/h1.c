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

#include "base/clock.h"
#include "load/h1.h"

#define H1_BUF_START 16384
#define H1_BUF_MAX (1u << 20)   /* headers (or one chunk-size line) larger than this: refused */

/* ---- the response parser ------------------------------------------------- */

enum { S_STATUS, S_HEADER, S_BODY, S_BODY_CLOSE, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILER, S_DONE };

void h1_resp_init(h1_resp *r, int head_request) {
    memset(r, 0, sizeof *r);
    r->state = S_STATUS;
    r->head = head_request;
}

static int bad(h1_resp *r, const char *why) {
    r->error = why;
    return H1_BAD;
}

/* "HTTP/1.1 200 OK" */
static int status_line(h1_resp *r, const char *p, size_t n) {
    if (n < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return bad(r, "malformed status line");
    if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
        return bad(r, "malformed status code");
    r->code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    r->keepalive = p[7] == '1';         /* HTTP/1.0: only with Connection: keep-alive */
    r->chunked = 0;
    r->left = -1;
    size_t i = 12;
    while (i < n && p[i] == ' ') i++;
    size_t m = n - i < sizeof r->reason - 1 ? n - i : sizeof r->reason - 1;
    memcpy(r->reason, p + i, m);
    r->reason[m] = '\0';
    return H1_MORE;
}

static int has_token(const char *v, size_t n, const char *tok) {
    size_t k = strlen(tok);
    for (size_t i = 0; i + k <= n; i++)
        if (!strncasecmp(v + i, tok, k) && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',')
            && (i + k == n || v[i + k] == ' ' || v[i + k] == ',' || v[i + k] == ';'))
            return 1;
    return 0;
}

static int header_line(h1_resp *r, const char *p, size_t n) {
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p) return bad(r, "malformed header line");
    size_t kn = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vn = (size_t)(end - v);
    if (kn == 14 && !strncasecmp(p, "Content-Length", 14)) {
        if (!vn) return bad(r, "bad Content-Length");
        int64_t len = 0;
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9' || len > (INT64_MAX - 9) / 10) return bad(r, "bad Content-Length");
            len = len * 10 + (v[i] - '0');
        }
        if (r->left >= 0 && r->left != len) return bad(r, "conflicting Content-Length headers");
        r->left = len;
    } else if (kn == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
        if (has_token(v, vn, "chunked")) r->chunked = 1;
    } else if (kn == 10 && !strncasecmp(p, "Connection", 10)) {
        if (has_token(v, vn, "close")) r->keepalive = 0;
        else if (has_token(v, vn, "keep-alive")) r->keepalive = 1;
    }
    return H1_MORE;
}

/* The empty line after the headers: what the body is. */
static int headers_done(h1_resp *r) {
    if (r->code < 200 && r->code != 101) {      /* 100 Continue and friends: the real one follows */
        r->state = S_STATUS;
        return H1_MORE;
    }
    if (r->head || r->code == 204 || r->code == 304 || r->code == 101) {
        if (r->code == 101) r->keepalive = 0;
        r->state = S_DONE;
        return H1_DONE;
    }
    if (r->chunked) {
        r->state = S_CHUNK_SIZE;
        return H1_MORE;
    }
    if (r->left >= 0) {
        r->state = r->left ? S_BODY : S_DONE;
        return r->left ? H1_MORE : H1_DONE;
    }
    r->until_close = 1;
    r->keepalive = 0;
    r->state = S_BODY_CLOSE;
    return H1_MORE;
}

static int chunk_size(h1_resp *r, const char *p, size_t n) {
    int64_t v = 0;
    size_t i = 0;
    for (; i < n; i++) {
        int d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0'
                : (p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f' ? (p[i] | 0x20) - 'a' + 10 : -1;
        if (d < 0) break;
        if (v > (INT64_MAX >> 4)) return bad(r, "chunk size too large");
        v = v * 16 + d;
    }
    if (i == 0 || (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t')) return bad(r, "malformed chunk size");
    r->left = v;
    r->state = v ? S_CHUNK_DATA : S_TRAILER;
    return H1_MORE;
}

static int on_line(h1_resp *r, const char *p, size_t n) {
    switch (r->state) {
    case S_STATUS: {
        int rc = status_line(r, p, n);
        if (rc == H1_MORE) r->state = S_HEADER;
        return rc;
    }
    case S_HEADER: return n ? header_line(r, p, n) : headers_done(r);
    case S_CHUNK_SIZE: return chunk_size(r, p, n);
    case S_CHUNK_CRLF:
        if (n) return bad(r, "malformed chunk end");
        r->state = S_CHUNK_SIZE;
        return H1_MORE;
    case S_TRAILER:
        if (n) return H1_MORE;
        r->state = S_DONE;
        return H1_DONE;
    }
    return bad(r, "parser state");
}

int h1_resp_feed(h1_resp *r, const char *buf, size_t n, size_t *used) {
    size_t i = 0;
    int rc = H1_MORE;
    while (rc == H1_MORE && i < n) {
        if (r->state == S_BODY || r->state == S_CHUNK_DATA || r->state == S_BODY_CLOSE) {
            size_t take = n - i;
            if (r->state != S_BODY_CLOSE && (int64_t)take > r->left) take = (size_t)r->left;
            r->body_bytes += (long)take;
            i += take;
            if (r->state == S_BODY_CLOSE) continue;
            r->left -= (int64_t)take;
            if (r->left == 0) {
                if (r->state == S_CHUNK_DATA) {
                    r->state = S_CHUNK_CRLF;
                } else {
                    r->state = S_DONE;
                    rc = H1_DONE;
                }
            }
            continue;
        }
        if (r->state == S_DONE) break;
        const char *nl = memchr(buf + i, '\n', n - i);
        if (!nl) break;                                 /* an incomplete line: wait for more */
        size_t len = (size_t)(nl - (buf + i)) + 1;
        if (r->state == S_STATUS || r->state == S_HEADER) r->header_bytes += (long)len;
        size_t m = len - 1;
        if (m && buf[i + m - 1] == '\r') m--;
        rc = on_line(r, buf + i, m);
        i += len;
    }
    *used = i;
    return rc;
}

int h1_resp_eof(h1_resp *r) {
    if (r->state == S_BODY_CLOSE) {
        r->state = S_DONE;
        return H1_DONE;
    }
    if (r->state == S_DONE) return H1_DONE;
    return bad(r, r->code ? "connection closed before the response was complete" : "empty reply from server");
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

typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

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

    buf b = { 0 };
    int has_body = o->body != NULL || !strcmp(o->method, "POST");
    puts_(&b, o->method);
    put(&b, " ", 1);
    puts_(&b, path[0] ? path : "/");
    if (query) {
        put(&b, "?", 1);
        puts_(&b, query);
    }
    put(&b, " HTTP/1.1\r\n", 11);
    if (!user_has(o, "Host")) {
        puts_(&b, "Host: ");
        puts_(&b, host);
        if (given_port) {
            put(&b, ":", 1);
            puts_(&b, given_port);
        }
        put(&b, "\r\n", 2);
    }
    if (!user_has(o, "Accept")) puts_(&b, "Accept: */*\r\n");
    if (!o->keepalive && !user_has(o, "Connection")) puts_(&b, "Connection: close\r\n");
    for (size_t i = 0; i < o->nheaders; i++) {
        puts_(&b, o->headers[i]);
        put(&b, "\r\n", 2);
    }
    if (has_body) {
        char cl[48];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", o->body ? o->body_len : 0);
        puts_(&b, cl);
        if (!user_has(o, "Content-Type")) puts_(&b, "Content-Type: application/x-www-form-urlencoded\r\n");
    }
    put(&b, "\r\n", 2);
    if (o->body) put(&b, o->body, o->body_len);
    if (b.oom) {
        free(b.p);
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    rq->bytes = b.p;
    rq->len = b.n;
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
    if (x->reused && !x->t_first && !x->resp.header_bytes) {
        h1_sock_close(x->s);
        x->sent = 0;
        x->blen = 0;
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
    x->blen = 0;
    x->fresh = 0;
    x->reused = s->fd >= 0;
    x->t_start = now;
    x->t_connected = x->t_first = 0;
    x->msg = NULL;
    h1_resp_init(&x->resp, rq->head);
    if (!x->buf) {
        x->buf = malloc(H1_BUF_START);
        if (!x->buf) return fail(x, ENOMEM, NULL);
        x->bcap = H1_BUF_START;
    }
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
static int finished(h1_xfer *x) {
    if (x->blen || x->sent < x->req->len || !x->resp.keepalive || !x->req->keepalive) h1_sock_close(x->s);
    return H1_DONE;
}

static int receive(h1_xfer *x, const h1_origin *o, double now) {
    if (x->bcap - x->blen < 4096) {
        if (x->bcap >= H1_BUF_MAX) return fail(x, 0, "response headers too large");
        char *nb = realloc(x->buf, x->bcap * 2);
        if (!nb) return fail(x, ENOMEM, NULL);
        x->buf = nb;
        x->bcap *= 2;
    }
    ssize_t n = recv(x->s->fd, x->buf + x->blen, x->bcap - x->blen, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return H1_MORE;
        return io_error(x, errno, o);
    }
    if (n == 0) {
        if (x->reused && !x->t_first) return io_error(x, ECONNRESET, o);
        if (h1_resp_eof(&x->resp) == H1_DONE) {
            x->blen = 0;
            return finished(x);
        }
        return fail(x, 0, x->resp.error);
    }
    if (!x->t_first) x->t_first = now;
    x->blen += (size_t)n;
    size_t used = 0;
    int rc = h1_resp_feed(&x->resp, x->buf, x->blen, &used);
    if (rc == H1_BAD) return fail(x, 0, x->resp.error);
    x->blen -= used;
    if (x->blen) memmove(x->buf, x->buf + used, x->blen);
    return rc == H1_DONE ? finished(x) : H1_MORE;
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
    x->bcap = x->blen = 0;
}

void h1_sock_idle_event(h1_sock *s) {
    char b[512];
    ssize_t n = recv(s->fd, b, sizeof b, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    h1_sock_close(s);               /* closed by the peer, an error, or bytes nobody asked for */
}
