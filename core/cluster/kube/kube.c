/* kube.c: the kube backend (see kube.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kube/kube.h"
#include "cluster/kube/client.h"
#include "cluster/kube/objects.h"
#include "base/clock.h"
#include "base/log.h"

#define SEL_MAX 1024
#define METRICS_TICK_S 0.25         /* a wait with metrics reads them this often */

typedef struct kube {
    k8s_client *c;
    char ns[PG_NAME_MAX * 3];       /* percent-encoded for paths */
    char ns_plain[PG_NAME_MAX];
    char deploy[PG_NAME_MAX * 3];
    char deploy_plain[PG_NAME_MAX];
    pthread_mutex_t mu;             /* the selector, read once */
    json_t *selector;               /* the Deployment's spec.selector */
    char sel_q[SEL_MAX * 3];        /* as a labelSelector query value */
} kube;

static kube *K(pg_backend *b) { return (kube *)b->impl; }

/* A 404 of the Deployment (or its scale) said as what it is. */
static int no_deployment(kube *k, pg_err *e) {
    if (e && e->status == 404)
        pg_errf(e, 404, "not_found", "no deployment '%s' in namespace '%s' on %s", k->deploy_plain, k->ns_plain,
                k8s_client_server(k->c));
    return -1;
}

/* The Deployment's selector, read on first use (immutable in apps/v1). */
static int selector(kube *k, json_t **sel, const char **q, pg_err *e) {
    pthread_mutex_lock(&k->mu);
    if (k->selector) {
        *sel = k->selector;
        *q = k->sel_q;
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    pthread_mutex_unlock(&k->mu);
    char path[1024], text[SEL_MAX];
    json_t *d;
    snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments/%s", k->ns, k->deploy);
    if (k8s_json(k->c, "GET", path, NULL, NULL, &d, e) < 0) return no_deployment(k, e);
    json_t *s = json_object_get(json_object_get(d, "spec"), "selector");
    if (!s || k8s_selector(s, text, sizeof text) < 0) {
        json_decref(d);
        return pg_errf(e, 502, "backend_error", "deployment '%s' has no usable spec.selector", k->deploy_plain);
    }
    pthread_mutex_lock(&k->mu);
    if (!k->selector) {
        k->selector = json_incref(s);
        k8s_query_escape(text, k->sel_q, sizeof k->sel_q);
    }
    *sel = k->selector;
    *q = k->sel_q;
    pthread_mutex_unlock(&k->mu);
    json_decref(d);
    return 0;
}

/* The pods of the list body l as records; the caller frees *out. */
static int read_pods(json_t *l, pg_pod **out, size_t *n, pg_err *e) {
    json_t *items = json_object_get(l, "items");
    size_t cnt = json_array_size(items), k = 0, i;
    pg_pod *v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) return pg_errf(e, 500, "no_memory", "out of memory");
    json_t *it;
    json_array_foreach(items, i, it) if (k8s_pod_read(it, &v[k]) == 0) k++;
    *out = v;
    *n = k;
    return 0;
}

/* The pod list (and its resourceVersion into rv when rv is not NULL). */
static int list_pods(kube *k, pg_pod **out, size_t *n, char *rv, size_t rvn, pg_err *e) {
    json_t *sel, *l;
    const char *q;
    char path[SEL_MAX * 3 + 512];
    if (selector(k, &sel, &q, e) < 0) return -1;
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods?labelSelector=%s", k->ns, q);
    if (k8s_json(k->c, "GET", path, NULL, NULL, &l, e) < 0) return -1;
    int rc = read_pods(l, out, n, e);
    if (rv) {
        const char *s = json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion"));
        snprintf(rv, rvn, "%s", s ? s : "");
    }
    json_decref(l);
    return rc;
}

static int op_pods(pg_backend *b, pg_pod **out, size_t *n, pg_err *e) {
    return list_pods(K(b), out, n, NULL, 0, e);
}

