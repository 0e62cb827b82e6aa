/* client.c: the Kubernetes REST client (see client.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cluster/kube/client.h"
#include "base/buf.h"
#include "base/clock.h"

#define POOL_MAX 16
#define BODY_MAX (64u << 20)        /* a pod list of thousands of pods fits */
#define BACKOFF_BASE_S 0.1
#define BACKOFF_CAP_S 2.0
#define RETRY_AFTER_CAP_S 10.0

struct k8s_client {
    k8s_auth a;
    double timeout_s;
    int retries;
    char base[PG_URL_MAX];      /* what URLs start with: the server, or its tls-server-name */
    struct curl_slist *connect_to;  /* with tls-server-name: that name to the server's host */
    pthread_mutex_t mu;         /* the pool, the token */
    CURL *idle[POOL_MAX];
    int nidle;
    uint64_t rng;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* tls-server-name: URLs name it (so TLS sends it and verifies the certificate against it) and
 * CURLOPT_CONNECT_TO sends them to the server's own host and port. */
static int tls_name(k8s_client *c, pg_err *e) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, line[PG_URL_MAX];
    int rc = -1;
    if (u && !curl_url_set(u, CURLUPART_URL, c->a.server, 0) && !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
        !curl_url_get(u, CURLUPART_HOST, &host, 0) && !curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) &&
        (size_t)snprintf(c->base, sizeof c->base, "%s://%s:%s", scheme, c->a.tls_server_name, port) < sizeof c->base &&
        (size_t)snprintf(line, sizeof line, "%s:%s:%s:%s", c->a.tls_server_name, port, host, port) < sizeof line)
        rc = (c->connect_to = curl_slist_append(NULL, line)) ? 0 : -1;
    if (rc < 0) pg_errf(e, 2, "backend", "kubeconfig: cannot use tls-server-name '%s' with server %s", c->a.tls_server_name,
                        c->a.server);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

k8s_client *k8s_client_new(k8s_auth *a, double timeout_s, int retries, int insecure, pg_err *e) {
    pthread_once(&curl_once, curl_init);
    k8s_client *c = calloc(1, sizeof *c);
    if (!c) {
        pg_errf(e, 500, "no_memory", "out of memory");
        return NULL;
    }
    c->a = *a;
    memset(a, 0, sizeof *a);
    c->a.insecure |= insecure;
    c->timeout_s = timeout_s > 0 ? timeout_s : 10;
    c->retries = retries < 0 ? 0 : retries;
    c->rng = (uint64_t)pg_mono_ns() ^ (uint64_t)(uintptr_t)c;
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->base, sizeof c->base, "%s", c->a.server);
    if (c->a.tls_server_name[0] && tls_name(c, e) < 0) {
        k8s_client_free(c);
        return NULL;
    }
    return c;
}

