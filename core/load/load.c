/* load.c: the native load generator (see load.h for the two modes).
 *
 * One thread, one event loop. A `conn` is a JMeter thread in closed loop,
 * a connection slot in open loop. Requests go through one of two clients:
 * plain http:// without upload or redirects through h1.c (one send and one
 * recv a keep-alive request), everything else through one libcurl multi
 * handle, a conn being one easy handle. The loop sleeps in epoll_wait on
 * the sockets (libcurl's multi_socket API, so only active transfers are
 * touched; h1 sockets are watched directly) plus a timerfd
 * armed at the next intended send time (nanosecond resolution, so the
 * schedule does not round to milliseconds), starts what is due, and records
 * a sample for every finished transfer. Intended times are absolute
 * (t0 + i/rate), never "last send + interval", so the schedule cannot drift. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/file.h"
#include "base/clock.h"
#include "load/h1.h"
#include "load/load.h"

#define LOAD_MAX_FILE (256L << 20)
#define HIST_BUCKETS 1100           /* log buckets of 2 %: 1 us .. ~20 min */

/* ---- the target ---------------------------------------------------------- */

void load_target_init(load_target *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->method, sizeof t->method, "GET");
    t->keepalive = 1;
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void load_target_free(load_target *t) {
    if (!t) return;
    free_list(t->urls, t->nurls);
    free_list(t->headers, t->nheaders);
    free(t->body);
    free(t->file_path);
    free(t->file_param);
    free(t->file_mime);
    free(t->profile);
    load_target_init(t);
}

static int push_str(char ***v, size_t *n, char *s, pg_err *e) {
    if (!s) return pg_errf(e, 500, "no_memory", "out of memory");
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) {
        free(s);
        return pg_errf(e, 500, "no_memory", "out of memory");
    }
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

int load_target_add_url(load_target *t, const char *url, pg_err *e) {
    CURLU *u = curl_url();
    if (!u) return pg_errf(e, 500, "no_memory", "out of memory");
    char *scheme = NULL, *host = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc == CURLUE_OK) rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK) rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    int ok = rc == CURLUE_OK && scheme && (!strcmp(scheme, "http") || !strcmp(scheme, "https"))
             && host && host[0];
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok)
        return pg_errf(e, 400, "bad_url", "bad URL '%.300s' (wants http://HOST[:PORT]/PATH)", url);
    return push_str(&t->urls, &t->nurls, strdup(url), e);
}

