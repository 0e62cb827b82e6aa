/* http.c: libmicrohttpd front end. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/utf8.h"
#include "server/http.h"

/* One accepted connection, from libmicrohttpd's NOTIFY_CONNECTION. */
typedef struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    double since;               /* start of the phase the timeout bounds */
    int busy;                   /* a route is running: no timeout */
    int over;                   /* accepted over limits.connections: answered 503 */
    int cut;                    /* shut down by the watchdog */
} http_conn;

struct http_server {
    struct MHD_Daemon *d;
    http_opts o;
    char token[256];
    int port;
    int tls;
    int loopback;               /* the address it listens on is 127.0.0.0/8 or ::1 */
    double timeout_s;
    int limit;                  /* podgym's connection limit */
    pthread_mutex_t mu;         /* conns, nconns, stopping */
    pthread_cond_t cv;
    http_conn *conns;
    int nconns;
    int stopping;
    int watching;               /* the watchdog thread runs */
    pthread_t watchdog;
};

struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    pg_buf body;                /* the request body as it arrives */
    int too_large;
    int started;                /* the access handler has seen the request */
    const char *raw;            /* the request target as received, until MHD decodes it */
    size_t raw_len;             /* strlen(raw) at that time: shorter than the target when it holds a NUL */
    const char *refusal;        /* why the target is refused, or NULL */
};

/* Query arguments past this are refused (400 bad_query) rather than half-answered. */
#define HTTP_MAX_QUERY_ARGS 100
/* libmicrohttpd's per-connection pool: the request line, the headers, the
 * parsed query and the response headers share it. At 16 KiB a request with
 * a few hundred query arguments left no room to answer, and the connection
 * closed without a reply. */
#define HTTP_POOL_BYTES (64 * 1024)

