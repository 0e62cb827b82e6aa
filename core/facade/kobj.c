/* kobj.c: the cluster as Kubernetes objects, and the change history. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/hash.h"
#include "facade/kobj.h"

/* ---- state and history ------------------------------------------------ */

static void make_uid(const char *a, double t, char *out, size_t n) {
    uint64_t h1 = pg_hash(PG_HASH_INIT, a, strlen(a));
    h1 = pg_hash(h1, &t, sizeof t);
    uint64_t h2 = pg_hash(h1 ^ 0x9e3779b97f4a7c15ULL, a, strlen(a));
    snprintf(out, n, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffff,
             (unsigned)h1 & 0xfff, (unsigned)(h2 >> 52) & 0xfff, (unsigned long long)(h2 & 0xffffffffffffULL));
}

int kf_state_init(kf_state *s, pg_backend *b, const char *ns, const char *name, const char *node, pg_err *e) {
    memset(s, 0, sizeof *s);
    s->hist = calloc(KF_HISTORY, sizeof *s->hist);
    if (!s->hist) return pg_errf(e, 500, "no_memory", "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->b = b;
    snprintf(s->ns, sizeof s->ns, "%s", ns && *ns ? ns : "default");
    snprintf(s->name, sizeof s->name, "%s", name && *name ? name : "app");
    snprintf(s->node, sizeof s->node, "%s", node && *node ? node : "podgym-node");
    snprintf(s->image, sizeof s->image, "podgym/%s:latest", b->ops->name);
    s->off = pg_wall() - b->ops->now(b);
    s->dep.created = b->ops->now(b);
    s->dep.generation = 1;
    s->dep.desired = -1;
    make_uid(s->name, 0, s->dep.uid, sizeof s->dep.uid);
    if (kf_refresh(s, e) != 0) return -1;
    for (size_t i = 0; i < s->npods; i++)       /* the Deployment is as old as its oldest pod */
        if (s->pods[i].p.created < s->dep.created) s->dep.created = s->pods[i].p.created;
    s->hist[(s->hhead + s->hcount - 1) % KF_HISTORY].dep.created = s->dep.created;
    return 0;
}

void kf_state_free(kf_state *s) {
    free(s->pods);
    free(s->hist);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

void kf_state_lock(kf_state *s) { pthread_mutex_lock(&s->mu); }
void kf_state_unlock(kf_state *s) { pthread_mutex_unlock(&s->mu); }

const kf_event *kf_event_at(const kf_state *s, size_t i) {
    return &s->hist[(s->hhead + i) % KF_HISTORY];
}

static void record(kf_state *s, int type, int res, const kf_pod *p, const kf_dep *d) {
    if (s->hcount == KF_HISTORY) {              /* the oldest goes: a watch before it gets 410 */
        s->floor = s->hist[s->hhead].rv;
        s->hhead = (s->hhead + 1) % KF_HISTORY;
        s->hcount--;
    }
    kf_event *ev = &s->hist[(s->hhead + s->hcount++) % KF_HISTORY];
    memset(ev, 0, sizeof *ev);
    ev->rv = res == KF_PODS ? p->rv : d->rv;
    ev->type = type;
    ev->res = res;
    if (p) ev->pod = *p;
    if (d) ev->dep = *d;
}

kf_pod *kf_find_pod(kf_state *s, const char *name) {
    for (size_t i = 0; i < s->npods; i++)
        if (!strcmp(s->pods[i].p.name, name)) return &s->pods[i];
    return NULL;
}

static int pod_differs(const pg_pod *a, const pg_pod *b) {
    return strcmp(a->phase, b->phase) || strcmp(a->status, b->status) || a->ready != b->ready ||
           a->deleting != b->deleting || a->restarts != b->restarts || strcmp(a->ip, b->ip) || a->port != b->port;
}

int kf_refresh(kf_state *s, pg_err *e) {
    pg_backend *b = s->b;
    uint64_t gen = s->gen;                      /* the generation this refresh reads */
    if (b->ops->changes && b->ops->changes(b, s->refreshed ? s->gen : 0, 0, &gen, NULL) == 0 && s->refreshed &&
        gen == s->gen)
        return 0;
    pg_pod *v = NULL;
    size_t n = 0;
    int desired;
    if (b->ops->pods(b, &v, &n, e) != 0) return -1;
    if (b->ops->replicas(b, &desired, e) != 0) {
        free(v);
        return -1;
    }
    double now = b->ops->now(b);
    kf_pod *np = calloc(n ? n : 1, sizeof *np);
    if (!np) {
        free(v);
        return pg_errf(e, 500, "no_memory", "out of memory");
    }
    char *seen = calloc(s->npods ? s->npods : 1, 1);
    if (!seen) {
        free(v);
        free(np);
        return pg_errf(e, 500, "no_memory", "out of memory");
    }
    int added = 0;
    for (size_t i = 0; i < n; i++) {
        kf_pod *old = NULL;
        for (size_t j = 0; j < s->npods; j++)
            if (!seen[j] && !strcmp(s->pods[j].p.name, v[i].name)) {
                old = &s->pods[j];
                seen[j] = 1;
                break;
            }
        kf_pod *k = &np[i];
        if (!old) {
            k->p = v[i];
            k->rv = ++s->rv;
            make_uid(v[i].name, v[i].created, k->uid, sizeof k->uid);
            k->ready_at = v[i].ready && !s->refreshed ? v[i].created : now;
            k->grace = -1;
            if (v[i].deleting) k->del_at = now;
            record(s, KF_ADDED, KF_PODS, k, NULL);
            added++;
            continue;
        }
        *k = *old;
        if (!pod_differs(&old->p, &v[i])) continue;
        if (old->p.ready != v[i].ready) k->ready_at = now;
        if (v[i].deleting && !k->del_at) k->del_at = now;
        k->p = v[i];
        k->rv = ++s->rv;
        record(s, KF_MODIFIED, KF_PODS, k, NULL);
        added++;
    }
    for (size_t j = 0; j < s->npods; j++) {
        if (seen[j]) continue;
        kf_pod gone = s->pods[j];
        gone.rv = ++s->rv;
        record(s, KF_DELETED, KF_PODS, &gone, NULL);
        added++;
    }
    free(seen);
    free(s->pods);
    s->pods = np;
    s->npods = s->cap = n;
    kf_dep d = s->dep;
    d.total = d.ready = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].deleting) continue;
        d.total++;
        d.ready += v[i].ready;
    }
    if (n) {
        d.cpu = v[0].req_cpu;
        d.mem = v[0].req_mem;
    }
    free(v);
    int first = s->dep.desired < 0;
    if (!first && desired != s->dep.desired) d.generation++;
    d.desired = desired;
    if (first || d.desired != s->dep.desired || d.total != s->dep.total || d.ready != s->dep.ready) {
        d.rv = ++s->rv;
        s->dep = d;
        record(s, first ? KF_ADDED : KF_MODIFIED, KF_DEPLOYMENTS, NULL, &s->dep);
        added++;
    }
    s->gen = gen;
    s->refreshed = 1;
    if (added) pthread_cond_broadcast(&s->cv);
    return 0;
}

