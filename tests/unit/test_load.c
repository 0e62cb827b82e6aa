/* The load generator without a server: bad plans are refused, and requests
 * that get no answer are failed samples with the right count, never missing
 * ones (core/load.c). The successful paths run against nginx in
 * tests/e2e/test_load_nginx.py. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "load/load.h"

/* A loopback socket bound to a free port; listening (nobody accepts) or closed. */
static int loopback(int listening, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t n = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    *port = ntohs(a.sin_port);
    if (listening) {
        assert_int_equal(listen(fd, 128), 0);
        return fd;
    }
    close(fd);
    return -1;
}

static void target_at(load_target *t, int port) {
    char url[64];
    load_target_init(t);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    pg_err e;
    assert_int_equal(load_target_add_url(t, url, &e), 0);
}

static void expect_bad(const ld_plan *p, const load_target *t, const char *part) {
    pg_err e = { 0 };
    ld_result r = { 0 };
    assert_int_equal(load_run(p, t, &r, &e), -1);
    assert_int_equal(e.status, 400);
    if (!strstr(e.message, part)) fail_msg("'%s' does not say '%s'", e.message, part);
    assert_int_equal(r.n, 0);
    ld_result_free(&r);
}

static void test_bad_plans(void **state) {
    (void)state;
    load_target t;
    load_target_init(&t);
    ld_plan p = { .rate = 10, .duration_s = 1, .timeout_s = 1 };
    expect_bad(&p, &t, "no target URL");
    pg_err e;
    assert_int_equal(load_target_add_url(&t, "ftp://host/x", &e), -1);
    assert_int_equal(e.status, 400);
    assert_int_equal(load_target_add_url(&t, "not a url", &e), -1);
    assert_int_equal(load_target_add_url(&t, "http://127.0.0.1:1/x", &e), 0);
    assert_int_equal(load_target_set_method(&t, "get me", &e), -1);
    assert_int_equal(load_target_add_header(&t, "Bad Name", "v", &e), -1);
    assert_int_equal(load_target_add_header(&t, "X", "a\r\nInjected: 1", &e), -1);
    load_step steps[] = { { 1, 10 } };
    assert_int_equal(load_target_set_profile(&t, steps, 1, &e), -1);

    p.rate = -1;
    expect_bad(&p, &t, "rate -1");
    p.rate = 10, p.duration_s = 0;
    expect_bad(&p, &t, "needs a duration");
    p.rate = 0, p.threads = 0, p.loops = 1;
    expect_bad(&p, &t, "threads 0");
    p.threads = 1, p.loops = -2;
    expect_bad(&p, &t, "loops -2");
    p.loops = 0, p.duration_s = 0;
    expect_bad(&p, &t, "needs loops > 0 or a duration");
    p.loops = 1, p.timeout_s = 0;
    expect_bad(&p, &t, "timeout 0");
    p.timeout_s = 1, p.rate = 1e9, p.loops = 0, p.duration_s = 1000;
    expect_bad(&p, &t, "requests (at most");
    load_target_free(&t);
}

/* ld_plan_check: the one check every driver calls, on a plan alone (the
 * simulated cluster's view) and with a target. */
