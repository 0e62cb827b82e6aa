/* sim.c: the simulated cluster (see sim.h).
 *
 * Pod state is a function of the virtual time: each pod carries the times
 * of its transitions (container creation, first run, deletion) and, for a
 * pod in a back-off loop, the start and length of its current cycle, which
 * only ever move forward. Every operation first syncs the cluster to "now"
 * (drops pods whose grace period is over) and then reads states off the
 * clock. Metrics are computed, not stored: a pure function of the seed, the
 * pod and the refresh tick, so how often they are read changes nothing. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "cluster/quantity.h"
#include "base/csv.h"
#include "base/hash.h"
#include "cluster/sim/sim.h"
#include "load/load.h"

#define CRASH_RUN_S 2.0         /* a crashing container runs this long */
#define ERR_SHOW_S 1.0          /* "Error" / "ErrImagePull" before the back-off reason */
#define BACKOFF0_S 10.0
#define BACKOFF_MAX_S 300.0
#define WAIT_TICK_S 0.2         /* wall seconds between checks of a real-time wait */

enum { FATE_OK, FATE_CRASH, FATE_IMAGE, FATE_STUCK };
enum { WL_CONSTANT, WL_STEP, WL_SINE, WL_TRACE };

typedef struct sim_pod {
    char name[96];
    uint64_t seq;               /* creation order */
    int fate;
    int restarts;
    double created;             /* sim time */
    double t_create;            /* Pending -> ContainerCreating */
    double t_run;               /* ContainerCreating -> Running (Ready for FATE_OK) */
    double cyc;                 /* back-off loops: start of the current cycle */
    double backoff;             /* back-off of the current cycle */
    double gone_at;             /* deleting: removed at this time; < 0 when not deleting */
} sim_pod;

/* One ready pod during a load test: c servers and the FIFO of waiting
 * requests (their start times, non-decreasing). The ring persists across
 * tests so a step allocates nothing. */
typedef struct lt_pod {
    double *ring;
    size_t cap, head, len;
} lt_pod;

/* A ticker of the virtual clock: tick k is due at sim time t0 + k * iv. */
typedef struct sim_ticker {
    int id;
    double t0, iv;
    long long k;                /* the next tick */
    pg_tick_fn fn;
    void *ud;
} sim_ticker;

struct sim {
    pthread_mutex_t mu;
    pthread_mutex_t move_mu;    /* speed 0: held by the thread moving the clock, across its ticks */
    pthread_cond_t changed_cv;  /* broadcast when gen moves (sim_changes) */
    uint64_t gen;               /* state generation: moves when pods or replicas may have changed */
    double next_t;              /* sim time of the next timed transition of a pod (INFINITY: none) */
    pg_sim_conf conf;
    char deployment[80];
    char lt_url[96];            /* the URL load-test samples carry: http://DEPLOYMENT/ */
    double req_cpu, req_mem;    /* cores, bytes */
    double p_crash, p_image, p_slow;

    int wl_kind;
    pg_workload_conf wl;
    double *trace_t, *trace_rps;
    size_t ntrace;

    uint64_t seed, rng, lt_count;
    char tmpl[11];              /* pod-template-hash */
    double vt;                  /* speed 0: the clock; speed > 0: clock at anchor */
    double anchor;              /* monotonic wall seconds at the last re-anchor */
    int replicas;
    sim_pod *pods;
    size_t npods, cap;
    uint64_t next_seq;
    double test_t0, test_t1, test_rps;  /* the last load test, for metrics */

    sim_ticker *tk;             /* in the order added (ties fire in that order) */
    size_t ntk, captk;
    int next_tk;
    uint64_t resets;            /* bumped by every reset: a move it interrupts ends */

    lt_pod *lt;                 /* load-test scratch, one per ready pod */
    size_t nlt;
    double *lt_free;
    size_t nlt_free;
    struct lt_thr { double t; int id; int left; } *lt_heap;
    size_t nlt_heap;
};

/* ---- PRNG: splitmix64 ------------------------------------------------ */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rnd64(uint64_t *st) {
    *st += 0x9E3779B97F4A7C15ULL;
    return mix64(*st);
}

static double rnd01(uint64_t *st) {             /* [0, 1) */
    return (double)(rnd64(st) >> 11) * 0x1.0p-53;
}

/* An exponential variate of mean 1: -ln(U) with U in (0, 1] (log is about
 * twice as fast as log1p, and a load test draws a few dozen). */
static double rnd_exp(uint64_t *st) { return -log(1.0 - rnd01(st)); }

static double h01(uint64_t a, uint64_t b, uint64_t c) {    /* stateless noise in [0, 1) */
    uint64_t z = mix64(a ^ mix64(b + 0x9E3779B97F4A7C15ULL) ^ mix64(c * 0xD1B54A32D192ED03ULL));
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Kubernetes' SafeEncodeString alphabet (no vowels, no look-alikes). */
static const char ALNUM[] = "bcdfghjklmnpqrstvwxz2456789";

static void encode(uint64_t v, char *out, int n) {
    for (int i = 0; i < n; i++) {
        out[i] = ALNUM[v % 27];
        v /= 27;
    }
    out[n] = '\0';
}

/* ---- clock --------------------------------------------------------- */

static double now_vt(const sim *s) {
    if (s->conf.speed <= 0) return s->vt;
    return s->vt + (pg_mono() - s->anchor) * s->conf.speed;
}

/* ---- workload ------------------------------------------------------ */

static const char *WL_NAMES[] = { "constant", "step", "sine", "trace" };

static double wl_rps(const sim *s, double t) {
    const pg_workload_conf *w = &s->wl;
    double v;
    switch (s->wl_kind) {
    case WL_STEP: v = t < w->step_at_s ? w->rps : w->step_rps; break;
    case WL_SINE: v = w->rps + w->amplitude_rps * sin(2 * M_PI * t / w->period_s); break;
    case WL_TRACE: {
        const double *ts = s->trace_t, *rs = s->trace_rps;
        size_t n = s->ntrace;
        if (t <= ts[0]) return rs[0];
        if (t >= ts[n - 1]) return rs[n - 1];
        size_t lo = 0, hi = n - 1;              /* ts[lo] <= t < ts[hi] */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (ts[mid] <= t) lo = mid; else hi = mid;
        }
        double span = ts[hi] - ts[lo];
        v = span > 0 ? rs[lo] + (rs[hi] - rs[lo]) * (t - ts[lo]) / span : rs[hi];
        break;
    }
    default: v = w->rps;
    }
    return v > 0 ? v : 0;
}

/* A number with blanks around it; -1 when field is anything else. */
static int trace_num(const char *field, double *v) {
    char *end;
    *v = strtod(field, &end);
    if (end == field) return -1;
    while (*end == ' ' || *end == '\t') end++;
    return *end ? -1 : 0;
}

/* Read a CSV of `t,rps` rows: blank lines and '#' comments are skipped, a
 * header before the first row is allowed, t must not decrease, rps >= 0. */
