/* facade.c: the Kubernetes API facade: its listener, routes and watches, and the faults applied. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "facade/facade.h"
#include "facade/kfault.h"
#include "facade/kobj.h"
#include "facade/ksel.h"
#include "server/http.h"

#define KF_WATCH_DEFAULT_S 1800.0   /* a watch without timeoutSeconds ends after this */
#define KF_BOOKMARK_S 5.0           /* idle time between BOOKMARKs (allowWatchBookmarks) */
#define KF_WAKE_S 0.25              /* a waiting watch looks at its client and the stop this often */

struct kf_facade {
    http_server *srv;
    kf_state st;
    char token[256];
    int stopping;               /* __atomic */
    kf_faults faults;
};

static int stopping(kf_facade *f) { return __atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE); }

/* ---- responses ------------------------------------------------------------ */

static void send_json(http_resp *resp, int status, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        http_resp_set(resp, 500, "application/json", "{}", 2);
        return;
    }
    http_resp_set(resp, status, "application/json", text, strlen(text));
    free(text);
}

static const char *reason_of(int code) {
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "BadRequest";
    }
}

/* A metav1.Status object; kind/name fill details when given. */
static json_t *status_obj(int code, const char *message, const char *kind, const char *name) {
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
                           "status", "Failure", "message", message, "reason", reason_of(code), "code", code);
    if (kind || name) {
        json_t *d = json_object();
        if (name) json_object_set_new(d, "name", json_string(name));
        if (kind) json_object_set_new(d, "kind", json_string(kind));
        json_object_set_new(st, "details", d);
    }
    return st;
}

static void send_status(http_resp *resp, int code, const char *message, const char *kind, const char *name) {
    send_json(resp, code, status_obj(code, message, kind, name));
}

static void send_err(http_resp *resp, const pg_err *e) {
    int code = e->status >= 400 && e->status <= 599 ? e->status : 500;
    send_status(resp, code, e->message, NULL, NULL);
}

/* ---- requests ------------------------------------------------------------- */

typedef struct kf_query {
    const char *watch, *label, *field, *rv, *bookmarks, *initial, *rv_match, *timeout, *include, *grace;
} kf_query;

static int query_cb(void *ud, const char *k, const char *v) {
    kf_query *q = ud;
    if (!strcmp(k, "watch")) q->watch = v;
    else if (!strcmp(k, "labelSelector")) q->label = v;
    else if (!strcmp(k, "fieldSelector")) q->field = v;
    else if (!strcmp(k, "resourceVersion")) q->rv = v;
    else if (!strcmp(k, "allowWatchBookmarks")) q->bookmarks = v;
    else if (!strcmp(k, "sendInitialEvents")) q->initial = v;
    else if (!strcmp(k, "resourceVersionMatch")) q->rv_match = v;
    else if (!strcmp(k, "timeoutSeconds")) q->timeout = v;
    else if (!strcmp(k, "includeObject")) q->include = v;
    else if (!strcmp(k, "gracePeriodSeconds")) q->grace = v;
    return 0;
}

static int truthy(const char *v) { return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !*v); }

/* What the Accept header asks: a Table (and of which version). */
static int wants_table(http_req *req) {
    const char *a = http_header_get(req, "Accept");
    return a && strstr(a, "as=Table") && strstr(a, "g=meta.k8s.io");
}

static int include_of(const char *v) {
    if (!v || !*v || !strcmp(v, "Metadata")) return 1;
    if (!strcmp(v, "None")) return 0;
    if (!strcmp(v, "Object")) return 2;
    return -1;
}

