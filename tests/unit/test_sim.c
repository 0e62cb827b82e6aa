/* test_sim.c: the simulated cluster as an RL agent and a researcher see it,
 * all on the virtual clock (speed 0), so nothing here waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "cluster/sim/sim.h"

/* Defaults, with every value a test relies on spelled out. */
static pg_sim_conf conf(void) {
    pg_config c;
    pg_config_defaults(&c);
    pg_sim_conf s = c.sim;
    s.seed = 7;
    s.speed = 0;
    s.replicas = 3;
    s.start_delay_s = 6;
    s.start_jitter_s = 0;
    s.pending_s = 1;
    s.p_crash = s.p_image_pull = s.p_slow_start = 0;
    s.slow_factor = 4;
    s.grace_s = 5;
    s.metrics_window_s = 5;
    s.metrics_resolution_s = 2;
    snprintf(s.req_cpu, sizeof s.req_cpu, "500m");
    snprintf(s.req_mem, sizeof s.req_mem, "512Mi");
    s.capacity_rps = 40;
    s.service_ms = 20;
    s.queue_limit = 64;
    s.timeout_s = 5;
    s.base_mem_mib = 96;
    s.mem_per_rps_mib = 1.5;
    s.idle_cpu = 0.01;
    memset(&s.workload, 0, sizeof s.workload);
    snprintf(s.workload.kind, sizeof s.workload.kind, "constant");
    s.workload.rps = 60;
    s.workload.period_s = 600;
    return s;
}

static sim *mk(const pg_sim_conf *c) {
    pg_err e = {0};
    sim *s = sim_new(c, "web", &e);
    if (!s) fail_msg("sim_new: %s", e.message);
    return s;
}

typedef struct view { pg_pod *v; size_t n; } view;

static view pods(sim *s) {
    view w;
    pg_err e;
    assert_int_equal(sim_pods(s, &w.v, &w.n, &e), 0);
    return w;
}

static const pg_pod *by_name(const view *w, const char *name) {
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->v[i].name, name)) return &w->v[i];
    return NULL;
}

static int count_ready(sim *s) {
    view w = pods(s);
    int r = 0;
    for (size_t i = 0; i < w.n; i++) r += w.v[i].ready;
    free(w.v);
    return r;
}

static void advance(sim *s, double sec) {
    pg_err e;
    assert_int_equal(sim_advance(s, sec, &e), 0);
}

static void status_is(sim *s, const char *name, const char *phase, const char *status, int ready) {
    view w = pods(s);
    const pg_pod *p = by_name(&w, name);
    if (!p) fail_msg("pod %s missing at t=%.1f", name, sim_time(s));
    if (strcmp(p->status, status) || strcmp(p->phase, phase) || p->ready != ready)
        fail_msg("%s at t=%.1f: %s/%s ready=%d, want %s/%s ready=%d", name, sim_time(s), p->phase,
                 p->status, p->ready, phase, status, ready);
    free(w.v);
}

/* The name of the newest pod. */
static void newest(sim *s, char *out) {
    view w = pods(s);
    snprintf(out, 96, "%s", w.v[w.n - 1].name);
    free(w.v);
}

static void test_reset_starts_clean(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    view w = pods(s);
    assert_int_equal(w.n, 3);
    for (size_t i = 0; i < w.n; i++) {
        assert_string_equal(w.v[i].status, "Running");
        assert_true(w.v[i].ready);
        assert_true(w.v[i].req_cpu == 0.5);
        assert_true(w.v[i].req_mem == 536870912.0);
        /* web-<10 char hash>-<5 chars>, the hash shared by the ReplicaSet */
        assert_int_equal(strlen(w.v[i].name), strlen("web-") + 10 + 1 + 5);
        assert_memory_equal(w.v[i].name, w.v[0].name, 15);
        assert_true(w.v[i].created < SIM_EPOCH);
    }
    free(w.v);
    pg_metric *m;
    size_t n;
    pg_err e;
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    assert_int_equal(n, 3);                     /* metrics at once after a reset */
    free(m);
    assert_true(sim_now(s) == SIM_EPOCH);
    sim_free(s);
}

static void test_lifecycle_timing(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    char name[96];
    assert_int_equal(sim_scale(s, 4, &e), 0);
    newest(s, name);
    status_is(s, name, "Pending", "Pending", 0);
    advance(s, 1.5);
    status_is(s, name, "Pending", "ContainerCreating", 0);
    advance(s, 4.25);
    status_is(s, name, "Pending", "ContainerCreating", 0);
    advance(s, 0.25);
    status_is(s, name, "Running", "Running", 1);

    /* a wait on the virtual clock jumps to the start of the new pod */
    assert_int_equal(sim_scale(s, 5, &e), 0);
    pg_wait w = { .ready = 5, .settled = 1, .timeout_s = 90 };
    double waited = -1;
    assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
    assert_true(fabs(waited - 6.0) < 1e-9);
    assert_int_equal(count_ready(s), 5);

    /* a slow start takes slow_factor times longer */
    assert_int_equal(sim_inject(s, "slow", 1, &e), 0);
    assert_int_equal(sim_scale(s, 6, &e), 0);
    w.ready = 6;
    assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
    assert_true(fabs(waited - 24.0) < 1e-9);
    sim_free(s);
}

static void test_jitter_bounds(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.start_jitter_s = 2;
    c.replicas = 0;
    sim *s = mk(&c);
    pg_err e;
    for (int i = 1; i <= 8; i++) {
        assert_int_equal(sim_scale(s, i, &e), 0);
        pg_wait w = { .ready = i, .settled = 1, .timeout_s = 90 };
        double waited;
        assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
        assert_true(waited >= 4.0 && waited <= 8.0);
    }
    sim_free(s);
}

