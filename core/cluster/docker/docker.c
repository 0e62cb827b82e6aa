/* docker.c: the docker backend (see docker.h). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cluster/docker/docker.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "cluster/quantity.h"

#define NSAMPLES 64             /* stats samples kept per pod */
#define PROBE_FAST_S 0.02       /* a running pod not yet ready is probed this often */
#define PROBE_PERIOD_S 1.0      /* a ready one this often (readiness periodSeconds) */
#define PROBE_FAILURES 3        /* failures in a row that make a ready pod not ready (failureThreshold) */
#define PULL_SHOWN_S 2.0        /* ErrImagePull, then ImagePullBackOff */
#define RECONNECT_S 0.5         /* the daemon gone: try its socket again this often */
#define MAX_WORDS 64

typedef struct sample {
    double t;                   /* wall s when it arrived */
    double cpu_total, sys_total;/* ns */
    double ncpu;
    double mem;                 /* bytes, usage - inactive_file */
} sample;

typedef struct dpod {
    char id[72];                /* "" while no container exists (the image pull failed) */
    char name[96];
    int slot, port;
    char state[16];             /* created running restarting exited paused removing dead */
    int exit_code, restarts;
    double created, started;    /* wall s */
    int ready;
    int probe_fails;            /* failed probes in a row */
    double probed;              /* mono s of the last probe */
    int deleting, stopper;      /* a stop + remove is under way / its thread runs */
    int pull_failed;
    double pull_at, retry_at;   /* mono s: the failed create, the next try */
    int retries;
    int stats_on, gone;         /* a stats thread runs; removed from the cache */
    volatile int stats_fd;
    int refs;                   /* the cache, its stats thread */
    sample s[NSAMPLES];
    int ns, head;               /* s[head] is the newest */
} dpod;

struct dock_backend {
    pg_backend base;
    dock_client cli;
    char dep[PG_NAME_MAX];
    pg_docker_conf conf;
    dock_template tpl;          /* under mu */
    double req_cpu, req_mem;
    char filter[512];           /* the labels, as a URL-encoded filters= value */
    char efilter[600];          /* the same, for container events */

    pthread_mutex_t mu;         /* everything below */
    pthread_cond_t cv;          /* any change: a pod, readiness, metrics, the daemon */
    uint64_t gen;               /* moves with every broadcast of cv (atomic): dock_changes */
    pthread_cond_t probe_cv;
    pthread_mutex_t ctl;        /* one reconcile at a time (scale, delete, start-up) */
    dpod **pods;
    size_t npods, cap;
    int desired, have_state;
    char state_name[128];
    int down, synced;
    int adopted;                /* the count was completed once (on first use) */
    char down_msg[480];
    int stop;
    int workers;                /* detached threads alive (stats, stoppers) */
    volatile int events_fd;
    pthread_t events_thr, probe_thr;
    uint64_t rng;
};

static const pg_backend_ops dock_ops;

/* Something the waits, dock_changes or the prober may care about changed. */
static void changed(dock_backend *d) {
    __atomic_add_fetch(&d->gen, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&d->cv);
}

/* ---- small helpers ---------------------------------------------------- */

static double parse_time(const char *s) {
    struct tm tm = { 0 };
    if (!s) return 0;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return 0;
    double frac = 0;
    if (*p == '.') frac = strtod(p, NULL);
    time_t t = timegm(&tm);
    return t <= 0 ? 0 : (double)t + frac;
}

static const char *label(json_t *labels, const char *k) { return json_string_value(json_object_get(labels, k)); }

int dock_split(const char *line, int port, char *buf, size_t blen, char **words, int max) {
    size_t o = 0;
    int n = 0, in = 0;
    char q = 0;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    for (const char *p = line;; p++) {
        char c = *p;
        if (!c || (!q && (c == ' ' || c == '\t' || c == '\n'))) {
            if (q && !c) return -1;
            if (in) {
                if (o >= blen) return -1;
                buf[o++] = '\0';
                in = 0;
            }
            if (!c) break;
            continue;
        }
        if (!in) {
            if (n >= max) return -1;
            words[n++] = buf + o;
            in = 1;
        }
        if (!q && (c == '\'' || c == '"')) { q = c; continue; }
        if (q && c == q) { q = 0; continue; }
        if (c == '\\' && q != '\'' && p[1]) c = *++p;
        else if (c == '{' && !strncmp(p, "{port}", 6)) {
            size_t k = strlen(ps);
            if (o + k >= blen) return -1;
            memcpy(buf + o, ps, k);
            o += k;
            p += 5;
            continue;
        }
        if (o + 1 >= blen) return -1;
        buf[o++] = c;
    }
    return n;
}

static void unref(dpod *p) {
    if (--p->refs == 0) free(p);
}

static dpod *find_id(dock_backend *d, const char *id) {
    for (size_t i = 0; i < d->npods; i++)
        if (d->pods[i]->id[0] && !strcmp(d->pods[i]->id, id)) return d->pods[i];
    return NULL;
}

static dpod *find_name(dock_backend *d, const char *name) {
    for (size_t i = 0; i < d->npods; i++)
        if (!strcmp(d->pods[i]->name, name)) return d->pods[i];
    return NULL;
}

static int add_pod(dock_backend *d, dpod *p) {
    if (d->npods == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        dpod **v = realloc(d->pods, cap * sizeof *v);
        if (!v) return -1;
        d->pods = v;
        d->cap = cap;
    }
    d->pods[d->npods++] = p;
    return 0;
}

/* Drop p from the cache (mu held). Its stats thread sees gone and ends. */
static void drop_pod(dock_backend *d, dpod *p) {
    for (size_t i = 0; i < d->npods; i++) {
        if (d->pods[i] != p) continue;
        memmove(&d->pods[i], &d->pods[i + 1], (d->npods - i - 1) * sizeof *d->pods);
        d->npods--;
        p->gone = 1;
        if (p->stats_fd >= 0) shutdown(p->stats_fd, SHUT_RDWR);
        unref(p);
        changed(d);
        return;
    }
}

static int unavailable(dock_backend *d, pg_err *e) {
    return pg_errf(e, 503, "backend_unavailable", "%s", d->down_msg[0] ? d->down_msg : "docker daemon is not reachable");
}

/* Start a detached worker (counted, so destroy waits for it). */
static int spawn(dock_backend *d, void *(*fn)(void *), void *arg) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    d->workers++;
    int rc = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    if (rc != 0) d->workers--;
    return rc == 0 ? 0 : -1;
}

static void worker_done(dock_backend *d) {
    pthread_mutex_lock(&d->mu);
    d->workers--;
    changed(d);
    pthread_mutex_unlock(&d->mu);
}

/* ---- stats: one stream per running container --------------------------- */