/* The media type of the request body, without parameters, lower-case. */
static void content_type(http_req *req, char *out, size_t n) {
    const char *ct = http_header_get(req, "Content-Type");
    size_t i = 0;
    for (; ct && ct[i] && ct[i] != ';' && i + 1 < n; i++) out[i] = (char)(ct[i] >= 'A' && ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
    while (i > 0 && out[i - 1] == ' ') i--;
    out[i] = '\0';
}

/* ---- discovery ------------------------------------------------------------- */

static void send_text_json(http_resp *resp, const char *text) {
    http_resp_set(resp, 200, "application/json", text, strlen(text));
}

static const char API_V1[] =
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
    "{\"name\":\"pods\",\"singularName\":\"pod\",\"namespaced\":true,\"kind\":\"Pod\","
    "\"verbs\":[\"delete\",\"get\",\"list\",\"watch\"],\"shortNames\":[\"po\"],\"categories\":[\"all\"]},"
    "{\"name\":\"pods/status\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"Pod\",\"verbs\":[\"get\"]}]}";

static const char APPS_V1[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"apps/v1\",\"resources\":["
    "{\"name\":\"deployments\",\"singularName\":\"deployment\",\"namespaced\":true,\"kind\":\"Deployment\","
    "\"verbs\":[\"get\",\"list\",\"watch\"],\"shortNames\":[\"deploy\"],\"categories\":[\"all\"]},"
    "{\"name\":\"deployments/scale\",\"singularName\":\"\",\"namespaced\":true,\"group\":\"autoscaling\","
    "\"version\":\"v1\",\"kind\":\"Scale\",\"verbs\":[\"get\",\"patch\",\"update\"]},"
    "{\"name\":\"deployments/status\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"Deployment\","
    "\"verbs\":[\"get\"]}]}";

static const char METRICS_V1B1[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"resources\":["
    "{\"name\":\"pods\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"PodMetrics\","
    "\"verbs\":[\"get\",\"list\"]}]}";

#define GROUP_APPS_BODY "\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}]," \
    "\"preferredVersion\":{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}}"
#define GROUP_METRICS_BODY "\"name\":\"metrics.k8s.io\",\"versions\":[{\"groupVersion\":\"metrics.k8s.io/v1beta1\"," \
    "\"version\":\"v1beta1\"}],\"preferredVersion\":{\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}}"

#define GROUP_APPS "{" GROUP_APPS_BODY
#define GROUP_METRICS "{" GROUP_METRICS_BODY

static const char APIS[] = "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[" GROUP_APPS "," GROUP_METRICS "]}";
static const char API[] = "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":"
                          "[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1\"}]}";
static const char VERSION[] = "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.0-podgym\","
                              "\"gitCommit\":\"0000000000000000000000000000000000000000\",\"gitTreeState\":\"clean\","
                              "\"buildDate\":\"2026-01-01T00:00:00Z\",\"goVersion\":\"go1.23.0\",\"compiler\":\"gc\","
                              "\"platform\":\"linux/amd64\"}";

/* Aggregated discovery (apidiscovery.k8s.io/v2): /api and /apis in one
 * document each, what client-go >= 1.30 asks for first. */
#define KIND(g, v, k) "{\"group\":\"" g "\",\"version\":\"" v "\",\"kind\":\"" k "\"}"
#define AGG_HEAD "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"metadata\":{},\"items\":["
static const char AGG_API[] = AGG_HEAD
    "{\"metadata\":{},\"versions\":[{\"version\":\"v1\",\"freshness\":\"Current\",\"resources\":["
    "{\"resource\":\"pods\",\"responseKind\":" KIND("", "v1", "Pod") ",\"scope\":\"Namespaced\","
    "\"singularResource\":\"pod\",\"verbs\":[\"delete\",\"get\",\"list\",\"watch\"],\"shortNames\":[\"po\"],"
    "\"categories\":[\"all\"],\"subresources\":[{\"subresource\":\"status\",\"responseKind\":" KIND("", "v1", "Pod")
    ",\"verbs\":[\"get\"]}]}]}]}]}";
static const char AGG_APIS[] = AGG_HEAD
    "{\"metadata\":{\"name\":\"apps\"},\"versions\":[{\"version\":\"v1\",\"freshness\":\"Current\",\"resources\":["
    "{\"resource\":\"deployments\",\"responseKind\":" KIND("apps", "v1", "Deployment") ",\"scope\":\"Namespaced\","
    "\"singularResource\":\"deployment\",\"verbs\":[\"get\",\"list\",\"watch\"],\"shortNames\":[\"deploy\"],"
    "\"categories\":[\"all\"],\"subresources\":["
    "{\"subresource\":\"scale\",\"responseKind\":" KIND("autoscaling", "v1", "Scale") ",\"verbs\":[\"get\",\"patch\",\"update\"]},"
    "{\"subresource\":\"status\",\"responseKind\":" KIND("apps", "v1", "Deployment") ",\"verbs\":[\"get\"]}]}]}]},"
    "{\"metadata\":{\"name\":\"metrics.k8s.io\"},\"versions\":[{\"version\":\"v1beta1\",\"freshness\":\"Current\","
    "\"resources\":[{\"resource\":\"pods\",\"responseKind\":" KIND("metrics.k8s.io", "v1beta1", "PodMetrics")
    ",\"scope\":\"Namespaced\",\"singularResource\":\"\",\"verbs\":[\"get\",\"list\"]}]}]}]}";
#define AGG_TYPE "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

/* Whether Accept asks for aggregated discovery v2. */
static int wants_aggregated(http_req *req) {
    const char *a = http_header_get(req, "Accept");
    return a && strstr(a, "g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
}

/* 1 when answered: /api and /apis aggregated (v2) when Accept asks for it,
 * else every document in the legacy form. */
static int discovery(const char *path, http_req *req, http_resp *resp) {
    int agg = wants_aggregated(req);
    if (agg && (!strcmp(path, "/api") || !strcmp(path, "/apis"))) {
        const char *doc = path[4] ? AGG_APIS : AGG_API;
        http_resp_set(resp, 200, AGG_TYPE, doc, strlen(doc));
        return 1;
    }
    if (!strcmp(path, "/version")) send_text_json(resp, VERSION);
    else if (!strcmp(path, "/api")) send_text_json(resp, API);
    else if (!strcmp(path, "/api/v1")) send_text_json(resp, API_V1);
    else if (!strcmp(path, "/apis")) send_text_json(resp, APIS);
    else if (!strcmp(path, "/apis/apps")) send_text_json(resp, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\"," GROUP_APPS_BODY);
    else if (!strcmp(path, "/apis/apps/v1")) send_text_json(resp, APPS_V1);
    else if (!strcmp(path, "/apis/metrics.k8s.io"))
        send_text_json(resp, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\"," GROUP_METRICS_BODY);
    else if (!strcmp(path, "/apis/metrics.k8s.io/v1beta1")) send_text_json(resp, METRICS_V1B1);
    else return 0;
    return 1;
}

/* ---- objects and selectors -------------------------------------------------- */

typedef struct field_ctx {
    const kf_state *s;
    const kf_pod *k;            /* NULL: the deployment */
} field_ctx;

static const char *field_get(void *ud, const char *key) {
    field_ctx *c = ud;
    if (!strcmp(key, "metadata.name")) return c->k ? c->k->p.name : c->s->name;
    if (!strcmp(key, "metadata.namespace")) return c->s->ns;
    if (!c->k) return NULL;
    if (!strcmp(key, "status.phase")) return c->k->p.phase;
    if (!strcmp(key, "spec.nodeName")) return c->s->node;
    if (!strcmp(key, "spec.restartPolicy")) return "Always";
    return NULL;
}

static const char *const POD_FIELDS[] = { "metadata.name", "metadata.namespace", "status.phase", "spec.nodeName",
                                          "spec.restartPolicy", NULL };
static const char *const DEP_FIELDS[] = { "metadata.name", "metadata.namespace", NULL };

typedef struct kf_filter {
    int res;
    int all_ns;                 /* across namespaces */
    int ns_ok;                  /* the namespace asked is the Deployment's */
    ksel labels, fields;
} kf_filter;

static int pod_matches(const kf_state *s, const kf_filter *fl, const kf_pod *k) {
    if (!fl->ns_ok) return 0;
    field_ctx c = { s, k };
    if (!ksel_match_fields(&fl->fields, field_get, &c)) return 0;
    json_t *l = kobj_pod_labels(s, k);
    int ok = ksel_match_labels(&fl->labels, l);
    json_decref(l);
    return ok;
}

static int dep_matches(const kf_state *s, const kf_filter *fl) {
    if (!fl->ns_ok) return 0;
    field_ctx c = { s, NULL };
    if (!ksel_match_fields(&fl->fields, field_get, &c)) return 0;
    json_t *l = json_pack("{s:s}", "app", s->name);
    int ok = ksel_match_labels(&fl->labels, l);
    json_decref(l);
    return ok;
}

static int filter_init(kf_filter *fl, const kf_state *s, int res, const char *ns, const kf_query *q, pg_err *e) {
    memset(fl, 0, sizeof *fl);
    fl->res = res;
    fl->all_ns = ns == NULL;
    fl->ns_ok = !ns || !strcmp(ns, s->ns);
    if (ksel_labels(&fl->labels, q->label, e) < 0) return -1;
    return ksel_fields(&fl->fields, q->field, res == KF_PODS ? POD_FIELDS : DEP_FIELDS, e);
}

static char *rv_str(uint64_t rv, char *b, size_t n) {
    snprintf(b, n, "%llu", (unsigned long long)rv);
    return b;
}

/* A list (or a Table) of the objects fl matches, lock held. */
static json_t *list_locked(kf_state *s, const kf_filter *fl, int table, int include) {
    char rvb[24];
    json_t *out = table ? kobj_table(fl->res, s->rv) : NULL, *items = NULL;
    if (!table) {
        items = json_array();
        out = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", fl->res == KF_PODS ? "PodList" : "DeploymentList",
                        "apiVersion", fl->res == KF_PODS ? "v1" : "apps/v1", "metadata", "resourceVersion",
                        rv_str(s->rv, rvb, sizeof rvb), "items", items);
    }
    if (fl->res == KF_PODS) {
        for (size_t i = 0; i < s->npods; i++) {
            if (!pod_matches(s, fl, &s->pods[i])) continue;
            if (table) kobj_table_row(out, s, KF_PODS, &s->pods[i], NULL, include);
            else json_array_append_new(items, kobj_pod(s, &s->pods[i]));
        }
    } else if (dep_matches(s, fl)) {
        if (table) kobj_table_row(out, s, KF_DEPLOYMENTS, NULL, &s->dep, include);
        else json_array_append_new(items, kobj_deployment(s, &s->dep));
    }
    return out;
}

/* One object as JSON or as a one-row Table. */
static json_t *one_locked(kf_state *s, int res, const kf_pod *k, int table, int include) {
    if (!table) return res == KF_PODS ? kobj_pod(s, k) : kobj_deployment(s, &s->dep);
    json_t *t = kobj_table(res, res == KF_PODS ? k->rv : s->dep.rv);
    kobj_table_row(t, s, res, k, &s->dep, include);
    return t;
}

/* ---- watches ------------------------------------------------------------- */

typedef struct kf_watch {
    kf_facade *f;
    kf_filter fl;
    int table, include, bookmarks, initial;
    uint64_t cursor;            /* events up to here are sent */
    double end, last_sent;      /* monotonic */
    int fd;
    int done;
    int checked;                /* the starting cursor was compared with the newest resourceVersion */
    pg_buf out;
    size_t off;
} kf_watch;

static const char *TYPES[] = { "ADDED", "MODIFIED", "DELETED" };

static void emit(kf_watch *w, const char *type, json_t *obj) {
    json_t *ev = json_pack("{s:s,s:o}", "type", type, "object", obj);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!text) return;
    pg_buf_adds(&w->out, text);
    pg_buf_addc(&w->out, '\n');
    free(text);
    w->last_sent = pg_mono();
}

static void emit_bookmark(kf_watch *w, uint64_t rv, int initial_end) {
    char rvb[24];
    json_t *meta = json_pack("{s:s}", "resourceVersion", rv_str(rv, rvb, sizeof rvb));
    if (initial_end) json_object_set_new(meta, "annotations", json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
    int pods = w->fl.res == KF_PODS;
    emit(w, "BOOKMARK", json_pack("{s:s,s:s,s:o}", "kind", pods ? "Pod" : "Deployment", "apiVersion",
                                   pods ? "v1" : "apps/v1", "metadata", meta));
}

static json_t *event_obj(kf_watch *w, const kf_state *s, int res, const kf_pod *k, const kf_dep *d) {
    if (!w->table) return res == KF_PODS ? kobj_pod(s, k) : kobj_deployment(s, d);
    json_t *t = kobj_table(res, res == KF_PODS ? k->rv : d->rv);
    kobj_table_row(t, s, res, k, d, w->include);
    return t;
}

/* The events after w->cursor that w's filter matches, into w->out (lock held). */
static void collect_locked(kf_watch *w, kf_state *s) {
    if (w->initial) {                           /* the current state as ADDED events */
        w->initial = 0;
        if (w->fl.res == KF_PODS) {
            for (size_t i = 0; i < s->npods; i++)
                if (pod_matches(s, &w->fl, &s->pods[i]))
                    emit(w, "ADDED", event_obj(w, s, KF_PODS, &s->pods[i], NULL));
        } else if (dep_matches(s, &w->fl)) {
            emit(w, "ADDED", event_obj(w, s, KF_DEPLOYMENTS, NULL, &s->dep));
        }
        w->cursor = s->rv;
        if (w->initial == 0 && w->bookmarks == 2) emit_bookmark(w, s->rv, 1);
        return;
    }
    int ahead = !w->checked && w->cursor > s->rv;  /* from another life of the facade: re-list */
    w->checked = 1;
    if (w->cursor < s->floor || ahead) {
        char msg[128];
        snprintf(msg, sizeof msg, "too %s resource version: %llu (%llu)", ahead ? "new" : "old",
                 (unsigned long long)w->cursor, (unsigned long long)(ahead ? s->rv : s->floor + 1));
        emit(w, "ERROR", status_obj(410, msg, NULL, NULL));
        w->done = 1;
        return;
    }
    for (size_t i = 0; i < s->hcount; i++) {
        const kf_event *ev = kf_event_at(s, i);
        if (ev->rv <= w->cursor || ev->res != w->fl.res) continue;
        int ok = ev->res == KF_PODS ? pod_matches(s, &w->fl, &ev->pod) : dep_matches(s, &w->fl);
        if (ok) emit(w, TYPES[ev->type], event_obj(w, s, ev->res, &ev->pod, &ev->dep));
    }
    w->cursor = s->rv;
}

static long watch_read(void *ud, char *buf, size_t max) {
    kf_watch *w = ud;
    kf_state *s = &w->f->st;
    for (;;) {
        if (w->off < w->out.n) {
            size_t n = w->out.n - w->off;
            if (n > max) n = max;
            memcpy(buf, w->out.p + w->off, n);
            w->off += n;
            return (long)n;
        }
        pg_buf_clear(&w->out);
        w->off = 0;
        if (w->done || stopping(w->f)) return 0;
        double now = pg_mono();
        if (now >= w->end) return 0;
        if (http_fd_closed(w->fd)) return -1;
        kf_state_lock(s);
        collect_locked(w, s);
        uint64_t rv = s->rv;
        kf_state_unlock(s);
        if (w->out.oom) return -1;
        if (w->out.n) continue;
        if (w->bookmarks && now - w->last_sent >= KF_BOOKMARK_S) {
            emit_bookmark(w, rv, 0);
            continue;
        }
        pg_err e;
        kf_wait_refresh(s, fmin(KF_WAKE_S, w->end - now), &e);
    }
}

static void watch_done(void *ud) {
    kf_watch *w = ud;
    pg_buf_free(&w->out);
    free(w);
}

static void start_watch(kf_facade *f, http_req *req, http_resp *resp, const kf_filter *fl, const kf_query *q,
                        int table, int include) {
    int initial = !q->rv || !*q->rv || !strcmp(q->rv, "0");
    uint64_t cursor = 0;
    if (!initial) {
        char *end;
        unsigned long long v = strtoull(q->rv, &end, 10);
        if (*end || q->rv[0] == '-') {
            char msg[200];
            snprintf(msg, sizeof msg, "invalid resource version: '%.100s'", q->rv);
            send_status(resp, 400, msg, NULL, NULL);
            return;
        }
        cursor = v;
    }
    int bookmarks = truthy(q->bookmarks) && q->bookmarks;
    if (q->initial && strcasecmp(q->initial, "false")) {
        if (!truthy(q->initial)) {
            send_status(resp, 400, "sendInitialEvents: want true or false", NULL, NULL);
            return;
        }
        if (!bookmarks || !q->rv_match || strcmp(q->rv_match, "NotOlderThan")) {
            send_status(resp, 422, "sendInitialEvents=true needs allowWatchBookmarks=true and "
                        "resourceVersionMatch=NotOlderThan", NULL, NULL);
            return;
        }
        initial = 1;
        bookmarks = 2;                          /* then the initial-events-end BOOKMARK */
    } else if (q->rv_match && *q->rv_match) {
        send_status(resp, 422, "resourceVersionMatch is only for lists, or with sendInitialEvents=true in a watch",
                    NULL, NULL);
        return;
    }
    double timeout = KF_WATCH_DEFAULT_S;
    if (q->timeout && *q->timeout) {
        char *end;
        double t = strtod(q->timeout, &end);
        if (*end || !(t >= 0)) {
            send_status(resp, 400, "timeoutSeconds: want a number of seconds >= 0", NULL, NULL);
            return;
        }
        if (t > 0) timeout = t;
    }
    kf_watch *w = calloc(1, sizeof *w);
    if (!w) {
        send_status(resp, 500, "out of memory", NULL, NULL);
        return;
    }
    w->f = f;
    w->fl = *fl;
    w->table = table;
    w->include = include;
    w->bookmarks = bookmarks;
    w->initial = initial;
    w->cursor = cursor;
    w->end = pg_mono() + timeout;
    w->last_sent = pg_mono();
    w->fd = http_req_fd(req);
    /* a cursor the history no longer covers: the first read sends the ERROR 410 event, as the apiserver does */
    resp->status = 200;
    resp->content_type = "application/json";
    resp->stream = watch_read;
    resp->stream_done = watch_done;
    resp->stream_ud = w;
}

/* ---- faults ------------------------------------------------------------------ */

/* PUT replaces, POST appends, DELETE clears, GET lists (hits counted). */
static void faults_route(kf_facade *f, const char *method, http_req *req, http_resp *resp) {
    pg_err e;
    if (!strcmp(method, "DELETE")) {
        kf_faults_clear(&f->faults);
    } else if (!strcmp(method, "PUT") || !strcmp(method, "POST")) {
        size_t len;
        const char *body = http_body(req, &len);
        if (kf_faults_set(&f->faults, !strcmp(method, "PUT"), body, len, &e) < 0) return send_err(resp, &e);
    } else if (strcmp(method, "GET")) {
        return send_status(resp, 405, "faults: GET, PUT, POST or DELETE", NULL, NULL);
    }
    send_json(resp, 200, kf_faults_json(&f->faults));
}

/* 1 when the fault answered (or dropped) the request. */
static int fault_apply(kf_facade *f, const kf_fault *x, http_resp *resp) {
    for (double left = x->delay_s; left > 0 && !stopping(f); left -= KF_WAKE_S) pg_sleep(fmin(left, KF_WAKE_S));
    if (x->drop) {
        resp->drop = 1;
        return 1;
    }
    if (x->garbage) {           /* what a broken proxy in front of an apiserver sends */
        static const char junk[] = "{\"kind\": \"PodList\", \"items\": [{\"metadata\": <html>502 Bad Gateway";
        http_resp_set(resp, 200, "application/json", junk, sizeof junk - 1);
        return 1;
    }
    if (!x->status) return 0;
    char msg[200];
    if (x->status == 409)
        snprintf(msg, sizeof msg, "Operation cannot be fulfilled: the object has been modified; please apply your "
                 "changes to the latest version and try again (podgym fault)");
    else
        snprintf(msg, sizeof msg, "podgym fault: %d %s", x->status, reason_of(x->status));
    send_status(resp, x->status, msg, NULL, NULL);
    if (x->retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof ra, "%.0f", ceil(x->retry_after));
        http_resp_header(resp, "Retry-After", ra);
    }
    return 1;
}

/* ---- resources ------------------------------------------------------------- */

typedef struct kf_route {
    int res;                    /* KF_PODS, KF_DEPLOYMENTS, or -1 metrics */
    int metrics;
    const char *ns;             /* NULL: all namespaces */
    char nsbuf[128];
    char name[128];             /* "" = the collection */
    char sub[32];               /* "", "status", "scale" */
} kf_route;

/* Split path into the route; 0 when it is not a resource path. */
static int parse_route(const char *path, kf_route *r) {
    memset(r, 0, sizeof *r);
    char segs[8][128];
    int n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/') p++;
        if (!*p) break;
        if (n == 8) return -1;
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len >= sizeof segs[0]) return 0;
        memcpy(segs[n], p, len);
        segs[n++][len] = '\0';
        p += len;
    }
    int i, group;               /* 0 core, 1 apps, 2 metrics */
    if (n >= 2 && !strcmp(segs[0], "api") && !strcmp(segs[1], "v1")) {
        i = 2;
        group = 0;
    } else if (n >= 3 && !strcmp(segs[0], "apis") && !strcmp(segs[1], "apps") && !strcmp(segs[2], "v1")) {
        i = 3;
        group = 1;
    } else if (n >= 3 && !strcmp(segs[0], "apis") && !strcmp(segs[1], "metrics.k8s.io") && !strcmp(segs[2], "v1beta1")) {
        i = 3;
        group = 2;
        r->metrics = 1;
    } else {
        return 0;
    }
    if (i + 1 < n && !strcmp(segs[i], "namespaces")) {
        snprintf(r->nsbuf, sizeof r->nsbuf, "%s", segs[i + 1]);
        r->ns = r->nsbuf;
        i += 2;
    }
    if (i >= n) return 0;
    const char *kind = segs[i++];
    if (group != 1 && !strcmp(kind, "pods")) r->res = KF_PODS;
    else if (group == 1 && !strcmp(kind, "deployments")) r->res = KF_DEPLOYMENTS;
    else return -1;
    if (i < n) snprintf(r->name, sizeof r->name, "%s", segs[i++]);
    if (i < n) {
        if (strlen(segs[i]) >= sizeof r->sub) return -1;
        memcpy(r->sub, segs[i], strlen(segs[i]) + 1);
        i++;
    }
    if (i < n) return -1;
    return 1;
}