int kf_wait_refresh(kf_state *s, double timeout_s, pg_err *e) {
    pg_backend *b = s->b;
    if (b->ops->changes) {
        kf_state_lock(s);
        uint64_t since = s->gen;
        kf_state_unlock(s);
        uint64_t g;
        if (b->ops->changes(b, since, timeout_s, &g, e) != 0) pg_sleep(fmin(timeout_s, 0.1));
    } else {
        pg_sleep(fmin(timeout_s, 0.1));
    }
    kf_state_lock(s);
    int rc = kf_refresh(s, e);
    kf_state_unlock(s);
    return rc;
}

/* ---- rendering ---------------------------------------------------------- */

void kobj_time(const kf_state *s, double t, char *out, size_t n) {
    time_t w = (time_t)floor(t + s->off);
    struct tm tm;
    gmtime_r(&w, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *jtime(const kf_state *s, double t) {
    char b[40];
    kobj_time(s, t, b, sizeof b);
    return json_string(b);
}

static json_t *jrv(uint64_t rv) {
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)rv);
    return json_string(b);
}

/* The pod-template-hash: the middle of DEPLOYMENT-HASH-SUFFIX, else one made from the name. */
static void tmpl_hash(const kf_state *s, const char *pod, char *out, size_t n) {
    size_t dl = strlen(s->name);
    const char *rest = pod + dl + 1;
    const char *dash = !strncmp(pod, s->name, dl) && pod[dl] == '-' ? strchr(rest, '-') : NULL;
    if (dash && dash > rest && (size_t)(dash - rest) < n) {
        memcpy(out, rest, (size_t)(dash - rest));
        out[dash - rest] = '\0';
        return;
    }
    snprintf(out, n, "%010llx", (unsigned long long)(pg_hash(PG_HASH_INIT, s->name, dl) & 0xffffffffffULL));
}