const char *http_method(const http_req *r) { return r->method; }
const char *http_path(const http_req *r) { return r->path; }
const char *http_body(const http_req *r, size_t *len) {
    if (len) *len = r->body.n;
    return r->body.p ? r->body.p : "";
}
const char *http_header_get(const http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int http_req_fd(const http_req *r) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

int http_fd_closed(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = { .fd = fd, .events = POLLRDHUP };
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

typedef struct each_ctx {
    http_kv_fn fn;
    void *ud;
} each_ctx;

static enum MHD_Result each_cb(void *cls, enum MHD_ValueKind kind, const char *k, const char *v) {
    each_ctx *c = cls;
    return c->fn(c->ud, k, v ? v : "") ? MHD_NO : MHD_YES;
}

void http_each(const http_req *r, int kind, http_kv_fn fn, void *ud) {
    each_ctx c = { fn, ud };
    MHD_get_connection_values(r->conn, kind == HTTP_QUERY ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND,
                              each_cb, &c);
}

int http_resp_set(http_resp *resp, int status, const char *ctype, const char *body, size_t len) {
    char *b = malloc(len + 1);
    if (!b) return -1;
    memcpy(b, body, len);
    b[len] = '\0';
    free(resp->body);
    resp->body = b;
    resp->len = len;
    resp->status = status;
    resp->content_type = ctype;
    return 0;
}

int http_resp_header(http_resp *resp, const char *name, const char *value) {
    http_header *h = realloc(resp->headers, (resp->nheaders + 1) * sizeof *h);
    if (!h) return -1;
    resp->headers = h;
    h[resp->nheaders].name = strdup(name);
    h[resp->nheaders].value = strdup(value);
    resp->nheaders++;
    return 0;
}

/* {"error":{"code":...,"message":...}} through jansson, which takes only
 * UTF-8: a message that echoes a client's bytes (a path) is repaired first. */
int http_resp_error(http_resp *resp, int status, const char *code, const char *message) {
    pg_buf c = PG_BUF_INIT, m = PG_BUF_INIT;
    pg_utf8_repair(&c, code, strlen(code));
    pg_utf8_repair(&m, message, strlen(message));
    json_t *body = c.oom || m.oom ? NULL
                 : json_pack("{s:{s:s%,s:s%}}", "error", "code", c.p, c.n, "message", m.p, m.n);
    pg_buf_free(&c);
    pg_buf_free(&m);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;     /* ours to free() */
    json_decref(body);
    int rc = text ? http_resp_set(resp, status, "application/json", text, strlen(text)) : -1;
    free(text);
    return rc;
}

int http_token_ok(const char *authorization, const char *token) {
    static const char prefix[] = "Bearer ";
    if (!authorization || strncmp(authorization, prefix, sizeof prefix - 1)) return 0;
    const char *got = authorization + sizeof prefix - 1;
    size_t gl = strlen(got), tl = strlen(token);
    unsigned char diff = (unsigned char)(gl != tl);
    for (size_t i = 0; i < tl; i++) diff |= (unsigned char)(token[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}

/* A streamed body: libmicrohttpd's content reader over http_stream_fn. */
typedef struct http_stream {
    http_stream_fn fn;
    http_stream_done done;
    void *ud;
} http_stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    http_stream *st = cls;
    (void)pos;
    long n = st->fn(st->ud, buf, max);
    return n > 0 ? (ssize_t)n : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls) {
    http_stream *st = cls;
    if (st->done) st->done(st->ud);
    free(st);
}

static struct MHD_Response *stream_response(http_resp *r) {
    http_stream *st = malloc(sizeof *st);
    struct MHD_Response *mr = NULL;
    if (st) {
        *st = (http_stream){ r->stream, r->stream_done, r->stream_ud };
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st, stream_free);
        if (!mr) free(st);
    }
    if (!mr && r->stream_done) r->stream_done(r->stream_ud);
    r->stream = NULL;
    r->stream_done = NULL;
    r->stream_ud = NULL;
    free(r->body);
    r->body = NULL;
    return mr;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, http_resp *r) {
    /* A stream may wait longer than the connection timeout between two
     * writes (a watch with nothing to say): libmicrohttpd's own timeout
     * would close it the moment it writes again. The watchdog bounds the
     * connection's idle phases once the stream is over. */
    if (r->stream) MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    struct MHD_Response *mr = r->stream ? stream_response(r)
                            : MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(r->body);
        r->body = NULL;
        for (size_t i = 0; i < r->nheaders; i++) {
            free(r->headers[i].name);
            free(r->headers[i].value);
        }
        free(r->headers);
        r->headers = NULL;
        return MHD_NO;
    }
    r->body = NULL;
    int has_ct = 0;
    for (size_t i = 0; i < r->nheaders; i++) has_ct |= !strcasecmp(r->headers[i].name, "Content-Type");
    if (!has_ct)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type ? r->content_type : "application/json");
    for (size_t i = 0; i < r->nheaders; i++) {
        MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* A query key or value with an embedded NUL (%00) would reach the routes
 * cut short into a different, valid-looking value: refuse the request. */
static enum MHD_Result nul_cb(void *cls, enum MHD_ValueKind kind, const char *k, size_t kn,
                              const char *v, size_t vn) {
    (void)kind;
    if (strlen(k) != kn || (v && strlen(v) != vn)) {
        *(int *)cls = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

/* A control byte (0x00-0x1f, 0x7f), a space, or a percent escape of one, in
 * the path; a raw control byte or space anywhere in the target. libmicrohttpd
 * decodes the path in place and the decoded string stops at a NUL, so this
 * looks at the target as received. */
static const char *target_refusal(const char *t) {
    if (*t != '/' && strcmp(t, "*") && strncasecmp(t, "http://", 7) && strncasecmp(t, "https://", 8))
        return "the request target is not a path, an absolute URL or '*'";
    int in_path = 1;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) return "the request target contains a control byte or a space";
        if (*p == '?') in_path = 0;
        if (in_path && *p == '%' && isxdigit(p[1]) && isxdigit(p[2])) {
            char hex[3] = { (char)p[1], (char)p[2], 0 };
            long v = strtol(hex, NULL, 16);
            if (v < 0x20 || v == 0x7f) return "the path contains an encoded control byte";
            if (v == '/') return "the path contains an encoded '/' (%2F), which routes cannot tell from a '/'";
        }
    }
    return NULL;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the target before it is decoded. Its return
 * value is the request's *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    http_req *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    req->conn = conn;
    req->raw = uri;
    req->raw_len = strlen(uri);
    req->refusal = target_refusal(uri);
    return req;
}

typedef struct hdr_count {
    int host, clen, te, args;
    const char *bad;            /* the first header that is not name: value */
} hdr_count;

/* RFC 9110 tchar: what a method and a field name are made of. */
static int is_token(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)))) return 0;
    }
    return 1;
}

/* A field value: visible bytes, spaces and tabs (obs-text, >= 0x80,
 * included); no NUL, CR, LF or other control byte. */