typedef struct stats_arg {
    dock_backend *d;
    dpod *p;
} stats_arg;

static double num(json_t *o, const char *path) {
    char key[64];
    json_t *j = o;
    for (const char *p = path; j && *p;) {
        size_t k = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)k, p);
        j = json_object_get(j, key);
        p += k + (p[k] == '.');
    }
    return j ? json_number_value(j) : NAN;
}

static int on_stats(void *ud, json_t *line) {
    stats_arg *a = ud;
    dock_backend *d = a->d;
    dpod *p = a->p;
    double sys = num(line, "cpu_stats.system_cpu_usage"), tot = num(line, "cpu_stats.cpu_usage.total_usage");
    double ncpu = num(line, "cpu_stats.online_cpus");
    if (!(ncpu > 0))            /* an old daemon: one entry per CPU */
        ncpu = (double)json_array_size(
            json_object_get(json_object_get(json_object_get(line, "cpu_stats"), "cpu_usage"), "percpu_usage"));
    if (!(ncpu > 0)) ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    double usage = num(line, "memory_stats.usage");
    double inact = num(line, "memory_stats.stats.total_inactive_file");      /* cgroup v1 */
    if (isnan(inact)) inact = num(line, "memory_stats.stats.inactive_file"); /* cgroup v2 */
    if (isnan(inact)) inact = 0;
    pthread_mutex_lock(&d->mu);
    int stop = d->stop || p->gone;
    if (!stop && sys > 0 && !isnan(tot) && !isnan(usage)) {
        double now = pg_wall();
        const sample *last = p->ns ? &p->s[p->head] : NULL;
        if (!last || now - last->t >= d->conf.stats_resolution_s * 0.9) {
            p->head = p->ns ? (p->head + 1) % NSAMPLES : 0;
            if (p->ns < NSAMPLES) p->ns++;
            p->s[p->head] = (sample){ now, tot, sys, ncpu, fmax(0, usage - inact) };
            changed(d);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return stop;
}

static void want_stats(dock_backend *d, dpod *p);

static void *stats_main(void *arg) {
    stats_arg *a = arg;
    dock_backend *d = a->d;
    dpod *p = a->p;
    char path[160];
    snprintf(path, sizeof path, "/containers/%s/stats?stream=1", p->id);
    pg_err e = { 0 };
    double t0 = pg_mono();
    dock_stream(&d->cli, path, on_stats, NULL, a, &p->stats_fd, &e);
    pthread_mutex_lock(&d->mu);
    p->stats_on = 0;
    p->ns = 0;                  /* a restarted container starts a new window */
    if (pg_mono() - t0 >= 1)    /* it runs again already: a new stream (a stream that failed at */
        want_stats(d, p);       /* once waits for the container's next event or a fresh list) */
    unref(p);
    d->workers--;
    changed(d);
    pthread_mutex_unlock(&d->mu);
    free(a);
    return NULL;
}

/* mu held: a running pod gets its stats stream. */
static void want_stats(dock_backend *d, dpod *p) {
    if (p->stats_on || d->stop || d->down || p->gone || strcmp(p->state, "running")) return;
    stats_arg *a = malloc(sizeof *a);
    if (!a) return;
    *a = (stats_arg){ d, p };
    p->stats_on = 1;
    p->stats_fd = -1;
    p->refs++;
    if (spawn(d, stats_main, a) != 0) {
        p->stats_on = 0;
        p->refs--;
        free(a);
    }
}

/* The metric of p over the window (mu held): 0 when a full window exists. */
static int pod_metric(dock_backend *d, const dpod *p, pg_metric *m) {
    if (p->ns < 2 || strcmp(p->state, "running") || p->deleting) return -1;
    const sample *n = &p->s[p->head];
    double eps = d->conf.stats_resolution_s * 0.25;
    for (int k = 1; k < p->ns; k++) {
        const sample *o = &p->s[(p->head - k + NSAMPLES) % NSAMPLES];
        if (n->t - o->t < d->conf.stats_window_s - eps) continue;
        double dsys = n->sys_total - o->sys_total, dcpu = n->cpu_total - o->cpu_total;
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "%s", p->name);
        m->cpu = dsys > 0 && dcpu >= 0 ? dcpu / dsys * n->ncpu : 0;
        m->mem = n->mem;
        m->ts = n->t;
        m->window_s = n->t - o->t;
        return 0;
    }
    return -1;
}

/* ---- the cache, from inspect answers ------------------------------------ */

/* Update (or add) the pod of an inspect answer (mu held). */
static void apply_inspect(dock_backend *d, json_t *c) {
    const char *id = json_string_value(json_object_get(c, "Id"));
    json_t *cfg = json_object_get(c, "Config"), *st = json_object_get(c, "State");
    json_t *labels = json_object_get(cfg, "Labels");
    if (!id || !labels) return;
    const char *dep = label(labels, "podgym.deployment"), *mg = label(labels, "podgym.managed");
    if (!dep || strcmp(dep, d->dep) || !mg || strcmp(mg, "true")) return;     /* never another's */
    if (label(labels, "podgym.role")) return;                                 /* the state container */
    const char *name = json_string_value(json_object_get(c, "Name"));
    dpod *p = find_id(d, id);
    if (!p && name) {           /* the event of a container being created: its placeholder, if any */
        dpod *ph = find_name(d, name + (name[0] == '/'));
        if (ph && !ph->id[0]) {
            p = ph;
            snprintf(p->id, sizeof p->id, "%s", id);
        }
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) return;
        p->refs = 1;
        p->stats_fd = -1;
        snprintf(p->id, sizeof p->id, "%s", id);
        if (add_pod(d, p) != 0) {
            free(p);
            return;
        }
    }
    snprintf(p->name, sizeof p->name, "%s", name ? name + (name[0] == '/') : id);
    const char *slot = label(labels, "podgym.slot"), *port = label(labels, "podgym.port");
    p->slot = slot ? atoi(slot) : 0;
    p->port = port ? atoi(port) : 0;
    const char *state = json_string_value(json_object_get(st, "Status"));
    snprintf(p->state, sizeof p->state, "%s", state ? state : "dead");
    p->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    p->restarts = (int)json_integer_value(json_object_get(c, "RestartCount"));
    p->created = parse_time(json_string_value(json_object_get(c, "Created")));
    p->started = parse_time(json_string_value(json_object_get(st, "StartedAt")));
    if (strcmp(p->state, "running")) {
        p->ready = 0;
        if (p->stats_fd >= 0) shutdown(p->stats_fd, SHUT_RDWR);  /* a new stream when it runs again */
    } else if (!d->conf.readiness[0]) {
        p->ready = 1;
    }
    want_stats(d, p);
    changed(d);
    pthread_cond_signal(&d->probe_cv);
}

