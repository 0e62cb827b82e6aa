/* test_kube_config.c: kubeconfig files and the in-cluster service account,
 * as kubectl reads them: merged KUBECONFIG lists, *-data against files,
 * token files, relative paths, contexts, errors that name the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/kube/kubeconfig.h"

static char dir[64];

static void put(const char *name, const char *text) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *at(const char *name) {
    static char p[4][PATH_MAX];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int setup(void **st) {
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/pgkc.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* "hello CA\n" and "client cert\n", "client key\n" in base64 */
#define CA_B64 "aGVsbG8gQ0EK"
#define CERT_B64 "Y2xpZW50IGNlcnQK"
#define KEY_B64 "Y2xpZW50IGtleQo="

static const char *KC_A =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: a\n"
    "clusters:\n"
    "- name: ca\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: " CA_B64 "\n"
    "- name: shared\n"
    "  cluster: {server: 'https://first.example:443'}\n"
    "users:\n"
    "- name: ua\n"
    "  user:\n"
    "    token: tok-a\n"
    "contexts:\n"
    "- name: a\n"
    "  context: {cluster: ca, user: ua, namespace: team-a}\n"
    "- name: s\n"
    "  context: {cluster: shared, user: ub}\n";

static const char *KC_B =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: b\n"
    "clusters:\n"
    "- name: shared\n"
    "  cluster: {server: 'https://second.example:443', insecure-skip-tls-verify: true}\n"
    "- name: cb\n"
    "  cluster:\n"
    "    server: http://127.0.0.1:8080\n"
    "    certificate-authority: ca.pem\n"
    "users:\n"
    "- name: ub\n"
    "  user:\n"
    "    tokenFile: tok.txt\n"
    "    client-certificate-data: " CERT_B64 "\n"
    "    client-key: sub/key.pem\n"
    "contexts:\n"
    "- name: b\n"
    "  context: {cluster: cb, user: ub}\n";

static void test_single_file(void **st) {
    (void)st;
    put("a.yaml", KC_A);
    k8s_auth a;
    pg_err e = { 0 };
    assert_int_equal(k8s_kubeconfig_load(at("a.yaml"), 1, "", &a, &e), 0);
    assert_string_equal(a.server, "https://127.0.0.1:6443");    /* trailing slash dropped */
    assert_string_equal(a.ns, "team-a");
    assert_string_equal(a.context, "a");
    assert_string_equal(a.token, "tok-a");
    assert_int_equal(a.ca.len, 9);
    assert_memory_equal(a.ca.p, "hello CA\n", 9);
    assert_null(a.cert.p);
    assert_int_equal(a.insecure, 0);
    assert_string_equal(a.token_file, "");
    k8s_auth_free(&a);
    assert_null(a.token);
}

/* KUBECONFIG=a:b: current-context from a (the first that sets it), each
 * named entry from the first file that has it; b's own entries still found. */
static void test_merge(void **st) {
    (void)st;
    put("a.yaml", KC_A);
    put("b.yaml", KC_B);
    put("tok.txt", "tok-from-file\n");
    put("ca.pem", "file CA\n");
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0700);
    put("sub/key.pem", "file key\n");
    char list[3 * PATH_MAX];
    snprintf(list, sizeof list, "%s:%s:%s", at("a.yaml"), at("missing.yaml"), at("b.yaml"));
    k8s_auth a;
    pg_err e = { 0 };
    assert_int_equal(k8s_kubeconfig_load(list, 0, "", &a, &e), 0);
    assert_string_equal(a.context, "a");
    k8s_auth_free(&a);

    /* context s: its cluster "shared" is in both files, the first wins; its
     * user only in b, whose relative paths resolve against b's folder */
    assert_int_equal(k8s_kubeconfig_load(list, 0, "s", &a, &e), 0);
    assert_string_equal(a.server, "https://first.example:443");
    assert_int_equal(a.insecure, 0);
    assert_string_equal(a.token, "tok-from-file");
    assert_string_equal(a.token_file, at("tok.txt"));
    assert_memory_equal(a.cert.p, "client cert\n", a.cert.len);
    assert_memory_equal(a.key.p, "file key\n", a.key.len);
    assert_string_equal(a.ns, "");
    k8s_auth_free(&a);

    /* b first: b's current-context, b's "shared" */
    snprintf(list, sizeof list, "%s:%s", at("b.yaml"), at("a.yaml"));
    assert_int_equal(k8s_kubeconfig_load(list, 0, "", &a, &e), 0);
    assert_string_equal(a.context, "b");
    assert_string_equal(a.server, "http://127.0.0.1:8080");
    assert_memory_equal(a.ca.p, "file CA\n", a.ca.len);
    k8s_auth_free(&a);
    assert_int_equal(k8s_kubeconfig_load(list, 0, "s", &a, &e), 0);
    assert_string_equal(a.server, "https://second.example:443");
    assert_int_equal(a.insecure, 1);
    k8s_auth_free(&a);
}