static int is_field_value(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

static enum MHD_Result count_cb(void *cls, enum MHD_ValueKind kind, const char *k, size_t kn,
                                const char *v, size_t vn) {
    hdr_count *c = cls;
    if (kind == MHD_GET_ARGUMENT_KIND) {
        c->args++;
        return MHD_YES;
    }
    if (!c->bad && (!is_token(k, kn) || (v && !is_field_value(v, vn)))) c->bad = k;
    if (!strcasecmp(k, MHD_HTTP_HEADER_HOST)) {
        c->host++;
        for (size_t i = 0; v && i < vn; i++)    /* host [":" port]: no space, path or userinfo */
            if (v[i] == ' ' || v[i] == '\t' || v[i] == '/' || v[i] == '@' || v[i] == '\\') c->bad = k;
    }
    else if (!strcasecmp(k, MHD_HTTP_HEADER_CONTENT_LENGTH)) c->clen++;
    else if (!strcasecmp(k, MHD_HTTP_HEADER_TRANSFER_ENCODING)) c->te++;
    return MHD_YES;
}

/* What the request line and headers get wrong that libmicrohttpd lets
 * through (see http_start on its strict mode): a status and code, or 0. */
static int framing_refusal(http_req *req, const char *method, const char *version, const char **code,
                           char *msg, size_t n) {
    struct MHD_Connection *conn = req->conn;
    *code = "bad_request";
#if MHD_VERSION < 0x01000000
    /* Up to 0.9.77 the version follows the target in libmicrohttpd's buffer,
     * one byte after its end: a NUL cut the target short. (1.0 closes a
     * connection with a NUL in its request line itself.) */
    if (req->raw && version && *version && version > req->raw && (size_t)(version - req->raw) != req->raw_len + 1) {
        snprintf(msg, n, "the request target contains a NUL byte");
        return 400;
    }
    /* ... and the method precedes the target, one space before it: a NUL
     * cut the method short (or more spaces than one separate them). */
    if (req->raw && method && req->raw > method && (size_t)(req->raw - method) < 64 &&
        (size_t)(req->raw - method) != strlen(method) + 1) {
        snprintf(msg, n, "the request line is not METHOD SP target SP version (a NUL byte or extra spaces)");
        return 400;
    }
#endif
    if (req->refusal) {
        snprintf(msg, n, "%s", req->refusal);
        return 400;
    }
    if (!method || !is_token(method, strlen(method))) {
        snprintf(msg, n, "the method is not a token");
        return 400;
    }
    hdr_count c = { 0 };
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, count_cb, &c);
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, count_cb, &c);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (c.bad) {
        snprintf(msg, n, "the header '%.40s' is not a name: value line (a space in the name, a control "
                 "byte in the value, or a Host that is not host[:port])", c.bad);
    } else if (version && !strcmp(version, MHD_HTTP_VERSION_1_1) && c.host != 1) {
        snprintf(msg, n, "an HTTP/1.1 request needs exactly one Host header (got %d)", c.host);
    } else if (c.host > 1) {
        snprintf(msg, n, "more than one Host header");
    } else if (c.clen > 1) {
        snprintf(msg, n, "more than one Content-Length header");
    } else if (c.te && c.clen) {
        snprintf(msg, n, "both Content-Length and Transfer-Encoding");
    } else if (c.te > 1 || (te && strcasecmp(te, "chunked"))) {
        snprintf(msg, n, "a Transfer-Encoding other than chunked");
    } else if (c.args > HTTP_MAX_QUERY_ARGS) {
        *code = "bad_query";
        snprintf(msg, n, "more than %d query parameters (%d)", HTTP_MAX_QUERY_ARGS, c.args);
    } else {
        return 0;
    }
    return 400;
}

/* A route starts (busy) or ends: the timeout counts from the end. */
static void conn_phase(http_server *s, http_conn *hc, int busy) {
    if (!hc) return;
    pthread_mutex_lock(&s->mu);
    hc->busy = busy;
    hc->since = pg_mono();
    pthread_mutex_unlock(&s->mu);
}