json_t *kobj_pod_labels(const kf_state *s, const kf_pod *k) {
    char h[40];
    tmpl_hash(s, k->p.name, h, sizeof h);
    return json_pack("{s:s,s:s}", "app", s->name, "pod-template-hash", h);
}

static json_t *cpu_q(double cores) {
    char b[32];
    double m = cores * 1000;
    if (fabs(m - round(m)) < 1e-6 && fmod(round(m), 1000) == 0) snprintf(b, sizeof b, "%.0f", m / 1000);
    else if (fabs(m - round(m)) < 1e-6) snprintf(b, sizeof b, "%.0fm", m);
    else snprintf(b, sizeof b, "%.0fn", cores * 1e9);
    return json_string(b);
}

static json_t *mem_q(double bytes) {
    char b[32];
    static const char *suf[] = { "Gi", "Mi", "Ki" };
    static const double mul[] = { 1073741824.0, 1048576.0, 1024.0 };
    for (int i = 0; i < 3; i++)
        if (bytes >= mul[i] && fmod(bytes, mul[i]) == 0) {
            snprintf(b, sizeof b, "%.0f%s", bytes / mul[i], suf[i]);
            return json_string(b);
        }
    snprintf(b, sizeof b, "%.0f", bytes);
    return json_string(b);
}

static json_t *resources(double cpu, double mem) {
    json_t *req = json_object();
    if (cpu > 0) json_object_set_new(req, "cpu", cpu_q(cpu));
    if (mem > 0) json_object_set_new(req, "memory", mem_q(mem));
    return json_pack("{s:o}", "requests", req);
}

/* A pod's IP: the backend's, else one made from its name once it has a sandbox. */
static void pod_ip(const kf_pod *k, char *out, size_t n) {
    if (k->p.ip[0]) {
        snprintf(out, n, "%s", k->p.ip);
        return;
    }
    if (!strcmp(k->p.status, "Pending") || !strcmp(k->p.status, "ContainerCreating")) {
        out[0] = '\0';
        return;
    }
    uint64_t h = pg_hash(PG_HASH_INIT, k->p.name, strlen(k->p.name));
    snprintf(out, n, "10.244.%u.%u", (unsigned)(h % 200), (unsigned)(2 + (h >> 8) % 250));
}

static json_t *condition(const kf_state *s, const char *type, int ok, double t) {
    return json_pack("{s:s,s:s,s:n,s:o}", "type", type, "status", ok ? "True" : "False", "lastProbeTime",
                     "lastTransitionTime", jtime(s, t));
}

/* containerStatuses[0].state (and lastState) from the kubectl status the backend reports. */
static json_t *container_status(const kf_state *s, const kf_pod *k) {
    const pg_pod *p = &k->p;
    const char *st = p->status;
    json_t *state;
    int started = 0;
    if (!strcmp(st, "Running") || (!strcmp(st, "Terminating") && !strcmp(p->phase, "Running"))) {
        state = json_pack("{s:{s:o}}", "running", "startedAt", jtime(s, k->ready_at > 0 ? k->ready_at : p->created));
        started = 1;
    } else if (!strcmp(st, "Error") || !strcmp(st, "Completed") || !strcmp(st, "OOMKilled")) {
        int code = !strcmp(st, "Completed") ? 0 : !strcmp(st, "OOMKilled") ? 137 : 1;
        state = json_pack("{s:{s:i,s:s,s:o,s:o}}", "terminated", "exitCode", code, "reason", st, "startedAt",
                          jtime(s, p->created), "finishedAt", jtime(s, k->ready_at > 0 ? k->ready_at : p->created));
    } else {
        const char *reason = !strcmp(st, "Terminating") || !strcmp(st, "Pending") ? "ContainerCreating" : st;
        state = json_pack("{s:{s:s}}", "waiting", "reason", reason);
    }
    json_t *c = json_pack("{s:s,s:o,s:b,s:i,s:s,s:s,s:b}", "name", s->name, "state", state, "ready", p->ready,
                          "restartCount", p->restarts, "image", s->image, "imageID", "", "started", started);
    if (p->restarts > 0)
        json_object_set_new(c, "lastState", json_pack("{s:{s:i,s:s,s:o,s:o}}", "terminated", "exitCode", 1, "reason",
                                                      "Error", "startedAt", jtime(s, p->created), "finishedAt",
                                                      jtime(s, k->ready_at > 0 ? k->ready_at : p->created)));
    else
        json_object_set_new(c, "lastState", json_object());
    return c;
}