static int metrics_of(kube *k, pg_metric **out, size_t *n, pg_err *e) {
    json_t *sel, *l;
    const char *q;
    char path[SEL_MAX * 3 + 512];
    if (selector(k, &sel, &q, e) < 0) return -1;
    snprintf(path, sizeof path, "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods?labelSelector=%s", k->ns, q);
    pg_err le = { 0 };
    if (k8s_json(k->c, "GET", path, NULL, NULL, &l, &le) < 0) {
        if (le.status == 404) {                 /* no metrics API (no metrics-server): no pod reports */
            *out = calloc(1, sizeof **out);
            *n = 0;
            return *out ? 0 : pg_errf(e, 500, "no_memory", "out of memory");
        }
        if (e) *e = le;
        return -1;
    }
    json_t *items = json_object_get(l, "items");
    size_t cnt = json_array_size(items), m = 0, i;
    pg_metric *v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        json_decref(l);
        return pg_errf(e, 500, "no_memory", "out of memory");
    }
    json_t *it;
    json_array_foreach(items, i, it) if (k8s_metric_read(it, &v[m]) == 0) m++;
    json_decref(l);
    *out = v;
    *n = m;
    return 0;
}

static int op_metrics(pg_backend *b, pg_metric **out, size_t *n, pg_err *e) {
    return metrics_of(K(b), out, n, e);
}

static int op_replicas(pg_backend *b, int *desired, pg_err *e) {
    kube *k = K(b);
    char path[1024];
    json_t *s;
    snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments/%s/scale", k->ns, k->deploy);
    if (k8s_json(k->c, "GET", path, NULL, NULL, &s, e) < 0) return no_deployment(k, e);
    json_t *r = json_object_get(json_object_get(s, "spec"), "replicas");
    *desired = json_is_integer(r) ? (int)json_integer_value(r) : 0;     /* absent = 0 in a Scale */
    json_decref(s);
    return 0;
}

static int op_scale(pg_backend *b, int replicas, pg_err *e) {
    kube *k = K(b);
    char path[1024], body[64];
    json_t *s;
    if (replicas < 0) return pg_errf(e, 400, "bad_request", "scale: replicas must be >= 0");
    snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/deployments/%s/scale", k->ns, k->deploy);
    snprintf(body, sizeof body, "{\"spec\":{\"replicas\":%d}}", replicas);
    if (k8s_json(k->c, "PATCH", path, "application/merge-patch+json", body, &s, e) < 0) return no_deployment(k, e);
    json_decref(s);
    return 0;
}

static int op_delete(pg_backend *b, const char *name, double grace_s, pg_err *e) {
    kube *k = K(b);
    char esc[PG_NAME_MAX * 3], path[1024], body[160];
    json_t *sel, *pod;
    const char *q;
    if (!name || !*name || strlen(name) >= PG_NAME_MAX) return pg_errf(e, 404, "not_found", "no pod '%.100s'", name ? name : "");
    if (selector(k, &sel, &q, e) < 0) return -1;
    k8s_query_escape(name, esc, sizeof esc);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", k->ns, esc);
    pg_err ge = { 0 };
    if (k8s_json(k->c, "GET", path, NULL, NULL, &pod, &ge) < 0 || !k8s_selector_matches(sel, pod)) {
        json_decref(pod);
        if (ge.status && ge.status != 404) {
            if (e) *e = ge;
            return -1;
        }
        return pg_errf(e, 404, "not_found", "no pod '%s' of deployment '%s' in namespace '%s'", name, k->deploy_plain,
                       k->ns_plain);
    }
    json_decref(pod);
    if (grace_s >= 0)
        snprintf(body, sizeof body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":%lld}",
                 (long long)ceil(fmin(grace_s, 1e9)));
    else
        snprintf(body, sizeof body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"}");
    k8s_resp r;
    if (k8s_call(k->c, "DELETE", path, "application/json", body, &r, e) < 0) return -1;
    long st = r.status;
    int attempts = r.attempts;
    k8s_resp_free(&r);
    if (st >= 200 && st < 300) return 0;
    if (st == 404) {
        if (attempts > 1) return 0;             /* a retried delete that had been done */
        return pg_errf(e, 404, "not_found", "no pod '%s' in namespace '%s'", name, k->ns_plain);
    }
    return pg_errf(e, 502, "backend_error", "DELETE pod '%s': %s answered %ld", name, k8s_client_server(k->c), st);
}