/* libmicrohttpd's own timeout restarts on every byte, so a client sending
 * one header byte a second holds its connection forever. podgym's bounds a
 * whole phase instead: reading a request (line, headers, body), sending its
 * answer, or waiting for the next one each have limits.connection_timeout_s;
 * only a running route is exempt. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        http_conn *hc = calloc(1, sizeof *hc);
        if (!hc) return;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        hc->fd = ci ? ci->connect_fd : -1;
        hc->since = pg_mono();
        pthread_mutex_lock(&s->mu);
        hc->over = s->nconns >= s->limit;
        hc->next = s->conns;
        if (s->conns) s->conns->prev = hc;
        s->conns = hc;
        s->nconns++;
        pthread_mutex_unlock(&s->mu);
        *socket_context = hc;
    } else if (*socket_context) {          /* closed: before libmicrohttpd closes the socket */
        http_conn *hc = *socket_context;
        pthread_mutex_lock(&s->mu);
        if (hc->prev) hc->prev->next = hc->next;
        else s->conns = hc->next;
        if (hc->next) hc->next->prev = hc->prev;
        s->nconns--;
        pthread_mutex_unlock(&s->mu);
        free(hc);
        *socket_context = NULL;
    }
}

static void *watchdog_main(void *arg) {
    http_server *s = arg;
    double period = s->timeout_s / 4 < 0.25 ? s->timeout_s / 4 : 0.25;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        double now = pg_mono();
        for (http_conn *hc = s->conns; hc; hc = hc->next) {
            if (hc->busy || hc->cut || hc->fd < 0 || now - hc->since < s->timeout_s) continue;
            shutdown(hc->fd, SHUT_RDWR);   /* its thread sees the end and closes the connection */
            hc->cut = 1;
        }
        struct timespec ts = pg_wall_after(period);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The path of an absolute-form target ("http://host:port/pod", which a
 * server must accept, RFC 9112 3.2.2), or the target as it is. */
static const char *origin_path(const char *url) {
    size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    if (!skip) return url;
    const char *p = strchr(url + skip, '/');
    return p ? p : "/";
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    http_server *s = cls;
    http_req *req = *con_cls;
    if (!req) {                 /* no target: on_uri was not called */
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        req->conn = conn;
        *con_cls = req;
    }
    if (!req->started) {
        req->started = 1;
        const char *code;
        char msg[256];
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        http_conn *hc = ci ? ci->socket_context : NULL;
        int status = framing_refusal(req, method, version, &code, msg, sizeof msg);
        if (!status && hc && hc->over) {
            status = 503;
            code = "unavailable";
            snprintf(msg, sizeof msg, "more than %d connections (limits.connections)", s->limit);
        }
        if (status) {           /* answered before any body is read, and the connection closed */
            http_resp resp = { .status = status };
            http_resp_error(&resp, status, code, msg);
            http_resp_header(&resp, MHD_HTTP_HEADER_CONNECTION, "close");
            pg_log_access(method, url, status, 0);
            return send_resp(conn, &resp);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoll(cl, NULL, 10) > s->o.body_bytes) req->too_large = 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->body.n + n > (size_t)s->o.body_bytes) {
            req->too_large = 1;
            return MHD_YES;     /* drain and answer 413 at the end */
        }
        pg_buf_add(&req->body, upload_data, n);
        if (req->body.oom) return MHD_NO;
        return MHD_YES;
    }
    req->method = method;
    req->path = origin_path(url);
    http_resp resp = { .status = 500 };
    int nul = 0;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, nul_cb, &nul);
    int refused = 1;            /* here, before any route: the route layer logs the rest */
    if (nul) {
        http_resp_error(&resp, 400, "bad_query", "a query parameter contains a NUL character");
    } else if (req->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body larger than %ld bytes", s->o.body_bytes);
        http_resp_error(&resp, 413, "body_too_large", msg);
    } else if (s->token[0] && strcmp(method, "GET") && strcmp(method, "HEAD") &&
               !http_token_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"), s->token)) {
        http_resp_error(&resp, 401, "unauthorized", "missing or bad bearer token");
        http_resp_header(&resp, "WWW-Authenticate", "Bearer");
    } else {
        refused = 0;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        http_conn *hc = ci ? ci->socket_context : NULL;
        conn_phase(s, hc, 1);
        s->o.handler(s->o.ud, req, &resp);
        if (!resp.stream) conn_phase(s, hc, 0);     /* a stream stays busy until it ends */
    }
    if (resp.drop) {                                /* no answer: the connection is closed */
        if (resp.stream_done) resp.stream_done(resp.stream_ud);
        resp.stream = NULL;
        free(resp.body);
        for (size_t i = 0; i < resp.nheaders; i++) {
            free(resp.headers[i].name);
            free(resp.headers[i].value);
        }
        free(resp.headers);
        return MHD_NO;
    }
    if (refused) pg_log_access(method, url, resp.status, 0);
    if (!resp.body && !resp.stream) http_resp_set(&resp, resp.status, resp.content_type, "", 0);
    return send_resp(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    http_server *s = cls;
    http_req *req = *con_cls;
    if (!req) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_phase(s, ci ? ci->socket_context : NULL, 0);
    pg_buf_free(&req->body);
    free(req);
    *con_cls = NULL;
    if (s->o.after) s->o.after(s->o.ud);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    (void)fmt;
    (void)ap;   /* connection resets and the like: not worth a line each */
}