static void test_plan_check(void **state) {
    (void)state;
    const struct {
        ld_plan p;
        const char *code;       /* NULL: accepted */
        const char *part;
    } cases[] = {
        { { .rate = 10, .duration_s = 1, .timeout_s = 1 }, NULL, NULL },              /* open, threads unused */
        { { .threads = 2, .loops = 3, .timeout_s = 1 }, NULL, NULL },                 /* closed, no duration */
        { { .rate = 0.1, .threads = 1, .loops = 6, .timeout_s = 5 }, NULL, NULL },    /* paced: the seed's plan */
        { { .threads = 1, .duration_s = 5, .timeout_s = 1 }, NULL, NULL },
        { { .rate = -1, .duration_s = 1, .timeout_s = 1 }, "bad_rate", "rate -1 requests/s" },
        { { .rate = NAN, .duration_s = 1, .timeout_s = 1 }, "bad_rate", "rate nan" },
        { { .rate = INFINITY, .duration_s = 1, .timeout_s = 1 }, "bad_rate", "rate inf" },
        { { .rate = 1, .duration_s = -1, .timeout_s = 1 }, "bad_duration", "duration -1 s" },
        { { .rate = 1, .duration_s = 0, .timeout_s = 1 }, "bad_duration", "an open-loop run needs a duration" },
        { { .rate = 1, .duration_s = 1 }, "bad_timeout", "timeout 0 s (wants > 0)" },
        { { .rate = 1, .duration_s = 1, .timeout_s = INFINITY }, "bad_timeout", "timeout inf" },
        { { .threads = 1, .loops = 1, .timeout_s = 1, .ramp_s = -1 }, "bad_ramp", "ramp -1 s" },
        { { .threads = 1, .loops = 1, .timeout_s = 1, .think_ms = NAN }, "bad_think", "think nan ms" },
        { { .threads = 1, .loops = -2, .timeout_s = 1 }, "bad_loops", "loops -2" },
        { { .threads = 1, .loops = LD_MAX_LOOPS + 1, .timeout_s = 1 }, "bad_loops", "loops 1000000001" },
        { { .threads = 0, .loops = 1, .timeout_s = 1 }, "bad_threads", "threads 0 (wants 1..10000)" },
        { { .threads = 10001, .loops = 1, .timeout_s = 1 }, "bad_threads", "threads 10001" },
        { { .rate = 5, .duration_s = 1, .threads = 10001, .timeout_s = 1 }, "bad_threads", "threads 10001" },
        { { .threads = 1, .timeout_s = 1 }, "bad_plan", "needs loops > 0 or a duration > 0" },
        { { .rate = 1e9, .duration_s = 1000, .timeout_s = 1 }, "too_many", "(at most 20000000)" },
        { { .threads = 10000, .loops = 10000, .timeout_s = 1 }, "too_many", "the plan makes 100000000 requests" },
        { { .rate = 1, .duration_s = 601, .timeout_s = 1, .max_duration_s = 600 }, "too_long",
          "duration 601 s is over load.max_duration_s (600 s)" },
        { { .rate = 0.01, .threads = 1, .loops = 10, .timeout_s = 1, .max_duration_s = 600 }, "too_long",
          "the load test would take 900 s" },
        { { .rate = 1, .duration_s = 600, .timeout_s = 1, .max_duration_s = 600 }, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pg_err e = { 0 };
        int rc = ld_plan_check(&cases[i].p, NULL, &e);
        if (!cases[i].code) {
            if (rc) fail_msg("case %zu refused: %s", i, e.message);
            continue;
        }
        if (rc != -1 || e.status != 400 || strcmp(e.code, cases[i].code) || !strstr(e.message, cases[i].part))
            fail_msg("case %zu: rc %d, %d %s '%s' (wants %s '%s')", i, rc, e.status, e.code, e.message, cases[i].code,
                     cases[i].part);
    }
    /* with a target: its URL, connections, and the modes a target decides */
    load_target t;
    load_target_init(&t);
    ld_plan p = { .threads = 1, .loops = 1, .timeout_s = 1 };
    pg_err e = { 0 };
    assert_int_equal(ld_plan_check(&p, &t, &e), -1);
    assert_string_equal(e.code, "bad_target");
    assert_int_equal(load_target_add_url(&t, "http://127.0.0.1:1/", &e), 0);
    assert_int_equal(ld_plan_check(&p, &t, &e), 0);
    t.max_inflight = LD_MAX_CONNECTIONS + 1;
    assert_int_equal(ld_plan_check(&p, &t, &e), -1);
    assert_string_equal(e.code, "bad_connections");
    t.max_inflight = 0;
    load_step steps[] = { { 0, 10 } };              /* a rate profile makes it open loop: a duration is due */
    ld_plan q = { .threads = 1, .timeout_s = 1 };
    assert_int_equal(load_target_set_profile(&t, steps, 1, &e), 0);
    assert_int_equal(ld_plan_check(&q, &t, &e), -1);
    assert_string_equal(e.message, "an open-loop run needs a duration > 0");
    t.closed = 1;                                   /* a JMeter Thread Group with a duration: closed loop */
    ld_plan c = { .rate = 2, .threads = 0, .duration_s = 5, .timeout_s = 1 };
    assert_int_equal(ld_plan_check(&c, &t, &e), -1);
    assert_string_equal(e.code, "bad_threads");
    assert_int_equal(ld_plan_check(&c, NULL, &e), 0);     /* the plan alone is open loop */
    load_target_free(&t);
}

static void test_planned_counts(void **state) {
    (void)state;
    load_target t;
    target_at(&t, 1);
    ld_plan p = { .rate = 7.5, .duration_s = 2, .timeout_s = 1 };
    assert_int_equal(load_is_open(&p, &t), 1);
    assert_int_equal(load_planned_count(&p, &t), 15);
    p.rate = 100, p.duration_s = 10;
    assert_int_equal(load_planned_count(&p, &t), 1000);
    load_step steps[] = { { 0, 10 }, { 1, 0 }, { 2, 20 } };
    pg_err e;
    assert_int_equal(load_target_set_profile(&t, steps, 3, &e), 0);
    p.duration_s = 3;
    assert_int_equal(load_planned_count(&p, &t), 30);
    load_target_free(&t);
    target_at(&t, 1);
    ld_plan c = { .threads = 3, .loops = 4, .timeout_s = 1 };
    assert_int_equal(load_is_open(&c, &t), 0);
    assert_int_equal(load_planned_count(&c, &t), 12);
    c.rate = 2;                                 /* threads x loops paced by a throughput timer */
    assert_int_equal(load_is_open(&c, &t), 0);
    assert_true(fabs(load_planned_s(&c, &t) - 5.5) < 1e-9);
    load_target_free(&t);
}

/* Nothing listens: every request is a failed sample, open and closed loop. */
static void test_refused(void **state) {
    (void)state;
    int port;
    loopback(0, &port);
    load_target t;
    target_at(&t, port);
    ld_plan p = { .rate = 100, .duration_s = 0.2, .timeout_s = 2, .label = "refused" };
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(load_run(&p, &t, &r, &e), 0);
    assert_int_equal(r.n, 20);
    assert_int_equal(r.sum.errors, 20);
    assert_true(r.sum.drop_pct == 100);
    assert_int_equal(r.v[0].code, 0);
    assert_string_equal(r.v[0].message, "Connection refused");
    assert_string_equal(r.v[0].label, "refused");
    assert_non_null(strstr(r.v[0].url, "127.0.0.1"));
    ld_result_free(&r);

    ld_plan c = { .threads = 2, .loops = 3, .timeout_s = 2 };
    assert_int_equal(load_run(&c, &t, &r, &e), 0);
    assert_int_equal(r.n, 6);
    assert_int_equal(r.sum.errors, 6);
    int per_thread[3] = { 0 };
    for (size_t i = 0; i < r.n; i++) per_thread[r.v[i].thread]++;
    assert_int_equal(per_thread[1], 3);
    assert_int_equal(per_thread[2], 3);
    ld_result_free(&r);
    load_target_free(&t);
}

/* A listener that never answers: timeouts, counted from the intended send
 * time, including arrivals that never got a free connection. */
static void test_timeouts(void **state) {
    (void)state;
    int port, fd = loopback(1, &port);
    load_target t;
    target_at(&t, port);
    ld_plan p = { .rate = 20, .duration_s = 0.25, .timeout_s = 0.2 };
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(load_run(&p, &t, &r, &e), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.sum.errors, 5);
    for (size_t i = 0; i < r.n; i++) {
        assert_string_equal(r.v[i].message, "timeout");
        assert_true(r.v[i].elapsed_ms >= 199);
    }
    ld_result_free(&r);

    t.max_inflight = 1;                        /* one connection for 10 arrivals */
    p.rate = 50, p.duration_s = 0.2, p.timeout_s = 0.1;
    assert_int_equal(load_run(&p, &t, &r, &e), 0);
    assert_int_equal(r.n, 10);
    assert_int_equal(r.sum.errors, 10);
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t i = 0; i < r.n; i++) {          /* waiting for the connection counts */
        assert_non_null(strstr(r.v[i].message, "timeout"));
        assert_true(r.v[i].elapsed_ms >= 99);
        if (r.v[i].ts_ms < first) first = r.v[i].ts_ms;
        if (r.v[i].ts_ms > last) last = r.v[i].ts_ms;
    }
    /* ts_ms is the intended send time: arrivals 0 and 9 at 50/s are 180 ms
     * apart on the schedule however late the machine ran them (the samples
     * are in the order they ended, which a loaded machine may shuffle). */
    assert_true(last - first >= 179 && last - first <= 181);
    ld_result_free(&r);
    load_target_free(&t);
    close(fd);
}