json_t *kobj_pod(const kf_state *s, const kf_pod *k) {
    const pg_pod *p = &k->p;
    char h[40], rs[200], ip[64];
    tmpl_hash(s, p->name, h, sizeof h);
    snprintf(rs, sizeof rs, "%s-%s", s->name, h);
    pod_ip(k, ip, sizeof ip);
    json_t *meta = json_pack("{s:s,s:s,s:s,s:o,s:I,s:o,s:o,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]}", "name", p->name,
                             "namespace", s->ns, "uid", k->uid, "resourceVersion", jrv(k->rv), "generation",
                             (json_int_t)1, "creationTimestamp", jtime(s, p->created), "labels",
                             kobj_pod_labels(s, k), "ownerReferences", "apiVersion", "apps/v1", "kind",
                             "ReplicaSet", "name", rs, "uid", s->dep.uid, "controller", 1, "blockOwnerDeletion", 1);
    if (p->deleting) {
        double g = k->grace >= 0 ? k->grace : 30;
        json_object_set_new(meta, "deletionTimestamp", jtime(s, k->del_at + g));
        json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer((json_int_t)g));
    }
    json_t *spec = json_pack("{s:[{s:s,s:s,s:o,s:s}],s:s,s:s,s:i,s:s}", "containers", "name", s->name, "image",
                             s->image, "resources", resources(p->req_cpu, p->req_mem), "imagePullPolicy",
                             "IfNotPresent", "nodeName", s->node, "restartPolicy", "Always",
                             "terminationGracePeriodSeconds", 30, "schedulerName", "default-scheduler");
    int scheduled = 1, sandbox = strcmp(p->status, "Pending") != 0 || strcmp(p->phase, "Pending") != 0;
    json_t *conds = json_array();
    json_array_append_new(conds, condition(s, "PodReadyToStartContainers", sandbox, p->created));
    json_array_append_new(conds, condition(s, "Initialized", 1, p->created));
    json_array_append_new(conds, condition(s, "Ready", p->ready, k->ready_at));
    json_array_append_new(conds, condition(s, "ContainersReady", p->ready, k->ready_at));
    json_array_append_new(conds, condition(s, "PodScheduled", scheduled, p->created));
    json_t *status = json_pack("{s:s,s:o,s:s,s:o,s:s}", "phase", p->phase, "conditions", conds, "hostIP",
                               "10.0.0.1", "startTime", jtime(s, p->created), "qosClass", "Burstable");
    if (ip[0]) {
        json_object_set_new(status, "podIP", json_string(ip));
        json_object_set_new(status, "podIPs", json_pack("[{s:s}]", "ip", ip));
    }
    if (sandbox) json_object_set_new(status, "containerStatuses", json_pack("[o]", container_status(s, k)));
    return json_pack("{s:s,s:s,s:o,s:o,s:o}", "kind", "Pod", "apiVersion", "v1", "metadata", meta, "spec", spec,
                     "status", status);
}

static json_t *dep_meta(const kf_state *s, const kf_dep *d) {
    return json_pack("{s:s,s:s,s:s,s:o,s:I,s:o,s:{s:s},s:{s:s}}", "name", s->name, "namespace", s->ns, "uid",
                     d->uid, "resourceVersion", jrv(d->rv), "generation", (json_int_t)d->generation,
                     "creationTimestamp", jtime(s, d->created), "labels", "app", s->name, "annotations",
                     "deployment.kubernetes.io/revision", "1");
}

