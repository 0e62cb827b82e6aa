/* test_config: podgym.yaml reading, defaults, listen parsing, validation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char tmpdir[] = "/tmp/podgym-test-config-XXXXXX";
static char cfg_path[PATH_MAX];

/* Write text to the test's podgym.yaml and load it over the defaults. */
static int load_text(const char *text, pg_config *c, pg_err *e) {
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    pg_config_defaults(c);
    pg_err_clear(e);
    return pg_config_load(c, cfg_path, e);
}

/* Load text, expect failure with "podgym.yaml:LINE: what..." and status 2. */
static void expect_error(const char *text, int line, const char *what) {
    pg_config c;
    pg_err e;
    char want[PATH_MAX + 256];
    assert_int_equal(load_text(text, &c, &e), -1);
    assert_int_equal(e.status, 2);
    assert_string_equal(e.code, "config");
    snprintf(want, sizeof want, "%s:%d: %s", cfg_path, line, what);
    if (strncmp(e.message, want, strlen(want)) != 0)
        fail_msg("message\n  got:  %s\n  want: %s...", e.message, want);
    assert_null(strchr(e.message, '\n'));
}

static int setup(void **state) {
    (void)state;
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(cfg_path, sizeof cfg_path, "%s/podgym.yaml", tmpdir);
    unsetenv("PODGYM_TOKEN");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(cfg_path);
    rmdir(tmpdir);
    return 0;
}

static void test_defaults(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    pg_config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 6000);
    assert_string_equal(c.backend, "sim");
    assert_string_equal(c.ns, "default");
    assert_string_equal(c.deployment, "app");
    assert_string_equal(c.kube.kubeconfig, "");
    assert_true(c.kube.timeout_s == 10);
    assert_int_equal(c.kube.insecure, 0);
    assert_string_equal(c.kube.ns, "");
    assert_int_equal(c.kube.retries, 4);
    assert_string_equal(c.kube.serviceaccount_dir, "/var/run/secrets/kubernetes.io/serviceaccount");
    assert_string_equal(c.docker.socket, "");        /* $DOCKER_HOST, then /var/run/docker.sock */
    assert_string_equal(c.docker.image, "podgym-demo:latest");
    assert_true(c.docker.cpu == 0.5);
    assert_string_equal(c.docker.memory, "512Mi");
    assert_int_equal(c.docker.port_base, 18080);
    assert_true(c.sim.seed == 1);
    assert_true(c.sim.speed == 0);
    assert_int_equal(c.sim.replicas, 1);
    assert_true(c.sim.start_delay_s == 6 && c.sim.start_jitter_s == 2 && c.sim.pending_s == 1);
    assert_true(c.sim.slow_factor == 4 && c.sim.grace_s == 5);
    assert_true(c.sim.metrics_window_s == 5 && c.sim.metrics_resolution_s == 1);
    assert_string_equal(c.sim.req_cpu, "500m");
    assert_string_equal(c.sim.req_mem, "512Mi");
    assert_true(c.sim.capacity_rps == 40 && c.sim.service_ms == 20);
    assert_int_equal(c.sim.queue_limit, 64);
    assert_true(c.sim.mem_per_rps_mib == 1.5 && c.sim.idle_cpu == 0.01 && c.sim.base_mem_mib == 96);
    assert_string_equal(c.sim.workload.kind, "constant");
    assert_true(c.sim.workload.rps == 60 && c.sim.workload.step_rps == 120);
    assert_true(c.sim.workload.step_at_s == 300 && c.sim.workload.period_s == 600);
    assert_true(c.sim.workload.amplitude_rps == 40);
    assert_string_equal(c.load.driver, "auto");
    assert_string_equal(c.load.method, "GET");
    assert_true(c.load.rate == 20 && c.load.duration_s == 5 && c.load.max_duration_s == 600);
    assert_int_equal(c.load.threads, 1);
    assert_string_equal(c.load.jmeter, "jmeter");
    assert_true(c.sampler.interval_s == 0.2 && c.sampler.duration_s == 1500);
    assert_string_equal(c.sampler.file, "metrics.csv");
    assert_string_equal(c.sampler.format, "csv");
    assert_int_equal(c.sampler.max_jobs, 4);
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.auth_token, "");
    assert_int_equal(c.limits.body_bytes, 1048576);
    assert_int_equal(c.limits.lua_deadline_ms, 5000);
    assert_int_equal(c.limits.lua_memory_mb, 64);
    assert_int_equal(c.limits.connections, 256);
    assert_true(c.limits.connection_timeout_s == 30);
    assert_int_equal(c.limits.states, 32);
    assert_string_equal(c.scripts, "scripts");
    assert_string_equal(c.policies, "policies");
    assert_true(c.hpa_target_pct == 50);
    assert_string_equal(c.path, "");
    assert_int_equal(pg_config_validate(&c, &e), 0);
}