static int trace_load(const char *path, double **tv, double **rv, size_t *nv, pg_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return pg_errf(e, 400, "bad_trace", "%s: cannot open trace: %s", path, strerror(errno));
    pg_csv c;
    pg_csv_init(&c, f, ',', 1);
    size_t n = 0, cap = 0;
    double *t = NULL, *r = NULL;
    int header = 0, rc;
    long lineno;
    const char *why = NULL;
    while ((rc = pg_csv_next(&c, &lineno, &why)) > 0) {
        const char *p = pg_csv_get(&c, 0);
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || (c.nf == 1 && !*p)) continue;
        double ti, ri;
        if (c.nf != 2 || trace_num(p, &ti) || trace_num(pg_csv_get(&c, 1), &ri)) {
            if (n == 0 && !header++ && c.nf >= 2 && !strpbrk(p, "0123456789") &&
                !strpbrk(pg_csv_get(&c, 1), "0123456789"))
                continue;
            pg_errf(e, 400, "bad_trace", "%s:%ld: expected 't,rps' (two numbers), got '%.40s'", path,
                    lineno, p);
            goto fail;
        }
        if (!isfinite(ti) || !isfinite(ri) || ri < 0) {
            pg_errf(e, 400, "bad_trace", "%s:%ld: rps must be a number >= 0, got '%.40s'", path, lineno,
                    pg_csv_get(&c, 1));
            goto fail;
        }
        if (n > 0 && ti < t[n - 1]) {
            pg_errf(e, 400, "bad_trace", "%s:%ld: t goes backwards ('%.40s')", path, lineno, p);
            goto fail;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            double *nt = realloc(t, cap * sizeof *t);
            if (nt) t = nt;
            double *nr = nt ? realloc(r, cap * sizeof *r) : NULL;
            if (nr) r = nr;
            if (!nt || !nr) {
                pg_errf(e, 500, "no_memory", "%s:%ld: out of memory", path, lineno);
                goto fail;
            }
        }
        t[n] = ti;
        r[n++] = ri;
    }
    if (rc < 0) {
        pg_errf(e, 400, "bad_trace", "%s:%ld: %s", path, lineno, why);
        goto fail;
    }
    if (n == 0) {
        pg_errf(e, 400, "bad_trace", "%s: no `t,rps` rows", path);
        goto fail;
    }
    fclose(f);
    pg_csv_free(&c);
    *tv = t;
    *rv = r;
    *nv = n;
    return 0;
fail:
    fclose(f);
    pg_csv_free(&c);
    free(t);
    free(r);
    return -1;
}

static int wl_check(const pg_workload_conf *w, int *kind, pg_err *e) {
    int k;
    for (k = 0; k < 4 && strcmp(w->kind[0] ? w->kind : "constant", WL_NAMES[k]) != 0; k++) {}
    if (k == 4)
        return pg_errf(e, 400, "config", "workload kind '%s': want constant, step, sine or trace", w->kind);
    if (!(w->rps >= 0) || !(w->step_rps >= 0) || !(w->amplitude_rps >= 0) || !(w->step_at_s >= 0))
        return pg_errf(e, 400, "config", "workload rates and times must be >= 0");
    if (k == WL_SINE && !(w->period_s > 0))
        return pg_errf(e, 400, "config", "workload period_s must be > 0");
    if (k == WL_TRACE && !w->trace[0])
        return pg_errf(e, 400, "config", "workload kind 'trace' needs a trace file");
    *kind = k;
    return 0;
}

/* Validate and install w (reading a trace); on error nothing changes. */
static int wl_install(sim *s, const pg_workload_conf *w, pg_err *e) {
    int kind = WL_CONSTANT;
    double *t = NULL, *r = NULL;
    size_t n = 0;
    if (wl_check(w, &kind, e) != 0) return -1;
    if (kind == WL_TRACE && trace_load(w->trace, &t, &r, &n, e) != 0) return -1;
    free(s->trace_t);
    free(s->trace_rps);
    s->trace_t = t;
    s->trace_rps = r;
    s->ntrace = n;
    s->wl = *w;
    snprintf(s->wl.kind, sizeof s->wl.kind, "%s", WL_NAMES[kind]);
    s->wl_kind = kind;
    return 0;
}

/* ---- pods ---------------------------------------------------------- */

typedef struct pstate { const char *phase, *status; int ready; } pstate;

static void advance_cycle(sim_pod *p, double t, double run) {
    if (p->backoff >= BACKOFF_MAX_S && t >= p->cyc + run + p->backoff) {   /* skip whole capped cycles */
        double k = floor((t - p->cyc) / (run + BACKOFF_MAX_S));
        p->cyc += k * (run + BACKOFF_MAX_S);
        if (p->fate == FATE_CRASH) p->restarts = (int)fmin(1e9, p->restarts + k);
    }
    while (t >= p->cyc + run + p->backoff) {
        p->cyc += run + p->backoff;
        if (p->fate == FATE_CRASH) p->restarts++;
        p->backoff = fmin(p->backoff * 2, BACKOFF_MAX_S);
    }
}

/* The state of p at time t (t never goes backwards for a pod). */
static pstate pod_state(sim_pod *p, double t) {
    pstate st = { "Pending", "Pending", 0 };
    if (p->fate == FATE_STUCK || t < p->t_create) {
        /* Pending */
    } else if (p->fate == FATE_IMAGE) {
        if (t < p->cyc) st.status = "ContainerCreating";
        else {
            advance_cycle(p, t, ERR_SHOW_S);
            st.status = t < p->cyc + ERR_SHOW_S ? "ErrImagePull" : "ImagePullBackOff";
        }
    } else if (t < p->t_run) {
        st.status = "ContainerCreating";
    } else if (p->fate == FATE_CRASH) {
        st.phase = "Running";
        advance_cycle(p, t, CRASH_RUN_S);
        double dt = t - p->cyc;
        st.status = dt < CRASH_RUN_S ? "Running" : dt < CRASH_RUN_S + ERR_SHOW_S ? "Error"
                                                                                : "CrashLoopBackOff";
    } else {
        st.phase = "Running";
        st.status = "Running";
        st.ready = 1;
    }
    if (p->gone_at >= 0) {
        st.status = "Terminating";
        st.ready = 0;
    }
    return st;
}

static int pod_ready(const sim_pod *p, double t) {
    return p->fate == FATE_OK && p->gone_at < 0 && t >= p->t_run;
}

/* The first time after t at which a pod's reported state changes by
 * itself: scheduled, started, Ready, gone; a back-off cycle's steps. */
static double next_change(const sim *s, double t) {
    double tn = INFINITY;
#define CAND(x) do { double x_ = (x); if (x_ > t && x_ < tn) tn = x_; } while (0)
    for (size_t i = 0; i < s->npods; i++) {
        const sim_pod *p = &s->pods[i];
        if (p->gone_at >= 0) {
            CAND(p->gone_at);
            continue;
        }
        if (p->fate == FATE_STUCK) continue;
        CAND(p->t_create);
        if (p->fate != FATE_IMAGE) CAND(p->t_run);
        if (p->fate == FATE_OK) continue;
        double run = p->fate == FATE_CRASH ? CRASH_RUN_S : ERR_SHOW_S, before = tn;
        if (p->fate == FATE_CRASH) CAND(p->cyc + CRASH_RUN_S);
        CAND(p->cyc);
        CAND(p->cyc + run + (p->fate == FATE_CRASH ? ERR_SHOW_S : 0));
        CAND(p->cyc + run + p->backoff);
        if (tn == before && (t >= p->t_run || p->fate == FATE_IMAGE)) CAND(t + 1);  /* a stale cycle */
    }
#undef CAND
    return tn;
}

/* The state may have changed at time t: a new generation (lock held). */
static void changed(sim *s, double t) {
    s->gen++;
    s->next_t = next_change(s, t);
    pthread_cond_broadcast(&s->changed_cv);
}

/* Drop pods whose grace period is over (order kept); a timed transition
 * passed makes a new generation. */
static void sync_pods(sim *s, double t) {
    size_t j = 0;
    for (size_t i = 0; i < s->npods; i++)
        if (s->pods[i].gone_at < 0 || t < s->pods[i].gone_at) s->pods[j++] = s->pods[i];
    int moved = j != s->npods || t >= s->next_t;
    s->npods = j;
    if (moved) changed(s, t);
}

static sim_pod *find_pod(sim *s, const char *name) {
    for (size_t i = 0; i < s->npods; i++)
        if (strcmp(s->pods[i].name, name) == 0) return &s->pods[i];
    return NULL;
}