static void not_found(http_resp *resp, const char *kind, const char *group_kind, const char *name) {
    char msg[300];
    snprintf(msg, sizeof msg, "%s \"%.200s\" not found", group_kind, name);
    send_status(resp, 404, msg, kind, name);
}

/* Lock s with the backend's state read in; -1 (unlocked, e filled) when the backend fails. */
static int lock_fresh(kf_state *s, pg_err *e) {
    kf_state_lock(s);
    if (kf_refresh(s, e) == 0) return 0;
    kf_state_unlock(s);
    return -1;
}

static void metrics_route(kf_facade *f, const kf_route *r, const kf_query *q, http_resp *resp) {
    kf_state *s = &f->st;
    pg_err e;
    kf_filter fl;
    if (filter_init(&fl, s, KF_PODS, r->ns, q, &e) < 0) return send_err(resp, &e);
    pg_metric *m = NULL;
    size_t n = 0;
    if (s->b->ops->metrics(s->b, &m, &n, &e) != 0) return send_err(resp, &e);
    if (lock_fresh(s, &e) < 0) {
        free(m);
        return send_err(resp, &e);
    }
    json_t *items = json_array(), *one = NULL;
    for (size_t i = 0; i < n; i++) {
        kf_pod *k = kf_find_pod(s, m[i].name);
        if (!k || !pod_matches(s, &fl, k)) continue;
        if (r->name[0] && strcmp(r->name, m[i].name)) continue;
        json_t *pm = kobj_pod_metrics(s, k, &m[i]);
        if (r->name[0]) one = pm;
        else json_array_append_new(items, pm);
    }
    kf_state_unlock(s);
    free(m);
    if (r->name[0]) {
        json_decref(items);
        if (!one) return not_found(resp, "pods", "podmetrics.metrics.k8s.io", r->name);
        return send_json(resp, 200, one);
    }
    send_json(resp, 200, json_pack("{s:s,s:s,s:{},s:o}", "kind", "PodMetricsList", "apiVersion",
                                   "metrics.k8s.io/v1beta1", "metadata", "items", items));
}