static void test_token_env(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    pg_config_defaults(&c);
    assert_int_equal(load_text("auth: {token: from-file}\n", &c, &e), 0);
    setenv("PODGYM_TOKEN", "s3cret", 1);
    assert_int_equal(pg_config_env(&c, &e), 0);
    assert_string_equal(c.auth_token, "s3cret");            /* the environment wins over the file */
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    setenv("PODGYM_TOKEN", big, 1);
    assert_int_equal(pg_config_env(&c, &e), -1);
    assert_non_null(strstr(e.message, "PODGYM_TOKEN is too long"));
    assert_string_equal(c.auth_token, "s3cret");            /* unchanged */
    setenv("PODGYM_TOKEN", "", 1);
    assert_int_equal(pg_config_env(&c, &e), 0);
    assert_string_equal(c.auth_token, "s3cret");
    unsetenv("PODGYM_TOKEN");
}

static void test_empty_file(void **state) {
    (void)state;
    pg_config c, d;
    pg_err e;
    assert_int_equal(load_text("", &c, &e), 0);
    assert_string_equal(c.path, cfg_path);
    pg_config_defaults(&d);
    assert_int_equal(c.listen_port, d.listen_port);
    assert_string_equal(c.backend, "sim");
    assert_int_equal(load_text("# only a comment\n\n", &c, &e), 0);
    assert_int_equal(load_text("---\n", &c, &e), 0);
    assert_int_equal(c.sampler.max_jobs, 4);
}

static const char *good =
    "# every section\n"
    "listen: 0.0.0.0:7000\n"
    "backend: kube\n"
    "target: {namespace: prod, deployment: web}\n"
    "kube:\n"
    "  kubeconfig: /etc/kube/config\n"
    "  context: kind-podgym\n"
    "  timeout_s: 3.5\n"
    "  insecure: yes\n"
    "  namespace: ml\n"
    "  retries: 0\n"
    "  serviceaccount_dir: /tmp/sa\n"
    "docker:\n"
    "  socket: /run/docker.sock\n"
    "  image: nginx:1.25\n"
    "  command: \"sh -c 'exec httpd'\"\n"
    "  cpu: 1\n"
    "  memory: 1Gi\n"
    "  port_base: 20000\n"
    "sim:\n"
    "  seed: 18446744073709551615\n"
    "  speed: 1\n"
    "  replicas: 3\n"
    "  p_crash: 0.25\n"
    "  req_cpu: 250m\n"
    "  queue_limit: 8\n"
    "  workload:\n"
    "    kind: step\n"
    "    step_rps: 200\n"
    "    trace: ''\n"
    "load:\n"
    "  driver: jmeter\n"
    "  url: http://127.0.0.1:8080/\n"
    "  method: POST\n"
    "  rate: 0\n"
    "  threads: 8\n"
    "  plan: seed/Thread-Reward-Test.jmx\n"
    "sampler: {interval_s: 0.5, duration_s: 60, file: m.jsonl, format: jsonl, max_jobs: 2}\n"
    "data_dir: /tmp/podgym-data\n"
    "auth: {token: t0k3n}\n"
    "limits:\n"
    "  body_bytes: 4096\n"
    "  lua_deadline_ms: 0\n"
    "  lua_memory_mb: 16\n"
    "  connections: 16\n"
    "  connection_timeout_s: 2\n"
    "  states: 2\n"
    "scripts: my-scripts\n"
    "policies: my-policies\n"
    "hpa: {target_cpu_percent: 60}\n";