/* A new pod at time t. Every pod takes the same number of draws, so the
 * injected probabilities do not change the names that follow. healthy:
 * already Ready long enough to report metrics (reset). */
static int add_pod(sim *s, double t, int healthy, pg_err *e) {
    if (s->npods == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sim_pod *v = realloc(s->pods, cap * sizeof *v);
        if (!v) return pg_errf(e, 500, "no_memory", "out of memory");
        s->pods = v;
        s->cap = cap;
    }
    sim_pod *p = &s->pods[s->npods];
    memset(p, 0, sizeof *p);
    char sfx[6];
    do {                                        /* find_pod sees pods[0, npods): not p */
        encode(rnd64(&s->rng), sfx, 5);
        snprintf(p->name, sizeof p->name, "%.63s-%.10s-%.5s", s->deployment, s->tmpl, sfx);
    } while (find_pod(s, p->name));
    double u_delay = rnd01(&s->rng), u_image = rnd01(&s->rng), u_crash = rnd01(&s->rng),
           u_slow = rnd01(&s->rng);
    const pg_sim_conf *c = &s->conf;
    double delay = fmax(0, c->start_delay_s + c->start_jitter_s * (2 * u_delay - 1));
    p->fate = FATE_OK;
    if (!healthy) {
        if (u_slow < s->p_slow) delay *= c->slow_factor;
        if (u_image < s->p_image) p->fate = FATE_IMAGE;
        else if (u_crash < s->p_crash) p->fate = FATE_CRASH;
    } else {
        t -= delay + c->metrics_window_s + c->metrics_resolution_s;
    }
    p->seq = s->next_seq++;
    p->created = t;
    p->t_create = t + fmin(c->pending_s, delay);
    p->t_run = t + delay;
    p->cyc = p->t_run;
    p->backoff = BACKOFF0_S;
    p->gone_at = -1;
    s->npods++;
    return 0;
}

static void mark_deleted(sim_pod *p, double t, double grace) {
    if (p->gone_at < 0) p->gone_at = t + grace;
}

/* ReplicaSet: as many live (not terminating) pods as replicas. Scale down
 * picks not-ready pods first, then the newest. */
static int reconcile(sim *s, double t, pg_err *e) {
    size_t live = 0;
    for (size_t i = 0; i < s->npods; i++) live += s->pods[i].gone_at < 0;
    for (; live < (size_t)s->replicas; live++)
        if (add_pod(s, t, 0, e) != 0) return -1;
    for (; live > (size_t)s->replicas; live--) {
        sim_pod *victim = NULL;
        int vready = 0;
        for (size_t i = 0; i < s->npods; i++) {
            sim_pod *p = &s->pods[i];
            if (p->gone_at >= 0) continue;
            int r = pod_ready(p, t);
            if (!victim || r < vready || (r == vready && p->seq > victim->seq)) {
                victim = p;
                vready = r;
            }
        }
        mark_deleted(victim, t, s->conf.grace_s);
    }
    return 0;
}

/* ---- lifecycle API ------------------------------------------------- */

static int conf_check(const pg_sim_conf *c, pg_err *e) {
#define NEED(cond, what) if (!(cond)) return pg_errf(e, 400, "config", "sim.%s", what)
    NEED(c->speed >= 0 && isfinite(c->speed), "speed must be >= 0");
    NEED(c->replicas >= 0 && c->replicas <= SIM_MAX_PODS, "replicas must be in [0, 1000]");
    NEED(c->start_delay_s >= 0 && c->start_jitter_s >= 0 && c->pending_s >= 0,
         "start_delay_s, start_jitter_s and pending_s must be >= 0");
    NEED(c->p_crash >= 0 && c->p_crash <= 1 && c->p_image_pull >= 0 && c->p_image_pull <= 1 &&
         c->p_slow_start >= 0 && c->p_slow_start <= 1, "probabilities must be in [0, 1]");
    NEED(c->slow_factor >= 1, "slow_factor must be >= 1");
    NEED(c->grace_s >= 0 && c->metrics_window_s >= 0, "grace_s and metrics_window_s must be >= 0");
    NEED(c->metrics_resolution_s > 0, "metrics_resolution_s must be > 0");
    NEED(c->capacity_rps > 0 && c->service_ms > 0 && c->timeout_s > 0,
         "capacity_rps, service_ms and timeout_s must be > 0");
    NEED(c->queue_limit >= 0, "queue_limit must be >= 0");
    NEED(c->base_mem_mib >= 0 && c->mem_per_rps_mib >= 0 && c->idle_cpu >= 0,
         "base_mem_mib, mem_per_rps_mib and idle_cpu must be >= 0");
#undef NEED
    return 0;
}

static int parse_requests(const pg_sim_conf *c, double *cpu, double *mem, pg_err *e) {
    pg_err qe;
    if (k8s_quantity(c->req_cpu[0] ? c->req_cpu : "500m", cpu, &qe) != 0 || !(*cpu > 0))
        return pg_errf(e, 400, "config", "sim.req_cpu: '%s' is not a cpu quantity > 0", c->req_cpu);
    if (k8s_quantity(c->req_mem[0] ? c->req_mem : "512Mi", mem, &qe) != 0 || !(*mem > 0))
        return pg_errf(e, 400, "config", "sim.req_mem: '%s' is not a memory quantity > 0", c->req_mem);
    return 0;
}

static int reset_locked(sim *s, uint64_t seed, int replicas, pg_err *e) {
    if (replicas < 0 || replicas > SIM_MAX_PODS)
        return pg_errf(e, 400, "bad_request", "pods must be in [0, %d], got %d", SIM_MAX_PODS, replicas);
    s->seed = seed;
    s->rng = mix64(seed ^ 0x5EED5EED5EED5EEDULL);
    s->lt_count = 0;
    encode(mix64(seed ^ pg_hash(PG_HASH_INIT, s->deployment, strlen(s->deployment))), s->tmpl, 10);
    s->vt = 0;
    s->anchor = pg_mono();
    s->resets++;
    for (size_t i = 0; i < s->ntk; i++)         /* re-anchored: the next tick is due now */
        s->tk[i].t0 = -(double)s->tk[i].k * s->tk[i].iv;
    s->npods = 0;
    s->next_seq = 0;
    s->replicas = replicas;
    s->test_t0 = s->test_t1 = -1;
    s->test_rps = 0;
    for (int i = 0; i < replicas; i++)
        if (add_pod(s, 0, 1, e) != 0) return -1;
    changed(s, 0);
    return 0;
}

sim *sim_new(const pg_sim_conf *conf, const char *deployment, pg_err *e) {
    double cpu, mem;
    if (conf_check(conf, e) != 0 || parse_requests(conf, &cpu, &mem, e) != 0) return NULL;
    if (!deployment || !*deployment) deployment = "app";
    sim *s = calloc(1, sizeof *s);
    if (!s) {
        pg_errf(e, 500, "no_memory", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->move_mu, NULL);
    pthread_cond_init(&s->changed_cv, NULL);
    s->next_t = INFINITY;
    s->conf = *conf;
    snprintf(s->deployment, sizeof s->deployment, "%.63s", deployment);
    snprintf(s->lt_url, sizeof s->lt_url, "http://%s/", s->deployment);
    s->req_cpu = cpu;
    s->req_mem = mem;
    s->p_crash = conf->p_crash;
    s->p_image = conf->p_image_pull;
    s->p_slow = conf->p_slow_start;
    if (wl_install(s, &conf->workload, e) != 0 || reset_locked(s, conf->seed, conf->replicas, e) != 0) {
        sim_free(s);
        return NULL;
    }
    return s;
}

void sim_free(sim *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nlt; i++) free(s->lt[i].ring);
    free(s->lt);
    free(s->lt_free);
    free(s->lt_heap);
    free(s->pods);
    free(s->tk);
    free(s->trace_t);
    free(s->trace_rps);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->move_mu);
    pthread_cond_destroy(&s->changed_cv);
    free(s);
}