static int parse_grace(const char *text, double *g) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || v < 0) return -1;
    *g = (double)v;
    return 0;
}

static void delete_pod(kf_facade *f, const kf_route *r, const kf_query *q, http_req *req, http_resp *resp) {
    kf_state *s = &f->st;
    double grace = -1;
    size_t len;
    const char *body = http_body(req, &len);
    if (len) {
        json_error_t je;
        json_t *j = json_loadb(body, len, 0, &je);
        if (!json_is_object(j)) {
            json_decref(j);
            char msg[300];
            snprintf(msg, sizeof msg, "DeleteOptions: invalid JSON: %s", je.text);
            return send_status(resp, 400, msg, NULL, NULL);
        }
        json_t *g = json_object_get(j, "gracePeriodSeconds");
        if (g && !json_is_null(g)) {
            if (!json_is_integer(g) || json_integer_value(g) < 0) {
                json_decref(j);
                return send_status(resp, 400, "gracePeriodSeconds: want an integer >= 0", NULL, NULL);
            }
            grace = (double)json_integer_value(g);
        }
        json_decref(j);
    }
    if (q->grace && parse_grace(q->grace, &grace) < 0)
        return send_status(resp, 400, "gracePeriodSeconds: want an integer >= 0", NULL, NULL);
    pg_err e;
    if (lock_fresh(s, &e) < 0) return send_err(resp, &e);
    kf_pod *k = r->ns && !strcmp(r->ns, s->ns) ? kf_find_pod(s, r->name) : NULL;
    if (!k) {
        kf_state_unlock(s);
        return not_found(resp, "pods", "pods", r->name);
    }
    if (!k->p.deleting) k->grace = grace >= 0 ? grace : 30;
    double g = grace;
    kf_state_unlock(s);
    if (s->b->ops->delete_pod(s->b, r->name, g, &e) != 0) {
        if (e.status == 404) return not_found(resp, "pods", "pods", r->name);
        return send_err(resp, &e);
    }
    kf_state_lock(s);
    kf_refresh(s, &e);
    k = kf_find_pod(s, r->name);
    json_t *obj = NULL;
    if (k) {
        if (k->grace < 0) k->grace = grace >= 0 ? grace : 30;
        obj = kobj_pod(s, k);
    } else {                                    /* gone at once (grace 0): the last look, deleted */
        for (size_t i = s->hcount; i-- > 0;) {
            const kf_event *ev = kf_event_at(s, i);
            if (ev->res == KF_PODS && ev->type == KF_DELETED && !strcmp(ev->pod.p.name, r->name)) {
                obj = kobj_pod(s, &ev->pod);
                break;
            }
        }
    }
    kf_state_unlock(s);
    if (!obj) obj = json_pack("{s:s,s:s,s:{},s:s,s:{s:s,s:s}}", "kind", "Status", "apiVersion", "v1", "metadata",
                              "status", "Success", "details", "name", r->name, "kind", "pods");
    send_json(resp, 200, obj);
}