/* *-data wins over the file of the same key (client-go's rule). */
static void test_data_over_file(void **st) {
    (void)st;
    put("d.yaml",
        "current-context: x\n"
        "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority: nope.pem,"
        " certificate-authority-data: " CA_B64 "}}]\n"
        "users: [{name: u, user: {client-certificate-data: " CERT_B64 ", client-key-data: " KEY_B64 "}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    k8s_auth a;
    pg_err e = { 0 };
    assert_int_equal(k8s_kubeconfig_load(at("d.yaml"), 1, NULL, &a, &e), 0);
    assert_memory_equal(a.ca.p, "hello CA\n", a.ca.len);
    assert_memory_equal(a.key.p, "client key\n", a.key.len);
    assert_null(a.token);
    k8s_auth_free(&a);
}

static void fails(const char *files, int explicit_file, const char *ctx, const char *want) {
    k8s_auth a;
    pg_err e = { 0 };
    assert_int_equal(k8s_kubeconfig_load(files, explicit_file, ctx, &a, &e), -1);
    assert_int_equal(e.status, 2);
    assert_string_equal(e.code, "backend");
    if (!strstr(e.message, want)) fail_msg("'%s' does not say '%s'", e.message, want);
    assert_null(a.token);
}

static void test_errors(void **st) {
    (void)st;
    put("a.yaml", KC_A);
    fails(at("a.yaml"), 1, "nope", "no context named 'nope'");
    fails(at("none.yaml"), 1, "", "cannot open");
    fails(at("none.yaml"), 0, "", "none of its files exists");
    put("bad.yaml", "clusters: [\n");
    fails(at("bad.yaml"), 1, "", "YAML syntax error");
    put("list.yaml", "- 1\n");
    fails(at("list.yaml"), 1, "", "not a kubeconfig");
    put("noctx.yaml", "clusters: []\n");
    fails(at("noctx.yaml"), 1, "", "no current-context");
    put("nocl.yaml", "current-context: x\ncontexts: [{name: x, context: {cluster: gone}}]\n");
    fails(at("nocl.yaml"), 1, "", "names cluster 'gone'");
    put("b64.yaml",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '%%%'}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\n");
    fails(at("b64.yaml"), 1, "", "certificate-authority-data is not base64");
    put("half.yaml",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
        "users: [{name: u, user: {client-certificate-data: " CERT_B64 "}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    fails(at("half.yaml"), 1, "", "without a client key");
    put("exec.yaml",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
        "users: [{name: u, user: {exec: {command: aws}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    fails(at("exec.yaml"), 1, "", "exec or auth-provider");
    put("tf.yaml",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n"
        "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
    fails(at("tf.yaml"), 1, "", "/nonexistent/token");
    put("srv.yaml",
        "current-context: x\nclusters: [{name: c, cluster: {server: 'ftp://h'}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\n");
    fails(at("srv.yaml"), 1, "", "not an http(s) URL");
}

static void test_incluster(void **st) {
    (void)st;
    char sa[PATH_MAX];
    snprintf(sa, sizeof sa, "%s/sa", dir);
    mkdir(sa, 0700);
    put("sa/token", "sa-token\n");
    put("sa/ca.crt", "in-cluster CA\n");
    put("sa/namespace", "podgym\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    k8s_auth a;
    pg_err e = { 0 };
    assert_int_equal(k8s_incluster_load(sa, &a, &e), 0);
    assert_string_equal(a.server, "https://10.96.0.1:443");
    assert_string_equal(a.token, "sa-token");
    assert_string_equal(a.ns, "podgym");
    assert_string_equal(a.source, "in-cluster");
    assert_memory_equal(a.ca.p, "in-cluster CA\n", a.ca.len);
    /* a rotated token is read again */
    assert_int_equal(k8s_auth_reread_token(&a), -1);                /* unchanged */
    put("sa/token", "sa-token-2");
    assert_int_equal(k8s_auth_reread_token(&a), 0);
    assert_string_equal(a.token, "sa-token-2");
    k8s_auth_free(&a);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(k8s_incluster_load(sa, &a, &e), 0);
    assert_string_equal(a.server, "https://[fd00::1]:443");
    k8s_auth_free(&a);

    /* the source order: no kube.kubeconfig, no KUBECONFIG, no ~/.kube/config: in cluster */
    pg_kube_conf kc;
    memset(&kc, 0, sizeof kc);
    snprintf(kc.serviceaccount_dir, sizeof kc.serviceaccount_dir, "%s", sa);
    unsetenv("KUBECONFIG");
    setenv("HOME", dir, 1);
    assert_int_equal(k8s_auth_load(&kc, &a, &e), 0);
    assert_string_equal(a.source, "in-cluster");
    k8s_auth_free(&a);
    /* ~/.kube/config next */
    char kd[PATH_MAX];
    snprintf(kd, sizeof kd, "%s/.kube", dir);
    mkdir(kd, 0700);
    put(".kube/config", KC_A);
    assert_int_equal(k8s_auth_load(&kc, &a, &e), 0);
    assert_string_equal(a.context, "a");
    k8s_auth_free(&a);
    /* KUBECONFIG over it, kube.kubeconfig over both */
    put("b.yaml", KC_B);
    put("tok.txt", "t\n");
    put("ca.pem", "x\n");
    snprintf(kd, sizeof kd, "%s/sub", dir);
    mkdir(kd, 0700);
    put("sub/key.pem", "k\n");
    setenv("KUBECONFIG", at("b.yaml"), 1);
    assert_int_equal(k8s_auth_load(&kc, &a, &e), 0);
    assert_string_equal(a.context, "b");
    k8s_auth_free(&a);
    snprintf(kc.kubeconfig, sizeof kc.kubeconfig, "%s", at(".kube/config"));
    snprintf(kc.context, sizeof kc.context, "s");
    assert_int_equal(k8s_auth_load(&kc, &a, &e), -1);               /* s's user ub is only in b */
    assert_non_null(strstr(e.message, "names user 'ub'"));
    unsetenv("KUBECONFIG");

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(k8s_incluster_load(sa, &a, &e), -1);
    assert_non_null(strstr(e.message, "KUBERNETES_SERVICE_HOST"));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    unlink(at("sa/token"));
    assert_int_equal(k8s_incluster_load(sa, &a, &e), -1);
    assert_non_null(strstr(e.message, "token"));
}

static void test_base64(void **st) {
    (void)st;
    k8s_blob b;
    assert_int_equal(k8s_base64_decode("aGk=", 4, &b), 0);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.p, "hi", 2);
    free(b.p);
    assert_int_equal(k8s_base64_decode("aG\nk", 4, &b), 0);           /* folded, unpadded */
    assert_memory_equal(b.p, "hi", 2);
    free(b.p);
    assert_int_equal(k8s_base64_decode("a", 1, &b), -1);
    assert_int_equal(k8s_base64_decode("aGk=aGk=", 8, &b), -1);
    assert_int_equal(k8s_base64_decode("a*Gk", 4, &b), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_file), cmocka_unit_test(test_merge), cmocka_unit_test(test_data_over_file),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_incluster), cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
