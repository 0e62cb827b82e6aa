/* client.c: the Docker Engine API over a unix socket (libcurl, jansson). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "cluster/docker/client.h"
#include "base/buf.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int dock_socket_path(const char *cfg_socket, char *out, size_t n, pg_err *e) {
    const char *p = cfg_socket && *cfg_socket ? cfg_socket : NULL;
    if (!p) {
        const char *h = getenv("DOCKER_HOST");
        if (h && *h) {
            if (strncmp(h, "unix://", 7) != 0)
                return pg_errf(e, 2, "backend", "DOCKER_HOST=%s: only unix:// sockets are supported", h);
            p = h + 7;
        } else {
            p = "/var/run/docker.sock";
        }
    } else if (strncmp(p, "unix://", 7) == 0) {
        p += 7;
    }
    if (strlen(p) >= n || strlen(p) >= 108)
        return pg_errf(e, 2, "backend", "docker socket path too long (%zu bytes, a unix socket takes 107)", strlen(p));
    snprintf(out, n, "%s", p);
    return 0;
}

static size_t to_buf(char *ptr, size_t size, size_t n, void *ud) {
    pg_buf_add(ud, ptr, size * n);
    return size * n;
}

typedef struct hdrs {
    char api[16];
} hdrs;

static size_t header_cb(char *buf, size_t size, size_t n, void *ud) {
    hdrs *h = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(buf, "Api-Version:", 12) == 0) {
        const char *v = buf + 12;
        while (*v == ' ') v++;
        size_t k = strcspn(v, "\r\n");
        if (k < sizeof h->api) {
            memcpy(h->api, v, k);
            h->api[k] = '\0';
        }
    }
    return len;
}

/* Run h, collecting the body in b; the status in *st (0 when no answer). Frees h. */
static CURLcode perform(CURL *h, pg_buf *b, long *st) {
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    CURLcode rc = curl_easy_perform(h);
    *st = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, st);
    curl_easy_cleanup(h);
    return rc;
}