#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

/* ---- the virtual clock's tickers ------------------------------------ */
/* Every path that moves the virtual clock goes through advance_to. Only a
 * thread holding move_mu fires ticks, so they come one at a time and in
 * order however many threads move the clock; a second mover waits until
 * the first one's move (its ticks included) is over, and then moves on from
 * where it ended. A callback runs without the lock and may call back into
 * the sim; a clock move it makes (on its own thread, nested in the move that
 * fired it) does not take move_mu and fires nothing, so ticks never recurse. */

typedef struct tick_frame {
    const sim *s;
    struct tick_frame *up;
} tick_frame;

static __thread tick_frame *ticking;    /* the sims whose tick callbacks run on this thread */

static int in_tick(const sim *s) {
    for (const tick_frame *f = ticking; f; f = f->up)
        if (f->s == s) return 1;
    return 0;
}

/* Take the right to move the clock and fire ticks: 1 when this thread took
 * move_mu, 0 with speed > 0 (no tickers) or inside one of this sim's tick
 * callbacks on this thread (the move that fired it fires what is due). */
static int move_begin(sim *s) {
    if (s->conf.speed > 0 || in_tick(s)) return 0;
    pthread_mutex_lock(&s->move_mu);
    return 1;
}

static void move_end(sim *s, int own) {
    if (own) pthread_mutex_unlock(&s->move_mu);
}

static double tick_due(const sim_ticker *k, long long i) { return k->t0 + (double)i * k->iv; }

static int ticker_drop(sim *s, int id) {
    for (size_t i = 0; i < s->ntk; i++)
        if (s->tk[i].id == id) {
            memmove(&s->tk[i], &s->tk[i + 1], (s->ntk - i - 1) * sizeof *s->tk);
            s->ntk--;
            return 1;
        }
    return 0;
}

/* The ticker due first (ties: the one added first); NULL when none. */
static sim_ticker *ticker_next(sim *s) {
    sim_ticker *best = NULL;
    for (size_t i = 0; i < s->ntk; i++)
        if (!best || tick_due(&s->tk[i], s->tk[i].k) < tick_due(best, best->k)) best = &s->tk[i];
    return best;
}

/* Move the virtual clock forward to t (lock held). With fire (the caller
 * holds move_mu), stop at every tick due on the way: the clock is set to
 * exactly its time and its callback runs with the lock released. A tick
 * the clock already passed (a callback moved it) is skipped. A reset
 * inside a callback ends the move there: the clock is the reset's. */
static void advance_to(sim *s, double t, int fire) {
    sim_ticker *k;
    while (fire && (k = ticker_next(s)) && tick_due(k, k->k) <= t) {
        double due = tick_due(k, k->k);
        if (due < s->vt) {
            long long i = (long long)fmax((double)k->k + 1, ceil((s->vt - k->t0) / k->iv - 1e-9));
            while (tick_due(k, i) < s->vt) i++;
            k->k = i;
            continue;
        }
        s->vt = due;
        sync_pods(s, due);
        int id = k->id;
        long long n = k->k++;
        pg_tick_fn fn = k->fn;
        void *ud = k->ud;
        uint64_t resets = s->resets;
        tick_frame f = { s, ticking };
        ticking = &f;
        UNLOCK(s);
        int done = fn(ud, n, SIM_EPOCH + due);
        LOCK(s);
        ticking = f.up;
        if (done) ticker_drop(s, id);
        if (s->resets != resets) return;
    }
    if (t > s->vt) s->vt = t;
    sync_pods(s, s->vt);
}

int sim_ticker_add(sim *s, double interval_s, pg_tick_fn fn, void *ud, double *start, pg_err *e) {
    if (!fn || !(interval_s > 0) || !isfinite(interval_s))
        return pg_errf(e, 400, "bad_request", "ticker: interval must be > 0 and a callback given");
    if (s->conf.speed > 0)
        return pg_errf(e, 409, "real_clock", "the sim's clock is real (speed %g): it has no tickers",
                       s->conf.speed);
    int own = move_begin(s);
    LOCK(s);
    if (s->ntk == s->captk) {
        size_t cap = s->captk ? s->captk * 2 : 4;
        sim_ticker *v = realloc(s->tk, cap * sizeof *v);
        if (!v) {
            UNLOCK(s);
            move_end(s, own);
            return pg_errf(e, 500, "no_memory", "out of memory");
        }
        s->tk = v;
        s->captk = cap;
    }
    int id = ++s->next_tk;
    s->tk[s->ntk++] = (sim_ticker){ .id = id, .t0 = s->vt, .iv = interval_s, .fn = fn, .ud = ud };
    if (start) *start = SIM_EPOCH + s->vt;
    advance_to(s, s->vt, own);                  /* tick 0, now */
    UNLOCK(s);
    move_end(s, own);
    return id;
}

int sim_ticker_remove(sim *s, int id) {
    int own = move_begin(s);                    /* waits for a move that may be calling it */
    LOCK(s);
    int found = ticker_drop(s, id);
    UNLOCK(s);
    move_end(s, own);
    return found;
}

int sim_reset(sim *s, uint64_t seed, int replicas, pg_err *e) {
    int own = move_begin(s);
    LOCK(s);
    int rc = reset_locked(s, seed, replicas, e);
    if (s->conf.speed <= 0) advance_to(s, s->vt, own);     /* the re-anchored ticks, now */
    UNLOCK(s);
    move_end(s, own);
    return rc;
}

int sim_inject(sim *s, const char *what, double p, pg_err *e) {
    if (!(p >= 0 && p <= 1))
        return pg_errf(e, 400, "bad_request", "probability for '%s' must be in [0, 1]", what);
    double *dst = !strcmp(what, "crash") ? &s->p_crash : !strcmp(what, "image_pull") ? &s->p_image
                : !strcmp(what, "slow") ? &s->p_slow : NULL;
    if (!dst)
        return pg_errf(e, 400, "bad_request", "unknown injection '%s' (crash, image_pull, slow)", what);
    LOCK(s);
    *dst = p;
    UNLOCK(s);
    return 0;
}

static int fail_locked(sim *s, const char *name, const char *status, pg_err *e) {
    double t = now_vt(s);
    sync_pods(s, t);
    sim_pod *p = find_pod(s, name);
    if (!p) return pg_errf(e, 404, "not_found", "pod '%s' not found", name);
    if (p->gone_at >= 0) return pg_errf(e, 409, "conflict", "pod '%s' is terminating", name);
    if (!strcmp(status, "CrashLoopBackOff") || !strcmp(status, "Error")) {
        p->fate = FATE_CRASH;                   /* crashes now: "Error", then back-off */
        p->t_create = fmin(p->t_create, t);
        p->t_run = fmin(p->t_run, t - CRASH_RUN_S);
        p->cyc = t - CRASH_RUN_S;
        p->backoff = BACKOFF0_S;
    } else if (!strcmp(status, "ImagePullBackOff") || !strcmp(status, "ErrImagePull")) {
        p->fate = FATE_IMAGE;
        p->t_create = fmin(p->t_create, t);
        p->cyc = t;
        p->backoff = BACKOFF0_S;
    } else if (!strcmp(status, "Pending")) {
        p->fate = FATE_STUCK;
    } else {
        return pg_errf(e, 400, "bad_request",
                       "status '%s': want CrashLoopBackOff, ImagePullBackOff or Pending", status);
    }
    return 0;
}