/* ---- wait: a list, then a watch from its resourceVersion ------------------ */

typedef struct wstate {
    kube *k;
    const pg_wait *w;
    const char *sel_q;
    pg_pod *pods;
    size_t n, cap;
    char (*online)[96];         /* pods that report metrics */
    size_t nonline;
    char rv[64];
    int relist, done, failed, interrupted;
    double t0, deadline, last_metrics;
    pg_err err;
} wstate;

typedef struct wcounts { int total, ready, online; } wcounts;

static int has_metrics(const wstate *s, const char *name) {
    for (size_t i = 0; i < s->nonline; i++)
        if (!strcmp(s->online[i], name)) return 1;
    return 0;
}

static wcounts count(const wstate *s) {
    wcounts c = { (int)s->n, 0, 0 };
    for (size_t i = 0; i < s->n; i++) {
        if (!s->pods[i].ready) continue;
        c.ready++;
        c.online += has_metrics(s, s->pods[i].name);
    }
    return c;
}

/* The pods part of the condition (Ready counts, settled). */
static int pods_done(const pg_wait *w, wcounts c) {
    return w->settled ? c.ready == w->ready && c.total == w->ready : c.ready >= w->ready;
}

static int all_done(const pg_wait *w, wcounts c) {
    if (!pods_done(w, c)) return 0;
    return !w->metrics || (w->settled ? c.online == w->ready : c.online >= w->ready);
}

static int refresh_metrics(wstate *s) {
    pg_metric *m;
    size_t n;
    if (metrics_of(s->k, &m, &n, &s->err) < 0) {
        s->failed = 1;
        return -1;
    }
    char (*names)[96] = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        free(m);
        s->failed = 1;
        return pg_errf(&s->err, 500, "no_memory", "out of memory");
    }
    for (size_t i = 0; i < n; i++) memcpy(names[i], m[i].name, sizeof names[i]);
    free(m);
    free(s->online);
    s->online = names;
    s->nonline = n;
    s->last_metrics = pg_mono();
    return 0;
}

/* Re-evaluate after a change; 1 when the wait is over. */
static int evaluate(wstate *s) {
    wcounts c = count(s);
    if (s->w->metrics && pods_done(s->w, c) && !all_done(s->w, c)) {
        if (refresh_metrics(s) < 0) return 1;
        c = count(s);
    }
    if (all_done(s->w, c)) s->done = 1;
    return s->done;
}

static void upsert(wstate *s, const pg_pod *p) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->pods[i].name, p->name)) {
            s->pods[i] = *p;
            return;
        }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        pg_pod *v = realloc(s->pods, cap * sizeof *v);
        if (!v) return;
        s->pods = v;
        s->cap = cap;
    }
    s->pods[s->n++] = *p;
}

static void drop(wstate *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->pods[i].name, name)) {
            s->pods[i] = s->pods[--s->n];
            return;
        }
}

static int on_event(void *ud, const char *line, size_t len) {
    wstate *s = ud;
    json_t *ev = json_loadb(line, len, 0, NULL);
    if (!ev) return 0;                          /* not a whole event: ignored */
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    int stop = 0;
    if (!type) {
    } else if (!strcmp(type, "ERROR")) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        if (code == 410) s->relist = 1;         /* Gone: the resourceVersion is too old */
        else {
            const char *m = json_string_value(json_object_get(obj, "message"));
            pg_errf(&s->err, 502, "backend_error", "watch on %s: %lld %s", k8s_client_server(s->k->c), (long long)code,
                    m ? m : "error");
            s->failed = 1;
        }
        stop = 1;
    } else {
        if (rv && strlen(rv) < sizeof s->rv) snprintf(s->rv, sizeof s->rv, "%s", rv);
        pg_pod p;
        if (!strcmp(type, "BOOKMARK") || k8s_pod_read(obj, &p) < 0) {
        } else if (!strcmp(type, "DELETED")) {
            drop(s, p.name);
            stop = evaluate(s);
        } else if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
            upsert(s, &p);
            stop = evaluate(s);
        }
    }
    json_decref(ev);
    return stop;
}