/* The Scale after a PUT or PATCH body: the replicas it asks for. */
static void scale_write(kf_facade *f, const kf_route *r, const char *method, http_req *req, http_resp *resp) {
    kf_state *s = &f->st;
    char ct[128];
    content_type(req, ct, sizeof ct);
    int kind;                                   /* 0 PUT, 1 merge, 2 strategic, 3 JSON patch */
    if (!strcmp(method, "PUT")) {
        if (ct[0] && strcmp(ct, "application/json")) {
            char msg[200];
            snprintf(msg, sizeof msg, "the body of a PUT must be application/json, not %.100s", ct);
            return send_status(resp, 415, msg, NULL, NULL);
        }
        kind = 0;
    } else if (!strcmp(ct, "application/merge-patch+json")) {
        kind = 1;
    } else if (!strcmp(ct, "application/strategic-merge-patch+json")) {
        kind = 2;
    } else if (!strcmp(ct, "application/json-patch+json")) {
        kind = 3;
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "the body of the request was in an unknown format - accepted media types include: "
                 "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json "
                 "(got '%.100s')", ct);
        return send_status(resp, 415, msg, NULL, NULL);
    }
    size_t len;
    const char *body = http_body(req, &len);
    json_error_t je;
    json_t *patch = json_loadb(body, len, JSON_DECODE_ANY, &je);
    if (!patch) {
        char msg[300];
        snprintf(msg, sizeof msg, "error decoding the request body: %s (line %d)", je.text, je.line);
        return send_status(resp, 400, msg, NULL, NULL);
    }
    if (kind != 3 && !json_is_object(patch)) {
        json_decref(patch);
        return send_status(resp, 400, "the request body must be a JSON object", NULL, NULL);
    }
    pg_err e;
    if (lock_fresh(s, &e) < 0) {
        json_decref(patch);
        return send_err(resp, &e);
    }
    json_t *cur = kobj_scale(s, &s->dep);
    char currv[24];
    rv_str(s->dep.rv, currv, sizeof currv);
    kf_state_unlock(s);
    json_t *next = kind == 0 ? json_incref(patch) : kind == 3 ? kpatch_json(cur, patch, &e) : kpatch_merge(cur, patch);
    json_t *asked_rv = json_object_get(json_object_get(kind == 3 ? next : patch, "metadata"), "resourceVersion");
    json_decref(cur);
    json_decref(patch);
    if (!next) return send_err(resp, &e);
    char msg[300];
    json_t *rep = json_object_get(json_object_get(next, "spec"), "replicas");
    int code = 0;
    if (json_is_string(asked_rv) && strcmp(json_string_value(asked_rv), currv)) {
        code = 409;
        snprintf(msg, sizeof msg, "Operation cannot be fulfilled on deployments.apps \"%s\": the object has been "
                 "modified; please apply your changes to the latest version and try again", s->name);
    } else if (!json_is_integer(rep) && !(kind == 0 && !rep)) {
        code = 422;
        snprintf(msg, sizeof msg, "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: want an integer",
                 s->name);
    } else if (rep && (json_integer_value(rep) < 0 || json_integer_value(rep) > 100000)) {
        code = 422;
        snprintf(msg, sizeof msg, "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: %lld: must be "
                 "greater than or equal to 0", s->name, (long long)json_integer_value(rep));
    }
    int want = rep ? (int)json_integer_value(rep) : 0;
    json_decref(next);
    if (code) return send_status(resp, code, msg, "deployments", s->name);
    if (rep && s->b->ops->scale(s->b, want, &e) != 0) return send_err(resp, &e);
    kf_state_lock(s);
    kf_refresh(s, &e);
    json_t *out = kobj_scale(s, &s->dep);
    kf_state_unlock(s);
    send_json(resp, 200, out);
}

