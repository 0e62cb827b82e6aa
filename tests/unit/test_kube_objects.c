/* test_kube_objects.c: pods, metrics and selectors read from JSON shaped as
 * a real API server sends it; the STATUS column as kubectl prints it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cluster/kube/objects.h"

static json_t *J(const char *text) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("bad fixture: %s at %d", je.text, je.position);
    return j;
}

static pg_pod pod_of(const char *text) {
    json_t *j = J(text);
    pg_pod p;
    assert_int_equal(k8s_pod_read(j, &p), 0);
    json_decref(j);
    return p;
}

/* A pod as kubelet reports it, with one container and its state. */
#define POD(meta, phase, conds, state, extra)                                                          \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"app-7d4b9-x2x9q\","             \
    "\"namespace\":\"default\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9\"},"         \
    "\"creationTimestamp\":\"2026-12-02T00:00:00Z\"" meta "},"                                        \
    "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":8080}],"  \
    "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"}}},"                          \
    "{\"name\":\"side\",\"image\":\"busybox\",\"resources\":{\"requests\":{\"cpu\":\"0.25\",\"memory\":\"1.5Gi\"}}}]},"  \
    "\"status\":{\"phase\":\"" phase "\",\"podIP\":\"10.244.0.7\",\"conditions\":[" conds "],"         \
    "\"containerStatuses\":[{\"name\":\"web\",\"restartCount\":3,\"ready\":" state "}" extra "]}}"

#define READY "{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"Initialized\",\"status\":\"True\"}"
#define NOT_READY "{\"type\":\"Ready\",\"status\":\"False\"}"

static void test_running(void **st) {
    (void)st;
    pg_pod p = pod_of(POD("", "Running", READY, "true,\"state\":{\"running\":{\"startedAt\":\"x\"}}", ""));
    assert_string_equal(p.name, "app-7d4b9-x2x9q");
    assert_string_equal(p.phase, "Running");
    assert_string_equal(p.status, "Running");
    assert_int_equal(p.ready, 1);
    assert_int_equal(p.deleting, 0);
    assert_int_equal(p.restarts, 3);
    assert_true(p.created == 1796169600.0);
    assert_true(p.req_cpu == 0.5);
    assert_true(p.req_mem == 134217728.0 + 1610612736.0);
    assert_string_equal(p.ip, "10.244.0.7");
    assert_int_equal(p.port, 8080);
}

static void status_is(const char *text, const char *want, int ready) {
    pg_pod p = pod_of(text);
    if (strcmp(p.status, want)) fail_msg("status '%s', want '%s'", p.status, want);
    assert_int_equal(p.ready, ready);
}

static void test_waiting_reasons(void **st) {
    (void)st;
    status_is(POD("", "Pending", NOT_READY, "false,\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}", ""),
              "ContainerCreating", 0);
    status_is(POD("", "Running", NOT_READY,
                  "false,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\",\"message\":\"back-off 40s\"}},"
                  "\"lastState\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}", ""),
              "CrashLoopBackOff", 0);
    status_is(POD("", "Pending", NOT_READY, "false,\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}", ""),
              "ImagePullBackOff", 0);
    status_is(POD("", "Pending", NOT_READY, "false,\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}", ""),
              "ErrImagePull", 0);
    /* the first container decides: kubectl walks the statuses from the last to the first */
    status_is(POD("", "Running", NOT_READY, "false,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}",
                  ",{\"name\":\"side\",\"restartCount\":0,\"ready\":true,\"state\":{\"running\":{}}}"),
              "CrashLoopBackOff", 0);
    /* Pending before any container status: the phase */
    json_t *j = J("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Pending\",\"conditions\":"
                  "[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}");
    pg_pod p;
    assert_int_equal(k8s_pod_read(j, &p), 0);
    assert_string_equal(p.status, "Pending");
    assert_int_equal(p.restarts, 0);
    assert_string_equal(p.ip, "");
    json_decref(j);
    j = J("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Pending\",\"conditions\":"
          "[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"SchedulingGated\"}]}}");
    assert_int_equal(k8s_pod_read(j, &p), 0);
    assert_string_equal(p.status, "SchedulingGated");
    json_decref(j);
}