static int on_tick(void *ud) {
    wstate *s = ud;
    if (s->w->stop && s->w->stop(s->w->stop_ud)) {  /* Ctrl-C in the repl */
        s->interrupted = 1;
        return 1;
    }
    wcounts c = count(s);
    if (s->w->progress)
        s->w->progress(s->w->progress_ud, s->w->metrics ? c.online : c.ready, s->w->ready, pg_mono() - s->t0);
    if (s->w->metrics && pods_done(s->w, c) && pg_mono() - s->last_metrics >= METRICS_TICK_S) return evaluate(s);
    return 0;
}

static int wait_timeout(const wstate *s, double waited, pg_err *e) {
    wcounts c = count(s);
    const pg_wait *w = s->w;
    const char *what = w->metrics ? "ready and reporting metrics" : "ready";
    int n = w->metrics ? c.online : c.ready, others = c.total - c.ready;
    if (w->settled && others > 0)
        return pg_errf(e, 504, "timeout", "%d/%d %s, %d other pod%s still present after %.1f s", n, w->ready, what,
                       others, others == 1 ? "" : "s", waited);
    return pg_errf(e, 504, "timeout", "%d/%d %s after %.1f s", n, w->ready, what, waited);
}

static int op_wait(pg_backend *b, const pg_wait *w, double *waited, pg_err *e) {
    kube *k = K(b);
    if (w->ready < 0) return pg_errf(e, 400, "bad_request", "wait: ready must be >= 0");
    if (!(w->timeout_s >= 0) || !isfinite(w->timeout_s))
        return pg_errf(e, 400, "bad_request", "wait: timeout must be a number >= 0");
    json_t *sel;
    wstate s = { .k = k, .w = w, .relist = 1 };
    if (selector(k, &sel, &s.sel_q, e) < 0) return -1;
    s.t0 = pg_mono();
    s.deadline = s.t0 + w->timeout_s;
    int rc = -1, errors = 0;
    char path[SEL_MAX * 3 + 512];
    for (;;) {
        if (s.relist) {
            free(s.pods);
            s.pods = NULL;
            s.n = s.cap = 0;
            if (list_pods(k, &s.pods, &s.n, s.rv, sizeof s.rv, e) < 0) break;
            s.cap = s.n;
            s.relist = 0;
            if (w->metrics && refresh_metrics(&s) < 0) {
                if (e) *e = s.err;
                break;
            }
            if (all_done(w, count(&s))) {
                rc = 0;
                break;
            }
        }
        double left = s.deadline - pg_mono();
        if (left <= 0) {
            rc = wait_timeout(&s, pg_mono() - s.t0, e);
            break;
        }
        snprintf(path, sizeof path,
                 "/api/v1/namespaces/%s/pods?labelSelector=%s&watch=1&allowWatchBookmarks=true&resourceVersion=%s"
                 "&timeoutSeconds=%d",
                 k->ns, s.sel_q, s.rv, (int)ceil(fmin(left, 1800)) + 1);
        pg_err se = { 0 };
        int sr = k8s_stream(k->c, path, s.deadline, METRICS_TICK_S, on_event, on_tick, &s, &se);
        if (s.done) {
            rc = 0;
            break;
        }
        if (s.interrupted) {
            rc = pg_errf(e, 503, "interrupted", "wait interrupted after %.1f s", pg_mono() - s.t0);
            break;
        }
        if (s.failed) {
            if (e) *e = s.err;
            break;
        }
        if (sr == 2) continue;                  /* the deadline: answered at the top */
        if (sr == -1) {                         /* a dropped watch: list again, a few times */
            if (se.status == 502 && strcmp(se.code, "backend_error")) {     /* auth, TLS: final */
                if (e) *e = se;
                break;
            }
            if (++errors > 5) {
                if (e) *e = se;
                break;
            }
            pg_sleep(fmin(0.05 * errors, fmax(0, s.deadline - pg_mono())));
            s.relist = 1;
            continue;
        }
        errors = 0;                              /* the server ended the watch: resume from rv */
    }
    if (rc == 0 && waited) *waited = pg_mono() - s.t0;
    free(s.pods);
    free(s.online);
    return rc;
}