void k8s_client_free(k8s_client *c) {
    if (!c) return;
    for (int i = 0; i < c->nidle; i++) curl_easy_cleanup(c->idle[i]);
    curl_slist_free_all(c->connect_to);
    k8s_auth_free(&c->a);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *k8s_client_server(const k8s_client *c) { return c->a.server; }

static CURL *take(k8s_client *c) {
    pthread_mutex_lock(&c->mu);
    CURL *h = c->nidle ? c->idle[--c->nidle] : NULL;
    pthread_mutex_unlock(&c->mu);
    return h ? h : curl_easy_init();
}

/* Back to the pool, its connection kept alive (or closed when the pool is full). */
static void give(k8s_client *c, CURL *h) {
    pthread_mutex_lock(&c->mu);
    if (c->nidle < POOL_MAX) {
        c->idle[c->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h) curl_easy_cleanup(h);
}

/* A uniform draw in [0, 1). */
static double jitter(k8s_client *c) {
    pthread_mutex_lock(&c->mu);
    uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
    pthread_mutex_unlock(&c->mu);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

void k8s_query_escape(const char *s, char *out, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

/* ---- one exchange ---------------------------------------------------------- */

typedef struct xfer {
    pg_buf body;
    char ctype[96];
    double retry_after;         /* seconds, < 0 when absent */
    /* streaming */
    k8s_line_fn on_line;
    void *ud;
    int stop;
    long status;
    CURL *h;
} xfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    if (len > 13 && !strncasecmp(p, "content-type:", 13)) {
        const char *v = p + 13;
        while (*v == ' ') v++;
        size_t l = strcspn(v, "\r\n");
        snprintf(x->ctype, sizeof x->ctype, "%.*s", (int)l, v);
    } else if (len > 15 && !strncasecmp(p, "content-length:", 15)) {
        long long n = strtoll(p + 15, NULL, 10);        /* one allocation for the whole body */
        if (n > 0 && n <= BODY_MAX && !x->on_line) pg_buf_reserve(&x->body, (size_t)n);
    } else if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
        char *end;
        double v = strtod(p + 12, &end);
        if (end != p + 12 && v >= 0 && isfinite(v)) x->retry_after = v;
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    if (x->body.n + len > BODY_MAX) return 0;
    pg_buf_add(&x->body, p, len);
    return x->body.oom ? 0 : len;
}

/* Streamed body: whole lines to on_line. */
static size_t on_stream(char *p, size_t size, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = size * n;
    if (!x->status) curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status != 200) return on_body(p, size, n, ud);  /* an error Status: kept whole */
    pg_buf_add(&x->body, p, len);
    if (x->body.oom || x->body.n > BODY_MAX) return 0;
    size_t start = 0;
    for (size_t i = 0; i < x->body.n && !x->stop; i++) {
        if (x->body.p[i] != '\n') continue;
        if (i > start && x->on_line(x->ud, x->body.p + start, i - start)) x->stop = 1;
        start = i + 1;
    }
    if (x->stop) return len;
    memmove(x->body.p, x->body.p + start, x->body.n - start);
    x->body.n -= start;
    x->body.p[x->body.n] = '\0';
    return len;
}

static struct curl_slist *headers(k8s_client *c, const char *ctype) {
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (ctype) {
        char line[160];
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "User-Agent: podgym/" PODGYM_VERSION);
    pthread_mutex_lock(&c->mu);
    if (c->a.token) {
        size_t n = strlen(c->a.token) + 32;
        char *line = malloc(n);
        if (line) {
            snprintf(line, n, "Authorization: Bearer %s", c->a.token);
            h = curl_slist_append(h, line);
            memset(line, 0, n);
            free(line);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return h;
}

static void setup(k8s_client *c, CURL *h, const char *method, const char *url, const char *body,
                  struct curl_slist *hdr, xfer *x, char *errbuf, int stream) {
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream ? on_stream : on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    long ms = (long)ceil(c->timeout_s * 1000);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (!stream) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    if (strcmp(method, "GET")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    if (c->a.ca.p) {
        struct curl_blob b = { c->a.ca.p, c->a.ca.len, CURL_BLOB_COPY };
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->a.cert.p && c->a.key.p) {
        struct curl_blob cb = { c->a.cert.p, c->a.cert.len, CURL_BLOB_COPY };
        struct curl_blob kb = { c->a.key.p, c->a.key.len, CURL_BLOB_COPY };
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
    }
    if (c->connect_to) curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
    if (c->a.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static int is_tls_error(CURLcode rc) {
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CONNECT_ERROR ||
           rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CRL_BADFILE ||
           rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_USE_SSL_FAILED;
}

/* The message of a Kubernetes Status body, or the body's start. */
static void status_message(const char *body, size_t len, char *out, size_t n) {
    out[0] = '\0';
    if (!body || !len) return;
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m) snprintf(out, n, ": %s", m);
    else snprintf(out, n, ": %.120s", body);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    json_decref(j);
}

static int tls_fail(k8s_client *c, CURLcode rc, const char *errbuf, pg_err *e) {
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_ISSUER_ERROR)
        return pg_errf(e, 502, "backend_tls", "certificate verify failed for %s (%s)", c->a.server,
                       errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return pg_errf(e, 502, "backend_tls", "TLS with %s failed: %s", c->a.server, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

int k8s_call(k8s_client *c, const char *method, const char *path, const char *ctype, const char *body,
             k8s_resp *r, pg_err *e) {
    char url[PG_URL_MAX + 2048], errbuf[CURL_ERROR_SIZE];
    memset(r, 0, sizeof *r);
    if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url)
        return pg_errf(e, 400, "bad_request", "kube: path too long");
    int reread = 0;
    for (int attempt = 0;; attempt++) {
        CURL *h = take(c);
        if (!h) return pg_errf(e, 500, "internal", "kube: curl_easy_init failed");
        xfer x = { .body = PG_BUF_INIT, .retry_after = -1 };
        struct curl_slist *hdr = headers(c, ctype);
        errbuf[0] = '\0';
        setup(c, h, method, url, body, hdr, &x, errbuf, 0);
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdr);
        give(c, h);
        r->attempts = attempt + 1;
        if (rc == CURLE_OK && status == 401 && !reread) {       /* a rotated token? */
            pthread_mutex_lock(&c->mu);
            int fresh = k8s_auth_reread_token(&c->a) == 0;
            pthread_mutex_unlock(&c->mu);
            reread = 1;
            if (fresh) {
                pg_buf_free(&x.body);
                attempt--;
                continue;
            }
        }
        int retry = 0;
        double wait = fmin(BACKOFF_CAP_S, BACKOFF_BASE_S * pow(2, attempt)) * (0.5 + 0.5 * jitter(c));
        char why[300];
        if (rc != CURLE_OK) {
            pg_buf_free(&x.body);
            if (is_tls_error(rc)) return tls_fail(c, rc, errbuf, e);
            if (rc == CURLE_OUT_OF_MEMORY) return pg_errf(e, 500, "no_memory", "kube: out of memory");
            snprintf(why, sizeof why, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
            retry = 1;
            if (attempt >= c->retries) {
                if (rc == CURLE_OPERATION_TIMEDOUT)
                    return pg_errf(e, 504, "backend_timeout", "%s %s: no answer from %s within %g s (%d attempts)",
                                   method, path, c->a.server, c->timeout_s, attempt + 1);
                return pg_errf(e, 503, "backend_unavailable", "cannot reach %s: %s (%d attempts)", c->a.server,
                               why, attempt + 1);
            }
        } else if (status == 409 || status == 429 || status >= 500) {
            char msg[240];
            status_message(x.body.p, x.body.n, msg, sizeof msg);
            snprintf(why, sizeof why, "%ld%s", status, msg);
            if (x.retry_after >= 0 && (status == 429 || status == 503))
                wait = fmax(wait, fmin(x.retry_after, RETRY_AFTER_CAP_S));
            pg_buf_free(&x.body);
            retry = 1;
            if (attempt >= c->retries)
                return pg_errf(e, status == 429 || status == 503 ? 503 : 502,
                               status == 429 || status == 503 ? "backend_unavailable" : "backend_error",
                               "%s %s: %s answered %s (%d attempts)", method, path, c->a.server, why, attempt + 1);
        } else if (status == 401 || status == 403) {
            char msg[240];
            status_message(x.body.p, x.body.n, msg, sizeof msg);
            pg_buf_free(&x.body);
            return pg_errf(e, 502, "backend_auth", "the token was refused by %s (%ld%s)", c->a.server, status, msg);
        }
        if (retry) {
            pg_sleep(wait);
            continue;
        }
        if (x.body.oom) {
            pg_buf_free(&x.body);
            return pg_errf(e, 500, "no_memory", "kube: out of memory");
        }
        r->status = status;
        r->body = pg_buf_take(&x.body, &r->len);
        snprintf(r->ctype, sizeof r->ctype, "%s", x.ctype);
        return 0;
    }
}

void k8s_resp_free(k8s_resp *r) {
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

int k8s_json(k8s_client *c, const char *method, const char *path, const char *ctype, const char *body,
             json_t **out, pg_err *e) {
    k8s_resp r;
    *out = NULL;
    if (k8s_call(c, method, path, ctype, body, &r, e) < 0) return -1;
    char msg[300];
    int rc = 0;
    if (r.status < 200 || r.status > 299) {
        status_message(r.body, r.len, msg, sizeof msg);
        if (r.status == 404) rc = pg_errf(e, 404, "not_found", "%s %s: 404%s", method, path, msg);
        else if (r.status == 400 || r.status == 422) rc = pg_errf(e, 400, "bad_request", "%s %s: %ld%s", method, path, r.status, msg);
        else rc = pg_errf(e, 502, "backend_error", "%s %s: %s answered %ld%s", method, path, c->a.server, r.status, msg);
    } else {
        json_error_t je;
        *out = r.body ? json_loadb(r.body, r.len, 0, &je) : NULL;
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = pg_errf(e, 502, "backend_error", "%s %s: %s answered %ld with a body that is not a JSON object", method,
                         path, c->a.server, r.status);
        }
    }
    k8s_resp_free(&r);
    return rc;
}

/* ---- streams ------------------------------------------------------------- */

int k8s_stream(k8s_client *c, const char *path, double deadline, double tick_s, k8s_line_fn on_line,
               k8s_idle_fn on_tick, void *ud, pg_err *e) {
    char url[PG_URL_MAX + 2048], errbuf[CURL_ERROR_SIZE];
    if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url)
        return pg_errf(e, 400, "bad_request", "kube: path too long");
    CURL *h = take(c);
    CURLM *m = curl_multi_init();
    if (!h || !m) {
        if (h) give(c, h);
        curl_multi_cleanup(m);
        return pg_errf(e, 500, "internal", "kube: curl setup failed");
    }
    xfer x = { .body = PG_BUF_INIT, .retry_after = -1, .on_line = on_line, .ud = ud, .h = h };
    struct curl_slist *hdr = headers(c, NULL);
    errbuf[0] = '\0';
    setup(c, h, "GET", url, NULL, hdr, &x, errbuf, 1);
    curl_multi_add_handle(m, h);
    int rc = -2, running = 1;
    double next_tick = pg_mono() + tick_s;
    while (rc == -2) {
        curl_multi_perform(m, &running);
        if (x.stop) { rc = 1; break; }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE) {
                CURLcode cc = msg->data.result;
                long status = 0;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                char sm[240];
                if (cc == CURLE_OK && status == 200) rc = 0;
                else if (cc != CURLE_OK && is_tls_error(cc)) rc = tls_fail(c, cc, errbuf, e);
                else if (cc != CURLE_OK) rc = pg_errf(e, 503, "backend_unavailable", "watch %s on %s: %s", path, c->a.server,
                                                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
                else if (status == 401 || status == 403) {
                    status_message(x.body.p, x.body.n, sm, sizeof sm);
                    rc = pg_errf(e, 502, "backend_auth", "the token was refused by %s (%ld%s)", c->a.server, status, sm);
                } else {
                    status_message(x.body.p, x.body.n, sm, sizeof sm);
                    rc = pg_errf(e, status == 429 || status == 503 ? 503 : 502,
                                 status == 429 || status == 503 ? "backend_unavailable" : "backend_error",
                                 "watch %s: %s answered %ld%s", path, c->a.server, status, sm);
                }
            }
        if (rc != -2) break;
        if (!running) { rc = 0; break; }
        double now = pg_mono();
        if (now >= deadline) { rc = 2; break; }
        if (now >= next_tick) {
            if (on_tick && on_tick(ud)) { rc = 1; break; }
            next_tick = now + tick_s;
        }
        double until = fmin(deadline, next_tick) - now;
        curl_multi_poll(m, NULL, 0, (int)ceil(fmax(1, fmin(until * 1000, 1000))), NULL);
        if (x.stop) { rc = 1; break; }
    }
    curl_multi_remove_handle(m, h);
    curl_multi_cleanup(m);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdr);
    pg_buf_free(&x.body);
    if (rc == 1 || rc == 2) curl_easy_cleanup(h);   /* cut mid-stream: its connection is not reusable */
    else give(c, h);
    return rc;
}