int load_target_set_method(load_target *t, const char *method, pg_err *e) {
    size_t n = strlen(method);
    if (n == 0 || n >= sizeof t->method || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
        return pg_errf(e, 400, "bad_method", "bad HTTP method '%.40s' (wants GET, POST, PUT, DELETE, ...)",
                       method);
    memcpy(t->method, method, n + 1);
    return 0;
}

int load_target_add_header(load_target *t, const char *name, const char *value, pg_err *e) {
    if (!name[0] || strpbrk(name, ":\r\n \t") || strpbrk(value, "\r\n"))
        return pg_errf(e, 400, "bad_header", "bad header '%.100s'", name);
    char *s;
    if (asprintf(&s, "%s: %s", name, value) < 0) s = NULL;
    return push_str(&t->headers, &t->nheaders, s, e);
}

int load_target_set_body(load_target *t, const void *body, size_t len, pg_err *e) {
    char *b = malloc(len + 1);
    if (!b) return pg_errf(e, 500, "no_memory", "out of memory");
    memcpy(b, body, len);
    b[len] = '\0';
    free(t->body);
    t->body = b;
    t->body_len = len;
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int load_target_set_file(load_target *t, const char *path, const char *param, const char *mime,
                         pg_err *e) {
    if (!path || !path[0]) return pg_errf(e, 400, "bad_file", "upload file path is empty");
    free(t->file_path);
    free(t->file_param);
    free(t->file_mime);
    t->file_path = strdup(path);
    t->file_param = strdup(param && param[0] ? param : "file");
    t->file_mime = dup_or_null(mime && mime[0] ? mime : NULL);
    if (!t->file_path || !t->file_param) return pg_errf(e, 500, "no_memory", "out of memory");
    return 0;
}

int load_target_set_profile(load_target *t, const load_step *steps, size_t n, pg_err *e) {
    if (n == 0) return pg_errf(e, 400, "bad_profile", "rate profile is empty");
    for (size_t i = 0; i < n; i++) {
        if (!(steps[i].rps >= 0) || !isfinite(steps[i].rps))
            return pg_errf(e, 400, "bad_profile", "rate profile step %zu: rate %g (wants >= 0)", i + 1,
                           steps[i].rps);
        if (i == 0 && steps[i].t_s != 0)
            return pg_errf(e, 400, "bad_profile", "rate profile must start at t = 0");
        if (i > 0 && !(steps[i].t_s > steps[i - 1].t_s))
            return pg_errf(e, 400, "bad_profile", "rate profile step %zu: times must increase", i + 1);
    }
    load_step *v = malloc(n * sizeof *v);
    if (!v) return pg_errf(e, 500, "no_memory", "out of memory");
    memcpy(v, steps, n * sizeof *v);
    free(t->profile);
    t->profile = v;
    t->nprofile = n;
    return 0;
}

/* ---- the plan ------------------------------------------------------------ */

int load_is_open(const ld_plan *p, const load_target *t) {
    return (p->rate > 0 || (t && t->nprofile)) && p->loops == 0 && !(t && t->closed);
}

/* The rate profile as steps; a constant rate is one step. */
static const load_step *steps_of(const ld_plan *p, const load_target *t, load_step *one, size_t *n) {
    if (t && t->nprofile) {
        *n = t->nprofile;
        return t->profile;
    }
    one->t_s = 0;
    one->rps = p->rate;
    *n = 1;
    return one;
}

/* Expected arrivals before D: the integral of the rate over [0, D). */
static double arrivals_before(const load_step *s, size_t n, double D) {
    double c = 0;
    for (size_t k = 0; k < n && s[k].t_s < D; k++) {
        double end = k + 1 < n && s[k + 1].t_s < D ? s[k + 1].t_s : D;
        c += s[k].rps * (end - s[k].t_s);
    }
    return c;
}

size_t load_planned_count(const ld_plan *p, const load_target *t) {
    if (load_is_open(p, t)) {
        load_step one;
        size_t n;
        const load_step *s = steps_of(p, t, &one, &n);
        double c = ceil(arrivals_before(s, n, p->duration_s) - 1e-9);
        return c > 0 ? (size_t)c : 0;
    }
    if (p->loops > 0 && p->threads > 0) return (size_t)p->threads * (size_t)p->loops;
    return 0;
}

double load_planned_s(const ld_plan *p, const load_target *t) {
    if (load_is_open(p, t)) return p->duration_s;
    if (p->loops <= 0) return p->duration_s;
    double s = 0;
    if (p->rate > 0) s = ((double)p->threads * p->loops - 1) / p->rate;
    double per_thread = p->loops * p->think_ms / 1000.0;
    if (per_thread > s) s = per_thread;
    return s + (p->ramp_s > 0 ? p->ramp_s : 0);
}

/* A number that is finite and >= lo (NaN is not). */
static int at_least(double v, double lo) { return v >= lo && isfinite(v); }

int ld_plan_check(const ld_plan *p, const load_target *t, pg_err *e) {
    if (t && !t->nurls) return pg_errf(e, 400, "bad_target", "no target URL");
    if (t && !t->method[0]) return pg_errf(e, 400, "bad_method", "no HTTP method");
    if (!at_least(p->rate, 0)) return pg_errf(e, 400, "bad_rate", "rate %g requests/s (wants > 0)", p->rate);
    if (!at_least(p->duration_s, 0))
        return pg_errf(e, 400, "bad_duration", "duration %g s (wants > 0)", p->duration_s);
    if (!(p->timeout_s > 0) || !isfinite(p->timeout_s))
        return pg_errf(e, 400, "bad_timeout", "timeout %g s (wants > 0)", p->timeout_s);
    if (!at_least(p->ramp_s, 0)) return pg_errf(e, 400, "bad_ramp", "ramp %g s (wants >= 0)", p->ramp_s);
    if (!at_least(p->think_ms, 0)) return pg_errf(e, 400, "bad_think", "think %g ms (wants >= 0)", p->think_ms);
    if (p->loops < 0 || p->loops > LD_MAX_LOOPS)
        return pg_errf(e, 400, "bad_loops", "loops %d (wants 0..%d, 0 = for the duration)", p->loops, LD_MAX_LOOPS);
    int open = load_is_open(p, t);
    if (p->threads < (open ? 0 : 1) || p->threads > LD_MAX_THREADS)
        return pg_errf(e, 400, "bad_threads", "threads %d (wants 1..%d)", p->threads, LD_MAX_THREADS);
    if (open && !(p->duration_s > 0))
        return pg_errf(e, 400, "bad_duration", "an open-loop run needs a duration > 0");
    if (!open && p->loops == 0 && !(p->duration_s > 0))
        return pg_errf(e, 400, "bad_plan", "a closed-loop run needs loops > 0 or a duration > 0");
    if (t && (t->max_inflight < 0 || t->max_inflight > LD_MAX_CONNECTIONS))
        return pg_errf(e, 400, "bad_connections", "connections %d (wants 1..%d)", t->max_inflight,
                       LD_MAX_CONNECTIONS);
    size_t planned = load_planned_count(p, t);
    if (planned > LD_MAX_SAMPLES)
        return pg_errf(e, 400, "too_many", "the plan makes %zu requests (at most %u)", planned, LD_MAX_SAMPLES);
    double max = p->max_duration_s, want = load_planned_s(p, t);
    if (max > 0 && p->duration_s > max)
        return pg_errf(e, 400, "too_long", "duration %g s is over load.max_duration_s (%g s)", p->duration_s, max);
    if (max > 0 && want > max)
        return pg_errf(e, 400, "too_long", "the load test would take %g s, over load.max_duration_s (%g s)", want,
                       max);
    return 0;
}

/* ---- the run ------------------------------------------------------------- */

enum { C_IDLE, C_WAIT, C_BUSY, C_DONE };

typedef struct run run;

typedef struct conn {
    CURL *h;
    curl_mime *mime;
    run *R;
    int idx;                    /* 1-based: threadName */
    int state;
    int timers_due;             /* closed: evaluate think/throughput timers at ready_at */
    long loops_done;
    double intended, started, ready_at;
    const char *url;
    size_t upload_pos;          /* multipart read position */
    char reason[48];
    h1_xfer x;                  /* h1: the request in flight */
    double deadline;            /* h1: when it times out */
} conn;

struct run {
    const ld_plan *p;
    const load_target *t;
    ld_result *r;
    CURLM *m;
    int tfd;                    /* timerfd: the next intended send time */
    int ep;                     /* epoll: curl's sockets + tfd */
    double curl_deadline;       /* libcurl's own timer (CURLMOPT_TIMERFUNCTION) */
    unsigned char *want, *have; /* per fd: 1 in, 2 out; what curl wants / what epoll has */
    size_t nfds;
    int *dirty;                 /* fds whose wish changed since the last apply */
    size_t ndirty, capdirty;
    conn *c;
    int nc;
    int *idle;                  /* open loop: stack of idle conns */
    int nidle;
    struct curl_slist *hdrs;
    char *file_data;
    size_t file_len;
    const char *file_name;
    const char *label;
    const char **urls;          /* interned in r */
    size_t rr;
    double t0, epoch0_ms, timeout;
    int open;
    /* open loop schedule: arrival i of `planned` at arr_t */
    const load_step *steps;
    size_t nsteps, seg;
    double seg_c0;              /* arrivals before steps[seg] */
    size_t arr_i, planned;
    double arr_t;
    /* closed loop */
    double t_end, hard_end, ctt_interval, ctt_last;
    int capped;                 /* something planned was not sent before hard_end */
    size_t inflight, errors, recorded;
    double first_t, last_t;     /* first intended send, last completion (monotonic s) */
    /* progress */
    unsigned *hist;
    size_t hist_n;
    double next_tick;
    double tick_t[5];
    size_t tick_n[5];
    int tick_i;
    /* h1 client */
    int h1;
    h1_origin *origins;
    size_t norig;
    h1_req *reqs;               /* one per URL */
    h1_sock *socks;             /* conn k's socket to origin o: socks[k * norig + o] */
    double h1_check;            /* no h1 request times out before this */
};

#define TFD_TAG UINT64_MAX      /* epoll data of the timerfd; h1 sockets are index + 1 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t discard_cb(char *ptr, size_t size, size_t n, void *ud) { return size * n; }

/* Keep the reason phrase of the last status line ("HTTP/1.1 500 Internal Server Error"). */
static size_t header_cb(char *buf, size_t size, size_t n, void *ud) {
    conn *c = ud;
    size_t len = size * n;
    if (len > 5 && !memcmp(buf, "HTTP/", 5)) {
        const char *p = memchr(buf, ' ', len), *end = buf + len;
        if (p) {
            while (p < end && *p == ' ') p++;
            while (p < end && *p >= '0' && *p <= '9') p++;
            while (p < end && *p == ' ') p++;
            const char *q = end;
            while (q > p && (q[-1] == '\r' || q[-1] == '\n' || q[-1] == ' ')) q--;
            size_t m = (size_t)(q - p);
            if (m >= sizeof c->reason) m = sizeof c->reason - 1;
            memcpy(c->reason, p, m);
            c->reason[m] = '\0';
        }
    }
    return len;
}

static size_t upload_read(char *buf, size_t size, size_t n, void *ud) {
    conn *c = ud;
    size_t left = c->R->file_len - c->upload_pos, want = size * n;
    if (want > left) want = left;
    memcpy(buf, c->R->file_data + c->upload_pos, want);
    c->upload_pos += want;
    return want;
}

static int upload_seek(void *ud, curl_off_t off, int origin) {
    conn *c = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > c->R->file_len) return CURL_SEEKFUNC_FAIL;
    c->upload_pos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static int read_file(run *R, pg_err *e) {
    const char *path = R->t->file_path;
    R->file_data = pg_read_file("upload file", path, LOAD_MAX_FILE, &R->file_len, e);
    if (!R->file_data) return -1;
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');
    if (bslash > slash) slash = bslash;
    R->file_name = slash ? slash + 1 : path;
    return 0;
}

static int close_cb(void *ud, curl_socket_t fd);

/* Options that stay the same for every request of a conn. */
static int setup_conn(run *R, conn *c, pg_err *e) {
    const load_target *t = R->t;
    c->R = R;
    c->h = curl_easy_init();
    if (!c->h) return pg_errf(e, 500, "internal", "curl_easy_init failed");
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, R->hdrs);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");     /* as JMeter: no proxy from the environment */
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, R);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, t->follow_redirects ? 1L : 0L);
    if (!t->keepalive) {
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    }
    const char *m = t->method;
    if (t->file_path) {
        c->mime = curl_mime_init(h);
        curl_mimepart *part = c->mime ? curl_mime_addpart(c->mime) : NULL;
        if (!part) return pg_errf(e, 500, "internal", "curl_mime_init failed");
        curl_mime_name(part, t->file_param);
        curl_mime_data_cb(part, (curl_off_t)R->file_len, upload_read, upload_seek, NULL, c);
        curl_mime_filename(part, R->file_name);
        curl_mime_type(part, t->file_mime ? t->file_mime : "application/octet-stream");
        curl_easy_setopt(h, CURLOPT_MIMEPOST, c->mime);
        if (strcmp(m, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else if (t->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body);
        if (strcmp(m, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else if (!strcmp(m, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(m, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(m, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
    return 0;
}

/* ---- samples ------------------------------------------------------------- */

static void hist_add(run *R, double ms) {
    if (!R->hist) return;
    double us = ms * 1000.0;
    int b = us <= 1 ? 0 : (int)(log(us) / log(1.02));
    if (b >= HIST_BUCKETS) b = HIST_BUCKETS - 1;
    R->hist[b]++;
    R->hist_n++;
}

static double hist_p99(const run *R) {
    if (!R->hist || !R->hist_n) return NAN;
    size_t want = (size_t)ceil(R->hist_n * 0.99), seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += R->hist[b];
        if (seen >= want) return pow(1.02, b + 1) / 1000.0;
    }
    return NAN;
}

static void record(run *R, ld_sample *s, double intended) {
    s->label = R->label;
    if (intended < R->first_t) R->first_t = intended;
    if (intended + s->elapsed_ms / 1000.0 > R->last_t) R->last_t = intended + s->elapsed_ms / 1000.0;
    if (!s->success) R->errors++;
    R->recorded++;
    hist_add(R, s->elapsed_ms);
    if (ld_result_push(R->r, s)) R->capped = -1;    /* out of memory: reported at the end */
}

static int64_t ts_of(const run *R, double mono_t) {
    return (int64_t)llround(R->epoch0_ms + (mono_t - R->t0) * 1000.0);
}

/* A request that never got a connection within its timeout (open loop). */
static void record_unsent(run *R, double intended, double now) {
    ld_sample s = { 0 };
    s.ts_ms = ts_of(R, intended);
    s.elapsed_ms = s.latency_ms = (now - intended) * 1000.0;
    snprintf(s.message, sizeof s.message, "timeout (no free connection)");
    s.url = R->urls[R->rr++ % R->t->nurls];
    s.bytes = 0;
    record(R, &s, intended);
}

static void record_done(run *R, conn *c, CURLcode rc) {
    CURL *h = c->h;
    long code = 0, nconn = 0, hsize = 0, reqsize = 0, oserr = 0;
    curl_off_t total = 0, first = 0, connect = 0, appconnect = 0, down = 0, up = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &first);
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &appconnect);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
    curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &hsize);
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &reqsize);
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);

    ld_sample s = { 0 };
    double queued_ms = (c->started - c->intended) * 1000.0;
    s.ts_ms = ts_of(R, c->intended);
    s.elapsed_ms = queued_ms + total / 1000.0;
    s.latency_ms = first > 0 ? queued_ms + first / 1000.0 : s.elapsed_ms;
    s.connect_ms = nconn > 0 ? (appconnect > connect ? appconnect : connect) / 1000.0 : 0;
    s.code = (int)code;
    s.success = rc == CURLE_OK && code >= 200 && code < 400;
    if (rc == CURLE_OK)
        snprintf(s.message, sizeof s.message, "%s", c->reason);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(s.message, sizeof s.message, "timeout");
    else if (rc == CURLE_COULDNT_CONNECT && oserr)
        snprintf(s.message, sizeof s.message, "%s", strerror((int)oserr));
    else
        snprintf(s.message, sizeof s.message, "%s", curl_easy_strerror(rc));
    s.bytes = hsize + (long)down;
    s.sent_bytes = reqsize + (long)up;
    s.thread = c->idx;
    s.url = c->url;
    record(R, &s, c->intended);
}

/* An h1 request that ended (H1_DONE or H1_BAD) at now, or timed out. */
static void record_h1(run *R, conn *c, int rc, const char *why, double now) {
    const h1_xfer *x = &c->x;
    ld_sample s = { 0 };
    s.ts_ms = ts_of(R, c->intended);
    s.elapsed_ms = (now - c->intended) * 1000.0;
    s.latency_ms = x->t_first > 0 ? (x->t_first - c->intended) * 1000.0 : s.elapsed_ms;
    s.connect_ms = x->fresh && x->t_connected > 0 ? (x->t_connected - x->t_start) * 1000.0 : 0;
    s.code = x->resp.code;
    s.success = rc == H1_DONE && s.code >= 200 && s.code < 400;
    const char *m = why ? why : rc == H1_DONE ? x->resp.reason : x->msg ? x->msg : "failed";
    size_t n = strlen(m);
    if (n >= sizeof s.message) n = sizeof s.message - 1;
    memcpy(s.message, m, n);
    s.bytes = x->resp.header_bytes + x->resp.body_bytes;
    s.sent_bytes = (long)x->sent;
    s.thread = c->idx;
    s.url = c->url;
    record(R, &s, c->intended);
}

/* ---- starting requests --------------------------------------------------- */

static void h1_sync(run *R, h1_sock *s);
static void h1_done(run *R, conn *c, int rc, const char *why, double now);

static void start_h1(run *R, conn *c, size_t u, double now) {
    const h1_req *rq = &R->reqs[u];
    h1_sock *s = &R->socks[(size_t)(c->idx - 1) * R->norig + (size_t)rq->origin];
    c->deadline = c->intended + R->timeout;
    if (c->deadline < R->h1_check) R->h1_check = c->deadline;
    c->state = C_BUSY;
    R->inflight++;
    if (h1_xfer_begin(&c->x, s, rq, &R->origins[rq->origin], now) == H1_BAD) {
        h1_done(R, c, H1_BAD, NULL, now);
        return;
    }
    h1_sync(R, s);
}

static void start(run *R, conn *c, double intended, double now) {
    size_t u = R->rr++ % R->t->nurls;
    const char *url = R->urls[u];
    c->intended = intended;
    c->started = now;
    if (R->h1) {
        c->url = url;
        start_h1(R, c, u, now);
        return;
    }
    if (url != c->url) curl_easy_setopt(c->h, CURLOPT_URL, url);
    c->url = url;
    c->reason[0] = '\0';
    c->upload_pos = 0;
    double left = R->timeout - (now - intended);
    long ms = (long)ceil(left * 1000.0);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    c->state = C_BUSY;
    R->inflight++;
    if (curl_multi_add_handle(R->m, c->h) != CURLM_OK) {
        R->inflight--;
        record_done(R, c, CURLE_FAILED_INIT);
        c->state = C_IDLE;
    }
}

/* Closed loop: the next sample of thread c, JMeter's timers evaluated now:
 * think time plus the Constant Throughput Timer's shared slot. */
static void closed_next(run *R, conn *c, double now) {
    const ld_plan *p = R->p;
    if (p->loops > 0 && c->loops_done >= p->loops) {
        c->state = C_DONE;
        return;
    }
    double send = now;
    if (R->ctt_interval > 0) {
        double slot = R->ctt_last + R->ctt_interval;
        if (slot < now) slot = now;
        R->ctt_last = slot;
        send = slot;
    }
    send += p->think_ms / 1000.0;
    if (send >= R->t_end) {             /* duration over (loops == 0) */
        c->state = C_DONE;
        return;
    }
    if (send >= R->hard_end) {          /* load.max_duration_s */
        if (p->loops > 0) R->capped = 1;
        c->state = C_DONE;
        return;
    }
    c->state = C_WAIT;
    c->timers_due = 0;
    c->ready_at = send;
}

/* Open loop: the time of arrival arr_i, walking the profile's steps. */
static void open_arrival(run *R) {
    double i = (double)R->arr_i;
    for (;;) {
        const load_step *s = &R->steps[R->seg];
        double seg_end = R->seg + 1 < R->nsteps ? s[1].t_s : INFINITY;
        double c1 = R->seg_c0 + s->rps * (seg_end - s->t_s);
        if (s->rps > 0 && i < c1) {
            R->arr_t = R->t0 + s->t_s + (i - R->seg_c0) / s->rps;
            return;
        }
        if (R->seg + 1 >= R->nsteps) {      /* rate 0 to the end: nothing left */
            R->planned = R->arr_i;
            return;
        }
        R->seg_c0 = c1;
        R->seg++;
    }
}

/* Start what is due; returns the next time something is due (INFINITY: none). */
static double dispatch(run *R, double now) {
    double wake = INFINITY;
    if (R->open) {
        while (R->arr_i < R->planned) {
            if (R->arr_t > now) {
                wake = R->arr_t;
                break;
            }
            if (R->arr_t >= R->hard_end) {
                R->capped = 1;
                R->planned = R->arr_i;
                break;
            }
            if (now - R->arr_t >= R->timeout) {
                record_unsent(R, R->arr_t, now);
            } else if (R->nidle) {
                start(R, &R->c[R->idle[--R->nidle]], R->arr_t, now);
            } else {
                wake = R->arr_t + R->timeout;   /* expires unless a connection frees up */
                break;
            }
            R->arr_i++;
            if (R->arr_i < R->planned) open_arrival(R);
        }
        return wake;
    }
    for (int k = 0; k < R->nc; k++) {
        conn *c = &R->c[k];
        if (c->state != C_WAIT) continue;
        /* a thread's timers run from its planned start, however late the loop got here */
        if (c->ready_at <= now && c->timers_due) closed_next(R, c, c->ready_at);
        if (c->state != C_WAIT) continue;
        if (c->ready_at <= now) start(R, c, now, now);
        else if (c->ready_at < wake) wake = c->ready_at;
    }
    return wake;
}

/* c's request was recorded: the slot goes idle, or the thread goes on. */
static void next_after(run *R, conn *c, double now) {
    if (R->open) {
        c->state = C_IDLE;
        R->idle[R->nidle++] = c->idx - 1;
    } else {
        c->loops_done++;
        closed_next(R, c, now);
        if (c->state == C_WAIT && c->ready_at <= now) start(R, c, now, now);
    }
}

static void complete(run *R, CURLMsg *msg, double now) {
    char *priv = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    conn *c = (conn *)priv;
    CURLcode rc = msg->data.result;
    curl_multi_remove_handle(R->m, c->h);
    R->inflight--;
    record_done(R, c, rc);
    next_after(R, c, now);
}

static void h1_done(run *R, conn *c, int rc, const char *why, double now) {
    R->inflight--;
    record_h1(R, c, rc, why, now);
    next_after(R, c, now);
}

/* Register s with epoll for what its request wants now (an idle keep-alive
 * socket stays registered for input, so a close by the server is seen). */
static void h1_sync(run *R, h1_sock *s) {
    if (s->fd < 0) return;
    conn *c = &R->c[(s - R->socks) / (ptrdiff_t)R->norig];
    int want = c->state == C_BUSY && c->x.s == s ? h1_xfer_want(&c->x) : H1_WANT_IN;
    if (want == s->registered) return;
    struct epoll_event ev = { .data.u64 = (uint64_t)(s - R->socks) + 1 };
    ev.events = (want & H1_WANT_IN ? EPOLLIN : 0u) | (want & H1_WANT_OUT ? EPOLLOUT : 0u);
    epoll_ctl(R->ep, s->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev);
    s->registered = want;
}

static void h1_event(run *R, uint64_t tag, uint32_t events, double now) {
    h1_sock *s = &R->socks[tag - 1];
    if (s->fd < 0) return;                  /* closed earlier in this batch */
    conn *c = &R->c[(s - R->socks) / (ptrdiff_t)R->norig];
    if (c->state != C_BUSY || c->x.s != s) {
        h1_sock_idle_event(s);
        return;
    }
    int ev = (events & EPOLLIN ? H1_WANT_IN : 0) | (events & EPOLLOUT ? H1_WANT_OUT : 0)
             | (events & (EPOLLERR | EPOLLHUP) ? H1_WANT_IN | H1_WANT_OUT : 0);
    int rc = h1_xfer_event(&c->x, ev, &R->origins[c->x.req->origin], now);
    if (rc == H1_MORE) {
        h1_sync(R, c->x.s);
        return;
    }
    h1_sock *was = c->x.s;
    h1_done(R, c, rc, NULL, now);
    h1_sync(R, was);                        /* idle now (watch for a close), or busy again */
}

/* Fail the h1 requests whose time is up; the next check is at the earliest
 * deadline left. */
static void h1_timeouts(run *R, double now) {
    if (now < R->h1_check) return;
    R->h1_check = INFINITY;
    for (int k = 0; k < R->nc; k++) {
        conn *c = &R->c[k];
        if (c->state != C_BUSY) continue;
        if (c->deadline <= now) {
            h1_xfer_abort(&c->x);
            h1_done(R, c, H1_BAD, "timeout", now);
        }
        if (c->state == C_BUSY && c->deadline < R->h1_check) R->h1_check = c->deadline;
    }
}

/* Record every finished transfer (closed loop: the thread goes on at once). */
static void drain(run *R) {
    CURLMsg *msg;
    int left;
    double now = pg_mono();
    while ((msg = curl_multi_info_read(R->m, &left)))
        if (msg->msg == CURLMSG_DONE) complete(R, msg, now);
}

static int all_done(const run *R) {
    if (R->inflight) return 0;
    if (R->open) return R->arr_i >= R->planned;
    for (int k = 0; k < R->nc; k++)
        if (R->c[k].state != C_DONE) return 0;
    return 1;
}

static void tick(run *R, double now) {
    int i = R->tick_i, old = (i + 1) % 5;
    R->tick_t[i % 5] = now;
    R->tick_n[i % 5] = R->recorded;
    R->tick_i = (i + 1) % 5;
    double dt = now - R->tick_t[old];
    load_progress pr = {
        .elapsed_s = now - R->t0,
        .total_s = load_planned_s(R->p, R->t),
        .requests = R->recorded,
        .planned = R->open ? R->planned : load_planned_count(R->p, R->t),
        .errors = R->errors,
        .inflight = R->inflight,
        .rate = dt > 0 ? (double)(R->recorded - R->tick_n[old]) / dt : 0,
        .p99_ms = hist_p99(R),
    };
    R->t->progress(R->t->progress_ud, &pr);
}

static void arm(run *R, double at) {
    struct itimerspec its = { 0 };
    if (!isfinite(at)) {
        timerfd_settime(R->tfd, 0, &its, NULL);     /* disarm */
        return;
    }
    its.it_value.tv_sec = (time_t)at;
    its.it_value.tv_nsec = (long)((at - (double)its.it_value.tv_sec) * 1e9);
    if (!its.it_value.tv_sec && !its.it_value.tv_nsec) its.it_value.tv_nsec = 1;
    timerfd_settime(R->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void abort_inflight(run *R) {
    for (int k = 0; k < R->nc; k++) {
        conn *c = &R->c[k];
        if (c->state != C_BUSY) continue;
        if (R->h1) {
            h1_xfer_abort(&c->x);
            R->inflight--;
            record_h1(R, c, H1_BAD, "aborted", pg_mono());
            c->state = C_DONE;
            continue;
        }
        curl_multi_remove_handle(R->m, c->h);
        R->inflight--;
        size_t n = R->r->n;
        record_done(R, c, CURLE_ABORTED_BY_CALLBACK);
        if (R->r->n > n) snprintf(R->r->v[n].message, sizeof R->r->v[n].message, "aborted");
        c->state = C_DONE;
    }
}

/* libcurl tells which sockets to watch for what (multi_socket API). The
 * wish is noted per fd and applied to epoll just before waiting: a
 * keep-alive connection that goes back to the cache and is picked up again
 * by the next request costs no epoll_ctl at all. */
static int grow_fds(run *R, size_t fd) {
    size_t n = R->nfds ? R->nfds : 256;
    while (n <= fd) n *= 2;
    unsigned char *w = realloc(R->want, n);
    if (!w) return -1;
    R->want = w;
    unsigned char *h = realloc(R->have, n);
    if (!h) return -1;
    R->have = h;
    memset(w + R->nfds, 0, n - R->nfds);
    memset(h + R->nfds, 0, n - R->nfds);
    R->nfds = n;
    return 0;
}

/* A closed fd leaves epoll by itself; forget it so that a new socket that
 * gets the same number is added again. */
static int close_cb(void *ud, curl_socket_t fd) {
    run *R = ud;
    if (fd >= 0 && (size_t)fd < R->nfds) R->have[fd] = 0;
    return close(fd);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp) {
    run *R = ud;
    if (fd < 0) return 0;
    if ((size_t)fd >= R->nfds && grow_fds(R, (size_t)fd)) return -1;
    unsigned char ev = what == CURL_POLL_REMOVE ? 0
                       : (unsigned char)((what & CURL_POLL_IN ? 1 : 0) | (what & CURL_POLL_OUT ? 2 : 0));
    if (R->want[fd] == ev) return 0;
    R->want[fd] = ev;
    if (R->ndirty == R->capdirty) {
        size_t n = R->capdirty ? R->capdirty * 2 : 64;
        int *d = realloc(R->dirty, n * sizeof *d);
        if (!d) return -1;
        R->dirty = d;
        R->capdirty = n;
    }
    R->dirty[R->ndirty++] = fd;
    return 0;
}

static void apply_sockets(run *R) {
    for (size_t i = 0; i < R->ndirty; i++) {
        int fd = R->dirty[i];
        unsigned char w = R->want[fd], h = R->have[fd];
        if (w == h) continue;
        struct epoll_event ev = { .data.u64 = (uint64_t)fd };
        ev.events = (w & 1 ? EPOLLIN : 0u) | (w & 2 ? EPOLLOUT : 0u);
        if (!w) {
            epoll_ctl(R->ep, EPOLL_CTL_DEL, fd, NULL);
        } else if (epoll_ctl(R->ep, h ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev)) {
            /* the fd was closed and reopened behind our back: the other op */
            epoll_ctl(R->ep, h ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
        }
        R->have[fd] = w;
    }
    R->ndirty = 0;
}

static int timer_cb(CURLM *m, long ms, void *ud) {
    run *R = ud;
    R->curl_deadline = ms < 0 ? INFINITY : pg_mono() + ms / 1000.0;
    return 0;
}

/* The libcurl client: a multi handle, an easy handle per conn. */
static int setup_curl(run *R, pg_err *e) {
    const load_target *t = R->t;
    if (t->body || t->file_path)        /* JMeter sends no Expect: 100-continue */
        R->hdrs = curl_slist_append(R->hdrs, "Expect:");
    if (!t->keepalive) R->hdrs = curl_slist_append(R->hdrs, "Connection: close");
    for (size_t i = 0; i < t->nheaders; i++) R->hdrs = curl_slist_append(R->hdrs, t->headers[i]);
    if (!R->hdrs && (t->body || t->file_path || !t->keepalive || t->nheaders))
        return pg_errf(e, 500, "no_memory", "out of memory");

    R->m = curl_multi_init();
    if (!R->m) return pg_errf(e, 500, "internal", "curl_multi_init failed");
    long cache = (long)R->nc * (long)(t->nurls > 1 ? t->nurls : 1) + 8;
    curl_multi_setopt(R->m, CURLMOPT_MAXCONNECTS, cache > 10000 ? 10000L : cache);
    curl_multi_setopt(R->m, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(R->m, CURLMOPT_SOCKETDATA, R);
    curl_multi_setopt(R->m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(R->m, CURLMOPT_TIMERDATA, R);
    for (int k = 0; k < R->nc; k++)
        if (setup_conn(R, &R->c[k], e)) return -1;
    return 0;
}

/* The h1 client: a request per URL, a socket per conn and origin. */
static int setup_h1(run *R, pg_err *e) {
    const load_target *t = R->t;
    R->reqs = calloc(t->nurls, sizeof *R->reqs);
    if (!R->reqs) return pg_errf(e, 500, "no_memory", "out of memory");
    h1_req_opts o = { .method = t->method, .headers = t->headers, .nheaders = t->nheaders,
                      .body = t->body, .body_len = t->body_len, .keepalive = t->keepalive };
    char msg[400];
    for (size_t i = 0; i < t->nurls; i++)
        if (h1_req_build(&R->reqs[i], t->urls[i], &o, &R->origins, &R->norig, msg, sizeof msg))
            return pg_errf(e, 400, "bad_url", "%s", msg);
    R->socks = calloc((size_t)R->nc * R->norig, sizeof *R->socks);
    if (!R->socks) return pg_errf(e, 500, "no_memory", "out of memory");
    for (size_t i = 0; i < (size_t)R->nc * R->norig; i++) R->socks[i].fd = -1;
    R->h1_check = INFINITY;
    return 0;
}

int load_client(const load_target *t) {
    if (t->client == LOAD_CLIENT_CURL) return LOAD_CLIENT_CURL;
    int ok = !t->file_path && !t->follow_redirects;
    for (size_t i = 0; ok && i < t->nurls; i++) ok = h1_url_ok(t->urls[i]);
    return ok ? LOAD_CLIENT_H1 : LOAD_CLIENT_CURL;
}

static int setup(run *R, pg_err *e) {
    const ld_plan *p = R->p;
    const load_target *t = R->t;
    pthread_once(&curl_once, curl_init_once);
    R->label = ld_result_intern(R->r, p->label && p->label[0] ? p->label : "HTTP Request");
    R->urls = calloc(t->nurls, sizeof *R->urls);
    if (!R->urls || !R->label) return pg_errf(e, 500, "no_memory", "out of memory");
    for (size_t i = 0; i < t->nurls; i++)
        if (!(R->urls[i] = ld_result_intern(R->r, t->urls[i])))
            return pg_errf(e, 500, "no_memory", "out of memory");
    if (t->file_path && read_file(R, e)) return -1;

    R->open = load_is_open(p, t);
    R->timeout = p->timeout_s;
    if (R->open) {
        load_step one;
        R->steps = steps_of(p, t, &one, &R->nsteps);
        if (R->steps == &one) {             /* keep it past this frame */
            load_step *copy = malloc(sizeof *copy);
            if (!copy) return pg_errf(e, 500, "no_memory", "out of memory");
            *copy = one;
            R->steps = copy;
        }
        R->planned = load_planned_count(p, t);
        double maxrps = 0;
        for (size_t i = 0; i < R->nsteps; i++)
            if (R->steps[i].rps > maxrps) maxrps = R->steps[i].rps;
        long n = t->max_inflight;
        if (n <= 0) {
            double d = ceil(maxrps * p->timeout_s) + 1;
            n = d > LD_MAX_CONNECTIONS ? LD_MAX_CONNECTIONS : (long)d;
        }
        if ((size_t)n > R->planned) n = R->planned ? (long)R->planned : 1;
        R->nc = (int)n;
    } else {
        R->nc = p->threads;
        R->ctt_interval = p->rate > 0 ? 1.0 / p->rate : 0;
        R->ctt_last = -INFINITY;
    }
    R->c = calloc((size_t)R->nc, sizeof *R->c);
    R->idle = calloc((size_t)R->nc, sizeof *R->idle);
    if (!R->c || !R->idle) return pg_errf(e, 500, "no_memory", "out of memory");
    if (t->progress) {
        R->hist = calloc(HIST_BUCKETS, sizeof *R->hist);
        if (!R->hist) return pg_errf(e, 500, "no_memory", "out of memory");
    }
    R->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (R->tfd < 0) return pg_errf(e, 500, "internal", "timerfd_create: %s", strerror(errno));
    R->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event tev = { .events = EPOLLIN, .data.u64 = TFD_TAG };
    if (R->ep < 0 || epoll_ctl(R->ep, EPOLL_CTL_ADD, R->tfd, &tev))
        return pg_errf(e, 500, "internal", "epoll: %s", strerror(errno));
    for (int k = 0; k < R->nc; k++) R->c[k].idx = k + 1;
    R->curl_deadline = INFINITY;
    R->h1 = load_client(t) == LOAD_CLIENT_H1;
    if (t->client == LOAD_CLIENT_H1 && !R->h1)
        return pg_errf(e, 400, "bad_client",
                       "client 'h1' carries plain http:// requests without file upload or redirects");
    if (R->h1) {
        if (setup_h1(R, e)) return -1;
    } else if (setup_curl(R, e)) {
        return -1;
    }
    size_t planned = load_planned_count(p, t);
    if (planned && planned < LD_MAX_SAMPLES && R->r->cap < R->r->n + planned) {
        ld_sample *v = realloc(R->r->v, (R->r->n + planned) * sizeof *v);
        if (v) {
            R->r->v = v;
            R->r->cap = R->r->n + planned;
        }
    }
    return 0;
}

static void teardown(run *R) {
    for (int k = 0; k < R->nc && R->c; k++) {
        h1_xfer_free(&R->c[k].x);
        if (R->c[k].state == C_BUSY && R->m) curl_multi_remove_handle(R->m, R->c[k].h);
        if (R->c[k].h) curl_easy_cleanup(R->c[k].h);
        if (R->c[k].mime) curl_mime_free(R->c[k].mime);
    }
    if (R->m) curl_multi_cleanup(R->m);
    if (R->tfd >= 0) close(R->tfd);
    if (R->ep >= 0) close(R->ep);
    free(R->want);
    free(R->have);
    free(R->dirty);
    if (R->open && R->steps && R->steps != R->t->profile) free((void *)R->steps);
    curl_slist_free_all(R->hdrs);
    free(R->c);
    free(R->idle);
    free(R->hist);
    free(R->urls);
    free(R->file_data);
    for (size_t i = 0; R->socks && i < (size_t)R->nc * R->norig; i++) h1_sock_close(&R->socks[i]);
    free(R->socks);
    for (size_t i = 0; R->reqs && i < R->t->nurls; i++) free(R->reqs[i].bytes);
    free(R->reqs);
    free(R->origins);
}

int load_run(const ld_plan *p, const load_target *t, ld_result *r, pg_err *e) {
    if (ld_plan_check(p, t, e)) return -1;
    run R = { .p = p, .t = t, .r = r, .tfd = -1, .ep = -1, .first_t = INFINITY, .last_t = -INFINITY };
    size_t before = r->n;
    int rc = setup(&R, e);
    if (rc) {
        teardown(&R);
        return rc;
    }

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    R.t0 = pg_mono();
    R.epoch0_ms = (double)rt.tv_sec * 1000.0 + rt.tv_nsec / 1e6;
    R.t_end = !R.open && p->loops == 0 ? R.t0 + p->duration_s : INFINITY;
    R.hard_end = p->max_duration_s > 0 ? R.t0 + p->max_duration_s : INFINITY;
    R.next_tick = t->progress ? R.t0 + 0.25 : INFINITY;
    for (int i = 0; i < 5; i++) R.tick_t[i] = R.t0;
    if (R.open) {
        for (int k = R.nc - 1; k >= 0; k--) R.idle[R.nidle++] = k;
        if (R.planned) open_arrival(&R);
    } else {
        for (int k = 0; k < R.nc; k++) {    /* JMeter: thread k starts k * ramp/threads in */
            conn *c = &R.c[k];
            double at = R.t0 + p->ramp_s * k / R.nc;
            c->state = at >= R.t_end ? C_DONE : C_WAIT;
            c->timers_due = 1;
            c->ready_at = at;
        }
    }

    int stopped = 0;
    double armed = NAN;
    struct epoll_event evs[64];
    for (;;) {
        double now = pg_mono();
        if (t->stop && t->stop(t->stop_ud)) {
            abort_inflight(&R);
            stopped = 1;
            break;
        }
        double wake = dispatch(&R, now);
        int running;
        if (R.h1) {
            h1_timeouts(&R, now);
        } else {
            if (R.curl_deadline <= pg_mono()) {
                R.curl_deadline = INFINITY;
                curl_multi_socket_action(R.m, CURL_SOCKET_TIMEOUT, 0, &running);
            }
            drain(&R);
            now = pg_mono();
        }
        if (now >= R.next_tick) {
            tick(&R, now);
            while (R.next_tick <= now) R.next_tick += 0.25;
        }
        if (all_done(&R)) break;
        if (!R.open) {                      /* completions may have set new ready times */
            for (int k = 0; k < R.nc; k++)
                if (R.c[k].state == C_WAIT && R.c[k].ready_at < wake) wake = R.c[k].ready_at;
        } else if (R.arr_i < R.planned && R.nidle && R.arr_t < wake) {
            wake = R.arr_t;
        }
        if (R.next_tick < wake) wake = R.next_tick;
        if (wake != armed && isfinite(wake)) {
            arm(&R, wake);
            armed = wake;
        }
        double until = wake < R.curl_deadline ? wake : R.curl_deadline;
        if (R.h1 && R.h1_check < until) until = R.h1_check;
        int ms = 1000;
        if (isfinite(until)) {
            double d = ceil((until - pg_mono()) * 1000.0);
            ms = d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
        }
        apply_sockets(&R);
        int n = epoll_wait(R.ep, evs, 64, ms);
        if (R.h1 && n > 0) now = pg_mono();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == TFD_TAG) {
                uint64_t expirations;
                if (read(R.tfd, &expirations, sizeof expirations) < 0) { /* EAGAIN: nothing */ }
                continue;
            }
            if (R.h1) {
                h1_event(&R, evs[i].data.u64, evs[i].events, now);
                continue;
            }
            int fd = (int)evs[i].data.u64;
            int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0)
                        | (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0)
                        | (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(R.m, fd, flags, &running);
        }
        if (!R.h1) drain(&R);
    }
    if (t->progress && !stopped) tick(&R, pg_mono());

    size_t planned = R.planned;
    int capped = R.capped;
    teardown(&R);
    ld_summarize(r);
    if (before == 0 && r->n && R.last_t > R.first_t) {
        /* the monotonic clock is finer than the samples' whole-ms timeStamps */
        r->sum.duration_s = R.last_t - R.first_t;
        r->sum.throughput_rps = (double)r->n / r->sum.duration_s;
    }
    if (capped < 0) return pg_errf(e, 500, "no_memory", "out of memory while recording samples");
    if (stopped) return pg_errf(e, 503, "interrupted", "load test interrupted after %zu samples", r->n);
    if (capped)
        return pg_errf(e, 400, "too_long",
                       "load test stopped at the maximum duration of %g s: %zu of %zu planned requests sent",
                       p->max_duration_s, r->n, planned ? planned : load_planned_count(p, t));
    return 0;
}