/* Read the desired count from the state container's name (mu held). */
static void apply_state(dock_backend *d, const char *name) {
    const char *r = name ? strrchr(name, '.') : NULL;
    if (!r || r[1] != 'r') return;
    d->desired = atoi(r + 2);
    d->have_state = 1;
    snprintf(d->state_name, sizeof d->state_name, "%s", name + (name[0] == '/'));
}

static int inspect(dock_backend *d, const char *id, json_t **out, pg_err *e) {
    char path[160];
    snprintf(path, sizeof path, "/containers/%s/json", id);
    return dock_call(&d->cli, "GET", path, NULL, NULL, out, e);
}

static void delete_locked(dock_backend *d, dpod *p, double grace);

/* List the labelled containers afresh and rebuild the cache from them. */
static int resync(dock_backend *d, pg_err *e) {
    char path[700];
    json_t *list = NULL;
    snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", d->filter);
    if (dock_call(&d->cli, "GET", path, NULL, NULL, &list, e) != 0) return -1;
    size_t n = json_array_size(list);
    json_t **found = calloc(n + 1, sizeof *found);
    const char *state = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(list, i);
        json_t *labels = json_object_get(c, "Labels");
        if (label(labels, "podgym.role")) {
            if (!state) state = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
            continue;
        }
        const char *id = json_string_value(json_object_get(c, "Id"));
        pg_err ie = { 0 };
        if (found && id) inspect(d, id, &found[i], &ie);
    }
    pthread_mutex_lock(&d->mu);
    if (state) apply_state(d, state);
    for (size_t i = 0; i < d->npods;) {         /* containers gone while nobody listened */
        dpod *p = d->pods[i];
        int seen = !p->id[0];
        for (size_t k = 0; k < n && !seen; k++)
            seen = found && found[k] && !strcmp(json_string_value(json_object_get(found[k], "Id")) ?: "", p->id);
        if (seen) i++;
        else drop_pod(d, p);
    }
    d->down = 0;
    for (size_t i = 0; i < n; i++)
        if (found && found[i]) apply_inspect(d, found[i]);
    for (size_t i = 0; i < d->npods; i++)      /* a stop that failed while the daemon was gone */
        if (d->pods[i]->deleting && !d->pods[i]->stopper) delete_locked(d, d->pods[i], -1);
    changed(d);
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n; i++) json_decref(found ? found[i] : NULL);
    free(found);
    json_decref(list);
    return 0;
}

/* ---- events ------------------------------------------------------------ */

static int on_event(void *ud, json_t *ev) {
    dock_backend *d = ud;
    const char *action = json_string_value(json_object_get(ev, "Action"));
    json_t *actor = json_object_get(ev, "Actor");
    const char *id = json_string_value(json_object_get(actor, "ID"));
    json_t *attrs = json_object_get(actor, "Attributes");
    if (!action || !id || !strncmp(action, "exec_", 5)) return d->stop;
    if (label(attrs, "podgym.role")) {
        if (!strcmp(action, "rename") || !strcmp(action, "create")) {
            pthread_mutex_lock(&d->mu);
            apply_state(d, label(attrs, "name"));
            pthread_mutex_unlock(&d->mu);
        }
        return d->stop;
    }
    json_t *c = NULL;
    pg_err e = { 0 };
    int rc = strcmp(action, "destroy") ? inspect(d, id, &c, &e) : -1;
    pthread_mutex_lock(&d->mu);
    if (rc == 0) {
        apply_inspect(d, c);
    } else if (!strcmp(action, "destroy") || e.status == 404) {
        dpod *p = find_id(d, id);
        if (p) drop_pod(d, p);
    }
    int stop = d->stop;
    pthread_mutex_unlock(&d->mu);
    json_decref(c);
    return stop;
}

static int store_desired(dock_backend *d, int n, pg_err *e);
static void reconcile(dock_backend *d, pg_err *e);
static int live(const dpod *p);

/* Start the containers that were created and never started (a podgym killed
 * between the create and the start, or a start that failed): as a kubelet
 * would, once more (ctl held). */
static void start_created(dock_backend *d) {
    char ids[64][72];
    int k = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->npods && k < 64; i++) {
        const dpod *p = d->pods[i];
        if (p->id[0] && !p->deleting && !strcmp(p->state, "created")) snprintf(ids[k++], sizeof ids[0], "%s", p->id);
    }
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < k; i++) {
        char path[200];
        long st = 0;
        pg_err e = { 0 };
        snprintf(path, sizeof path, "/containers/%.72s/start", ids[i]);
        if (dock_call(&d->cli, "POST", path, NULL, &st, NULL, &e) != 0 && st != 304)
            pg_log(PG_LOG_WARN, "docker: start %.12s: %s", ids[i], e.message);
    }
}

/* After a fresh list: store the desired count when the daemon holds none
 * (what runs, else docker.replicas), then complete it. once: only if no
 * adoption ran yet (the first use). */
static void adopt(dock_backend *d, int once) {
    pthread_mutex_lock(&d->ctl);
    pthread_mutex_lock(&d->mu);
    if (once && d->adopted) {
        pthread_mutex_unlock(&d->mu);
        pthread_mutex_unlock(&d->ctl);
        return;
    }
    int have = d->have_state, n = 0;
    for (size_t i = 0; i < d->npods; i++) n += live(d->pods[i]);
    pthread_mutex_unlock(&d->mu);
    pg_err se = { 0 };
    if (!have && store_desired(d, n ? n : d->conf.replicas, &se) != 0)
        pg_log(PG_LOG_WARN, "docker: cannot store the desired count: %s", se.message);
    start_created(d);
    reconcile(d, NULL);
    pthread_mutex_unlock(&d->ctl);
    pthread_mutex_lock(&d->mu);
    pg_log(PG_LOG_INFO, "docker: deployment %s: %d container%s adopted, %d desired", d->dep, n, n == 1 ? "" : "s",
           d->desired);
    d->adopted = 1;
    changed(d);
    pthread_mutex_unlock(&d->mu);
}

/* The cache is listed: the first time, open() may return (the count is
 * completed on first use, so `podgym check` changes nothing); after the
 * daemon was gone, the count is completed again at once. */
static void on_events_open(void *ud) {
    dock_backend *d = ud;
    pg_err e = { 0 };
    if (resync(d, &e) != 0) {
        pg_log(PG_LOG_WARN, "docker: cannot list the containers: %s", e.message);
        return;
    }
    pthread_mutex_lock(&d->mu);
    int again = d->adopted;
    if (!d->synced)
        pg_log(PG_LOG_INFO, "docker: %s (API %s), deployment %s: %zu pod%s found", d->cli.socket, d->cli.version,
               d->dep, d->npods, d->npods == 1 ? "" : "s");
    d->synced = 1;
    changed(d);
    pthread_mutex_unlock(&d->mu);
    if (again) adopt(d, 0);
}