/* The docker section: every key read, defaults, and the closed choices. */
static void test_docker_keys(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    pg_config_defaults(&c);
    assert_string_equal(c.docker.network, "host");
    assert_int_equal(c.docker.replicas, 1);
    assert_true(c.docker.grace_s == 10);
    assert_string_equal(c.docker.readiness, "/");
    assert_string_equal(c.docker.restart, "always");
    assert_true(c.docker.stats_resolution_s == 1 && c.docker.stats_window_s == 2);
    assert_true(c.docker.timeout_s == 10);
    assert_string_equal(c.docker.env, "");
    assert_int_equal(load_text("docker:\n"
                               "  socket: /tmp/d.sock\n"
                               "  env: \"A=1 B=two\"\n"
                               "  network: bridge\n"
                               "  replicas: 3\n"
                               "  grace_s: 0.5\n"
                               "  readiness: /healthz\n"
                               "  restart: on-failure\n"
                               "  stats_resolution_s: 0.5\n"
                               "  stats_window_s: 3\n"
                               "  timeout_s: 2\n", &c, &e), 0);
    assert_string_equal(c.docker.socket, "/tmp/d.sock");
    assert_string_equal(c.docker.env, "A=1 B=two");
    assert_string_equal(c.docker.network, "bridge");
    assert_int_equal(c.docker.replicas, 3);
    assert_true(c.docker.grace_s == 0.5);
    assert_string_equal(c.docker.readiness, "/healthz");
    assert_string_equal(c.docker.restart, "on-failure");
    assert_true(c.docker.stats_resolution_s == 0.5 && c.docker.stats_window_s == 3);
    assert_true(c.docker.timeout_s == 2);
    expect_error("docker:\n  network: overlay\n", 2,
                 "invalid value for 'docker.network': 'overlay' (host, bridge)");
    expect_error("docker:\n  restart: sometimes\n", 2, "invalid value for 'docker.restart'");
    expect_error("docker:\n  timeout_s: 0\n", 2, "invalid value for 'docker.timeout_s': 0 (wants > 0)");
    expect_error("docker:\n  replicas: 65\n", 2, "invalid value for 'docker.replicas': 65 (wants 0..64)");
    expect_error("docker:\n  stats_window: 3\n", 2, "unknown key 'docker.stats_window'");
}

