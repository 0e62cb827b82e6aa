/* Router: templates, parameters, precedence, 404/405 with Allow, bad templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/router.h"

static pg_router *make(void) {
    pg_router *r = router_new();
    pg_err e;
    assert_int_equal(router_add(r, "GET", "/", 0, &e), 0);
    assert_int_equal(router_add(r, "GET", "/pod", 1, &e), 0);
    assert_int_equal(router_add(r, "POST", "/pod/confirm", 2, &e), 0);
    assert_int_equal(router_add(r, "POST", "/pod/set-pod-count/{n}", 3, &e), 0);
    assert_int_equal(router_add(r, "GET", "/metrics/{job}", 4, &e), 0);
    assert_int_equal(router_add(r, "GET", "/metrics/status", 5, &e), 0);
    assert_int_equal(router_add(r, "DELETE", "/metrics/{job}", 6, &e), 0);
    assert_int_equal(router_add(r, "post", "/a/{x}/b/{y}", 7, &e), 0);
    return r;
}

static void test_match_literal_and_root(void **state) {
    (void)state;
    pg_router *r = make();
    pg_match m;
    assert_int_equal(router_match(r, "GET", "/", &m, NULL, 0), 200);
    assert_int_equal(m.id, 0);
    assert_int_equal(router_match(r, "GET", "/pod", &m, NULL, 0), 200);
    assert_int_equal(m.id, 1);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(router_match(r, "GET", "/pod/", &m, NULL, 0), 404);
    assert_int_equal(router_match(r, "GET", "/po", &m, NULL, 0), 404);
    assert_int_equal(router_match(r, "GET", "/pods", &m, NULL, 0), 404);
    router_free(r);
}

static void test_params(void **state) {
    (void)state;
    pg_router *r = make();
    pg_match m;
    assert_int_equal(router_match(r, "POST", "/pod/set-pod-count/3", &m, NULL, 0), 200);
    assert_int_equal(m.id, 3);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0].name, "n");
    assert_int_equal(m.params[0].len, 1);
    assert_memory_equal(m.params[0].val, "3", 1);
    assert_int_equal(router_match(r, "POST", "/pod/set-pod-count/", &m, NULL, 0), 404);
    assert_int_equal(router_match(r, "POST", "/a/1/b/22", &m, NULL, 0), 200);
    assert_int_equal(m.id, 7);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[1].name, "y");
    assert_memory_equal(m.params[1].val, "22", 2);
    router_free(r);
}

static void test_literal_beats_param(void **state) {
    (void)state;
    pg_router *r = make();
    pg_match m;
    assert_int_equal(router_match(r, "GET", "/metrics/status", &m, NULL, 0), 200);
    assert_int_equal(m.id, 5);
    assert_int_equal(router_match(r, "GET", "/metrics/7", &m, NULL, 0), 200);
    assert_int_equal(m.id, 4);
    router_free(r);
}

static void test_405_allow(void **state) {
    (void)state;
    pg_router *r = make();
    pg_match m;
    char allow[64];
    assert_int_equal(router_match(r, "POST", "/pod", &m, allow, sizeof allow), 405);
    assert_string_equal(allow, "GET");
    assert_int_equal(router_match(r, "PUT", "/metrics/9", &m, allow, sizeof allow), 405);
    assert_string_equal(allow, "GET, DELETE");
    router_free(r);
}

static void test_bad_templates(void **state) {
    (void)state;
    pg_router *r = router_new();
    pg_err e;
    assert_int_equal(router_add(r, "GET", "pod", 0, &e), -1);
    assert_int_equal(router_add(r, "GET", "/pod//x", 0, &e), -1);
    assert_int_equal(router_add(r, "GET", "/pod/", 0, &e), -1);
    assert_int_equal(router_add(r, "GET", "/pod/{}", 0, &e), -1);
    assert_int_equal(router_add(r, "GET", "/pod/{1n}", 0, &e), -1);
    assert_int_equal(router_add(r, "GET", "/pod/x{n}", 0, &e), -1);
    assert_int_equal(router_add(r, "", "/pod", 0, &e), -1);
    assert_int_equal(router_add(r, "GET", "/pod/{n}", 0, &e), 0);
    assert_int_equal(router_add(r, "GET", "/pod/{m}", 1, &e), -1);
    assert_string_equal(e.code, "duplicate_route");
    assert_int_equal(router_add(r, "POST", "/pod/{m}", 2, &e), 0);
    assert_int_equal(router_count(r), 2);
    router_free(r);
}

static void test_any_method(void **state) {
    (void)state;
    pg_router *r = router_new();
    pg_err e;
    pg_match m;
    assert_int_equal(router_add(r, "*", "/echo", 9, &e), 0);
    assert_int_equal(router_match(r, "PATCH", "/echo", &m, NULL, 0), 200);
    assert_int_equal(m.id, 9);
    router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_literal_and_root), cmocka_unit_test(test_params),
        cmocka_unit_test(test_literal_beats_param),    cmocka_unit_test(test_405_allow),
        cmocka_unit_test(test_bad_templates),          cmocka_unit_test(test_any_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