static double op_now(pg_backend *b) { return pg_wall(); }
static int op_sleep(pg_backend *b, double s) {
    pg_sleep(s);
    return 0;
}

static void op_destroy(pg_backend *b) {
    if (!b) return;
    kube *k = K(b);
    k8s_client_free(k->c);
    json_decref(k->selector);
    pthread_mutex_destroy(&k->mu);
    free(k);
    free(b);
}

static const pg_backend_ops KUBE_OPS = {
    .name = "kube", .pods = op_pods, .metrics = op_metrics, .replicas = op_replicas, .scale = op_scale,
    .delete_pod = op_delete, .wait = op_wait, .now = op_now, .sleep = op_sleep, .destroy = op_destroy,
};

pg_backend *kube_backend_new(const pg_config *cfg, pg_err *e) {
    k8s_auth a;
    if (k8s_auth_load(&cfg->kube, &a, e) < 0) return NULL;
    const char *ns = cfg->kube.ns[0] ? cfg->kube.ns : a.ns[0] ? a.ns : cfg->ns;
    const char *ns_from = cfg->kube.ns[0] ? "kube.namespace" : a.ns[0] ? "the context" : "target.namespace";
    pg_backend *b = calloc(1, sizeof *b);
    kube *k = calloc(1, sizeof *k);
    if (!b || !k) {
        free(b);
        free(k);
        k8s_auth_free(&a);
        pg_errf(e, 2, "backend", "out of memory");
        return NULL;
    }
    snprintf(k->ns_plain, sizeof k->ns_plain, "%s", ns);
    snprintf(k->deploy_plain, sizeof k->deploy_plain, "%s", cfg->deployment);
    k8s_query_escape(ns, k->ns, sizeof k->ns);
    k8s_query_escape(cfg->deployment, k->deploy, sizeof k->deploy);
    pthread_mutex_init(&k->mu, NULL);
    char source[sizeof a.source + sizeof a.context + 16];
    snprintf(source, sizeof source, "%s%s%s", a.source, a.context[0] ? ", context " : "", a.context);
    k->c = k8s_client_new(&a, cfg->kube.timeout_s, cfg->kube.retries, cfg->kube.insecure, e);
    if (!k->c) {
        k8s_auth_free(&a);
        pthread_mutex_destroy(&k->mu);
        free(k);
        free(b);
        return NULL;
    }
    b->ops = &KUBE_OPS;
    b->impl = k;
    pg_log(PG_LOG_INFO, "kube: %s (%s), deployment %s in namespace %s (from %s)", k8s_client_server(k->c), source,
           k->deploy_plain, k->ns_plain, ns_from);
    return b;
}

int kube_is_backend(pg_backend *b) { return b && b->ops == &KUBE_OPS; }
const char *kube_namespace(pg_backend *b) { return K(b)->ns_plain; }
const char *kube_server(pg_backend *b) { return k8s_client_server(K(b)->c); }

int kube_request(pg_backend *b, const char *method, const char *path, const char *body, long *status,
                 char **resp, size_t *len, char *ctype, size_t ctype_n, pg_err *e) {
    kube *k = K(b);
    k8s_resp r;
    const char *ct = !body ? NULL : !strcmp(method, "PATCH") ? "application/merge-patch+json" : "application/json";
    if (k8s_call(k->c, method, path, ct, body, &r, e) < 0) return -1;
    *status = r.status;
    *resp = r.body;
    *len = r.len;
    snprintf(ctype, ctype_n, "%s", r.ctype);
    return 0;
}
