/* test_quantity.c: Kubernetes quantities as a user writes them in a pod spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cluster/quantity.h"

static double q(const char *s) {
    double v = -12345;
    pg_err e = {0};
    if (k8s_quantity(s, &v, &e) != 0) fail_msg("'%s' rejected: %s", s, e.message);
    return v;
}

static void rejects(const char *s) {
    double v = -12345;
    pg_err e = {0};
    if (k8s_quantity(s, &v, &e) == 0) fail_msg("'%s' accepted as %g", s, v);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "bad_quantity");
    assert_non_null(strstr(e.message, "invalid quantity"));
    assert_true(v == -12345);                   /* output untouched on failure */
}

static void test_cpu(void **st) {
    (void)st;
    assert_true(q("250m") == 0.25);
    assert_true(q("500m") == 0.5);
    assert_true(q("1") == 1.0);
    assert_true(q("0.5") == 0.5);
    assert_true(q(".5") == 0.5);
    assert_true(q("2000m") == 2.0);
    assert_true(q("100u") == 1e-4);
    assert_true(q("100n") == 1e-7);
    assert_true(q("+1") == 1.0);
    assert_true(q("-1") == -1.0);
}

static void test_memory(void **st) {
    (void)st;
    assert_true(q("512Mi") == 536870912.0);
    assert_true(q("1Ki") == 1024.0);
    assert_true(q("1Gi") == 1073741824.0);
    assert_true(q("1.5Gi") == 1610612736.0);
    assert_true(q("1Ti") == 1099511627776.0);
    assert_true(q("1Pi") == 1125899906842624.0);
    assert_true(q("1Ei") == 1152921504606846976.0);
    assert_true(q("1G") == 1e9);
    assert_true(q("128M") == 128e6);
    assert_true(q("100k") == 1e5);
    assert_true(q("1T") == 1e12);
    assert_true(q("1P") == 1e15);
    assert_true(q("1E") == 1e18);               /* exa, not an exponent */
}

static void test_exponent(void **st) {
    (void)st;
    assert_true(q("1e3") == 1000.0);
    assert_true(q("1E3") == 1000.0);
    assert_true(q("12e-1") == 1.2);
    assert_true(q("5e+2") == 500.0);
    assert_true(q("129e6") == 129e6);
}

static void test_rejects(void **st) {
    (void)st;
    rejects("");
    rejects("abc");
    rejects("1.2.3");
    rejects("5 Mi");
    rejects(" 5");
    rejects("5 ");
    rejects("Mi");
    rejects(".");
    rejects("-");
    rejects("1e");
    rejects("1e3Mi");
    rejects("1mi");
    rejects("1KiB");
    rejects("12x");
    rejects("1..2");
    rejects("1e999");                           /* overflow */
    rejects("99999999999999999999999999999999999999999999999999999999999999999999999999999999"
            "99999999999999999999999999999999999999999999999999999999999999999999999999999999"
            "99999999999999999999999999999999999999999999999999999999999999999999999999999999"
            "99999999999999999999999999999999999999999999999999999999999999999999999999999999Ei");
    double v;
    pg_err e;
    assert_int_equal(k8s_quantity(NULL, &v, &e), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_exponent),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
