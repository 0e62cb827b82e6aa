/* objects.c: Pods, PodMetrics and selectors read from their JSON (see objects.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/kube/objects.h"
#include "cluster/quantity.h"

static const char *str_at(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src); }

double k8s_time(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double t = (double)timegm(&tm);
    const char *p = s + 19;
    if (*p == '.') {
        double f = 0.1;
        for (p++; isdigit((unsigned char)*p); p++, f /= 10) t += (*p - '0') * f;
    }
    if (*p == 'Z' || *p == 'z') return p[1] ? -1 : t;
    int oh, om, n = 0;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && !p[1 + n])
        return t - (*p == '-' ? -1 : 1) * (oh * 3600.0 + om * 60.0);
    return -1;
}

double k8s_duration(const char *s) {
    static const struct { const char *u; double mul; } units[] = {
        { "ns", 1e-9 }, { "us", 1e-6 }, { "µs", 1e-6 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
    };
    if (!s || !*s) return -1;
    double total = 0;
    const char *p = s;
    if (!strcmp(s, "0")) return 0;
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        double v = strtod(p, &end);
        if (end == p) return -1;
        p = end;
        size_t best = 0;
        double mul = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].u);
            if (l > best && !strncmp(p, units[i].u, l)) { best = l; mul = units[i].mul; }
        }
        if (!best) return -1;
        p += best;
        total += v * mul;
    }
    return total;
}

/* ---- pods ---------------------------------------------------------------- */

/* The pod condition of that type, or NULL. */
static json_t *condition(json_t *status, const char *type) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
        if (!strcmp(str_at(c, "type"), type)) return c;
    return NULL;
}

static int cond_true(json_t *status, const char *type) { return !strcmp(str_at(condition(status, type), "status"), "True"); }
static const char *cond_reason(json_t *status, const char *type) { return str_at(condition(status, type), "reason"); }

static long long int_at(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* Is init container `name` a sidecar (restartPolicy Always) in spec? */
static int is_sidecar(json_t *spec, const char *name) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
        if (!strcmp(str_at(c, "name"), name)) return !strcmp(str_at(c, "restartPolicy"), "Always");
    return 0;
}

