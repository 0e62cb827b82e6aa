/* test_docker: the docker client's pieces that need no daemon: the socket
 * path (config, DOCKER_HOST, the default), the command-line splitter with
 * {port}, the label filter, a missing socket as 503 backend_unavailable
 * naming it, and the backend refusing a bad template at open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/docker/client.h"
#include "cluster/docker/docker.h"
#include "config/config.h"

static void test_socket_path(void **state) {
    (void)state;
    char out[PATH_MAX];
    pg_err e = { 0 };
    unsetenv("DOCKER_HOST");
    assert_int_equal(dock_socket_path("", out, sizeof out, &e), 0);
    assert_string_equal(out, "/var/run/docker.sock");
    setenv("DOCKER_HOST", "unix:///tmp/x/d.sock", 1);
    assert_int_equal(dock_socket_path("", out, sizeof out, &e), 0);
    assert_string_equal(out, "/tmp/x/d.sock");
    assert_int_equal(dock_socket_path("/run/mine.sock", out, sizeof out, &e), 0);    /* the config wins */
    assert_string_equal(out, "/run/mine.sock");
    assert_int_equal(dock_socket_path("unix:///run/u.sock", out, sizeof out, &e), 0);
    assert_string_equal(out, "/run/u.sock");
    setenv("DOCKER_HOST", "tcp://10.0.0.1:2375", 1);
    assert_int_equal(dock_socket_path("", out, sizeof out, &e), -1);
    assert_non_null(strstr(e.message, "only unix://"));
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(dock_socket_path(longp, out, sizeof out, &e), -1);
    assert_non_null(strstr(e.message, "too long"));
    unsetenv("DOCKER_HOST");
}

static void test_split(void **state) {
    (void)state;
    char buf[256], *w[8];
    int n = dock_split("httpd -f -p {port} -h '/var/www html' \"a\\\"b\" x{port}y", 18081, buf, sizeof buf, w, 8);
    assert_int_equal(n, 8);
    assert_string_equal(w[0], "httpd");
    assert_string_equal(w[7], "x18081y");
    assert_string_equal(w[3], "18081");
    assert_string_equal(w[5], "/var/www html");
    assert_string_equal(w[6], "a\"b");
    n = dock_split("sh -c 'exit 3'", 1, buf, sizeof buf, w, 8);
    assert_int_equal(n, 3);
    assert_string_equal(w[2], "exit 3");
    assert_int_equal(dock_split("", 1, buf, sizeof buf, w, 8), 0);
    assert_int_equal(dock_split("  A=1   B=2 ", 1, buf, sizeof buf, w, 8), 2);
    assert_int_equal(dock_split("sh -c 'unclosed", 1, buf, sizeof buf, w, 8), -1);
    assert_int_equal(dock_split("a b c d e f g h i", 1, buf, sizeof buf, w, 8), -1);   /* too many words */
    assert_int_equal(dock_split("abcdefghijklmnop", 1, buf, 8, w, 8), -1);             /* too long */
}

static void test_label_filter(void **state) {
    (void)state;
    const char *labels[] = { "podgym.deployment=app", "podgym.managed=true" };
    char out[512];
    assert_int_equal(dock_label_filter(labels, 2, "container", out, sizeof out), 0);
    assert_string_equal(out, "%7B%22label%22%3A%5B%22podgym.deployment%3Dapp%22%2C%22podgym.managed%3Dtrue%22%5D%2C"
                             "%22type%22%3A%5B%22container%22%5D%7D");
    assert_int_equal(dock_label_filter(labels, 2, NULL, out, 10), -1);
}

static void test_missing_socket(void **state) {
    (void)state;
    dock_client c;
    pg_err e = { 0 };
    assert_int_equal(dock_open(&c, "/tmp/podgym-test-no-such.sock", 2, &e), -1);
    assert_int_equal(e.status, 503);
    assert_string_equal(e.code, "backend_unavailable");
    assert_non_null(strstr(e.message, "/tmp/podgym-test-no-such.sock"));
    pg_err_clear(&e);
    long st = -1;
    assert_int_equal(dock_call(&c, "GET", "/containers/json", NULL, &st, NULL, &e), -1);
    assert_int_equal(st, 0);
    assert_string_equal(e.code, "backend_unavailable");
}

/* The backend checks the template before it talks to any daemon. */
static void test_open_refuses(void **state) {
    (void)state;
    pg_config c;
    pg_err e = { 0 };
    pg_config_defaults(&c);
    snprintf(c.docker.socket, sizeof c.docker.socket, "/tmp/podgym-test-no-such.sock");
    snprintf(c.docker.command, sizeof c.docker.command, "sh -c 'oops");
    assert_null(dock_backend_new(&c, &e));
    assert_int_equal(e.status, 2);
    assert_non_null(strstr(e.message, "docker.command"));
    pg_config_defaults(&c);
    snprintf(c.docker.memory, sizeof c.docker.memory, "1Mi");
    assert_null(dock_backend_new(&c, &e));
    assert_non_null(strstr(e.message, "6 MiB"));
    snprintf(c.docker.memory, sizeof c.docker.memory, "lots");
    assert_null(dock_backend_new(&c, &e));
    assert_non_null(strstr(e.message, "docker.memory"));
}

/* No daemon at the socket: the backend opens, every call is 503 naming it. */
static void test_daemon_gone(void **state) {
    (void)state;
    pg_config c;
    pg_err e = { 0 };
    pg_config_defaults(&c);
    snprintf(c.docker.socket, sizeof c.docker.socket, "/tmp/podgym-test-no-such.sock");
    pg_backend *b = dock_backend_new(&c, &e);
    assert_non_null(b);
    assert_non_null(dock_from_backend(b));
    pg_pod *pods = NULL;
    size_t n = 0;
    assert_int_equal(b->ops->pods(b, &pods, &n, &e), -1);
    assert_int_equal(e.status, 503);
    assert_string_equal(e.code, "backend_unavailable");
    assert_non_null(strstr(e.message, "/tmp/podgym-test-no-such.sock"));
    int want = 0;
    pg_err_clear(&e);
    assert_int_equal(b->ops->scale(b, 2, &e), -1);
    assert_string_equal(e.code, "backend_unavailable");
    pg_err_clear(&e);
    assert_int_equal(b->ops->replicas(b, &want, &e), -1);
    pg_wait w = { .ready = 1, .timeout_s = 1 };
    pg_err_clear(&e);
    assert_int_equal(b->ops->wait(b, &w, NULL, &e), -1);
    assert_int_equal(e.status, 503);
    b->ops->destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_path),  cmocka_unit_test(test_split),
        cmocka_unit_test(test_label_filter), cmocka_unit_test(test_missing_socket),
        cmocka_unit_test(test_open_refuses), cmocka_unit_test(test_daemon_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