static void test_scale_down_victims(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    view before = pods(s);
    assert_int_equal(sim_scale(s, 5, &e), 0);   /* two new pods, not ready yet */
    assert_int_equal(sim_scale(s, 3, &e), 0);   /* the not-ready ones go first */
    view w = pods(s);
    assert_int_equal(w.n, 5);
    for (size_t i = 0; i < w.n; i++) {
        int old = by_name(&before, w.v[i].name) != NULL;
        assert_int_equal(w.v[i].deleting, !old);
        assert_string_equal(w.v[i].status, old ? "Running" : "Terminating");
    }
    free(w.v);

    /* all ready: the newest goes */
    advance(s, 10);
    assert_int_equal(sim_scale(s, 4, &e), 0);
    pg_wait wt = { .ready = 4, .settled = 1, .timeout_s = 90 };
    double waited;
    assert_int_equal(sim_wait(s, &wt, &waited, &e), 0);
    char young[96];
    newest(s, young);
    assert_int_equal(sim_scale(s, 3, &e), 0);
    status_is(s, young, "Running", "Terminating", 0);
    int desired;
    assert_int_equal(sim_replicas(s, &desired, &e), 0);
    assert_int_equal(desired, 3);
    free(before.v);

    assert_int_equal(sim_scale(s, -1, &e), -1);
    assert_int_equal(e.status, 400);
    assert_int_equal(sim_scale(s, SIM_MAX_PODS + 1, &e), -1);
    assert_int_equal(e.status, 422);
    sim_free(s);
}

static void test_delete_replacement_and_grace(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    view w = pods(s);
    char victim[96];
    snprintf(victim, sizeof victim, "%s", w.v[0].name);
    free(w.v);
    assert_int_equal(sim_delete_pod(s, victim, 10, &e), 0);
    w = pods(s);
    assert_int_equal(w.n, 4);                   /* the replacement exists at once */
    const pg_pod *p = by_name(&w, victim);
    assert_non_null(p);
    assert_true(p->deleting);
    assert_string_equal(p->status, "Terminating");
    assert_string_equal(w.v[3].status, "Pending");
    free(w.v);
    int desired;
    sim_replicas(s, &desired, &e);
    assert_int_equal(desired, 3);

    advance(s, 9.75);
    w = pods(s);
    assert_non_null(by_name(&w, victim));
    free(w.v);
    advance(s, 0.25);
    w = pods(s);
    assert_null(by_name(&w, victim));           /* gone after exactly the grace period */
    assert_int_equal(w.n, 3);
    free(w.v);

    /* grace 0: gone at once; negative: the configured grace */
    w = pods(s);
    snprintf(victim, sizeof victim, "%s", w.v[0].name);
    free(w.v);
    assert_int_equal(sim_delete_pod(s, victim, 0, &e), 0);
    w = pods(s);
    assert_null(by_name(&w, victim));
    snprintf(victim, sizeof victim, "%s", w.v[0].name);
    free(w.v);
    assert_int_equal(sim_delete_pod(s, victim, -1, &e), 0);
    advance(s, 4.75);
    status_is(s, victim, "Running", "Terminating", 0);
    advance(s, 0.25);
    w = pods(s);
    assert_null(by_name(&w, victim));
    free(w.v);

    assert_int_equal(sim_delete_pod(s, "web-nope", -1, &e), -1);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.code, "not_found");
    sim_free(s);
}

static void test_crash_loop(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    char name[96];
    assert_int_equal(sim_inject(s, "crash", 1, &e), 0);
    assert_int_equal(sim_scale(s, 4, &e), 0);
    newest(s, name);
    advance(s, 6);                              /* started: runs, not ready */
    status_is(s, name, "Running", "Running", 0);
    advance(s, 2);                              /* crashed */
    status_is(s, name, "Running", "Error", 0);
    advance(s, 1);
    status_is(s, name, "Running", "CrashLoopBackOff", 0);
    view w = pods(s);
    assert_int_equal(by_name(&w, name)->restarts, 0);
    free(w.v);
    advance(s, 9);                              /* back-off 10 s over: restart 1 */
    status_is(s, name, "Running", "Running", 0);
    w = pods(s);
    assert_int_equal(by_name(&w, name)->restarts, 1);
    free(w.v);
    advance(s, 2 + 20);                         /* then 20 s: restart 2 */
    w = pods(s);
    assert_int_equal(by_name(&w, name)->restarts, 2);
    free(w.v);
    advance(s, 3600);                           /* back-off capped at 300 s */
    w = pods(s);
    int r = by_name(&w, name)->restarts;
    assert_true(r >= 13 && r <= 16);
    free(w.v);
    advance(s, 1e9);                            /* a long jump stays cheap and keeps counting */
    w = pods(s);
    r = by_name(&w, name)->restarts;
    assert_true(r > 3300000 && r < 3320000);
    free(w.v);

    /* a crash-looping pod never gets ready: wait times out with the state */
    pg_wait wt = { .ready = 4, .settled = 1, .timeout_s = 90 };
    double waited;
    assert_int_equal(sim_wait(s, &wt, &waited, &e), -1);
    assert_int_equal(e.status, 504);
    assert_string_equal(e.code, "timeout");
    assert_non_null(strstr(e.message, "3/4 ready"));
    assert_non_null(strstr(e.message, "90.0 s"));
    sim_free(s);
}

static void test_image_pull(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.p_image_pull = 1;
    sim *s = mk(&c);
    pg_err e;
    char name[96];
    assert_int_equal(sim_scale(s, 4, &e), 0);
    newest(s, name);
    advance(s, 6);
    status_is(s, name, "Pending", "ErrImagePull", 0);
    advance(s, 1);
    status_is(s, name, "Pending", "ImagePullBackOff", 0);
    advance(s, 10);
    status_is(s, name, "Pending", "ErrImagePull", 0);
    advance(s, 500);
    view w = pods(s);
    assert_int_equal(by_name(&w, name)->restarts, 0);
    free(w.v);
    sim_free(s);
}