json_t *kobj_deployment(const kf_state *s, const kf_dep *d) {
    json_t *spec = json_pack(
        "{s:i,s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s,s:o}]}},s:{s:s,s:{s:s,s:s}},s:i,s:i}", "replicas", d->desired,
        "selector", "matchLabels", "app", s->name, "template", "metadata", "labels", "app", s->name, "spec",
        "containers", "name", s->name, "image", s->image, "resources", resources(d->cpu, d->mem), "strategy", "type",
        "RollingUpdate", "rollingUpdate", "maxUnavailable", "25%", "maxSurge", "25%", "revisionHistoryLimit", 10,
        "progressDeadlineSeconds", 600);
    int avail = d->ready >= d->desired;
    json_t *conds = json_pack(
        "[{s:s,s:s,s:s,s:s,s:o,s:o},{s:s,s:s,s:s,s:s,s:o,s:o}]", "type", "Available", "status",
        avail ? "True" : "False", "reason", avail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        "message", avail ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
        "lastUpdateTime", jtime(s, d->created), "lastTransitionTime", jtime(s, d->created), "type", "Progressing",
        "status", "True", "reason", "NewReplicaSetAvailable", "message", "ReplicaSet has successfully progressed.",
        "lastUpdateTime", jtime(s, d->created), "lastTransitionTime", jtime(s, d->created));
    json_t *status = json_pack("{s:I,s:i,s:i,s:o}", "observedGeneration", (json_int_t)d->generation, "replicas",
                               d->total, "updatedReplicas", d->total, "conditions", conds);
    if (d->ready) {
        json_object_set_new(status, "readyReplicas", json_integer(d->ready));
        json_object_set_new(status, "availableReplicas", json_integer(d->ready));
    }
    if (d->desired > d->ready) json_object_set_new(status, "unavailableReplicas", json_integer(d->desired - d->ready));
    return json_pack("{s:s,s:s,s:o,s:o,s:o}", "kind", "Deployment", "apiVersion", "apps/v1", "metadata",
                     dep_meta(s, d), "spec", spec, "status", status);
}

json_t *kobj_scale(const kf_state *s, const kf_dep *d) {
    json_t *meta = dep_meta(s, d);
    json_object_del(meta, "labels");
    json_object_del(meta, "annotations");
    json_object_del(meta, "generation");
    char sel[200];
    snprintf(sel, sizeof sel, "app=%s", s->name);
    return json_pack("{s:s,s:s,s:o,s:{s:i},s:{s:i,s:s}}", "kind", "Scale", "apiVersion", "autoscaling/v1", "metadata",
                     meta, "spec", "replicas", d->desired, "status", "replicas", d->total, "selector", sel);
}

static void go_duration(double s, char *out, size_t n) {
    if (s == floor(s)) snprintf(out, n, "%.0fs", s);
    else snprintf(out, n, "%gs", s);
}

json_t *kobj_pod_metrics(const kf_state *s, const kf_pod *k, const pg_metric *m) {
    char cpu[32], mem[32], win[32];
    snprintf(cpu, sizeof cpu, "%.0fn", m->cpu * 1e9);
    snprintf(mem, sizeof mem, "%.0fKi", ceil(m->mem / 1024.0));
    go_duration(m->window_s > 0 ? m->window_s : 1, win, sizeof win);
    json_t *meta = json_pack("{s:s,s:s,s:o}", "name", m->name, "namespace", s->ns, "creationTimestamp",
                             jtime(s, s->b->ops->now(s->b)));
    if (k) json_object_set_new(meta, "labels", kobj_pod_labels(s, k));
    return json_pack("{s:s,s:s,s:o,s:o,s:s,s:[{s:s,s:{s:s,s:s}}]}", "kind", "PodMetrics", "apiVersion",
                     "metrics.k8s.io/v1beta1", "metadata", meta, "timestamp", jtime(s, m->ts), "window", win,
                     "containers", "name", s->name, "usage", "cpu", cpu, "memory", mem);
}

/* ---- Tables ------------------------------------------------------------- */

/* kubectl's duration.HumanDuration. */
static void human_age(double d, char *out, size_t n) {
    long sec = (long)floor(d);
    if (sec < -1) { snprintf(out, n, "<invalid>"); return; }
    if (sec < 0) sec = 0;
    if (sec < 120) { snprintf(out, n, "%lds", sec); return; }
    long min = sec / 60, h = sec / 3600;
    if (min < 10) {
        if (sec % 60) snprintf(out, n, "%ldm%lds", min, sec % 60);
        else snprintf(out, n, "%ldm", min);
    } else if (min < 180) {
        snprintf(out, n, "%ldm", min);
    } else if (h < 8) {
        if (min % 60) snprintf(out, n, "%ldh%ldm", h, min % 60);
        else snprintf(out, n, "%ldh", h);
    } else if (h < 48) {
        snprintf(out, n, "%ldh", h);
    } else if (h < 24 * 8) {
        if (h % 24) snprintf(out, n, "%ldd%ldh", h / 24, h % 24);
        else snprintf(out, n, "%ldd", h / 24);
    } else if (h < 24 * 365 * 2) {
        snprintf(out, n, "%ldd", h / 24);
    } else if (h < 24 * 365 * 8) {
        long dy = (h / 24) % 365;
        if (dy) snprintf(out, n, "%ldy%ldd", h / 24 / 365, dy);
        else snprintf(out, n, "%ldy", h / 24 / 365);
    } else {
        snprintf(out, n, "%ldy", h / 24 / 365);
    }
}