static void test_good_file(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    assert_int_equal(load_text(good, &c, &e), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 7000);
    assert_string_equal(c.backend, "kube");
    assert_string_equal(c.ns, "prod");
    assert_string_equal(c.deployment, "web");
    assert_string_equal(c.kube.kubeconfig, "/etc/kube/config");
    assert_string_equal(c.kube.context, "kind-podgym");
    assert_true(c.kube.timeout_s == 3.5);
    assert_int_equal(c.kube.insecure, 1);
    assert_string_equal(c.kube.ns, "ml");
    assert_int_equal(c.kube.retries, 0);
    assert_string_equal(c.kube.serviceaccount_dir, "/tmp/sa");
    assert_string_equal(c.docker.socket, "/run/docker.sock");
    assert_string_equal(c.docker.image, "nginx:1.25");
    assert_string_equal(c.docker.command, "sh -c 'exec httpd'");
    assert_true(c.docker.cpu == 1);
    assert_string_equal(c.docker.memory, "1Gi");
    assert_int_equal(c.docker.port_base, 20000);
    assert_true(c.sim.seed == UINT64_MAX);
    assert_true(c.sim.speed == 1);
    assert_int_equal(c.sim.replicas, 3);
    assert_true(c.sim.p_crash == 0.25);
    assert_string_equal(c.sim.req_cpu, "250m");
    assert_int_equal(c.sim.queue_limit, 8);
    assert_string_equal(c.sim.workload.kind, "step");
    assert_true(c.sim.workload.step_rps == 200);
    assert_true(c.sim.workload.rps == 60);            /* untouched: default */
    assert_true(c.sim.start_delay_s == 6);
    assert_string_equal(c.load.driver, "jmeter");
    assert_string_equal(c.load.url, "http://127.0.0.1:8080/");
    assert_string_equal(c.load.method, "POST");
    assert_true(c.load.rate == 0);
    assert_int_equal(c.load.threads, 8);
    assert_string_equal(c.load.plan, "seed/Thread-Reward-Test.jmx");
    assert_true(c.sampler.interval_s == 0.5 && c.sampler.duration_s == 60);
    assert_string_equal(c.sampler.file, "m.jsonl");
    assert_string_equal(c.sampler.format, "jsonl");
    assert_int_equal(c.sampler.max_jobs, 2);
    assert_string_equal(c.data_dir, "/tmp/podgym-data");
    assert_string_equal(c.auth_token, "t0k3n");
    assert_int_equal(c.limits.body_bytes, 4096);
    assert_int_equal(c.limits.lua_deadline_ms, 0);
    assert_int_equal(c.limits.lua_memory_mb, 16);
    assert_int_equal(c.limits.connections, 16);
    assert_true(c.limits.connection_timeout_s == 2);
    assert_int_equal(c.limits.states, 2);
    assert_string_equal(c.scripts, "my-scripts");
    assert_string_equal(c.policies, "my-policies");
    assert_true(c.hpa_target_pct == 60);
    assert_int_equal(pg_config_validate(&c, &e), 0);
}

static void test_scalars(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    assert_int_equal(load_text("kube: {insecure: true}\n", &c, &e), 0);
    assert_int_equal(c.kube.insecure, 1);
    assert_int_equal(load_text("kube: {insecure: no}\n", &c, &e), 0);
    assert_int_equal(c.kube.insecure, 0);
    assert_int_equal(load_text("kube: {insecure: FALSE}\n", &c, &e), 0);
    assert_int_equal(c.kube.insecure, 0);
    /* an empty value clears a string; an empty section is allowed */
    setenv("PODGYM_TOKEN", "from-env", 1);
    assert_int_equal(load_text("auth:\n  token:\nsim:\n", &c, &e), 0);
    unsetenv("PODGYM_TOKEN");
    assert_string_equal(c.auth_token, "");
    assert_int_equal(load_text("sim: {speed: 1e-3, seed: '42'}\n", &c, &e), 0);
    assert_true(c.sim.speed == 0.001);
    assert_true(c.sim.seed == 42);
}

static void test_unknown_key(void **state) {
    (void)state;
    expect_error("backend: sim\n\nlistn: 1.2.3.4:5\n", 3, "unknown key 'listn' (did you mean 'listen'?)");
    expect_error("sim:\n  seed: 3\n  # comment\n  sed: 4\n", 4, "unknown key 'sim.sed' (did you mean 'sim.seed'?)");
    expect_error("sim:\n  workload:\n    kind: step\n    knd: sine\n", 4, "unknown key 'sim.workload.knd'");
    expect_error("zzzzzz: 1\n", 1, "unknown key 'zzzzzz'");
    /* dotted keys are not a shortcut: they must be nested */
    expect_error("sim.seed: 3\n", 1, "unknown key 'sim.seed' (nest it: sim: {seed: ...})");
}