static void test_fail_pod(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    view w = pods(s);
    char a[96], b[96], d[96];
    snprintf(a, 96, "%s", w.v[0].name);
    snprintf(b, 96, "%s", w.v[1].name);
    snprintf(d, 96, "%s", w.v[2].name);
    free(w.v);
    assert_int_equal(sim_fail_pod(s, a, "CrashLoopBackOff", &e), 0);
    assert_int_equal(sim_fail_pod(s, b, "ImagePullBackOff", &e), 0);
    assert_int_equal(sim_fail_pod(s, d, "Pending", &e), 0);
    status_is(s, a, "Running", "Error", 0);
    status_is(s, b, "Pending", "ErrImagePull", 0);
    status_is(s, d, "Pending", "Pending", 0);
    advance(s, 2);
    status_is(s, a, "Running", "CrashLoopBackOff", 0);
    status_is(s, b, "Pending", "ImagePullBackOff", 0);
    assert_int_equal(count_ready(s), 0);
    pg_metric *m;
    size_t n;
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    assert_int_equal(n, 0);                     /* broken pods report nothing */
    free(m);

    assert_int_equal(sim_fail_pod(s, "web-nope", "Pending", &e), -1);
    assert_int_equal(e.status, 404);
    assert_int_equal(sim_fail_pod(s, a, "Happy", &e), -1);
    assert_int_equal(e.status, 400);
    assert_int_equal(sim_inject(s, "meteor", 0.5, &e), -1);
    assert_int_equal(e.status, 400);
    assert_int_equal(sim_inject(s, "crash", 1.5, &e), -1);
    assert_int_equal(e.status, 400);
    sim_free(s);
}

static void test_metrics_window_resolution(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    char name[96];
    assert_int_equal(sim_scale(s, 4, &e), 0);
    newest(s, name);
    pg_metric *m;
    size_t n;
    /* Ready at 6; window 5: the first tick that reports is 12 (ticks every 2 s). */
    double checks[][2] = { { 6, 0 }, { 10.9, 0 }, { 11.5, 0 }, { 12, 1 }, { 13.9, 1 } };
    for (size_t i = 0; i < 5; i++) {
        advance(s, checks[i][0] - sim_time(s));
        assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
        int found = 0;
        for (size_t k = 0; k < n; k++) {
            found |= !strcmp(m[k].name, name);
            double tick = floor(checks[i][0] / 2) * 2;
            assert_true(fabs(m[k].ts - (SIM_EPOCH + tick)) < 1e-6);   /* the refresh tick */
            assert_true(m[k].window_s == 2);
            assert_true(m[k].cpu > 0 && m[k].mem > 0);
        }
        if (found != (int)checks[i][1]) fail_msg("t=%.1f: metrics of the new pod %s", checks[i][0],
                                                 found ? "too early" : "missing");
        free(m);
    }
    /* the value does not change between two refreshes */
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    double cpu0 = m[0].cpu;
    free(m);
    advance(s, 0.05);
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    assert_true(m[0].cpu == cpu0);
    free(m);
    sim_free(s);
}

/* wait{metrics}: returns when the target count is Ready and listed by the
 * metrics API, as the original service's wait did; a wait for Ready alone
 * returns a metrics window earlier, with the new pods not yet listed. */
static void test_wait_for_metrics(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    pg_metric *m;
    size_t n;
    double waited;
    assert_int_equal(sim_scale(s, 5, &e), 0);
    pg_wait ready = { .ready = 5, .settled = 1, .timeout_s = 90 };
    assert_int_equal(sim_wait(s, &ready, &waited, &e), 0);
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    assert_int_equal(n, 3);                             /* Ready, but not yet a window of metrics */
    free(m);
    double t_ready = sim_time(s);
    pg_wait metrics = { .ready = 5, .settled = 1, .metrics = 1, .timeout_s = 90 };
    assert_int_equal(sim_wait(s, &metrics, &waited, &e), 0);
    assert_true(waited >= c.metrics_window_s - c.metrics_resolution_s);
    assert_true(waited <= c.metrics_window_s + c.metrics_resolution_s);
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    assert_int_equal(n, 5);
    free(m);
    /* the earliest moment: a step back (one resolution) they were not all listed */
    assert_true(fmod(sim_time(s), c.metrics_resolution_s) < 1e-9);
    assert_true(sim_time(s) > t_ready);
    /* scale in: the metrics count follows at once (the deleted pod is gone after its grace) */
    assert_int_equal(sim_scale(s, 2, &e), 0);
    pg_wait two = { .ready = 2, .settled = 1, .metrics = 1, .timeout_s = 90 };
    assert_int_equal(sim_wait(s, &two, &waited, &e), 0);
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    assert_int_equal(n, 2);
    free(m);
    /* a timeout says what it counted */
    assert_int_equal(sim_scale(s, 4, &e), 0);
    pg_wait short_ = { .ready = 4, .settled = 1, .metrics = 1, .timeout_s = 7 };
    assert_int_equal(sim_wait(s, &short_, &waited, &e), -1);
    assert_int_equal(e.status, 504);
    assert_non_null(strstr(e.message, "reporting metrics"));
    sim_free(s);
}

static double mean_cpu(sim *s) {
    pg_metric *m;
    size_t n;
    pg_err e;
    assert_int_equal(sim_metrics(s, &m, &n, &e), 0);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += m[i].cpu;
    free(m);
    return n ? sum / (double)n : 0;
}

static void test_metrics_follow_load(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    double busy = mean_cpu(s);                  /* 60 rps over 3 pods of capacity 40 */
    assert_true(busy > 0.24 && busy < 0.28);    /* 0.01 + 0.5 * 20/40, +-5 % noise */
    pg_workload_conf w;
    sim_workload(s, &w);
    w.rps = 6;
    assert_int_equal(sim_set_workload(s, &w, &e), 0);
    advance(s, 2);
    double quiet = mean_cpu(s);
    assert_true(quiet < busy / 4);
    /* more pods: less cpu each */
    w.rps = 60;
    sim_set_workload(s, &w, &e);
    assert_int_equal(sim_scale(s, 6, &e), 0);
    advance(s, 20);
    double spread = mean_cpu(s);
    assert_true(spread < busy * 0.7);
    /* bad workloads are refused and leave the old one */
    snprintf(w.kind, sizeof w.kind, "chaos");
    assert_int_equal(sim_set_workload(s, &w, &e), -1);
    assert_int_equal(e.status, 400);
    sim_workload(s, &w);
    assert_string_equal(w.kind, "constant");
    sim_free(s);
}