static void resource_route(kf_facade *f, const kf_route *r, const char *method, http_req *req, http_resp *resp) {
    kf_state *s = &f->st;
    kf_query q = { 0 };
    http_each(req, HTTP_QUERY, query_cb, &q);
    if (r->metrics) {
        if (strcmp(method, "GET")) return send_status(resp, 405, "the metrics API is read-only", NULL, NULL);
        if (r->sub[0]) return send_status(resp, 404, "the server could not find the requested resource", NULL, NULL);
        return metrics_route(f, r, &q, resp);
    }
    int table = wants_table(req), include = include_of(q.include);
    if (include < 0) return send_status(resp, 400, "includeObject: want None, Metadata or Object", NULL, NULL);
    pg_err e;
    const char *gk = r->res == KF_PODS ? "pods" : "deployments.apps";
    if (!r->name[0]) {                          /* the collection: list or watch */
        if (strcmp(method, "GET")) {
            char msg[200];
            snprintf(msg, sizeof msg, "%s on %s is not supported by this server", method, gk);
            return send_status(resp, 405, msg, NULL, NULL);
        }
        kf_filter fl;
        if (filter_init(&fl, s, r->res, r->ns, &q, &e) < 0) return send_err(resp, &e);
        if (truthy(q.watch) && q.watch) return start_watch(f, req, resp, &fl, &q, table, include);
        if (lock_fresh(s, &e) < 0) return send_err(resp, &e);
        json_t *out = list_locked(s, &fl, table, include);
        kf_state_unlock(s);
        return send_json(resp, 200, out);
    }
    if (!r->ns) return send_status(resp, 404, "the server could not find the requested resource", NULL, NULL);
    const char *sub = r->sub;
    int ok_sub = !sub[0] || !strcmp(sub, "status") || (r->res == KF_DEPLOYMENTS && !strcmp(sub, "scale"));
    if (!ok_sub) return send_status(resp, 404, "the server could not find the requested resource", NULL, NULL);
    if (!strcmp(sub, "scale")) {
        kf_state_lock(s);
        int exists = !strcmp(r->ns, s->ns) && !strcmp(r->name, s->name);
        kf_state_unlock(s);
        if (!exists) return not_found(resp, "deployments", "deployments.apps", r->name);
        if (!strcmp(method, "GET")) {
            if (lock_fresh(s, &e) < 0) return send_err(resp, &e);
            json_t *out = kobj_scale(s, &s->dep);
            kf_state_unlock(s);
            return send_json(resp, 200, out);
        }
        if (!strcmp(method, "PUT") || !strcmp(method, "PATCH")) return scale_write(f, r, method, req, resp);
        return send_status(resp, 405, "deployments/scale: GET, PUT or PATCH", NULL, NULL);
    }
    if (r->res == KF_PODS && !sub[0] && !strcmp(method, "DELETE")) return delete_pod(f, r, &q, req, resp);
    if (strcmp(method, "GET")) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s on %s is not supported by this server", method, gk);
        return send_status(resp, 405, msg, NULL, NULL);
    }
    if (lock_fresh(s, &e) < 0) return send_err(resp, &e);
    json_t *out = NULL;
    if (r->res == KF_PODS) {
        kf_pod *k = !strcmp(r->ns, s->ns) ? kf_find_pod(s, r->name) : NULL;
        if (k) out = one_locked(s, KF_PODS, k, table, include);
    } else if (!strcmp(r->ns, s->ns) && !strcmp(r->name, s->name)) {
        out = one_locked(s, KF_DEPLOYMENTS, NULL, table, include);
    }
    kf_state_unlock(s);
    if (!out) return not_found(resp, r->res == KF_PODS ? "pods" : "deployments", gk, r->name);
    send_json(resp, 200, out);
}