static CURL *easy(dock_client *c, const char *method, const char *path, int versioned, double timeout_s) {
    pthread_once(&curl_once, curl_init_once);
    CURL *h = curl_easy_init();
    if (!h) return NULL;
    char url[2048];
    if (versioned && c->version[0]) snprintf(url, sizeof url, "http://docker/v%s%s", c->version, path);
    else snprintf(url, sizeof url, "http://docker%s", path);
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_s * 1000));
    if (timeout_s > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
    if (!strcmp(method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    return h;
}

static int unreachable(dock_client *c, CURLcode rc, pg_err *e) {
    return pg_errf(e, 503, "backend_unavailable", "docker daemon at %s is not reachable: %s", c->socket,
                   curl_easy_strerror(rc));
}

/* An answer >= 400: the daemon's {"message"}, or the body's first line. */
static int daemon_error(long status, const char *method, const char *path, const char *body, pg_err *e) {
    char msg[400] = "";
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
    snprintf(msg, sizeof msg, "%s", m ? m : body ? body : "");
    msg[strcspn(msg, "\r\n")] = '\0';
    json_decref(j);
    char shortpath[120];
    snprintf(shortpath, sizeof shortpath, "%.*s", (int)strcspn(path, "?"), path);
    if (status == 404) return pg_errf(e, 404, "not_found", "docker %s %s: 404 %s", method, shortpath, msg);
    if (status == 409) return pg_errf(e, 409, "conflict", "docker %s %s: 409 %s", method, shortpath, msg);
    if (status == 400) return pg_errf(e, 400, "bad_request", "docker %s %s: 400 %s", method, shortpath, msg);
    return pg_errf(e, 502, "backend_error", "docker %s %s: %ld %s", method, shortpath, status, msg);
}

int dock_call_raw(dock_client *c, const char *method, const char *path, const char *ctype, const void *body,
                  size_t blen, long *status, char **out, size_t *outlen, pg_err *e) {
    if (status) *status = 0;
    if (out) *out = NULL;
    CURL *h = easy(c, method, path, 1, c->timeout_s);
    if (!h) return pg_errf(e, 500, "internal", "libcurl setup failed");
    pg_buf b = PG_BUF_INIT;
    struct curl_slist *hl = NULL;
    if (body) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
        hl = curl_slist_append(hl, ct);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    }
    long st;
    CURLcode rc = perform(h, &b, &st);
    curl_slist_free_all(hl);
    if (status) *status = st;
    int ret = 0;
    if (rc != CURLE_OK) ret = unreachable(c, rc, e);
    else if (b.oom) ret = pg_errf(e, 500, "no_memory", "docker %s %s: out of memory", method, path);
    else if (st >= 400) ret = daemon_error(st, method, path, b.p, e);
    if (ret == 0 && out) {
        if (!b.p) pg_buf_addc(&b, '\0'), b.n = 0;
        *out = pg_buf_take(&b, outlen);
    }
    pg_buf_free(&b);
    return ret;
}

int dock_call(dock_client *c, const char *method, const char *path, json_t *body, long *status, json_t **out,
              pg_err *e) {
    char *txt = NULL, *resp = NULL;
    size_t rlen = 0;
    if (out) *out = NULL;
    if (body && !(txt = json_dumps(body, JSON_COMPACT)))
        return pg_errf(e, 500, "no_memory", "docker %s %s: cannot encode the body", method, path);
    long st = 0;
    int rc = dock_call_raw(c, method, path, NULL, txt, txt ? strlen(txt) : 0, &st, &resp, &rlen, e);
    if (status) *status = st;
    free(txt);
    if (rc == 0 && out && rlen && !(*out = json_loadb(resp, rlen, 0, NULL)))
        rc = pg_errf(e, 502, "backend_error", "docker %s %s: the daemon at %s answered %ld with a body that is not "
                     "JSON", method, path, c->socket, st);
    free(resp);
    return rc;
}

/* "1.41" < "1.43": compare major then minor as numbers. */
static int api_cmp(const char *a, const char *b) {
    int a1 = 0, a2 = 0, b1 = 0, b2 = 0;
    sscanf(a, "%d.%d", &a1, &a2);
    sscanf(b, "%d.%d", &b1, &b2);
    return a1 != b1 ? a1 - b1 : a2 - b2;
}

int dock_negotiate(dock_client *c, pg_err *e) {
    hdrs hd = { "" };
    CURL *h = easy(c, "GET", "/_ping", 0, c->timeout_s);
    if (!h) return pg_errf(e, 500, "internal", "libcurl setup failed");
    pg_buf b = PG_BUF_INIT;
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hd);
    long st;
    CURLcode rc = perform(h, &b, &st);
    pg_buf_free(&b);
    if (rc != CURLE_OK) return unreachable(c, rc, e);
    if (st != 200) return daemon_error(st, "GET", "/_ping", NULL, e);
    if (!hd.api[0]) {                       /* an old daemon: /version says it */
        json_t *v = NULL;
        c->version[0] = '\0';
        if (dock_call(c, "GET", "/version", NULL, NULL, &v, e) != 0) return -1;
        const char *av = json_string_value(json_object_get(v, "ApiVersion"));
        snprintf(hd.api, sizeof hd.api, "%s", av ? av : "1.24");
        json_decref(v);
    }
    snprintf(c->version, sizeof c->version, "%s", api_cmp(hd.api, DOCK_CLIENT_API) < 0 ? hd.api : DOCK_CLIENT_API);
    return 0;
}

int dock_open(dock_client *c, const char *socket, double timeout_s, pg_err *e) {
    memset(c, 0, sizeof *c);
    snprintf(c->socket, sizeof c->socket, "%s", socket);
    c->timeout_s = timeout_s > 0 ? timeout_s : 10;
    return dock_negotiate(c, e);
}