static void test_unknown_section(void **state) {
    (void)state;
    expect_error("backend: sim\nsimm:\n  seed: 1\n", 2, "unknown section 'simm' (did you mean 'sim'?)");
    expect_error("metrics: {interval_s: 1}\n", 1, "unknown section 'metrics'");
}

static void test_wrong_type(void **state) {
    (void)state;
    expect_error("sim:\n  seed: abc\n", 2, "key 'sim.seed' wants an integer, got 'abc'");
    expect_error("sim: {seed: -1}\n", 1, "key 'sim.seed' wants an integer, got '-1'");
    expect_error("sim:\n  replicas: 1.5\n", 2, "key 'sim.replicas' wants an integer, got '1.5'");
    expect_error("sim:\n  replicas: 99999999999\n", 2, "key 'sim.replicas' wants an integer");
    expect_error("sim:\n  speed: fast\n", 2, "key 'sim.speed' wants a number, got 'fast'");
    expect_error("sim:\n  speed: .nan\n", 2, "key 'sim.speed' wants a number, got '.nan'");
    expect_error("kube:\n  insecure: maybe\n", 2, "key 'kube.insecure' wants a boolean (true/false), got 'maybe'");
    expect_error("backend:\n  name: sim\n", 2, "key 'backend' wants a string, got a mapping");
    expect_error("scripts: [a, b]\n", 1, "key 'scripts' wants a string, got a list");
    expect_error("sim: 5\n", 1, "'sim' is a section and wants a mapping, got '5'");
    expect_error("sim:\n  workload: constant\n", 2, "'sim.workload' is a section and wants a mapping, got 'constant'");
    expect_error("- a\n- b\n", 1, "wants a mapping of settings at the top level, got a list");
    expect_error("{a: 1}: 2\n", 1, "a key must be a plain name, got a mapping");
    /* the message is one line even for a multi-line value */
    expect_error("sim:\n  seed: |\n    12\n    34\n", 2, "key 'sim.seed' wants an integer, got '12\\x0a34\\x0a'");
}

static void test_out_of_range_at_load(void **state) {
    (void)state;
    expect_error("sim:\n  p_crash: 1.5\n", 2, "invalid value for 'sim.p_crash': 1.5 (wants 0..1)");
    expect_error("kube:\n  retries: 21\n", 2, "invalid value for 'kube.retries': 21 (wants 0..20)");
    expect_error("backend: foo\n", 1, "invalid value for 'backend': 'foo' (sim, docker, kube)");
    expect_error("limits: {connections: 0}\n", 1, "invalid value for 'limits.connections': 0 (wants >= 1)");
}

static void test_bad_listen(void **state) {
    (void)state;
    expect_error("listen: 'localhost:99999'\n", 1,
                 "key 'listen' wants HOST:PORT, got 'localhost:99999' (port must be a number in 0..65535)");
    expect_error("\nlisten: ::1:80\n", 2, "key 'listen' wants HOST:PORT, got '::1:80' (an IPv6 address needs brackets");
    expect_error("listen: {host: x}\n", 1, "key 'listen' wants HOST:PORT, got a mapping");
}

static void test_syntax_error(void **state) {
    (void)state;
    expect_error("backend: sim\nsim:\n  seed: [1, 2\n", 4, "YAML syntax error: ");
    expect_error("a: b\n  c: d\n", 2, "YAML syntax error: mapping values are not allowed in this context");
    expect_error("x: *nothing\n", 1, "YAML syntax error: found undefined alias");
    expect_error("backend: sim\nscripts: \xc3\x28\n", 2, "YAML syntax error: invalid trailing UTF-8 octet");
    expect_error("backend: sim\n---\nbackend: kube\n", 2, "more than one YAML document");
}