/* ---- the handler -------------------------------------------------------------- */

static int health_path(const char *p) {
    return !strncmp(p, "/healthz", 8) || !strncmp(p, "/readyz", 7) || !strncmp(p, "/livez", 6);
}

static void handle(void *ud, http_req *req, http_resp *resp) {
    kf_facade *f = ud;
    double t0 = pg_mono();
    const char *method = http_method(req), *path = http_path(req);
    const char *auth = http_header_get(req, "Authorization");
    int public = health_path(path) || !strcmp(path, "/version");
    if (f->token[0] && !http_token_ok(auth, f->token) && (auth || !public)) {
        send_status(resp, 401, "Unauthorized", NULL, NULL);
        goto done;
    }
    if (!strncmp(path, "/podgym/v1/faults", 17) && (!path[17] || !strcmp(path + 17, "/"))) {
        faults_route(f, method, req, resp);
        goto done;
    }
    kf_fault x;
    if (kf_fault_take(&f->faults, method, path, &x) && fault_apply(f, &x, resp)) goto done;
    if (health_path(path)) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) send_status(resp, 405, "health: GET only", NULL, NULL);
        else http_resp_set(resp, 200, "text/plain; charset=utf-8", "ok", 2);
        goto done;
    }
    if (!strcmp(method, "GET") && discovery(path, req, resp)) goto done;
    kf_route r;
    int pr = parse_route(path, &r);
    if (pr <= 0) {
        char msg[300];
        snprintf(msg, sizeof msg, pr < 0 ? "the server could not find the requested resource (%.200s)"
                                         : "the server could not find the requested resource (%.200s)", path);
        send_status(resp, 404, msg, NULL, NULL);
        goto done;
    }
    resource_route(f, &r, method, req, resp);