/* sim_usage is what summing sim_pods and sim_metrics gives, through
 * starting, scaling and metrics windows. */
static void usage_matches(sim *s) {
    pg_err e;
    pg_usage u;
    assert_int_equal(sim_usage(s, &u, &e), 0);
    view w = pods(s);
    pg_metric *m;
    size_t nm;
    assert_int_equal(sim_metrics(s, &m, &nm, &e), 0);
    int ready = 0, desired;
    double cpu = 0, mem = 0, req = 0;
    for (size_t i = 0; i < w.n; i++) ready += w.v[i].ready;
    for (size_t j = 0; j < nm; j++) {
        cpu += m[j].cpu;
        mem += m[j].mem;
        req += by_name(&w, m[j].name)->req_cpu;
    }
    sim_replicas(s, &desired, &e);
    assert_int_equal(u.total, (int)w.n);
    assert_int_equal(u.ready, ready);
    assert_int_equal(u.online, (int)nm);
    assert_int_equal(u.desired, desired);
    assert_true(fabs(u.cpu - cpu) < 1e-9 && fabs(u.mem - mem) < 1e-3 && fabs(u.req_cpu - req) < 1e-9);
    if (nm) assert_true(u.oldest == m[0].ts);
    assert_true(fabs(u.now - sim_now(s)) < 1e-9);
    free(w.v);
    free(m);
}

static void test_usage(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    usage_matches(s);
    assert_int_equal(sim_scale(s, 5, &e), 0);
    for (int i = 0; i < 12; i++) {
        advance(s, 0.7);
        usage_matches(s);
    }
    assert_int_equal(sim_scale(s, 1, &e), 0);
    advance(s, 1.3);
    usage_matches(s);
    sim_free(s);
}

static void run_load(sim *s, double rate, double dur, ld_result *r) {
    ld_plan p = { .rate = rate, .duration_s = dur, .threads = 4, .timeout_s = 5, .label = "t" };
    pg_err e;
    memset(r, 0, sizeof *r);
    if (sim_loadtest(s, &p, r, &e) != 0) fail_msg("loadtest: %s", e.message);
}

/* The last load test shows in the metrics of the windows it overlapped. */
static void test_metrics_see_load_test(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    double before = mean_cpu(s);
    ld_result r;
    run_load(s, 60, 4, &r);                     /* 60 rps more over 3 pods: 40 rps each */
    ld_result_free(&r);
    double during = mean_cpu(s);
    assert_true(during > before * 1.6);
    advance(s, 4);
    double after = mean_cpu(s);
    assert_true(fabs(after - before) < before * 0.15);
    sim_free(s);
}

static void test_determinism(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.p_crash = 0.3;
    c.start_jitter_s = 2;
    sim *a = mk(&c), *b = mk(&c);
    pg_err e;
    sim *both[2] = { a, b };
    for (int k = 0; k < 2; k++) {
        sim_scale(both[k], 5, &e);
        pg_wait w = { .ready = 5, .settled = 1, .timeout_s = 30 };
        double waited;
        sim_wait(both[k], &w, &waited, &e);
        pg_err e2;
        sim_delete_pod(both[k], "web-does-not-exist", 1, &e2);
        sim_scale(both[k], 2, &e);
        advance(both[k], 7.3);
    }
    view va = pods(a), vb = pods(b);
    assert_int_equal(va.n, vb.n);
    assert_memory_equal(va.v, vb.v, va.n * sizeof *va.v);
    free(va.v);
    free(vb.v);
    pg_metric *ma, *mb;
    size_t na, nb;
    sim_metrics(a, &ma, &na, &e);
    sim_metrics(b, &mb, &nb, &e);
    assert_int_equal(na, nb);
    assert_memory_equal(ma, mb, na * sizeof *ma);
    free(ma);
    free(mb);
    ld_result ra, rb;
    run_load(a, 50, 4, &ra);
    run_load(b, 50, 4, &rb);
    assert_int_equal(ra.n, 200);
    assert_int_equal(ra.n, rb.n);
    for (size_t i = 0; i < ra.n; i++) {
        ld_sample x = ra.v[i], y = rb.v[i];
        assert_string_equal(x.label, y.label);
        x.label = y.label = NULL;
        x.url = y.url = NULL;
        assert_memory_equal(&x, &y, sizeof x);
    }
    assert_true(sim_time(a) == sim_time(b));
    ld_result_free(&ra);
    ld_result_free(&rb);

    /* a reset with the same seed replays the same episode */
    sim_reset(a, 99, 3, &e);
    view r1 = pods(a);
    sim_reset(a, 99, 3, &e);
    view r2 = pods(a);
    assert_memory_equal(r1.v, r2.v, r1.n * sizeof *r1.v);
    sim_reset(a, 100, 3, &e);
    view r3 = pods(a);
    assert_string_not_equal(r1.v[0].name, r3.v[0].name);
    free(r1.v);
    free(r2.v);
    free(r3.v);
    sim_free(a);
    sim_free(b);
}