static void test_terminated(void **st) {
    (void)st;
    status_is(POD("", "Succeeded", NOT_READY, "false,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}", ""),
              "Completed", 0);
    status_is(POD("", "Failed", NOT_READY, "false,\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}", ""),
              "Error", 0);
    status_is(POD("", "Running", NOT_READY, "false,\"state\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}", ""),
              "OOMKilled", 0);
    status_is(POD("", "Failed", NOT_READY, "false,\"state\":{\"terminated\":{\"exitCode\":2}}", ""), "ExitCode:2", 0);
    status_is(POD("", "Failed", NOT_READY, "false,\"state\":{\"terminated\":{\"exitCode\":0,\"signal\":9}}", ""),
              "Signal:9", 0);
    /* Completed in one container while another still runs: Running again */
    status_is(POD("", "Running", READY, "false,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}",
                  ",{\"name\":\"side\",\"ready\":true,\"state\":{\"running\":{}}}"),
              "Running", 1);
    /* status.reason (an evicted pod) */
    json_t *j = J("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\"}}");
    pg_pod p;
    assert_int_equal(k8s_pod_read(j, &p), 0);
    assert_string_equal(p.status, "Evicted");
    json_decref(j);
}

static void test_terminating(void **st) {
    (void)st;
    pg_pod p = pod_of(POD(",\"deletionTimestamp\":\"2026-12-02T00:01:00Z\",\"deletionGracePeriodSeconds\":30",
                          "Running", READY, "true,\"state\":{\"running\":{}}", ""));
    assert_string_equal(p.status, "Terminating");
    assert_int_equal(p.deleting, 1);
    assert_int_equal(p.ready, 0);               /* a Terminating pod serves nothing new */
    /* a terminal pod being deleted keeps its terminal status */
    status_is(POD(",\"deletionTimestamp\":\"2026-12-02T00:01:00Z\"", "Succeeded", NOT_READY,
                  "false,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}", ""),
              "Completed", 0);
    json_t *j = J("{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2026-12-02T00:01:00Z\"},"
                  "\"status\":{\"phase\":\"Running\",\"reason\":\"NodeLost\"}}");
    assert_int_equal(k8s_pod_read(j, &p), 0);
    assert_string_equal(p.status, "Unknown");
    json_decref(j);
}

static void test_init_containers(void **st) {
    (void)st;
    const char *base =
        "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
        "\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[%s],"
        "\"containerStatuses\":[{\"name\":\"c\",\"ready\":false,\"restartCount\":0,"
        "\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}";
    static const struct { const char *inits, *want; } cases[] = {
        { "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":0}}},{\"name\":\"i2\",\"state\":{\"running\":{}}}", "Init:1/2" },
        { "{\"name\":\"i1\",\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},\"restartCount\":4}", "Init:CrashLoopBackOff" },
        { "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":3}}}", "Init:ExitCode:3" },
        { "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}", "Init:Error" },
        { "{\"name\":\"i1\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}", "Init:0/2" },
    };
    char text[2048];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, base, cases[i].inits);
        pg_pod p = pod_of(text);
        if (strcmp(p.status, cases[i].want)) fail_msg("case %zu: '%s', want '%s'", i, p.status, cases[i].want);
    }
    snprintf(text, sizeof text, base, cases[1].inits);
    assert_int_equal(pod_of(text).restarts, 4);             /* init restarts count while initializing */
}

static void test_not_a_pod(void **st) {
    (void)st;
    json_t *j = J("{\"kind\":\"Status\",\"code\":404}");
    pg_pod p;
    assert_int_equal(k8s_pod_read(j, &p), -1);
    json_decref(j);
}