/* A server that answers each connection's request with the next reply and
 * closes it. */
typedef struct replier {
    int fd;
    const char *const *replies;
    int n;
} replier;

static void *reply_all(void *ud) {
    replier *w = ud;
    for (int i = 0; i < w->n; i++) {
        int c = accept(w->fd, NULL, NULL);
        if (c < 0) break;
        char req[4096];
        if (recv(c, req, sizeof req, 0) > 0) send(c, w->replies[i], strlen(w->replies[i]), MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

/* A reply that is not HTTP is a failed sample that says why; the run goes on. */
static void test_malformed_reply(void **state) {
    (void)state;
    int port, fd = loopback(1, &port);
    const char *const replies[] = { "ICY 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" };
    replier w = { fd, replies, 3 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reply_all, &w), 0);
    load_target t;
    target_at(&t, port);
    ld_plan p = { .threads = 1, .loops = 3, .timeout_s = 5 };
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(load_run(&p, &t, &r, &e), 0);
    pthread_join(th, NULL);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.sum.errors, 2);
    assert_string_equal(r.v[0].message, "malformed status line");
    assert_string_equal(r.v[1].message, "malformed status code");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r.v[i].code, 0);
        assert_false(r.v[i].success);
    }
    assert_int_equal(r.v[2].code, 200);           /* the next connection is a new start */
    assert_true(r.v[2].success);
    ld_result_free(&r);
    load_target_free(&t);
    close(fd);
}

static int stop_now(void *ud) { return ++*(int *)ud > 2; }

static void test_stop(void **state) {
    (void)state;
    int port, fd = loopback(1, &port);
    load_target t;
    target_at(&t, port);
    int calls = 0;
    t.stop = stop_now;
    t.stop_ud = &calls;
    ld_plan p = { .threads = 2, .duration_s = 30, .timeout_s = 30 };
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(load_run(&p, &t, &r, &e), -1);
    assert_string_equal(e.code, "interrupted");
    for (size_t i = 0; i < r.n; i++) assert_string_equal(r.v[i].message, "aborted");
    ld_result_free(&r);
    load_target_free(&t);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_plans),
        cmocka_unit_test(test_plan_check),
        cmocka_unit_test(test_planned_counts),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_malformed_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