/* Same offered load on 1, 3 and 5 pods. */
static void test_more_pods_better(void **st) {
    (void)st;
    double lat[3];
    size_t err[3];
    int sizes[3] = { 1, 3, 5 };
    for (int k = 0; k < 3; k++) {
        pg_sim_conf c = conf();
        c.replicas = sizes[k];
        sim *s = mk(&c);
        ld_result r;
        run_load(s, 20, 10, &r);
        assert_int_equal(r.sum.count, 200);
        lat[k] = r.sum.latency.mean;
        err[k] = r.sum.errors;
        assert_true(sim_time(s) >= 10.0);      /* the clock moved by the test */
        ld_result_free(&r);
        sim_free(s);
    }
    /* 1 pod is overloaded (80 rps offered vs 40 capacity) */
    assert_true(err[0] > 20);
    assert_true(lat[0] > 200);
    assert_true(err[1] < err[0]);
    assert_true(err[2] <= err[1]);
    assert_true(lat[1] < lat[0]);
    assert_true(lat[2] < lat[1]);
    assert_true(lat[1] - lat[2] < lat[0] - lat[1]);  /* diminishing returns */
    assert_true(lat[2] >= 15);                  /* never below the service time */
}

static void test_closed_loop(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.workload.rps = 0;
    sim *s = mk(&c);
    ld_plan p = { .threads = 1, .loops = 6, .timeout_s = 5 };
    ld_result r = {0};
    pg_err e;
    assert_int_equal(sim_loadtest(s, &p, &r, &e), 0);
    assert_int_equal(r.n, 6);
    assert_int_equal(r.sum.errors, 0);
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(r.v[i].code, 200);
        assert_string_equal(r.v[i].message, "OK");
        assert_true(r.v[i].latency_ms <= r.v[i].elapsed_ms);
        assert_true(r.v[i].latency_ms >= 5 && r.v[i].elapsed_ms < 200);
        if (i) assert_true(r.v[i].ts_ms >= r.v[i - 1].ts_ms + (int64_t)r.v[i - 1].elapsed_ms);
    }
    assert_true(r.v[0].ts_ms == (int64_t)(SIM_EPOCH * 1000));
    ld_result_free(&r);
    p.loops = 0;
    assert_int_equal(sim_loadtest(s, &p, &r, &e), -1);   /* no loops and no duration */
    assert_int_equal(e.status, 400);
    sim_free(s);
}

static void test_no_ready_pods(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.replicas = 0;
    sim *s = mk(&c);
    ld_result r;
    run_load(s, 10, 2, &r);
    assert_int_equal(r.n, 20);
    assert_int_equal(r.sum.errors, 20);
    assert_true(r.sum.drop_pct == 100);
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(r.v[i].code, 0);
        assert_string_equal(r.v[i].message, "Connection refused");
    }
    ld_result_free(&r);
    sim_free(s);
}

static void test_wait_timeout(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    pg_wait w = { .ready = 4, .settled = 1, .timeout_s = 90 };
    double waited;
    assert_int_equal(sim_wait(s, &w, &waited, &e), -1);  /* replicas is 3 */
    assert_int_equal(e.status, 504);
    assert_string_equal(e.code, "timeout");
    assert_string_equal(e.message, "3/4 ready after 90.0 s");
    assert_true(fabs(sim_time(s) - 90) < 1e-9);

    /* settled: a terminating pod is still there */
    view v = pods(s);
    sim_delete_pod(s, v.v[0].name, 60, &e);
    free(v.v);
    w.ready = 3;
    w.timeout_s = 30;
    assert_int_equal(sim_wait(s, &w, &waited, &e), -1);
    assert_non_null(strstr(e.message, "1 other pod"));
    w.settled = 0;                              /* 3 ready is enough when not settled */
    assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
    sim_free(s);
}

static int progress_calls;
static void on_progress(void *ud, int ready, int want, double el) {
    (void)ud;
    (void)el;
    assert_true(ready < want);
    progress_calls++;
}

static void test_wait_progress(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    sim_scale(s, 5, &e);
    pg_wait w = { .ready = 5, .settled = 1, .timeout_s = 90, .progress = on_progress };
    double waited;
    assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
    assert_true(progress_calls >= 1 && progress_calls <= 4);
    sim_free(s);
}

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_sim_trace_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_trace(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    char *path = write_tmp("t,rps\n# warm-up\n0,10\n\n10, 30\n20,30\n");
    snprintf(c.workload.kind, sizeof c.workload.kind, "trace");
    snprintf(c.workload.trace, sizeof c.workload.trace, "%s", path);
    sim *s = mk(&c);
    assert_true(sim_workload_rps(s, -5) == 10);
    assert_true(sim_workload_rps(s, 0) == 10);
    assert_true(fabs(sim_workload_rps(s, 5) - 20) < 1e-9);
    assert_true(sim_workload_rps(s, 15) == 30);
    assert_true(sim_workload_rps(s, 1000) == 30);
    unlink(path);

    pg_err e = {0};
    path = write_tmp("t,rps\n0,10\n5;12\n");
    pg_workload_conf w;
    sim_workload(s, &w);
    snprintf(w.trace, sizeof w.trace, "%s", path);
    assert_int_equal(sim_set_workload(s, &w, &e), -1);
    assert_string_equal(e.code, "bad_trace");
    char want[128];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_non_null(strstr(e.message, want));
    assert_true(fabs(sim_workload_rps(s, 5) - 20) < 1e-9);   /* old trace kept */
    unlink(path);

    path = write_tmp("0,10\n5,-1\n");
    snprintf(w.trace, sizeof w.trace, "%s", path);
    assert_int_equal(sim_set_workload(s, &w, &e), -1);
    snprintf(want, sizeof want, "%s:2:", path);
    assert_non_null(strstr(e.message, want));
    unlink(path);

    path = write_tmp("5,10\n1,10\n");
    snprintf(w.trace, sizeof w.trace, "%s", path);
    assert_int_equal(sim_set_workload(s, &w, &e), -1);
    assert_non_null(strstr(e.message, "backwards"));
    unlink(path);

    snprintf(w.trace, sizeof w.trace, "/nonexistent/trace.csv");
    assert_int_equal(sim_set_workload(s, &w, &e), -1);
    assert_non_null(strstr(e.message, "/nonexistent/trace.csv"));

    /* sim_new with a bad trace fails with the same message */
    snprintf(c.workload.trace, sizeof c.workload.trace, "/nonexistent/trace.csv");
    assert_null(sim_new(&c, "web", &e));
    assert_string_equal(e.code, "bad_trace");
    sim_free(s);
}