/* PodMetrics as metrics-server serves them: nanocores, kibibytes. */
static void test_metrics(void **st) {
    (void)st;
    json_t *j = J("{\"kind\":\"PodMetrics\",\"apiVersion\":\"metrics.k8s.io/v1beta1\","
                  "\"metadata\":{\"name\":\"app-1\",\"namespace\":\"default\"},"
                  "\"timestamp\":\"2026-12-02T00:00:10.5Z\",\"window\":\"1m30s\","
                  "\"containers\":[{\"name\":\"web\",\"usage\":{\"cpu\":\"2500n\",\"memory\":\"12345Ki\"}},"
                  "{\"name\":\"side\",\"usage\":{\"cpu\":\"250m\",\"memory\":\"128974848\"}},"
                  "{\"name\":\"third\",\"usage\":{\"cpu\":\"1\",\"memory\":\"1e3\"}}]}");
    pg_metric m;
    assert_int_equal(k8s_metric_read(j, &m), 0);
    assert_string_equal(m.name, "app-1");
    assert_true(fabs(m.cpu - (2.5e-6 + 0.25 + 1.0)) < 1e-12);
    assert_true(m.mem == 12345.0 * 1024 + 128974848.0 + 1000.0);
    assert_true(m.ts == 1796169610.5);
    assert_true(m.window_s == 90);
    json_decref(j);
    j = J("{\"metadata\":{\"name\":\"x\"},\"containers\":[{\"usage\":{\"cpu\":\"1 m\",\"memory\":\"1\"}}]}");
    assert_int_equal(k8s_metric_read(j, &m), -1);
    json_decref(j);
}

static void test_times(void **st) {
    (void)st;
    assert_true(k8s_time("1970-01-01T00:00:00Z") == 0);
    assert_true(k8s_time("2023-11-14T22:13:20Z") == 1700000000.0);
    assert_true(k8s_time("2023-11-14T22:13:20.25Z") == 1700000000.25);
    assert_true(k8s_time("2023-11-15T00:13:20+02:00") == 1700000000.0);
    assert_true(k8s_time("2023-11-14T22:13:20") < 0);
    assert_true(k8s_time("yesterday") < 0);
    assert_true(k8s_duration("30s") == 30);
    assert_true(k8s_duration("1.5s") == 1.5);
    assert_true(fabs(k8s_duration("250ms") - 0.25) < 1e-12);
    assert_true(k8s_duration("1h2m3s") == 3723);
    assert_true(k8s_duration("0") == 0);
    assert_true(k8s_duration("30") < 0);
    assert_true(k8s_duration("s") < 0);
}

static void test_selectors(void **st) {
    (void)st;
    char out[256];
    json_t *s = J("{\"matchLabels\":{\"app\":\"web\",\"tier\":\"front\"},"
                  "\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]},"
                  "{\"key\":\"canary\",\"operator\":\"DoesNotExist\"},{\"key\":\"team\",\"operator\":\"Exists\"},"
                  "{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"z1\"]}]}");
    assert_int_equal(k8s_selector(s, out, sizeof out), 0);
    assert_string_equal(out, "app=web,tier=front,env in (a,b),!canary,team,zone notin (z1)");
    json_t *yes = J("{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"front\",\"env\":\"b\",\"team\":\"x\"}}}");
    json_t *no1 = J("{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"front\",\"env\":\"c\",\"team\":\"x\"}}}");
    json_t *no2 = J("{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"front\",\"env\":\"a\",\"team\":\"x\",\"canary\":\"1\"}}}");
    json_t *no3 = J("{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"front\",\"env\":\"a\",\"team\":\"x\",\"zone\":\"z1\"}}}");
    assert_true(k8s_selector_matches(s, yes));
    assert_false(k8s_selector_matches(s, no1));
    assert_false(k8s_selector_matches(s, no2));
    assert_false(k8s_selector_matches(s, no3));
    assert_int_equal(k8s_selector(s, out, 10), -1);         /* does not fit */
    json_decref(s);
    s = J("{}");
    assert_int_equal(k8s_selector(s, out, sizeof out), -1); /* selects everything: refused */
    json_decref(s);
    s = J("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}");
    assert_int_equal(k8s_selector(s, out, sizeof out), -1);
    json_decref(s);
    json_decref(yes);
    json_decref(no1);
    json_decref(no2);
    json_decref(no3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running),    cmocka_unit_test(test_waiting_reasons), cmocka_unit_test(test_terminated),
        cmocka_unit_test(test_terminating), cmocka_unit_test(test_init_containers), cmocka_unit_test(test_not_a_pod),
        cmocka_unit_test(test_metrics),    cmocka_unit_test(test_times),           cmocka_unit_test(test_selectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