typedef struct coldef { const char *name, *type, *format, *desc; int priority; } coldef;

static const coldef POD_COLS[] = {
    { "Name", "string", "name", "Name must be unique within a namespace.", 0 },
    { "Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0 },
    { "Status", "string", "", "The aggregate status of the containers in this pod.", 0 },
    { "Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0 },
    { "Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0 },
    { "IP", "string", "", "IP address allocated to the pod. Routable at least within the cluster.", 1 },
    { "Node", "string", "", "NodeName is a request to schedule this pod onto a specific node.", 1 },
    { "Nominated Node", "string", "", "nominatedNodeName is set only when this pod preempts other pods on the node.", 1 },
    { "Readiness Gates", "string", "", "If specified, all readiness gates will be evaluated for pod readiness.", 1 },
};

static const coldef DEP_COLS[] = {
    { "Name", "string", "name", "Name must be unique within a namespace.", 0 },
    { "Ready", "string", "", "Number of the pod with ready state", 0 },
    { "Up-to-date", "integer", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0 },
    { "Available", "integer", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0 },
    { "Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0 },
    { "Containers", "string", "", "Names of each container in the template.", 1 },
    { "Images", "string", "", "Images referenced by each container in the template.", 1 },
    { "Selector", "string", "", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1 },
};

json_t *kobj_table(int res, uint64_t rv) {
    const coldef *c = res == KF_PODS ? POD_COLS : DEP_COLS;
    size_t n = res == KF_PODS ? sizeof POD_COLS / sizeof *POD_COLS : sizeof DEP_COLS / sizeof *DEP_COLS;
    json_t *cols = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", c[i].name, "type", c[i].type,
                                              "format", c[i].format, "description", c[i].desc, "priority",
                                              c[i].priority));
    return json_pack("{s:s,s:s,s:{s:o},s:o,s:[]}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata",
                     "resourceVersion", jrv(rv), "columnDefinitions", cols, "rows");
}

void kobj_table_row(json_t *table, const kf_state *s, int res, const kf_pod *k, const kf_dep *d, int include) {
    char age[32];
    json_t *cells, *obj = res == KF_PODS ? kobj_pod(s, k) : kobj_deployment(s, d);
    double now = pg_wall();
    if (res == KF_PODS) {
        char ready[16], restarts[16], ip[64];
        snprintf(ready, sizeof ready, "%d/1", k->p.ready);
        snprintf(restarts, sizeof restarts, "%d", k->p.restarts);
        pod_ip(k, ip, sizeof ip);
        human_age(now - (k->p.created + s->off), age, sizeof age);
        cells = json_pack("[s,s,s,s,s,s,s,s,s]", k->p.name, ready, k->p.status, restarts, age, ip[0] ? ip : "<none>",
                          s->node, "<none>", "<none>");
    } else {
        char ready[32], sel[160];
        snprintf(ready, sizeof ready, "%d/%d", d->ready, d->desired);
        snprintf(sel, sizeof sel, "app=%s", s->name);
        human_age(now - (d->created + s->off), age, sizeof age);
        cells = json_pack("[s,s,i,i,s,s,s,s]", s->name, ready, d->total, d->ready, age, s->name, s->image, sel);
    }
    json_t *row = json_pack("{s:o}", "cells", cells);
    if (include == 2) {
        json_object_set(row, "object", obj);
    } else if (include == 1) {
        json_t *meta = json_object_get(obj, "metadata");
        json_object_set_new(row, "object", json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                                                     "meta.k8s.io/v1", "metadata", meta));
    }
    json_decref(obj);
    json_array_append_new(json_object_get(table, "rows"), row);
}