static void test_workload_shapes(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.workload.rps = 50;
    c.workload.step_rps = 90;
    c.workload.step_at_s = 100;
    c.workload.amplitude_rps = 20;
    c.workload.period_s = 400;
    snprintf(c.workload.kind, sizeof c.workload.kind, "step");
    sim *s = mk(&c);
    assert_true(sim_workload_rps(s, 99) == 50);
    assert_true(sim_workload_rps(s, 100) == 90);
    pg_workload_conf w;
    pg_err e;
    sim_workload(s, &w);
    snprintf(w.kind, sizeof w.kind, "sine");
    assert_int_equal(sim_set_workload(s, &w, &e), 0);
    assert_true(fabs(sim_workload_rps(s, 100) - 70) < 1e-9);
    assert_true(fabs(sim_workload_rps(s, 300) - 30) < 1e-9);
    sim_free(s);
}

static void test_bad_conf(void **st) {
    (void)st;
    pg_err e;
    pg_sim_conf c = conf();
    snprintf(c.req_cpu, sizeof c.req_cpu, "lots");
    assert_null(sim_new(&c, "web", &e));
    assert_non_null(strstr(e.message, "req_cpu"));
    c = conf();
    c.capacity_rps = 0;
    assert_null(sim_new(&c, "web", &e));
    assert_non_null(strstr(e.message, "capacity_rps"));
}