static void test_missing_file(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    char path[PATH_MAX + 32], want[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/nope.yaml", tmpdir);
    pg_config_defaults(&c);
    assert_int_equal(pg_config_load(&c, path, &e), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(e.message, want);
    assert_int_equal(e.status, 2);
    assert_string_equal(e.code, "config");
    assert_int_equal(pg_config_load(&c, tmpdir, &e), -1);
    snprintf(want, sizeof want, "%s: cannot open: Is a directory", tmpdir);
    assert_string_equal(e.message, want);
}

static void test_duplicate_key(void **state) {
    (void)state;
    expect_error("backend: sim\nlisten: :1\nbackend: kube\n", 3, "duplicate key 'backend' (first at line 1)");
    expect_error("sim:\n  seed: 1\n  seed: 2\n", 3, "duplicate key 'sim.seed' (first at line 2)");
}

static void test_too_long_string(void **state) {
    (void)state;
    char text[512];
    char name[PG_NAME_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';           /* 128 bytes: one too many */
    snprintf(text, sizeof text, "target:\n  namespace: %s\n", name);
    expect_error(text, 2, "key 'target.namespace' is too long (128 bytes, at most 127)");
    name[sizeof name - 2] = '\0';           /* 127 bytes fit */
    snprintf(text, sizeof text, "target:\n  namespace: %s\n", name);
    pg_config c;
    pg_err e;
    assert_int_equal(load_text(text, &c, &e), 0);
    assert_int_equal(strlen(c.ns), PG_NAME_MAX - 1);
    expect_error("sim: {seed: \"1\\x002\"}\n", 1, "key 'sim.seed' contains a NUL byte");
}

static void test_listen_variants(void **state) {
    (void)state;
    static const struct { const char *in, *host; int port; } ok[] = {
        { "0.0.0.0:8080", "0.0.0.0", 8080 },
        { ":7000", "127.0.0.1", 7000 },
        { "7001", "127.0.0.1", 7001 },
        { "[::1]:9000", "::1", 9000 },
        { "localhost:0", "localhost", 0 },
        { "127.0.0.2:65535", "127.0.0.2", 65535 },
    };
    static const char *bad[] = { "", "abc", "host:", "1.2.3.4:65536", "::1:80", "[::1]", "[]:80",
                                 "a b:80", "-1", "1.2.3.4:80x", "1.2.3.4:+80" };
    pg_config c;
    pg_err e;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        pg_config_defaults(&c);
        if (pg_config_listen(&c, ok[i].in, &e) != 0) fail_msg("'%s': %s", ok[i].in, e.message);
        assert_string_equal(c.listen_host, ok[i].host);
        assert_int_equal(c.listen_port, ok[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pg_config_defaults(&c);
        if (pg_config_listen(&c, bad[i], &e) == 0) fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(e.status, 2);
        assert_non_null(strstr(e.message, "invalid listen address"));
        assert_int_equal(c.listen_port, 6000);      /* untouched on failure */
        assert_string_equal(c.listen_host, "127.0.0.1");
    }
}

static void expect_invalid(pg_config *c, const char *msg) {
    pg_err e;
    assert_int_equal(pg_config_validate(c, &e), -1);
    assert_int_equal(e.status, 2);
    assert_string_equal(e.code, "config");
    assert_string_equal(e.message, msg);
    pg_config_defaults(c);
}

static void test_validate(void **state) {
    (void)state;
    pg_config c;
    pg_config_defaults(&c);
    strcpy(c.backend, "foo");
    expect_invalid(&c, "podgym: invalid value for 'backend': 'foo' (sim, docker, kube)");
    strcpy(c.load.driver, "wrk");
    expect_invalid(&c, "podgym: invalid value for 'load.driver': 'wrk' (auto, native, jmeter, sim)");
    strcpy(c.sampler.format, "xml");
    expect_invalid(&c, "podgym: invalid value for 'sampler.format': 'xml' (csv, jsonl)");
    c.sim.speed = -1;
    expect_invalid(&c, "podgym: invalid value for 'sim.speed': -1 (wants >= 0)");
    c.sim.p_image_pull = 1.01;
    expect_invalid(&c, "podgym: invalid value for 'sim.p_image_pull': 1.01 (wants 0..1)");
    strcpy(c.sim.workload.kind, "square");
    expect_invalid(&c, "podgym: invalid value for 'sim.workload.kind': 'square' (constant, step, sine, trace)");
    strcpy(c.sim.workload.kind, "trace");
    expect_invalid(&c, "podgym: invalid value for 'sim.workload.trace': '' "
                       "(wants a CSV file when sim.workload.kind is trace)");
    c.sampler.interval_s = 0;
    expect_invalid(&c, "podgym: invalid value for 'sampler.interval_s': 0 (wants > 0)");
    c.limits.body_bytes = 0;
    expect_invalid(&c, "podgym: invalid value for 'limits.body_bytes': 0 (wants > 0)");
    c.load.duration_s = 900;
    expect_invalid(&c, "podgym: invalid value for 'load.duration_s': 900 (wants <= load.max_duration_s = 600)");
    strcpy(c.load.method, "get");
    expect_invalid(&c, "podgym: invalid value for 'load.method': 'get' (wants an HTTP method such as GET)");
    c.listen_port = 70000;
    expect_invalid(&c, "podgym: invalid value for 'listen': port 70000 (wants 0..65535)");
    c.data_dir[0] = '\0';
    expect_invalid(&c, "podgym: invalid value for 'data_dir': '' (wants a directory)");
    c.sim.start_delay_s = NAN;          /* NaN never passes a range */
    expect_invalid(&c, "podgym: invalid value for 'sim.start_delay_s': nan (wants >= 0)");
}

/* facade.*: off by default; listen, tls, token and node read; a bad listen
 * or a half-set tls is a config error naming the key. */
static void test_facade(void **state) {
    (void)state;
    pg_config c;
    pg_err e;
    pg_config_defaults(&c);
    assert_string_equal(c.facade.listen, "");
    assert_string_equal(c.facade.token, "");
    assert_string_equal(c.facade.node, "podgym-node");
    assert_int_equal(load_text("facade:\n  listen: 127.0.0.1:6443\n  token: abc\n  node: n1\n", &c, &e), 0);
    assert_string_equal(c.facade.listen, "127.0.0.1:6443");
    assert_string_equal(c.facade.token, "abc");
    assert_string_equal(c.facade.node, "n1");
    assert_int_equal(pg_config_validate(&c, &e), 0);
    char host[64];
    int port = -1;
    assert_int_equal(pg_config_hostport(c.facade.listen, host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6443);
    assert_int_equal(pg_config_hostport("[::1]:0", host, sizeof host, &port, &e), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    expect_error("facade:\n  lsten: x\n", 2, "unknown key 'facade.lsten'");
    expect_error("facade:\n  tls: 3\n", 2, "");
    assert_int_equal(load_text("facade:\n  listen: 127.0.0.1:99999\n", &c, &e), 0);
    expect_invalid(&c, "podgym: invalid value for 'facade.listen': invalid listen address '127.0.0.1:99999': "
                       "port must be a number in 0..65535");
    assert_int_equal(load_text("facade:\n  listen: :6443\n  tls: {cert: /etc/hostname}\n", &c, &e), 0);
    expect_invalid(&c, "podgym: invalid value for 'facade.tls.key': '' (wants a PEM file when facade.tls.cert is set)");
    assert_int_equal(load_text("facade:\n  tls: {cert: /nonexistent.pem, key: /nonexistent.key}\n", &c, &e), 0);
    expect_invalid(&c, "podgym: invalid value for 'facade.tls.cert': '/nonexistent.pem' (cannot read: No such file or "
                       "directory)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_token_env),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_docker_keys),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range_at_load),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_too_long_string),
        cmocka_unit_test(test_listen_variants),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_facade),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