/* ---- streams ---------------------------------------------------------- */

typedef struct stream {
    pg_buf line;
    dock_line_fn fn;
    void (*opened)(void *ud);
    void *ud;
    CURL *h;
    int stopped, was_opened;
    long status;
    pg_buf err;                 /* the body of an answer >= 400 */
    volatile int *fd;
} stream;

/* The end of the answer's headers: the stream is open (an /events stream
 * sends no body until the first event). */
static size_t stream_header(char *buf, size_t size, size_t n, void *ud) {
    stream *s = ud;
    size_t len = size * n;
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        long st = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && !s->was_opened) {
            s->status = st;
            s->was_opened = 1;
            if (st == 200 && s->opened) s->opened(s->ud);
        }
    }
    return len;
}

static curl_socket_t open_sock(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
    stream *s = ud;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (s->fd) *s->fd = fd;
    return fd;
}

static size_t stream_cb(char *ptr, size_t size, size_t n, void *ud) {
    stream *s = ud;
    size_t len = size * n;
    if (s->status != 200) {
        if (s->err.n < 4096) pg_buf_add(&s->err, ptr, len);
        return len;
    }
    pg_buf_add(&s->line, ptr, len);
    if (s->line.oom) return 0;
    char *start = s->line.p, *nl;
    while ((nl = memchr(start, '\n', s->line.n - (size_t)(start - s->line.p)))) {
        json_t *j = json_loadb(start, (size_t)(nl - start), 0, NULL);
        start = nl + 1;
        int stop = j ? s->fn(s->ud, j) : 0;
        json_decref(j);
        if (stop) {
            s->stopped = 1;
            return 0;
        }
    }
    size_t rest = s->line.n - (size_t)(start - s->line.p);
    memmove(s->line.p, start, rest);
    s->line.n = rest;
    s->line.p[rest] = '\0';
    return len;
}

int dock_stream(dock_client *c, const char *path, dock_line_fn fn, void (*opened)(void *ud), void *ud,
                volatile int *fd, pg_err *e) {
    stream s = { PG_BUF_INIT, fn, opened, ud, NULL, 0, 0, 0, PG_BUF_INIT, fd };
    CURL *h = easy(c, "GET", path, 1, 0);
    if (!h) return pg_errf(e, 500, "internal", "libcurl setup failed");
    s.h = h;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, stream_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_sock);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 0L);
    CURLcode rc = curl_easy_perform(h);
    if (fd) *fd = -1;
    if (!s.was_opened && rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s.status);
        if (s.status == 200 && opened) opened(ud);
    }
    curl_easy_cleanup(h);
    int ret = 0;
    if (s.stopped) ret = 0;
    else if (s.status >= 400) ret = daemon_error(s.status, "GET", path, s.err.p, e);
    else if (rc != CURLE_OK && !s.was_opened) ret = unreachable(c, rc, e);
    else if (rc != CURLE_OK) ret = pg_errf(e, 503, "backend_unavailable", "docker daemon at %s went away (%.*s: %s)",
                                           c->socket, (int)strcspn(path, "?"), path, curl_easy_strerror(rc));
    pg_buf_free(&s.line);
    pg_buf_free(&s.err);
    return ret;
}

int dock_label_filter(const char *const *labels, size_t n, const char *type, char *out, size_t len) {
    json_t *f = json_object(), *l = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(l, json_string(labels[i]));
    json_object_set_new(f, "label", l);
    if (type) {
        json_t *t = json_array();
        json_array_append_new(t, json_string(type));
        json_object_set_new(f, "type", t);
    }
    char *txt = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    if (!txt) return -1;
    char *esc = curl_easy_escape(NULL, txt, 0);
    free(txt);
    if (!esc) return -1;
    int ok = snprintf(out, len, "%s", esc) < (int)len;
    curl_free(esc);
    return ok ? 0 : -1;
}