/* Before the first operation: adopt what exists and complete the count. */
static void first_use(dock_backend *d) {
    pthread_mutex_lock(&d->mu);
    int need = !d->adopted && !d->down && d->synced;
    pthread_mutex_unlock(&d->mu);
    if (need) adopt(d, 1);
}

static void mark_down(dock_backend *d, const pg_err *e) {
    pthread_mutex_lock(&d->mu);
    if (!d->down && !d->stop) pg_log(PG_LOG_WARN, "docker: %s", e->message);
    d->down = 1;
    snprintf(d->down_msg, sizeof d->down_msg, "%s", e->message);
    for (size_t i = 0; i < d->npods; i++) d->pods[i]->ready = 0;
    changed(d);
    pthread_mutex_unlock(&d->mu);
}

static void *events_main(void *arg) {
    dock_backend *d = arg;
    char path[800];
    snprintf(path, sizeof path, "/events?filters=%s", d->efilter);
    int first = 1;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        int stop = d->stop, was_down = d->down;
        pthread_mutex_unlock(&d->mu);
        if (stop) break;
        pg_err e = { 0 };
        if (was_down || first) {
            if (dock_negotiate(&d->cli, &e) != 0) goto down;
        }
        if (was_down && !first) pg_log(PG_LOG_INFO, "docker: the daemon at %s answers again", d->cli.socket);
        {
            /* reconcile once the cache is listed again: the daemon may have
             * lost containers (a restart without live-restore) */
            int rc = dock_stream(&d->cli, path, on_event, on_events_open, d, &d->events_fd, &e);
            pthread_mutex_lock(&d->mu);
            stop = d->stop;
            pthread_mutex_unlock(&d->mu);
            if (stop) break;
            if (rc == 0) pg_errf(&e, 503, "backend_unavailable", "docker daemon at %s closed the events stream",
                                 d->cli.socket);
        }
    down:
        first = 0;
        mark_down(d, &e);
        pthread_mutex_lock(&d->mu);
        d->synced = 1;          /* start-up need not wait any longer */
        struct timespec ts = pg_wall_after(RECONNECT_S);
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) != ETIMEDOUT) {}
        pthread_mutex_unlock(&d->mu);
    }
    return NULL;
}

/* ---- readiness --------------------------------------------------------- */

static size_t discard(char *p, size_t s, size_t n, void *ud) { return s * n; }

static int probe(dock_backend *d, int port) {
    char url[400];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, d->conf.readiness);
    CURL *h = curl_easy_init();
    if (!h) return 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    long st = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(h);
    return st >= 200 && st < 400;
}