int sim_fail_pod(sim *s, const char *name, const char *status, pg_err *e) {
    LOCK(s);
    int rc = fail_locked(s, name, status, e);
    if (rc == 0) changed(s, now_vt(s));
    UNLOCK(s);
    return rc;
}

int sim_set_workload(sim *s, const pg_workload_conf *w, pg_err *e) {
    LOCK(s);
    int rc = wl_install(s, w, e);
    UNLOCK(s);
    return rc;
}

void sim_workload(sim *s, pg_workload_conf *out) {
    LOCK(s);
    *out = s->wl;
    UNLOCK(s);
}

double sim_workload_rps(sim *s, double t) {
    LOCK(s);
    double v = wl_rps(s, t);
    UNLOCK(s);
    return v;
}

int sim_advance(sim *s, double sec, pg_err *e) {
    if (!(sec >= 0) || !isfinite(sec))
        return pg_errf(e, 400, "bad_request", "advance: seconds must be >= 0");
    int own = move_begin(s);
    LOCK(s);
    if (s->conf.speed > 0) {
        s->vt += sec;
        sync_pods(s, now_vt(s));
    } else {
        advance_to(s, s->vt + sec, own);
    }
    UNLOCK(s);
    move_end(s, own);
    return 0;
}

double sim_time(sim *s) {
    LOCK(s);
    double t = now_vt(s);
    UNLOCK(s);
    return t;
}

double sim_now(sim *s) { return SIM_EPOCH + sim_time(s); }

uint64_t sim_seed(sim *s) {
    LOCK(s);
    uint64_t v = s->seed;
    UNLOCK(s);
    return v;
}

const pg_sim_conf *sim_conf(sim *s) { return &s->conf; }

/* ---- backend operations ------------------------------------------- */

int sim_pods(sim *s, pg_pod **out, size_t *n, pg_err *e) {
    LOCK(s);
    double t = now_vt(s);
    sync_pods(s, t);
    pg_pod *v = calloc(s->npods ? s->npods : 1, sizeof *v);
    if (!v) {
        UNLOCK(s);
        return pg_errf(e, 500, "no_memory", "out of memory");
    }
    for (size_t i = 0; i < s->npods; i++) {
        sim_pod *p = &s->pods[i];
        pstate st = pod_state(p, t);
        pg_pod *o = &v[i];
        memcpy(o->name, p->name, sizeof o->name);
        memcpy(o->phase, st.phase, strlen(st.phase) + 1);      /* static names, all short */
        memcpy(o->status, st.status, strlen(st.status) + 1);
        o->ready = st.ready;
        o->deleting = p->gone_at >= 0;
        o->restarts = p->restarts;
        o->created = SIM_EPOCH + p->created;
        o->req_cpu = s->req_cpu;
        o->req_mem = s->req_mem;
    }
    *out = v;
    *n = s->npods;
    UNLOCK(s);
    return 0;
}

/* Offered requests/s at tick tk: the workload plus the last load test,
 * averaged over the metrics window (tk - res, tk] as metrics-server does. */
static double offered(const sim *s, double tk) {
    double r = wl_rps(s, tk), res = s->conf.metrics_resolution_s;
    double overlap = fmin(tk, s->test_t1) - fmax(tk - res, s->test_t0);
    if (s->test_t1 >= 0 && overlap > 0) r += s->test_rps * overlap / res;
    return r;
}

/* The metrics-server look at now (lock held): the time t, the tick k of
 * the last refresh, the ready pods and the requests/s each of them serves. */
typedef struct mlook {
    double t, k;
    int ready;
    double per;
} mlook;

static mlook metrics_look(sim *s) {
    mlook m = { .t = now_vt(s) };
    sync_pods(s, m.t);
    m.k = floor(m.t / s->conf.metrics_resolution_s + 1e-9);
    for (size_t i = 0; i < s->npods; i++) m.ready += pod_ready(&s->pods[i], m.t);
    m.per = m.ready ? offered(s, m.k * s->conf.metrics_resolution_s) / (double)m.ready : 0;
    return m;
}

/* Pod p's metric in look l: 1 with cpu and mem, 0 when p reports none yet
 * (not ready, or Running for less than the metrics window at the tick). */
static int pod_metric(const sim *s, const sim_pod *p, const mlook *l, double *cpu, double *mem) {
    const pg_sim_conf *c = &s->conf;
    double k = l->k, per = l->per;
    if (!pod_ready(p, l->t) || k * c->metrics_resolution_s < p->t_run + c->metrics_window_s) return 0;
    double n1 = h01(s->seed, p->seq, (uint64_t)(int64_t)k) * 2 - 1;
    double n2 = h01(s->seed ^ 0x6D656D, p->seq, (uint64_t)(int64_t)k) * 2 - 1;
    double raw = (c->idle_cpu + s->req_cpu * per / c->capacity_rps) * (1 + 0.05 * n1);
    *cpu = fmax(0, fmin(raw, 2 * s->req_cpu));
    *mem = floor((c->base_mem_mib + c->mem_per_rps_mib * per) * (1 + 0.02 * n2) * 1048576.0);
    return 1;
}