static void test_backend(void **st) {
    (void)st;
    pg_config cfg;
    pg_config_defaults(&cfg);
    cfg.sim = conf();
    snprintf(cfg.deployment, sizeof cfg.deployment, "shop");
    pg_err e;
    pg_backend *b = sim_backend_new(&cfg, &e);
    assert_non_null(b);
    assert_string_equal(b->ops->name, "sim");
    assert_non_null(sim_from_backend(b));
    pg_pod *v;
    size_t n;
    assert_int_equal(b->ops->pods(b, &v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(v[0].name, "shop-", 5);
    free(v);
    assert_true(b->ops->now(b) == SIM_EPOCH);
    assert_int_equal(b->ops->sleep(b, 30), 0);
    assert_true(b->ops->now(b) == SIM_EPOCH + 30);
    assert_non_null(b->ops->ticker_add);                /* speed 0: a virtual clock */
    pg_backend other = { 0 };
    assert_null(sim_from_backend(&other));
    b->ops->destroy(b);
}

/* Many threads (as the HTTP server): every call stays consistent. */
static void *hammer(void *arg) {
    sim *s = arg;
    pg_err e;
    for (int i = 0; i < 2000; i++) {
        sim_scale(s, 1 + i % 5, &e);
        pg_pod *v;
        size_t n;
        if (sim_pods(s, &v, &n, &e) == 0) free(v);
        pg_metric *m;
        if (sim_metrics(s, &m, &n, &e) == 0) free(m);
        sim_advance(s, 0.5, &e);
        if (i % 200 == 0) {
            ld_plan p = { .threads = 2, .loops = 3, .timeout_s = 5 };
            ld_result r = { 0 };
            sim_loadtest(s, &p, &r, &e);
            ld_result_free(&r);
        }
    }
    return NULL;
}

static void test_threads(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, s);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    pg_err e;
    int desired;
    sim_replicas(s, &desired, &e);
    view w = pods(s);
    int live = 0;
    for (size_t i = 0; i < w.n; i++) live += !w.v[i].deleting;
    assert_int_equal(live, desired);
    assert_true(desired >= 1 && desired <= 5);
    free(w.v);
    sim_free(s);
}

/* ---- tickers of the virtual clock ---- */

#define MAX_TICKS 4096

typedef struct tick_log {
    sim *s;
    int n;
    long long k[MAX_TICKS];
    double t[MAX_TICKS];        /* the tick's time, as given */
    double clock[MAX_TICKS];    /* the sim's clock inside the callback */
    int online[MAX_TICKS], total[MAX_TICKS];
    double cpu[MAX_TICKS];      /* mean cpu of the pods reporting */
    _Atomic int inside;         /* callbacks running at once */
    int overlap;
    long long stop_at;          /* return 1 at this tick (-1: never) */
    long long move_at;          /* at this tick, move the clock by move_s from inside */
    double move_s;
} tick_log;

static tick_log *tick_log_new(sim *s) {
    tick_log *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->s = s;
    g->stop_at = g->move_at = -1;
    return g;
}

static int on_tick(void *ud, long long k, double t) {
    tick_log *g = ud;
    if (atomic_fetch_add(&g->inside, 1) != 0) g->overlap = 1;
    int i = g->n < MAX_TICKS ? g->n++ : MAX_TICKS - 1;
    g->k[i] = k;
    g->t[i] = t;
    g->clock[i] = sim_now(g->s);
    pg_usage u;
    pg_err e;
    assert_int_equal(sim_usage(g->s, &u, &e), 0);      /* back into the sim: no lock held */
    g->online[i] = u.online;
    g->total[i] = u.total;
    g->cpu[i] = u.online ? u.cpu / u.online : 0;
    if (k == g->move_at) assert_int_equal(sim_advance(g->s, g->move_s, &e), 0);
    atomic_fetch_sub(&g->inside, 1);
    return k == g->stop_at;
}

static int first_tick(const tick_log *g, int from, int online) {
    for (int i = from; i < g->n; i++)
        if (g->online[i] == online) return i;
    return -1;
}

/* Every due time exactly once, in order, with the clock at it, through every
 * path that moves the clock: advance, a wait, a load test, a sleep. */
static void test_ticker_every_tick(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    tick_log *g = tick_log_new(s);
    double start = 0;
    int id = sim_ticker_add(s, 0.25, on_tick, g, &start, &e);
    assert_true(id > 0);
    assert_true(start == SIM_EPOCH);
    assert_int_equal(g->n, 1);                          /* tick 0 at once */
    assert_int_equal(g->total[0], 3);
    advance(s, 1.0);
    assert_int_equal(g->n, 5);                          /* 0.25 .. 1.0 */
    assert_true(sim_time(s) == 1.0);

    /* a wait: every tick on its way, the new pod online from the tick it ends at */
    assert_int_equal(sim_scale(s, 4, &e), 0);
    pg_wait w = { .ready = 4, .metrics = 1, .timeout_s = 90 };
    double waited;
    int before_wait = g->n;
    assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
    double t_wait = sim_time(s);
    assert_true(waited > c.start_delay_s);
    int on4 = first_tick(g, before_wait, 4);
    assert_true(on4 >= 0);
    assert_true(g->t[on4] == SIM_EPOCH + t_wait);       /* at the tick the wait ended on */
    assert_int_equal(g->online[on4 - 1], 3);
    assert_int_equal(g->total[before_wait], 4);         /* the scale shows from the next tick */

    /* a load test: the ticks over its span see its requests */
    ld_result r;
    run_load(s, 60, 4, &r);
    ld_result_free(&r);
    double t_load = sim_time(s);
    assert_true(t_load >= t_wait + 4);
    double quiet = g->cpu[on4], busy = 0;
    for (int i = on4; i < g->n; i++)
        if (g->t[i] > SIM_EPOCH + t_wait + c.metrics_resolution_s) busy = fmax(busy, g->cpu[i]);
    assert_true(busy > quiet * 1.5);                    /* 60 + 60 rps over 4 pods vs 60 */

    assert_int_equal(sim_sleep(s, 0.6, &e), 0);
    double end = sim_time(s);
    int want = (int)floor(end / 0.25 + 1e-9) + 1;
    assert_int_equal(g->n, want);
    for (int i = 0; i < g->n; i++) {
        if (g->k[i] != i) fail_msg("tick %d has k %lld", i, g->k[i]);
        if (g->t[i] != SIM_EPOCH + 0.25 * i || g->clock[i] != g->t[i])
            fail_msg("tick %d at %.6f with the clock at %.6f", i, g->t[i] - SIM_EPOCH, g->clock[i] - SIM_EPOCH);
    }
    assert_false(g->overlap);
    assert_true(sim_time(s) == end);                    /* the moves end where they were told */
    assert_int_equal(sim_ticker_remove(s, id), 1);
    advance(s, 5);
    assert_int_equal(g->n, want);                       /* removed: no more ticks */
    assert_int_equal(sim_ticker_remove(s, id), 0);
    free(g);
    sim_free(s);
}

/* A callback that moves the clock itself: no recursion, the ticks it jumped
 * over are skipped (a gap in k), the clock never goes back; a callback
 * returning non-zero ends its ticker. */
static void test_ticker_reentry(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    tick_log *g = tick_log_new(s);
    g->move_at = 2;                                     /* at 0.5: +0.6 -> 1.1 */
    g->move_s = 0.6;
    g->stop_at = 8;
    int id = sim_ticker_add(s, 0.25, on_tick, g, NULL, &e);
    assert_true(id > 0);
    advance(s, 2.0);
    long long want_k[] = { 0, 1, 2, 5, 6, 7, 8 };       /* 0.75 and 1.0 were passed inside tick 2 */
    assert_int_equal(g->n, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(g->k[i], want_k[i]);
        assert_true(g->t[i] == SIM_EPOCH + 0.25 * (double)want_k[i]);
        assert_true(g->clock[i] == g->t[i]);
    }
    assert_true(sim_time(s) == 2.0);
    advance(s, 3);
    assert_int_equal(g->n, 7);                          /* tick 8 returned 1: gone */
    assert_int_equal(sim_ticker_remove(s, id), 0);

    /* on a real clock there are no tickers */
    pg_sim_conf rc = conf();
    rc.speed = 1;
    sim *real = mk(&rc);
    assert_int_equal(sim_ticker_add(real, 0.25, on_tick, g, NULL, &e), -1);
    assert_int_equal(e.status, 409);
    assert_string_equal(e.code, "real_clock");
    sim_free(real);
    free(g);
    sim_free(s);
}

/* A reset re-anchors: the next tick fires at once at SIM_EPOCH on the fresh
 * cluster, the following ones an interval apart; k goes on. */
static void test_ticker_reset(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    tick_log *g = tick_log_new(s);
    assert_true(sim_ticker_add(s, 0.5, on_tick, g, NULL, &e) > 0);
    advance(s, 1.2);
    assert_int_equal(g->n, 3);                          /* 0, 0.5, 1.0 */
    assert_int_equal(sim_reset(s, 11, 2, &e), 0);
    assert_int_equal(g->n, 4);
    assert_int_equal(g->k[3], 3);
    assert_true(g->t[3] == SIM_EPOCH && g->clock[3] == SIM_EPOCH);
    assert_int_equal(g->total[3], 2);                   /* the fresh cluster */
    advance(s, 1.0);
    assert_int_equal(g->n, 6);
    assert_true(g->k[4] == 4 && g->t[4] == SIM_EPOCH + 0.5);
    assert_true(g->k[5] == 5 && g->t[5] == SIM_EPOCH + 1.0);
    free(g);
    sim_free(s);
}

/* Threads moving the clock at once: one tick at a time, each once, in
 * order, each with the clock at its time. */
static void *mover(void *arg) {
    sim *s = arg;
    pg_err e;
    for (int i = 0; i < 200; i++) {
        if (i % 50 == 7) {
            ld_plan p = { .rate = 20, .duration_s = 1, .threads = 1, .timeout_s = 5 };
            ld_result r = { 0 };
            sim_loadtest(s, &p, &r, &e);
            ld_result_free(&r);
        }
        sim_advance(s, 0.5, &e);
        pg_pod *v;
        size_t n;
        if (sim_pods(s, &v, &n, &e) == 0) free(v);
    }
    return NULL;
}

static void test_ticker_threads(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    tick_log *g = tick_log_new(s);
    assert_true(sim_ticker_add(s, 0.25, on_tick, g, NULL, &e) > 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, mover, s);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    double end = sim_time(s);
    assert_true(end >= 300);                            /* 3 x 200 x 0.5 s and the load tests */
    assert_int_equal(g->n, (int)floor(end / 0.25 + 1e-9) + 1);
    assert_false(g->overlap);
    for (int i = 0; i < g->n; i++) {
        if (g->k[i] != i || g->t[i] != SIM_EPOCH + 0.25 * i || g->clock[i] != g->t[i])
            fail_msg("tick %d: k %lld at %.6f, clock %.6f", i, g->k[i], g->t[i] - SIM_EPOCH,
                     g->clock[i] - SIM_EPOCH);
    }
    free(g);
    sim_free(s);
}

/* The changes op: the generation moves on a scale, a delete, a reset and a
 * failure injected, and on the virtual clock passing a pod's transition;
 * a wait with nothing to happen times out with the same generation. */
static void test_changes_virtual(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    sim *s = mk(&c);
    pg_err e;
    uint64_t g0, g;
    assert_int_equal(sim_changes(s, 0, 0, &g0, &e), 0);
    assert_true(g0 > 0);
    assert_int_equal(sim_changes(s, g0, 0.01, &g, &e), 0);
    assert_true(g == g0);                       /* nothing happened */
    advance(s, 1);
    assert_int_equal(sim_changes(s, g0, 0, &g, &e), 0);
    assert_true(g == g0);                       /* time passed, no pod changed */
    assert_int_equal(sim_scale(s, 4, &e), 0);
    assert_int_equal(sim_changes(s, g0, 0, &g, &e), 0);
    assert_true(g > g0);
    uint64_t g1 = g;
    advance(s, 0.5);                            /* the new pod: Pending until 1 s, Ready at 6 s */
    assert_int_equal(sim_changes(s, g1, 0, &g, &e), 0);
    assert_true(g == g1);
    advance(s, 0.6);                            /* Pending -> ContainerCreating */
    assert_int_equal(sim_changes(s, g1, 0, &g, &e), 0);
    assert_true(g > g1);
    g1 = g;
    advance(s, 5);                              /* -> Ready */
    assert_int_equal(sim_changes(s, g1, 0, &g, &e), 0);
    assert_true(g > g1);
    g1 = g;
    char name[96];
    newest(s, name);
    assert_int_equal(sim_delete_pod(s, name, 0, &e), 0);
    assert_int_equal(sim_changes(s, g1, 0, &g, &e), 0);
    assert_true(g > g1);
    g1 = g;
    newest(s, name);
    assert_int_equal(sim_fail_pod(s, name, "CrashLoopBackOff", &e), 0);
    assert_int_equal(sim_changes(s, g1, 0, &g, &e), 0);
    assert_true(g > g1);
    g1 = g;
    assert_int_equal(sim_reset(s, 3, 2, &e), 0);
    assert_int_equal(sim_changes(s, g1, 0, &g, &e), 0);
    assert_true(g > g1);
    assert_int_equal(sim_changes(s, g, -1, &g, &e), -1);
    assert_int_equal(e.status, 400);
    sim_free(s);
}

typedef struct scaler { sim *s; } scaler;

static void *scale_later(void *arg) {
    scaler *a = arg;
    pg_err e;
    usleep(20000);
    sim_scale(a->s, 5, &e);
    return NULL;
}

/* speed > 0: a blocked sim_changes wakes for another thread's scale, and by
 * itself when the clock makes a pod Ready, long before its timeout. */
static void test_changes_real(void **st) {
    (void)st;
    pg_sim_conf c = conf();
    c.speed = 100;                              /* 6 s start-up: 60 ms of wall time */
    sim *s = mk(&c);
    pg_err e;
    uint64_t g0, g;
    assert_int_equal(sim_changes(s, 0, 0, &g0, &e), 0);
    pthread_t t;
    scaler a = { s };
    assert_int_equal(pthread_create(&t, NULL, scale_later, &a), 0);
    assert_int_equal(sim_changes(s, g0, 30, &g, &e), 0);
    assert_true(g > g0);
    pthread_join(t, NULL);
    int ready = count_ready(s), waits = 0;
    while (ready < 5 && waits++ < 50) {         /* each wait ends on a transition, not the 30 s timeout */
        uint64_t g1;
        assert_int_equal(sim_changes(s, g, 30, &g1, &e), 0);
        assert_true(g1 > g);
        g = g1;
        ready = count_ready(s);
    }
    assert_int_equal(ready, 5);
    sim_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_starts_clean),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_lifecycle_timing),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_scale_down_victims),
        cmocka_unit_test(test_delete_replacement_and_grace),
        cmocka_unit_test(test_crash_loop),
        cmocka_unit_test(test_image_pull),
        cmocka_unit_test(test_fail_pod),
        cmocka_unit_test(test_metrics_window_resolution),
        cmocka_unit_test(test_wait_for_metrics),
        cmocka_unit_test(test_metrics_follow_load),
        cmocka_unit_test(test_metrics_see_load_test),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_more_pods_better),
        cmocka_unit_test(test_closed_loop),
        cmocka_unit_test(test_no_ready_pods),
        cmocka_unit_test(test_wait_timeout),
        cmocka_unit_test(test_wait_progress),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_workload_shapes),
        cmocka_unit_test(test_bad_conf),
        cmocka_unit_test(test_backend),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_changes_virtual),
        cmocka_unit_test(test_changes_real),
        cmocka_unit_test(test_ticker_every_tick),
        cmocka_unit_test(test_ticker_reentry),
        cmocka_unit_test(test_ticker_reset),
        cmocka_unit_test(test_ticker_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