static void *probe_main(void *arg) {
    dock_backend *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        double now = pg_mono(), next = now + PROBE_PERIOD_S;
        dpod *todo[32];
        int n = 0;
        for (size_t i = 0; i < d->npods && n < 32; i++) {
            dpod *p = d->pods[i];
            if (!d->conf.readiness[0] || d->down || p->deleting || strcmp(p->state, "running") || p->port <= 0)
                continue;
            double due = p->probed + (p->ready ? PROBE_PERIOD_S : PROBE_FAST_S);
            if (due <= now) {
                p->refs++;
                todo[n++] = p;
            } else if (due < next) {
                next = due;
            }
        }
        for (int i = 0; i < n; i++) {
            dpod *p = todo[i];
            int port = p->port;
            pthread_mutex_unlock(&d->mu);
            int ok = probe(d, port);
            pthread_mutex_lock(&d->mu);
            p->probed = pg_mono();
            int up = !p->gone && !strcmp(p->state, "running") && !p->deleting;
            p->probe_fails = ok ? 0 : p->probe_fails + 1;
            int ready = up && (ok || (p->ready && p->probe_fails < PROBE_FAILURES));
            if (ready != p->ready) {
                p->ready = ready;
                changed(d);
            }
            if (!p->ready) next = fmin(next, p->probed + PROBE_FAST_S);
            unref(p);
        }
        if (n) continue;
        struct timespec ts = pg_wall_after(fmax(0.005, next - pg_mono()));
        pthread_cond_timedwait(&d->probe_cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- creating and removing containers ---------------------------------- */

typedef struct stop_arg {
    dock_backend *d;
    char id[72];
    double grace;
} stop_arg;

static void *stop_main(void *arg) {
    stop_arg *a = arg;
    dock_backend *d = a->d;
    char path[200];
    pg_err e = { 0 };
    dock_client cli = d->cli;
    cli.timeout_s = d->cli.timeout_s + a->grace;
    snprintf(path, sizeof path, "/containers/%s/stop?t=%d", a->id, (int)ceil(a->grace));
    long st = 0;
    if (dock_call(&cli, "POST", path, NULL, &st, NULL, &e) != 0 && st != 304 && st != 404)
        pg_log(PG_LOG_WARN, "docker: stop %.12s: %s", a->id, e.message);
    snprintf(path, sizeof path, "/containers/%s?force=1&v=1", a->id);
    if (st != 404 && dock_call(&cli, "DELETE", path, NULL, &st, NULL, &e) != 0 && st != 404)
        pg_log(PG_LOG_WARN, "docker: remove %.12s: %s", a->id, e.message);
    pthread_mutex_lock(&d->mu);
    dpod *p = find_id(d, a->id);
    if (p) {
        p->stopper = 0;
        if (st == 404 || (st >= 200 && st < 300)) drop_pod(d, p);   /* the destroy event may come later */
    }
    pthread_mutex_unlock(&d->mu);
    worker_done(d);
    free(a);
    return NULL;
}

/* Mark p deleting and start its stop + remove (mu held). */
static void delete_locked(dock_backend *d, dpod *p, double grace) {
    p->ready = 0;
    if (!p->id[0]) {            /* no container: nothing to stop */
        drop_pod(d, p);
        return;
    }
    p->deleting = 1;
    changed(d);
    if (p->stopper) return;
    stop_arg *a = malloc(sizeof *a);
    if (!a) return;
    a->d = d;
    snprintf(a->id, sizeof a->id, "%s", p->id);
    a->grace = grace < 0 ? d->conf.grace_s : grace;
    p->stopper = 1;
    if (spawn(d, stop_main, a) != 0) {
        p->stopper = 0;
        free(a);
    }
}

static void pod_name(dock_backend *d, char *out, size_t n) {
    static const char al[] = "bcdfghjklmnpqrstvwxz2456789";     /* as Kubernetes' suffixes */
    char sfx[6];
    for (int i = 0; i < 5; i++) {
        d->rng = d->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        sfx[i] = al[(d->rng >> 33) % (sizeof al - 1)];
    }
    sfx[5] = '\0';
    snprintf(out, n, "%.80s-%s", d->dep, sfx);
}

static json_t *labels_json(dock_backend *d) {
    return json_pack("{ssss}", "podgym.deployment", d->dep, "podgym.managed", "true");
}

/* The create body of a replica in slot with port (template t). */
static json_t *create_body(dock_backend *d, const dock_template *t, int slot, int port, pg_err *e) {
    char buf[PG_URL_MAX * 2], *w[MAX_WORDS], pstr[16];
    snprintf(pstr, sizeof pstr, "%d", port);
    json_t *labels = labels_json(d);
    json_object_set_new(labels, "podgym.port", json_string(pstr));
    json_object_set_new(labels, "podgym.slot", json_sprintf("%d", slot));
    json_t *env = json_array();
    json_array_append_new(env, json_sprintf("PORT=%d", port));
    int n = dock_split(t->env, port, buf, sizeof buf, w, MAX_WORDS);
    for (int i = 0; i < n; i++) json_array_append_new(env, json_string(w[i]));
    json_t *hc = json_pack("{sIsIs{ss}}", "NanoCpus", (json_int_t)llround(d->conf.cpu * 1e9), "Memory",
                           (json_int_t)llround(d->req_mem), "RestartPolicy", "Name", d->conf.restart);
    json_t *body = json_pack("{sssoso}", "Image", t->image, "Env", env, "Labels", labels);
    if (!strcmp(d->conf.network, "host")) {
        json_object_set_new(hc, "NetworkMode", json_string("host"));
    } else {
        char key[32];
        snprintf(key, sizeof key, "%d/tcp", port);
        json_object_set_new(hc, "NetworkMode", json_string("bridge"));
        json_object_set_new(hc, "PortBindings",
                            json_pack("{s[{ssss}]}", key, "HostIp", "127.0.0.1", "HostPort", pstr));
        json_object_set_new(body, "ExposedPorts", json_pack("{s{}}", key));
    }
    json_object_set_new(body, "HostConfig", hc);
    if (t->command[0]) {
        n = dock_split(t->command, port, buf, sizeof buf, w, MAX_WORDS);
        if (n <= 0) {
            json_decref(body);
            pg_errf(e, 400, "bad_request", "docker.command: cannot split '%s'", t->command);
            return NULL;
        }
        json_t *cmd = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(cmd, json_string(w[i]));
        json_object_set_new(body, "Cmd", cmd);
    }
    return body;
}

/* Create and start the container of pod p (no lock held; p is not in the
 * cache yet, or is a placeholder whose slot it keeps). Fills p->id, or
 * p->pull_failed on 404 "No such image". */
static int create_pod(dock_backend *d, dpod *p, const dock_template *t, pg_err *e) {
    json_t *body = create_body(d, t, p->slot, p->port, e), *out = NULL;
    if (!body) return -1;
    char path[200];
    int rc = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        snprintf(path, sizeof path, "/containers/create?name=%s", p->name);
        long st = 0;
        rc = dock_call(&d->cli, "POST", path, body, &st, &out, e);
        if (rc == 0 || st != 409) break;
        pthread_mutex_lock(&d->mu);
        pod_name(d, p->name, sizeof p->name);   /* the name is taken: another */
        pthread_mutex_unlock(&d->mu);
    }
    json_decref(body);
    if (rc != 0) {
        if (e->status == 404 && strstr(e->message, "No such image")) p->pull_failed = 1;
        return -1;
    }
    const char *id = json_string_value(json_object_get(out, "Id"));
    if (!id || !*id || strlen(id) >= sizeof p->id) {    /* no container to track: not a pod */
        json_decref(out);
        return pg_errf(e, 502, "backend_error", "docker POST %s: the answer has no container Id", path);
    }
    snprintf(p->id, sizeof p->id, "%s", id);
    json_decref(out);
    p->pull_failed = 0;
    snprintf(path, sizeof path, "/containers/%s/start", p->id);
    long st = 0;
    if (dock_call(&d->cli, "POST", path, NULL, &st, NULL, e) != 0 && st != 304) {
        pg_log(PG_LOG_WARN, "docker: start %s: %s", p->name, e->message);
        return 0;               /* the container exists (Created): a pod all the same */
    }
    return 0;
}

/* The pods that count toward the desired count: not deleting, not exited. */
static int live(const dpod *p) {
    return !p->deleting && strcmp(p->state, "exited") && strcmp(p->state, "dead") && strcmp(p->state, "removing");
}

/* Victim order for a scale-in: placeholders, not ready, then newest. */
static int worse(const dpod *a, const dpod *b) {
    if (!a->id[0] != !b->id[0]) return !a->id[0];
    if (a->ready != b->ready) return !a->ready;
    return a->created > b->created;
}

/* Bring the live pods to the desired count (ctl held, mu not): remove the
 * worst extra ones; create the missing in the lowest free slots; retry the
 * failed image pulls whose back-off passed. */
static void reconcile(dock_backend *d, pg_err *e) {
    pthread_mutex_lock(&d->mu);
    if (d->down || d->stop) {
        pthread_mutex_unlock(&d->mu);
        return;
    }
    int n = 0;
    for (size_t i = 0; i < d->npods; i++) n += live(d->pods[i]);
    while (n > d->desired) {
        dpod *v = NULL;
        for (size_t i = 0; i < d->npods; i++)
            if (live(d->pods[i]) && (!v || worse(d->pods[i], v))) v = d->pods[i];
        delete_locked(d, v, -1);
        n--;
    }
    dpod *todo[64];
    int k = 0;
    double now = pg_mono();
    for (size_t i = 0; i < d->npods && k < 64; i++) {   /* failed pulls due for another try */
        dpod *p = d->pods[i];
        if (p->pull_failed && !p->id[0] && p->retry_at <= now) {
            p->refs++;
            todo[k++] = p;
        }
    }
    for (; n < d->desired && k < 64; n++) {
        dpod *p = calloc(1, sizeof *p);
        if (!p) break;
        p->refs = 1;
        p->stats_fd = -1;
        for (int slot = 0;; slot++) {           /* the lowest slot no pod holds */
            size_t i = 0;
            while (i < d->npods && d->pods[i]->slot != slot) i++;
            if (i == d->npods) {
                p->slot = slot;
                break;
            }
        }
        p->port = d->conf.port_base + p->slot;
        pod_name(d, p->name, sizeof p->name);
        snprintf(p->state, sizeof p->state, "created");
        p->created = pg_wall();
        p->refs++;
        add_pod(d, p);
        todo[k++] = p;
    }
    dock_template t = d->tpl;
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < k; i++) {
        dpod *p = todo[i];
        dpod tmp;
        pthread_mutex_lock(&d->mu);
        tmp = *p;
        pthread_mutex_unlock(&d->mu);
        tmp.id[0] = '\0';
        pg_err ce = { 0 };
        int rc = create_pod(d, &tmp, &t, &ce);
        pthread_mutex_lock(&d->mu);
        snprintf(p->name, sizeof p->name, "%s", tmp.name);
        if (rc == 0 && !p->gone) {
            dpod *dup = find_id(d, tmp.id);     /* the event came first */
            snprintf(p->id, sizeof p->id, "%s", tmp.id);
            p->pull_failed = 0;
            if (dup && dup != p) drop_pod(d, p);
        } else if (rc == 0) {                   /* deleted while it was created */
            stop_arg *a = malloc(sizeof *a);
            if (a) {
                *a = (stop_arg){ d, "", 0 };
                snprintf(a->id, sizeof a->id, "%s", tmp.id);
                if (spawn(d, stop_main, a) != 0) free(a);
            }
        } else if (tmp.pull_failed) {
            if (!p->pull_failed) p->pull_at = pg_mono();
            p->pull_failed = 1;
            p->retries++;
            p->retry_at = pg_mono() + fmin(30, 2.0 * (1 << (p->retries < 5 ? p->retries : 5)));
            snprintf(p->state, sizeof p->state, "pull");
        } else {
            if (e && !e->code[0]) *e = ce;
            pg_log(PG_LOG_WARN, "docker: create %s: %s", p->name, ce.message);
            if (!p->pull_failed) drop_pod(d, p);
        }
        changed(d);
        unref(p);
        pthread_mutex_unlock(&d->mu);
    }
}