int sim_metrics(sim *s, pg_metric **out, size_t *n, pg_err *e) {
    LOCK(s);
    mlook l = metrics_look(s);
    double res = s->conf.metrics_resolution_s, tk = l.k * res;
    pg_metric *v = calloc(s->npods ? s->npods : 1, sizeof *v);
    if (!v) {
        UNLOCK(s);
        return pg_errf(e, 500, "no_memory", "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < s->npods; i++) {
        sim_pod *p = &s->pods[i];
        pg_metric *o = &v[m];
        if (!pod_metric(s, p, &l, &o->cpu, &o->mem)) continue;
        m++;
        memcpy(o->name, p->name, sizeof o->name);
        o->ts = SIM_EPOCH + tk;
        o->window_s = res;
    }
    *out = v;
    *n = m;
    UNLOCK(s);
    return 0;
}

int sim_usage(sim *s, pg_usage *u, pg_err *e) {
    (void)e;
    memset(u, 0, sizeof *u);
    LOCK(s);
    mlook l = metrics_look(s);
    u->ready = l.ready;
    for (size_t i = 0; i < s->npods; i++) {
        double cpu, mem;
        if (!pod_metric(s, &s->pods[i], &l, &cpu, &mem)) continue;
        u->online++;
        u->cpu += cpu;
        u->mem += mem;
        u->req_cpu += s->req_cpu;
        u->req_mem += s->req_mem;
    }
    if (u->online) u->oldest = SIM_EPOCH + l.k * s->conf.metrics_resolution_s;  /* one tick for all */
    u->total = (int)s->npods;
    u->desired = s->replicas;
    u->now = SIM_EPOCH + l.t;
    UNLOCK(s);
    return 0;
}

int sim_replicas(sim *s, int *desired, pg_err *e) {
    (void)e;
    LOCK(s);
    *desired = s->replicas;
    UNLOCK(s);
    return 0;
}

int sim_scale(sim *s, int replicas, pg_err *e) {
    if (replicas < 0) return pg_errf(e, 400, "bad_request", "replicas must be >= 0, got %d", replicas);
    if (replicas > SIM_MAX_PODS)
        return pg_errf(e, 422, "limit", "replicas %d above the simulator's limit of %d", replicas,
                       SIM_MAX_PODS);
    LOCK(s);
    double t = now_vt(s);
    sync_pods(s, t);
    s->replicas = replicas;
    int rc = reconcile(s, t, e);
    changed(s, t);
    UNLOCK(s);
    return rc;
}

int sim_delete_pod(sim *s, const char *name, double grace_s, pg_err *e) {
    LOCK(s);
    double t = now_vt(s);
    sync_pods(s, t);
    sim_pod *p = find_pod(s, name);
    int rc = 0;
    if (!p) {
        rc = pg_errf(e, 404, "not_found", "pod '%s' not found", name);
    } else {
        mark_deleted(p, t, grace_s < 0 || !isfinite(grace_s) ? s->conf.grace_s : grace_s);
        sync_pods(s, t);                        /* grace 0: gone at once */
        rc = reconcile(s, t, e);
        changed(s, t);
    }
    UNLOCK(s);
    return rc;
}

/* Ready pods (not terminating) and all pods at t. */
/* When pod p (Ready from t_run) first reports metrics: the first refresh
 * tick a metrics window after it turned Ready (as pod_metric decides). */
static double metrics_from(const sim *s, const sim_pod *p) {
    double res = s->conf.metrics_resolution_s;
    return ceil((p->t_run + s->conf.metrics_window_s) / res - 1e-9) * res;
}

typedef struct counts {
    int ready, online, total;   /* online: Ready and reporting metrics */
} counts;

static counts count_pods(sim *s, double t) {
    counts c = { .total = (int)s->npods };
    double tick = floor(t / s->conf.metrics_resolution_s + 1e-9) * s->conf.metrics_resolution_s;
    for (size_t i = 0; i < s->npods; i++) {
        const sim_pod *p = &s->pods[i];
        if (!pod_ready(p, t)) continue;
        c.ready++;
        c.online += tick >= p->t_run + s->conf.metrics_window_s;
    }
    return c;
}

/* The next time the counts can change: a healthy pod becoming Ready, a
 * Ready one starting to report metrics, or a terminating pod going away. */
static double next_event(const sim *s, double t) {
    double tn = INFINITY;
    for (size_t i = 0; i < s->npods; i++) {
        const sim_pod *p = &s->pods[i];
        if (p->gone_at >= 0) tn = fmin(tn, p->gone_at);
        else if (p->fate == FATE_OK && p->t_run > t) tn = fmin(tn, p->t_run);
        else if (p->fate == FATE_OK && metrics_from(s, p) > t) tn = fmin(tn, metrics_from(s, p));
    }
    return tn;
}

/* What a wait counts: Ready pods, or Ready pods with metrics. */
static int counted(const pg_wait *w, counts c) { return w->metrics ? c.online : c.ready; }

static int wait_done(const pg_wait *w, counts c) {
    int n = counted(w, c);
    return w->settled ? n == w->ready && c.ready == w->ready && c.total == w->ready : n >= w->ready;
}

static int wait_timeout(const pg_wait *w, counts c, double waited, pg_err *e) {
    const char *what = w->metrics ? "ready and reporting metrics" : "ready";
    int others = c.total - c.ready;
    if (w->settled && others > 0)
        return pg_errf(e, 504, "timeout", "%d/%d %s, %d other pod%s still present after %.1f s", counted(w, c),
                       w->ready, what, others, others == 1 ? "" : "s", waited);
    return pg_errf(e, 504, "timeout", "%d/%d %s after %.1f s", counted(w, c), w->ready, what, waited);
}

/* speed 0: jump from event to event (ticks fire on the way); the lock is
 * held except around the progress and tick callbacks. */
static int wait_virtual(sim *s, const pg_wait *w, double *waited, pg_err *e) {
    int own = move_begin(s);
    LOCK(s);
    double t0 = s->vt, deadline = t0 + w->timeout_s;
    for (;;) {
        sync_pods(s, s->vt);
        counts c = count_pods(s, s->vt);
        if (wait_done(w, c)) break;
        if (w->progress) {
            double dt = s->vt - t0;
            UNLOCK(s);
            w->progress(w->progress_ud, counted(w, c), w->ready, dt);
            LOCK(s);
        }
        double tn = next_event(s, s->vt);
        if (tn > deadline) {
            advance_to(s, deadline, own);
            c = count_pods(s, s->vt);
            double dt = s->vt - t0;
            UNLOCK(s);
            move_end(s, own);
            if (wait_done(w, c)) {
                *waited = dt;
                return 0;
            }
            return wait_timeout(w, c, dt, e);
        }
        advance_to(s, tn, own);
    }
    *waited = s->vt - t0;
    UNLOCK(s);
    move_end(s, own);
    return 0;
}

/* speed > 0: sleep in wall time until the next event (at most
 * WAIT_TICK_S at a time), re-checking the state. */
static int wait_real(sim *s, const pg_wait *w, double *waited, pg_err *e) {
    double speed = s->conf.speed, t0 = -1;
    for (;;) {
        LOCK(s);
        double t = now_vt(s);
        if (t0 < 0) t0 = t;
        sync_pods(s, t);
        counts c = count_pods(s, t);
        double tn = next_event(s, t);
        UNLOCK(s);
        if (wait_done(w, c)) {
            *waited = t - t0;
            return 0;
        }
        if (t - t0 >= w->timeout_s) return wait_timeout(w, c, t - t0, e);
        if (w->progress) w->progress(w->progress_ud, counted(w, c), w->ready, t - t0);
        double until = fmin(tn, t0 + w->timeout_s);
        pg_sleep(fmax(0.001, fmin((until - t) / speed, WAIT_TICK_S)));
    }
}

int sim_wait(sim *s, const pg_wait *w, double *waited_s, pg_err *e) {
    double dummy;
    if (!waited_s) waited_s = &dummy;
    if (w->ready < 0) return pg_errf(e, 400, "bad_request", "wait: ready must be >= 0");
    if (!(w->timeout_s >= 0) || !isfinite(w->timeout_s))
        return pg_errf(e, 400, "bad_request", "wait: timeout must be a number >= 0");
    return s->conf.speed > 0 ? wait_real(s, w, waited_s, e) : wait_virtual(s, w, waited_s, e);
}

int sim_changes(sim *s, uint64_t since, double timeout_s, uint64_t *gen, pg_err *e) {
    if (!(timeout_s >= 0) || !isfinite(timeout_s))
        return pg_errf(e, 400, "bad_request", "changes: timeout must be a number >= 0");
    double end = pg_mono() + timeout_s;
    LOCK(s);
    for (;;) {
        double t = now_vt(s);
        sync_pods(s, t);
        double left = end - pg_mono();
        if (s->gen != since || left <= 0) break;
        if (s->conf.speed > 0 && isfinite(s->next_t))      /* the next timed transition, in wall time */
            left = fmin(left, fmax(0, (s->next_t - t) / s->conf.speed) + 0.0005);
        struct timespec ts = pg_wall_after(left);
        pthread_cond_timedwait(&s->changed_cv, &s->mu, &ts);
    }
    *gen = s->gen;
    UNLOCK(s);
    return 0;
}

int sim_sleep(sim *s, double sec, pg_err *e) {
    if (!(sec >= 0) || !isfinite(sec)) return pg_errf(e, 400, "bad_request", "sleep: seconds must be >= 0");
    if (s->conf.speed > 0) {
        pg_sleep(sec / s->conf.speed);
        return 0;
    }
    return sim_advance(s, sec, e);
}

/* ---- load test: discrete-event queue simulation ------------------- */
/* Each ready pod is c = ceil(capacity_rps x service_ms) servers in front of
 * a FIFO queue bounded by queue_limit. Requests of the test arrive at the
 * plan's rate (open loop) or from threads that wait for their answer
 * (closed loop) and go round robin over the ready pods; the background
 * workload arrives as a Poisson stream spread at random over the pods,
 * each pod starting in its steady state. Service times are 0.5 + Exp(0.5)
 * times service_ms, scaled up by the offered load over capacity. */

typedef struct lt_run {
    sim *s;
    const ld_plan *p;
    ld_result *r;
    uint64_t rng;
    size_t npod;
    int c;                      /* servers per pod */
    size_t qlimit;
    double svc_s;               /* mean service time, seconds */
    double bg_rate, bg_mult;    /* Poisson rate of simulated background requests, their weight */
    double bg_next;
    double timeout_s;
    double t0;                  /* sim time of the first send */
    double last_end;
    size_t rr;
    const char *label, *url;
} lt_run;

static double lt_service(lt_run *L) {
    return L->svc_s * (0.5 + 0.5 * rnd_exp(&L->rng));
}

static int ring_push(lt_pod *q, double v) {
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;   /* len <= limit, so cap <= 2 * limit */
        double *nr = malloc(cap * sizeof *nr);
        if (!nr) return -1;
        for (size_t i = 0; i < q->len; i++) nr[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = nr;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->len) % q->cap] = v;
    q->len++;
    return 0;
}