/* libmicrohttpd's strict client mode. Up to 0.9.77 it answers a request it
 * refuses while reading the headers (no Host in strict mode, a malformed
 * Content-Length in any mode) by writing its status line and headers twice;
 * 1.0 fixed that. Before 1.0 the Host check is podgym's own
 * (framing_refusal), which answers once, with JSON. */
#if MHD_VERSION >= 0x01000000
#define HTTP_MHD_STRICT 1
#else
#define HTTP_MHD_STRICT 0
#endif

/* A PEM file larger than this is not a certificate or a key. */
#define HTTP_PEM_MAX (1024 * 1024)

/* A PEM file, NUL-terminated (libmicrohttpd takes C strings); the caller
 * wipes and frees it. NULL with err naming what (tls.key) and path. */
static char *read_pem(const char *what, const char *path, char *err, size_t errlen) {
    pg_err e;
    size_t n;
    char *p = pg_read_file(what, path, HTTP_PEM_MAX, &n, &e);
    if (p && (n == 0 || memchr(p, '\0', n))) {
        explicit_bzero(p, n);
        free(p);
        p = NULL;
        pg_errf(&e, 400, "bad_file", "%s '%.300s': not a PEM file", what, path);
    }
    if (!p) snprintf(err, errlen, "%s", e.message);
    return p;
}

static void wipe_free(char *p) {
    if (!p) return;
    explicit_bzero(p, strlen(p));
    free(p);
}

http_server *http_start(const http_opts *o, char *err, size_t errlen) {
    char *cert = NULL, *key = NULL;
    int tls = o->tls_cert && *o->tls_cert && o->tls_key && *o->tls_key;
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "tls: this libmicrohttpd was built without TLS support; "
                     "unset tls.cert and tls.key or install one built with GnuTLS");
            return NULL;
        }
        if (!(cert = read_pem("tls.cert", o->tls_cert, err, errlen))) return NULL;
        if (!(key = read_pem("tls.key", o->tls_key, err, errlen))) {
            free(cert);
            return NULL;
        }
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        free(cert);
        wipe_free(key);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->tls = tls;
    s->o = *o;
    if (o->token) snprintf(s->token, sizeof s->token, "%s", o->token);
    s->o.token = NULL;
    s->o.tls_cert = s->o.tls_key = NULL;
    /* libmicrohttpd stops accepting at its own limit, and a client over it
     * waits unanswered: that limit is set above podgym's, and a client
     * between the two is answered 503. */
    s->limit = o->connections > 0 ? o->connections : 256;
    s->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "cannot listen on '%s': %s", host, gai_strerror(rc));
        free(cert);
        wipe_free(key);
        free(s);
        return NULL;
    }
    if (ai->ai_family == AF_INET)
        s->loopback = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    else if (ai->ai_family == AF_INET6)
        s->loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (tls) flags |= MHD_USE_TLS;
    /* The HTTPS options only when serving HTTPS (a libmicrohttpd without
     * TLS refuses them); GnuTLS copies the PEM bytes while the daemon starts. */
    struct MHD_OptionItem tls_opts[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, key },
        { MHD_OPTION_END, 0, NULL },
    };
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_ARRAY, tls ? tls_opts : tls_opts + 2,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->limit + s->limit / 2 + 16),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->timeout_s < 1 ? 1 : s->timeout_s + 0.999),
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_BYTES,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_STRICT_FOR_CLIENT, HTTP_MHD_STRICT,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    free(cert);
    wipe_free(key);
    if (!s->d) {
        if (tls)
            snprintf(err, errlen, "cannot serve HTTPS on %s:%d (tls.cert and tls.key are not a matching PEM "
                     "certificate and key, or the address is in use or not allowed)", host, o->port);
        else
            snprintf(err, errlen, "cannot listen on %s:%d (address in use or not allowed)", host, o->port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    s->watching = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
    return s;
}

int http_port(const http_server *s) { return s->port; }
int http_tls(const http_server *s) { return s->tls; }
int http_loopback(const http_server *s) { return s->loopback; }

void http_stop(http_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->watching) pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