/* ---- the state container ---------------------------------------------- */

#define STATE_IMAGE "podgym-state:scratch"

static int import_scratch(dock_backend *d, pg_err *e) {
    static const char empty_tar[1024];          /* two zero blocks: an empty archive */
    char *out = NULL;
    int rc = dock_call_raw(&d->cli, "POST", "/images/create?fromSrc=-&repo=podgym-state&tag=scratch",
                           "application/x-tar", empty_tar, sizeof empty_tar, NULL, &out, NULL, e);
    free(out);
    return rc;
}

/* Write the desired count n to the daemon (ctl held). */
static int store_desired(dock_backend *d, int n, pg_err *e) {
    char name[160], path[400];
    snprintf(name, sizeof name, "podgym-state.%s.r%d", d->dep, n);
    pthread_mutex_lock(&d->mu);
    int have = d->have_state;
    char old[128];
    snprintf(old, sizeof old, "%s", d->state_name);
    pthread_mutex_unlock(&d->mu);
    if (have && !strcmp(old, name)) return 0;
    long st = 0;
    if (have) {
        snprintf(path, sizeof path, "/containers/%s/rename?name=%s", old, name);
        if (dock_call(&d->cli, "POST", path, NULL, &st, NULL, e) != 0 && st != 404) return -1;
    }
    if (!have || st == 404) {
        json_t *labels = labels_json(d);
        json_object_set_new(labels, "podgym.role", json_string("state"));
        json_t *body = json_pack("{sss[s]so s{ss}}", "Image", STATE_IMAGE, "Cmd", "podgym-state", "Labels", labels,
                                 "HostConfig", "NetworkMode", "none");
        snprintf(path, sizeof path, "/containers/create?name=%s", name);
        int rc = dock_call(&d->cli, "POST", path, body, &st, NULL, e);
        if (rc != 0 && st == 404) {
            if (import_scratch(d, e) != 0) {
                json_decref(body);
                return -1;
            }
            rc = dock_call(&d->cli, "POST", path, body, &st, NULL, e);
        }
        json_decref(body);
        if (rc != 0) return -1;
    }
    pthread_mutex_lock(&d->mu);
    apply_state(d, name);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* ---- the ops ----------------------------------------------------------- */

#define D(b) ((dock_backend *)(b))

static const char *pod_status(const dock_backend *d, const dpod *p, char *phase, size_t n) {
    const char *ph = "Running", *s = "Running";
    if (p->deleting || !strcmp(p->state, "removing")) s = "Terminating";
    else if (p->pull_failed && !p->id[0]) {
        ph = "Pending";
        s = pg_mono() - p->pull_at < PULL_SHOWN_S ? "ErrImagePull" : "ImagePullBackOff";
    } else if (!strcmp(p->state, "created")) {
        ph = "Pending";
        s = "ContainerCreating";
    } else if (!strcmp(p->state, "restarting")) {
        s = "CrashLoopBackOff";
    } else if (!strcmp(p->state, "exited") || !strcmp(p->state, "dead")) {
        if (p->restarts > 0 && strcmp(d->conf.restart, "no")) s = "CrashLoopBackOff";
        else if (p->exit_code == 0 && strcmp(p->state, "dead")) ph = "Succeeded", s = "Completed";
        else ph = "Failed", s = "Error";
    }
    snprintf(phase, n, "%s", ph);
    return s;
}

/* Lock the cache and allocate one entry of size per pod (+1); NULL with e
 * filled (and mu free) when the daemon is gone or memory is short. */
static void *cache_begin(dock_backend *d, size_t size, pg_err *e) {
    pthread_mutex_lock(&d->mu);
    if (d->down) {
        pthread_mutex_unlock(&d->mu);
        unavailable(d, e);
        return NULL;
    }
    void *v = calloc(d->npods + 1, size);
    if (!v) {
        pthread_mutex_unlock(&d->mu);
        pg_errf(e, 500, "no_memory", "out of memory");
    }
    return v;
}

static int dock_pods(pg_backend *b, pg_pod **out, size_t *n, pg_err *e) {
    dock_backend *d = D(b);
    first_use(d);
    pg_pod *v = cache_begin(d, sizeof *v, e);
    if (!v) return -1;
    for (size_t i = 0; i < d->npods; i++) {
        const dpod *p = d->pods[i];
        pg_pod *q = &v[i];
        snprintf(q->name, sizeof q->name, "%s", p->name);
        snprintf(q->status, sizeof q->status, "%s", pod_status(d, p, q->phase, sizeof q->phase));
        q->ready = p->ready && !p->deleting;
        q->deleting = p->deleting;
        q->restarts = p->restarts;
        q->created = p->created > 0 ? p->created : pg_wall();
        q->req_cpu = d->req_cpu;
        q->req_mem = d->req_mem;
        if (p->port > 0 && p->id[0]) {
            snprintf(q->ip, sizeof q->ip, "127.0.0.1");
            q->port = p->port;
        }
    }
    *n = d->npods;
    pthread_mutex_unlock(&d->mu);
    *out = v;
    return 0;
}

static int dock_metrics(pg_backend *b, pg_metric **out, size_t *n, pg_err *e) {
    dock_backend *d = D(b);
    first_use(d);
    pg_metric *v = cache_begin(d, sizeof *v, e);
    if (!v) return -1;
    size_t k = 0;
    for (size_t i = 0; i < d->npods; i++) k += pod_metric(d, d->pods[i], &v[k]) == 0;
    *n = k;
    pthread_mutex_unlock(&d->mu);
    *out = v;
    return 0;
}

static int dock_replicas(pg_backend *b, int *desired, pg_err *e) {
    dock_backend *d = D(b);
    first_use(d);
    pthread_mutex_lock(&d->mu);
    int down = d->down;
    *desired = d->desired;
    pthread_mutex_unlock(&d->mu);
    return down ? unavailable(d, e) : 0;
}

static int dock_scale(pg_backend *b, int replicas, pg_err *e) {
    dock_backend *d = D(b);
    if (replicas < 0 || replicas > 64) return pg_errf(e, 422, "limit", "docker: at most 64 replicas (asked %d)", replicas);
    first_use(d);
    pthread_mutex_lock(&d->ctl);
    pthread_mutex_lock(&d->mu);
    int down = d->down;
    pthread_mutex_unlock(&d->mu);
    int rc = down ? unavailable(d, e) : store_desired(d, replicas, e);
    if (rc == 0) {
        pg_err ce = { 0 };
        reconcile(d, &ce);                      /* the count is stored: a failed create is tried again */
        if (ce.status >= 500)
            rc = pg_errf(e, ce.status, ce.code, "desired %d stored, but a replica could not be made: %s", replicas,
                         ce.message);
    }
    pthread_mutex_unlock(&d->ctl);
    return rc;
}

static int dock_delete_pod(pg_backend *b, const char *name, double grace_s, pg_err *e) {
    dock_backend *d = D(b);
    first_use(d);
    pthread_mutex_lock(&d->ctl);
    pthread_mutex_lock(&d->mu);
    int rc = 0;
    dpod *p = d->down ? NULL : find_name(d, name);
    if (d->down) rc = unavailable(d, e);
    else if (!p) rc = pg_errf(e, 404, "not_found", "pod '%s' not found", name);
    else delete_locked(d, p, grace_s);
    pthread_mutex_unlock(&d->mu);
    if (rc == 0) reconcile(d, NULL);            /* the replacement, as a ReplicaSet makes it */
    pthread_mutex_unlock(&d->ctl);
    return rc;
}

typedef struct counts {
    int total, ready, online;
    int live;                   /* pods that are not going away (a create failed: fewer than desired) */
    double retry_at;            /* mono s of the next failed pull to try again; INFINITY when none */
} counts;

static counts count(dock_backend *d) {
    counts c = { (int)d->npods, 0, 0, 0, INFINITY };
    pg_metric m;
    for (size_t i = 0; i < d->npods; i++) {
        const dpod *p = d->pods[i];
        c.live += live(p);
        if (p->pull_failed && !p->id[0]) c.retry_at = fmin(c.retry_at, p->retry_at);
        if (!p->ready || p->deleting) continue;
        c.ready++;
        c.online += pod_metric(d, p, &m) == 0;
    }
    return c;
}

/* A wait short of pods because a create failed tries again this often. */
#define CREATE_RETRY_S 1.0

static int dock_wait(pg_backend *b, const pg_wait *w, double *waited, pg_err *e) {
    dock_backend *d = D(b);
    double t0 = pg_mono(), last_progress = 0, last_fill = t0;
    double dummy;
    if (!waited) waited = &dummy;
    first_use(d);
    pthread_mutex_lock(&d->mu);
    for (;;) {
        double t = pg_mono() - t0;
        *waited = t;
        if (d->down) {
            pthread_mutex_unlock(&d->mu);
            return unavailable(d, e);
        }
        counts c = count(d);
        int got = w->metrics ? c.online : c.ready;
        int done = w->settled ? got == w->ready && c.ready == w->ready && c.total == w->ready : got >= w->ready;
        if (done) break;
        if (w->stop && w->stop(w->stop_ud)) {   /* Ctrl-C in the repl */
            pthread_mutex_unlock(&d->mu);
            return pg_errf(e, 503, "interrupted", "wait interrupted after %.1f s", t);
        }
        if (t >= w->timeout_s) {
            const char *what = w->metrics ? "ready and reporting metrics" : "ready";
            int others = c.total - c.ready;
            pthread_mutex_unlock(&d->mu);
            if (w->settled && others > 0)
                return pg_errf(e, 504, "timeout", "%d/%d %s, %d other pod%s still present after %.1f s", got,
                               w->ready, what, others, others == 1 ? "" : "s", t);
            return pg_errf(e, 504, "timeout", "%d/%d %s after %.1f s", got, w->ready, what, t);
        }
        if (w->progress && t - last_progress >= 0.25) {
            last_progress = t;
            pthread_mutex_unlock(&d->mu);
            w->progress(w->progress_ud, got, w->ready, t);
            pthread_mutex_lock(&d->mu);
            continue;
        }
        /* a create failed (the daemon answered garbage, or not at all): try
         * again, as a ReplicaSet does; and a failed image pull when it is due */
        int refill = c.live < d->desired && pg_mono() - last_fill >= CREATE_RETRY_S;
        if (refill) last_fill = pg_mono();
        if (refill || c.retry_at <= pg_mono()) {
            pthread_mutex_unlock(&d->mu);
            pthread_mutex_lock(&d->ctl);
            reconcile(d, NULL);
            pthread_mutex_unlock(&d->ctl);
            pthread_mutex_lock(&d->mu);
            continue;
        }
        double until = w->timeout_s - t;
        if (w->progress || w->stop) until = fmin(until, 0.25);
        if (c.live < d->desired) until = fmin(until, CREATE_RETRY_S);
        if (isfinite(c.retry_at)) until = fmin(until, c.retry_at - pg_mono());
        struct timespec ts = pg_wall_after(fmax(0.001, until));
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* backend.h's changes: the generation moves with every change the events
 * stream, the prober or the stats collector reports (metrics included:
 * spurious moves are allowed, the caller compares what it reads). */
static int dock_changes(pg_backend *b, uint64_t since, double timeout_s, uint64_t *gen, pg_err *e) {
    dock_backend *d = D(b);
    if (!(timeout_s >= 0) || !isfinite(timeout_s))
        return pg_errf(e, 400, "bad_request", "changes: timeout must be a number >= 0");
    first_use(d);
    double end = pg_mono() + timeout_s;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        uint64_t g = __atomic_load_n(&d->gen, __ATOMIC_SEQ_CST);
        double left = end - pg_mono();
        if (since == 0 || g != since || left <= 0) {
            *gen = g;
            break;
        }
        /* a broadcast made without the lock may come between the load and
         * the wait: a slice bounds what that costs */
        struct timespec ts = pg_wall_after(fmin(left, 0.05));
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return 0;
}

static double dock_now(pg_backend *b) { return pg_wall(); }

static int dock_sleep(pg_backend *b, double s) {
    pg_sleep(s);
    return 0;
}

static void dock_destroy(pg_backend *b) {
    dock_backend *d = D(b);
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    if (d->events_fd >= 0) shutdown(d->events_fd, SHUT_RDWR);
    for (size_t i = 0; i < d->npods; i++)
        if (d->pods[i]->stats_fd >= 0) shutdown(d->pods[i]->stats_fd, SHUT_RDWR);
    changed(d);
    pthread_cond_broadcast(&d->probe_cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->events_thr, NULL);
    pthread_join(d->probe_thr, NULL);
    pthread_mutex_lock(&d->mu);
    while (d->workers > 0) {
        for (size_t i = 0; i < d->npods; i++)
            if (d->pods[i]->stats_fd >= 0) shutdown(d->pods[i]->stats_fd, SHUT_RDWR);
        struct timespec ts = pg_wall_after(0.05);
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    while (d->npods) drop_pod(d, d->pods[d->npods - 1]);
    pthread_mutex_unlock(&d->mu);
    free(d->pods);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->ctl);
    pthread_cond_destroy(&d->cv);
    pthread_cond_destroy(&d->probe_cv);
    free(d);
}

static const pg_backend_ops dock_ops = {
    .name = "docker",
    .pods = dock_pods,
    .metrics = dock_metrics,
    .replicas = dock_replicas,
    .scale = dock_scale,
    .delete_pod = dock_delete_pod,
    .wait = dock_wait,
    .changes = dock_changes,
    .now = dock_now,
    .sleep = dock_sleep,
    .destroy = dock_destroy,
};

dock_backend *dock_from_backend(pg_backend *b) { return b && b->ops == &dock_ops ? D(b) : NULL; }

dock_client *dock_backend_client(dock_backend *d) { return &d->cli; }

void dock_template_get(dock_backend *d, dock_template *t) {
    pthread_mutex_lock(&d->mu);
    *t = d->tpl;
    pthread_mutex_unlock(&d->mu);
}

int dock_template_set(dock_backend *d, const dock_template *t, pg_err *e) {
    char buf[PG_URL_MAX * 2], *w[MAX_WORDS];
    if (!t->image[0]) return pg_errf(e, 400, "bad_request", "docker template: image must not be empty");
    if (t->command[0] && dock_split(t->command, 0, buf, sizeof buf, w, MAX_WORDS) <= 0)
        return pg_errf(e, 400, "bad_request", "docker template: cannot split command '%s'", t->command);
    if (dock_split(t->env, 0, buf, sizeof buf, w, MAX_WORDS) < 0)
        return pg_errf(e, 400, "bad_request", "docker template: cannot split env '%s'", t->env);
    pthread_mutex_lock(&d->mu);
    d->tpl = *t;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

pg_backend *dock_backend_new(const pg_config *cfg, pg_err *e) {
    char sock[PATH_MAX], buf[PG_URL_MAX * 2], *w[MAX_WORDS];
    const pg_docker_conf *c = &cfg->docker;
    if (dock_socket_path(c->socket, sock, sizeof sock, e) != 0) return NULL;
    double mem = 0;
    if (k8s_quantity(c->memory, &mem, e) != 0)
        return pg_errf(e, 2, "backend", "docker.memory: %s", e->message), NULL;
    if (mem < 6 * 1024 * 1024)
        return pg_errf(e, 2, "backend", "docker.memory: %s is below Docker's 6 MiB minimum", c->memory), NULL;
    if (c->command[0] && dock_split(c->command, 0, buf, sizeof buf, w, MAX_WORDS) <= 0)
        return pg_errf(e, 2, "backend", "docker.command: cannot split '%s' (an unclosed quote?)", c->command), NULL;
    if (dock_split(c->env, 0, buf, sizeof buf, w, MAX_WORDS) < 0)
        return pg_errf(e, 2, "backend", "docker.env: cannot split '%s'", c->env), NULL;
    dock_backend *d = calloc(1, sizeof *d);
    if (!d) return pg_errf(e, 2, "backend", "out of memory"), NULL;
    d->base.ops = &dock_ops;
    d->base.impl = d;
    d->conf = *c;
    snprintf(d->dep, sizeof d->dep, "%s", cfg->deployment);
    snprintf(d->tpl.image, sizeof d->tpl.image, "%s", c->image);
    snprintf(d->tpl.command, sizeof d->tpl.command, "%s", c->command);
    snprintf(d->tpl.env, sizeof d->tpl.env, "%s", c->env);
    d->req_cpu = c->cpu;
    d->req_mem = mem;
    d->events_fd = -1;
    d->rng = (uint64_t)pg_wall_ns() ^ ((uint64_t)getpid() << 32);
    char l1[PG_NAME_MAX + 32];
    snprintf(l1, sizeof l1, "podgym.deployment=%s", d->dep);
    const char *labels[] = { l1, "podgym.managed=true" };
    if (dock_label_filter(labels, 2, NULL, d->filter, sizeof d->filter) != 0
        || dock_label_filter(labels, 2, "container", d->efilter, sizeof d->efilter) != 0) {
        free(d);
        return pg_errf(e, 2, "backend", "target.deployment is too long"), NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->ctl, NULL);
    pthread_cond_init(&d->cv, NULL);
    pthread_cond_init(&d->probe_cv, NULL);
    pg_err oe = { 0 };
    if (dock_open(&d->cli, sock, c->timeout_s, &oe) != 0) {
        d->down = 1;
        snprintf(d->down_msg, sizeof d->down_msg, "%s", oe.message);
        pg_log(PG_LOG_WARN, "docker: %s (serving 503 until it answers)", oe.message);
    }
    int was_down = d->down;
    if (pthread_create(&d->events_thr, NULL, events_main, d) != 0) {
        free(d);
        return pg_errf(e, 2, "backend", "cannot start the docker events thread"), NULL;
    }
    if (pthread_create(&d->probe_thr, NULL, probe_main, d) != 0) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        changed(d);
        pthread_mutex_unlock(&d->mu);
        if (d->events_fd >= 0) shutdown(d->events_fd, SHUT_RDWR);
        pthread_join(d->events_thr, NULL);
        free(d);
        return pg_errf(e, 2, "backend", "cannot start the docker prober thread"), NULL;
    }
    if (!was_down) {                            /* listed (events_main) before open returns */
        pthread_mutex_lock(&d->mu);
        struct timespec ts = pg_wall_after(d->cli.timeout_s + 60);
        while (!d->synced && pthread_cond_timedwait(&d->cv, &d->mu, &ts) != ETIMEDOUT) {}
        pthread_mutex_unlock(&d->mu);
    }
    return &d->base;
}