/* Offer a request arriving at a to pod i with service time svc. Returns
 * 1 when the queue is full (rejected), else 0 with *start filled. */
static int lt_offer(lt_run *L, size_t i, double a, double svc, double *start) {
    lt_pod *q = &L->s->lt[i];
    double *free_at = &L->s->lt_free[i * (size_t)L->c];
    while (q->len && q->ring[q->head] <= a) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    int f = 0;
    for (int k = 1; k < L->c; k++)
        if (free_at[k] < free_at[f]) f = k;
    double st = free_at[f] > a ? free_at[f] : a;
    if (st > a) {
        if (q->len >= L->qlimit) return 1;
        if (ring_push(q, st) != 0) return 1;
    }
    free_at[f] = st + svc;
    *start = st;
    return 0;
}

/* Steady state of pod i at t = 0 under background rate lam: busy servers
 * and a queue whose length follows Sakasegawa's approximation. */
static void lt_warm(lt_run *L, size_t i, double lam) {
    lt_pod *q = &L->s->lt[i];
    double *free_at = &L->s->lt_free[i * (size_t)L->c];
    q->head = q->len = 0;
    double svc = L->svc_s * L->bg_mult;
    double rho = lam * svc / L->c;
    size_t waiting;
    if (rho >= 1) waiting = L->qlimit;
    else {
        double lq = pow(rho, sqrt(2.0 * (L->c + 1))) / (1 - rho);
        waiting = lq > (double)L->qlimit ? L->qlimit : (size_t)floor(lq + rnd01(&L->rng));
    }
    for (int k = 0; k < L->c; k++)
        free_at[k] = rho >= 1 || rnd01(&L->rng) < rho ? rnd01(&L->rng) * svc : 0;
    for (size_t w = 0; w < waiting; w++) {
        double st;
        lt_offer(L, i, 0, lt_service(L) * L->bg_mult, &st);
    }
}

static void lt_background_until(lt_run *L, double t) {
    while (L->bg_next < t) {
        double st;
        size_t i = (size_t)(rnd01(&L->rng) * (double)L->npod);
        lt_offer(L, i, L->bg_next, lt_service(L) * L->bg_mult, &st);
        L->bg_next += rnd_exp(&L->rng) / L->bg_rate;
    }
}

/* One test request sent at a (seconds after t0) by thread thr. Returns
 * its elapsed time in seconds, or -1 when the result cannot grow. */
static double lt_request(lt_run *L, double a, int thr) {
    ld_sample x;
    memset(&x, 0, sizeof x);
    x.ts_ms = llround((SIM_EPOCH + L->t0 + a) * 1000.0);
    x.thread = thr;
    x.label = L->label;
    x.url = L->url;
    x.sent_bytes = 118;
    double el;
    if (L->npod == 0) {                         /* no endpoint: refused at once */
        el = 0.0008 + 0.0004 * rnd01(&L->rng);
        x.connect_ms = x.elapsed_ms = el * 1000;
        x.latency_ms = 0;
        memcpy(x.message, "Connection refused", sizeof "Connection refused");
    } else {
        if (L->bg_rate > 0) lt_background_until(L, a);
        size_t i = L->rr++ % L->npod;
        double svc = lt_service(L), st;
        if (lt_offer(L, i, a, svc, &st) != 0) {
            el = 0.0009 + 0.0004 * rnd01(&L->rng);
            x.code = 503;
            x.latency_ms = el * 1000 - 0.1;
            x.elapsed_ms = el * 1000;
            x.bytes = 190;
            memcpy(x.message, "Service Unavailable", sizeof "Service Unavailable");
        } else if (st + svc - a > L->timeout_s) {
            el = L->timeout_s;
            x.latency_ms = x.elapsed_ms = el * 1000;
            memcpy(x.message, "timeout", sizeof "timeout");
        } else {
            el = st + svc - a + 0.0001;
            x.code = 200;
            x.success = 1;
            x.latency_ms = (st - a + 0.9 * svc) * 1000;
            x.elapsed_ms = el * 1000;
            x.bytes = 362;
            memcpy(x.message, "OK", sizeof "OK");
        }
    }
    if (a + el > L->last_end) L->last_end = a + el;
    return ld_result_push(L->r, &x) == 0 ? el : -1;
}

static int lt_reserve(ld_result *r, size_t more) {
    if (r->cap - r->n >= more) return 0;
    ld_sample *v = realloc(r->v, (r->n + more) * sizeof *v);
    if (!v) return -1;
    r->v = v;
    r->cap = r->n + more;
    return 0;
}

static int lt_open(lt_run *L, pg_err *e) {
    const ld_plan *p = L->p;
    double nreq = floor(p->rate * p->duration_s + 1e-9);
    if (nreq > SIM_MAX_SAMPLES)
        return pg_errf(e, 422, "too_large", "load test of %.0f requests above the simulator's limit of %d",
                       nreq, SIM_MAX_SAMPLES);
    if (lt_reserve(L->r, (size_t)nreq) != 0) return pg_errf(e, 500, "no_memory", "out of memory");
    int threads = p->threads > 0 ? p->threads : 1;
    for (size_t i = 0; i < (size_t)nreq; i++)
        if (lt_request(L, (double)i / p->rate, (int)(i % (size_t)threads) + 1) < 0)
            return pg_errf(e, 500, "no_memory", "out of memory");
    L->last_end = fmax(L->last_end, p->duration_s);
    return 0;
}

/* Min-heap of threads by next send time (ties: lower thread first). */
static int thr_less(const struct lt_thr *a, const struct lt_thr *b) {
    return a->t < b->t || (a->t == b->t && a->id < b->id);
}

static void heap_down(struct lt_thr *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && thr_less(&h[l], &h[m])) m = l;
        if (l + 1 < n && thr_less(&h[l + 1], &h[m])) m = l + 1;
        if (m == i) return;
        struct lt_thr tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static int lt_closed(lt_run *L, pg_err *e) {
    const ld_plan *p = L->p;
    sim *s = L->s;
    size_t n = (size_t)p->threads;
    if (s->nlt_heap < n) {
        struct lt_thr *h = realloc(s->lt_heap, n * sizeof *h);
        if (!h) return pg_errf(e, 500, "no_memory", "out of memory");
        s->lt_heap = h;
        s->nlt_heap = n;
    }
    struct lt_thr *h = s->lt_heap;
    for (size_t i = 0; i < n; i++)             /* ramp-up: starts spread evenly; already a heap */
        h[i] = (struct lt_thr){ p->ramp_s > 0 ? p->ramp_s * (double)i / (double)n : 0, (int)i + 1,
                                p->loops > 0 ? p->loops : -1 };
    if (p->loops > 0) lt_reserve(L->r, n * (size_t)p->loops < SIM_MAX_SAMPLES ? n * (size_t)p->loops : 0);
    double think = p->think_ms > 0 ? p->think_ms / 1000 : 0;
    while (n > 0) {
        struct lt_thr *top = &h[0];
        if ((p->duration_s > 0 && top->t >= p->duration_s) || top->left == 0) {
            h[0] = h[--n];
            heap_down(h, n, 0);
            continue;
        }
        if (L->r->n >= SIM_MAX_SAMPLES)
            return pg_errf(e, 422, "too_large", "load test above the simulator's limit of %d requests",
                           SIM_MAX_SAMPLES);
        double el = lt_request(L, top->t, top->id);
        if (el < 0) return pg_errf(e, 500, "no_memory", "out of memory");
        top->t += el + think;
        if (top->left > 0) top->left--;
        heap_down(h, n, 0);
    }
    return 0;
}