/* printPod's reason, step by step. */
static void pod_reason(json_t *pod, char *reason, size_t n, int *restarts) {
    json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec"),
           *st = json_object_get(pod, "status");
    copy(reason, n, str_at(st, "phase"));
    if (*str_at(st, "reason")) copy(reason, n, str_at(st, "reason"));
    if (!strcmp(cond_reason(st, "PodScheduled"), "SchedulingGated")) copy(reason, n, "SchedulingGated");

    int initializing = 0;
    size_t i, ninit = json_array_size(json_object_get(spec, "initContainers"));
    json_t *c;
    *restarts = 0;
    json_array_foreach(json_object_get(st, "initContainerStatuses"), i, c) {
        json_t *state = json_object_get(c, "state"), *term = json_object_get(state, "terminated"),
               *wait = json_object_get(state, "waiting");
        *restarts += (int)int_at(c, "restartCount");
        if (term && int_at(term, "exitCode") == 0) continue;
        if (is_sidecar(spec, str_at(c, "name")) && json_is_true(json_object_get(c, "started"))) continue;
        if (term) {
            if (*str_at(term, "reason")) snprintf(reason, n, "Init:%s", str_at(term, "reason"));
            else if (int_at(term, "signal")) snprintf(reason, n, "Init:Signal:%lld", int_at(term, "signal"));
            else snprintf(reason, n, "Init:ExitCode:%lld", int_at(term, "exitCode"));
        } else if (wait && *str_at(wait, "reason") && strcmp(str_at(wait, "reason"), "PodInitializing")) {
            snprintf(reason, n, "Init:%s", str_at(wait, "reason"));
        } else {
            snprintf(reason, n, "Init:%zu/%zu", i, ninit);
        }
        initializing = 1;
        break;
    }
    if (!initializing || cond_true(st, "Initialized")) {
        *restarts = 0;
        int has_running = 0;
        json_t *cs = json_object_get(st, "containerStatuses");
        for (size_t k = json_array_size(cs); k-- > 0;) {
            c = json_array_get(cs, k);
            json_t *state = json_object_get(c, "state"), *term = json_object_get(state, "terminated"),
                   *wait = json_object_get(state, "waiting");
            *restarts += (int)int_at(c, "restartCount");
            if (wait && *str_at(wait, "reason")) copy(reason, n, str_at(wait, "reason"));
            else if (term && *str_at(term, "reason")) copy(reason, n, str_at(term, "reason"));
            else if (term && int_at(term, "signal")) snprintf(reason, n, "Signal:%lld", int_at(term, "signal"));
            else if (term) snprintf(reason, n, "ExitCode:%lld", int_at(term, "exitCode"));
            else if (json_is_true(json_object_get(c, "ready")) && json_object_get(state, "running")) has_running = 1;
        }
        if (!strcmp(reason, "Completed") && has_running)
            copy(reason, n, cond_true(st, "Ready") ? "Running" : "NotReady");
    }
    const char *phase = str_at(st, "phase");
    if (json_is_string(json_object_get(meta, "deletionTimestamp"))) {
        if (!strcmp(str_at(st, "reason"), "NodeLost")) copy(reason, n, "Unknown");
        else if (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")) copy(reason, n, "Terminating");
    }
    if (!*reason) copy(reason, n, "Unknown");
}

int k8s_pod_read(json_t *pod, pg_pod *p) {
    json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec"),
           *st = json_object_get(pod, "status");
    memset(p, 0, sizeof *p);
    const char *name = str_at(meta, "name");
    if (!*name) return -1;
    copy(p->name, sizeof p->name, name);
    copy(p->phase, sizeof p->phase, *str_at(st, "phase") ? str_at(st, "phase") : "Unknown");
    pod_reason(pod, p->status, sizeof p->status, &p->restarts);
    p->deleting = json_is_string(json_object_get(meta, "deletionTimestamp"));
    p->ready = cond_true(st, "Ready") && !p->deleting;
    double t = k8s_time(str_at(meta, "creationTimestamp"));
    p->created = t > 0 ? t : 0;
    copy(p->ip, sizeof p->ip, str_at(st, "podIP"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c) {
        json_t *req = json_object_get(json_object_get(c, "resources"), "requests");
        double v;
        const char *cpu = str_at(req, "cpu"), *mem = str_at(req, "memory");
        if (*cpu && k8s_quantity(cpu, &v, NULL) == 0) p->req_cpu += v;
        if (*mem && k8s_quantity(mem, &v, NULL) == 0) p->req_mem += v;
        json_t *port = json_array_get(json_object_get(c, "ports"), 0);
        if (!p->port && port) p->port = (int)int_at(port, "containerPort");
    }
    return 0;
}

int k8s_metric_read(json_t *m, pg_metric *out) {
    memset(out, 0, sizeof *out);
    json_t *meta = json_object_get(m, "metadata");
    if (!*str_at(meta, "name")) return -1;
    copy(out->name, sizeof out->name, str_at(meta, "name"));
    out->ts = k8s_time(str_at(m, "timestamp"));
    if (out->ts < 0) out->ts = 0;
    out->window_s = k8s_duration(str_at(m, "window"));
    if (out->window_s < 0) out->window_s = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(m, "containers"), i, c) {
        json_t *u = json_object_get(c, "usage");
        double cpu = 0, mem = 0;
        if (k8s_quantity(str_at(u, "cpu"), &cpu, NULL) || k8s_quantity(str_at(u, "memory"), &mem, NULL)) return -1;
        out->cpu += cpu;
        out->mem += mem;
    }
    return 0;
}

/* ---- selectors ------------------------------------------------------------ */

typedef struct sel_out { char *p; size_t n, o; int over; } sel_out;

static void put(sel_out *s, const char *fmt, const char *a, const char *b) {
    int w = snprintf(s->p + s->o, s->n - s->o, fmt, s->o ? "," : "", a, b);
    if (w < 0 || (size_t)w >= s->n - s->o) s->over = 1;
    else s->o += (size_t)w;
}

int k8s_selector(json_t *sel, char *out, size_t n) {
    sel_out s = { out, n, 0, 0 };
    const char *k;
    json_t *v;
    if (!n) return -1;
    out[0] = '\0';
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v) put(&s, "%s%s=%s", k, json_string_value(v) ? json_string_value(v) : "");
    size_t i;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, v) {
        const char *key = str_at(v, "key"), *op = str_at(v, "operator");
        if (!strcmp(op, "Exists")) { put(&s, "%s%s%s", key, ""); continue; }
        if (!strcmp(op, "DoesNotExist")) { put(&s, "%s!%s%s", key, ""); continue; }
        if (strcmp(op, "In") && strcmp(op, "NotIn")) return -1;
        char vals[512];
        size_t o = 0;
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(v, "values"), j, x) {
            int w = snprintf(vals + o, sizeof vals - o, "%s%s", j ? "," : "", json_string_value(x) ? json_string_value(x) : "");
            if (w < 0 || (size_t)w >= sizeof vals - o) return -1;
            o += (size_t)w;
        }
        vals[o] = '\0';
        put(&s, strcmp(op, "In") ? "%s%s notin (%s)" : "%s%s in (%s)", key, vals);
    }
    return s.over || !s.o ? -1 : 0;
}

static int in_values(json_t *values, const char *v) {
    size_t j;
    json_t *x;
    json_array_foreach(values, j, x) if (json_string_value(x) && !strcmp(json_string_value(x), v)) return 1;
    return 0;
}

int k8s_selector_matches(json_t *sel, json_t *obj) {
    json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v) {
        const char *have = json_string_value(json_object_get(labels, k));
        if (!have || !json_string_value(v) || strcmp(have, json_string_value(v))) return 0;
    }
    size_t i;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, v) {
        const char *op = str_at(v, "operator");
        const char *have = json_string_value(json_object_get(labels, str_at(v, "key")));
        if (!strcmp(op, "Exists") && !have) return 0;
        if (!strcmp(op, "DoesNotExist") && have) return 0;
        if (!strcmp(op, "In") && (!have || !in_values(json_object_get(v, "values"), have))) return 0;
        if (!strcmp(op, "NotIn") && have && in_values(json_object_get(v, "values"), have)) return 0;
    }
    return 1;
}