done:
    if (!strcmp(method, "HEAD") && !resp->stream) {
        free(resp->body);
        resp->body = NULL;
        resp->len = 0;
    }
    pg_log_access(method, path, resp->drop ? 0 : resp->status, (pg_mono() - t0) * 1000.0);
}

/* ---- lifecycle ------------------------------------------------------------------ */

kf_facade *kf_start(pg_backend *b, const kf_opts *o, char *err, size_t errlen) {
    kf_facade *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pg_err e;
    if (kf_state_init(&f->st, b, o->ns, o->deployment, o->node, &e) != 0) {
        snprintf(err, errlen, "facade: %s", e.message);
        kf_state_free(&f->st);
        free(f);
        return NULL;
    }
    kf_faults_init(&f->faults);
    if (o->token) snprintf(f->token, sizeof f->token, "%s", o->token);
    http_opts ho = {
        .host = o->host,
        .port = o->port,
        .body_bytes = o->body_bytes > 0 ? o->body_bytes : 1 << 20,
        .connections = o->connections,
        .timeout_s = o->timeout_s,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
        .handler = handle,
        .ud = f,
    };
    f->srv = http_start(&ho, err, errlen);
    if (!f->srv) {
        kf_faults_free(&f->faults);
        kf_state_free(&f->st);
        free(f);
        return NULL;
    }
    return f;
}

int kf_port(const kf_facade *f) { return http_port(f->srv); }
int kf_tls(const kf_facade *f) { return http_tls(f->srv); }

void kf_stop(kf_facade *f) {
    if (!f) return;
    __atomic_store_n(&f->stopping, 1, __ATOMIC_RELEASE);
    http_stop(f->srv);                          /* watches see the stop within KF_WAKE_S */
    kf_faults_free(&f->faults);
    explicit_bzero(f->token, sizeof f->token);
    kf_state_free(&f->st);
    free(f);
}