/* Scratch for npod ready pods with c servers each (kept across tests). */
static int lt_scratch(sim *s, size_t npod, int c) {
    if (s->nlt < npod) {
        lt_pod *v = realloc(s->lt, npod * sizeof *v);
        if (!v) return -1;
        memset(v + s->nlt, 0, (npod - s->nlt) * sizeof *v);
        s->lt = v;
        s->nlt = npod;
    }
    size_t nf = npod * (size_t)c;
    if (s->nlt_free < nf) {
        double *f = realloc(s->lt_free, nf * sizeof *f);
        if (!f) return -1;
        s->lt_free = f;
        s->nlt_free = nf;
    }
    return 0;
}

static int loadtest_locked(sim *s, const ld_plan *p, ld_result *r, double *span, pg_err *e) {
    const pg_sim_conf *c = &s->conf;
    double t0 = now_vt(s);
    sync_pods(s, t0);
    lt_run L = { .s = s, .p = p, .r = r, .t0 = t0 };
    L.rng = mix64(s->seed ^ 0x10AD10AD10AD10ADULL) + ++s->lt_count;
    for (size_t i = 0; i < s->npods; i++) L.npod += pod_ready(&s->pods[i], t0);
    L.c = (int)fmin(256, fmax(1, ceil(c->capacity_rps * c->service_ms / 1000 - 1e-9)));
    L.qlimit = (size_t)c->queue_limit;
    L.timeout_s = p->timeout_s > 0 ? p->timeout_s : c->timeout_s;
    L.label = ld_result_intern(r, p->label && *p->label ? p->label : "sim");
    L.url = ld_result_intern(r, s->lt_url);
    if (lt_scratch(s, L.npod, L.c) != 0) return pg_errf(e, 500, "no_memory", "out of memory");

    /* Offered load per pod over capacity slows every request down. */
    double est = p->rate > 0 ? p->duration_s : fmax(p->duration_s, 1);
    double bg = wl_rps(s, t0 + est / 2);
    double test = p->rate > 0 ? p->rate : 0;
    double u = L.npod ? (bg + test) / ((double)L.npod * c->capacity_rps) : 0;
    L.svc_s = c->service_ms / 1000 * fmax(1, u);
    /* Background requests simulated one by one, batched beyond 2M per test. */
    L.bg_rate = bg;
    L.bg_mult = 1;
    if (bg * est > 2e6) {
        L.bg_mult = bg * est / 2e6;
        L.bg_rate = bg / L.bg_mult;
    }
    for (size_t i = 0; i < L.npod; i++) lt_warm(&L, i, L.bg_rate / (double)L.npod);
    L.bg_next = L.bg_rate > 0 ? rnd_exp(&L.rng) / L.bg_rate : INFINITY;

    size_t first = r->n;
    int rc = load_is_open(p, NULL) ? lt_open(&L, e) : lt_closed(&L, e);
    if (rc != 0) return -1;
    *span = L.last_end;
    s->test_t0 = t0;
    s->test_t1 = t0 + L.last_end;
    s->test_rps = L.last_end > 0 ? (double)(r->n - first) / L.last_end : 0;
    return 0;
}

int sim_loadtest(sim *s, const ld_plan *p, ld_result *r, pg_err *e) {
    if (ld_plan_check(p, NULL, e) != 0) return -1;
    int own = move_begin(s);
    LOCK(s);
    double span = 0, wall0 = pg_mono();
    int rc = loadtest_locked(s, p, r, &span, e);
    /* the ticks over the test's span see its requests in the metrics (offered) */
    if (rc == 0 && s->conf.speed <= 0) advance_to(s, s->vt + span, own);
    UNLOCK(s);
    move_end(s, own);
    if (rc != 0) return -1;
    if (s->conf.speed > 0) pg_sleep(span / s->conf.speed - (pg_mono() - wall0));
    ld_summarize(r);
    return 0;
}

/* ---- the backend --------------------------------------------------- */

static sim *S(pg_backend *b) { return (sim *)b->impl; }
static int op_pods(pg_backend *b, pg_pod **o, size_t *n, pg_err *e) { return sim_pods(S(b), o, n, e); }
static int op_metrics(pg_backend *b, pg_metric **o, size_t *n, pg_err *e) { return sim_metrics(S(b), o, n, e); }
static int op_replicas(pg_backend *b, int *d, pg_err *e) { return sim_replicas(S(b), d, e); }
static int op_scale(pg_backend *b, int n, pg_err *e) { return sim_scale(S(b), n, e); }
static int op_delete(pg_backend *b, const char *name, double g, pg_err *e) { return sim_delete_pod(S(b), name, g, e); }
static int op_wait(pg_backend *b, const pg_wait *w, double *ws, pg_err *e) { return sim_wait(S(b), w, ws, e); }
static double op_now(pg_backend *b) { return sim_now(S(b)); }
static int op_sleep(pg_backend *b, double sec) { return sim_sleep(S(b), sec, NULL); }
static int op_load(pg_backend *b, const ld_plan *p, ld_result *r, pg_err *e) { return sim_loadtest(S(b), p, r, e); }
static int op_usage(pg_backend *b, pg_usage *u, pg_err *e) { return sim_usage(S(b), u, e); }
static int op_changes(pg_backend *b, uint64_t since, double timeout_s, uint64_t *gen, pg_err *e) {
    return sim_changes(S(b), since, timeout_s, gen, e);
}
static int op_ticker_add(pg_backend *b, double iv, pg_tick_fn fn, void *ud, double *start, pg_err *e) {
    return sim_ticker_add(S(b), iv, fn, ud, start, e);
}
static int op_ticker_remove(pg_backend *b, int id) { return sim_ticker_remove(S(b), id); }

static void op_destroy(pg_backend *b) {
    if (!b) return;
    sim_free(S(b));
    free(b);
}

#define SIM_OPS_COMMON                                                                     \
    .name = "sim", .pods = op_pods, .metrics = op_metrics, .replicas = op_replicas,        \
    .scale = op_scale, .delete_pod = op_delete, .wait = op_wait, .now = op_now,            \
    .sleep = op_sleep, .loadtest = op_load, .usage = op_usage, .destroy = op_destroy,     \
    .changes = op_changes

/* speed > 0: a real clock, no tickers; speed 0: the virtual clock's tickers */
static const pg_backend_ops SIM_OPS = { SIM_OPS_COMMON };
static const pg_backend_ops SIM_VIRTUAL_OPS = {
    SIM_OPS_COMMON, .ticker_add = op_ticker_add, .ticker_remove = op_ticker_remove,
};

pg_backend *sim_backend_new(const pg_config *cfg, pg_err *e) {
    sim *s = sim_new(&cfg->sim, cfg->deployment, e);
    if (!s) return NULL;
    pg_backend *b = malloc(sizeof *b);
    if (!b) {
        sim_free(s);
        pg_errf(e, 500, "no_memory", "out of memory");
        return NULL;
    }
    b->ops = cfg->sim.speed > 0 ? &SIM_OPS : &SIM_VIRTUAL_OPS;
    b->impl = s;
    return b;
}

sim *sim_from_backend(pg_backend *b) {
    return b && (b->ops == &SIM_OPS || b->ops == &SIM_VIRTUAL_OPS) ? (sim *)b->impl : NULL;
}
