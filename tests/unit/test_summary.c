/* Load-test summaries: JMeter's percentile convention, drops, "no value"
 * statistics, interning (core/summary.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "load/sample.h"

static void push(ld_result *r, int64_t ts, double elapsed, double latency, int success, long bytes) {
    ld_sample s = { 0 };
    s.ts_ms = ts;
    s.elapsed_ms = elapsed;
    s.latency_ms = latency;
    s.success = success;
    s.bytes = bytes;
    assert_int_equal(ld_result_push(r, &s), 0);
}

/* JMeter's Aggregate Report: the value at rank round(n * p), p >= 1 = max. */
static void test_percentiles_jmeter(void **state) {
    (void)state;
    ld_result r = { 0 };
    /* 1..100 pushed in a scrambled order */
    for (int i = 0; i < 100; i++) push(&r, 1000, (double)((i * 37) % 100 + 1), 1, 1, 10);
    ld_summarize(&r);
    assert_int_equal(r.sum.count, 100);
    assert_true(r.sum.elapsed.p50 == 50);
    assert_true(r.sum.elapsed.p90 == 90);
    assert_true(r.sum.elapsed.p95 == 95);
    assert_true(r.sum.elapsed.p99 == 99);
    assert_true(r.sum.elapsed.min == 1);
    assert_true(r.sum.elapsed.max == 100);
    assert_true(fabs(r.sum.elapsed.mean - 50.5) < 1e-9);
    ld_result_free(&r);

    /* three values: round(1.5) = 2 -> 20; round(2.7) = 3 -> 30 */
    ld_result s = { 0 };
    push(&s, 1000, 30, 3, 1, 0);
    push(&s, 1000, 10, 1, 1, 0);
    push(&s, 1000, 20, 2, 1, 0);
    ld_summarize(&s);
    assert_true(s.sum.elapsed.p50 == 20);
    assert_true(s.sum.elapsed.p90 == 30);
    assert_true(s.sum.latency.p50 == 2);
    ld_result_free(&s);

    /* one value: every percentile is that value (rank 1 at least) */
    ld_result one = { 0 };
    push(&one, 5000, 7, 3, 1, 0);
    ld_summarize(&one);
    assert_true(one.sum.elapsed.p50 == 7 && one.sum.elapsed.p99 == 7 && one.sum.latency.p90 == 3);
    ld_result_free(&one);
}

static void test_drops_and_throughput(void **state) {
    (void)state;
    ld_result r = { 0 };
    /* 10 samples 100 ms apart, the last ends at 1000 + 900 + 100 ms; i = 1, 5, 9 fail;
     * the first has no byte count (-1) */
    for (int i = 0; i < 10; i++) push(&r, 1000 + 100 * i, i == 9 ? 100 : 10, 5, i % 4 != 1, i == 0 ? -1 : 100);
    ld_summarize(&r);
    assert_int_equal(r.sum.count, 10);
    assert_int_equal(r.sum.errors, 3);
    assert_true(fabs(r.sum.drop_pct - 30.0) < 1e-9);
    assert_true(fabs(r.sum.duration_s - 1.0) < 1e-9);
    assert_int_equal(r.sum.bytes, 900);
    ld_result_free(&r);

    ld_result d = { 0 };
    for (int i = 0; i < 8; i++) push(&d, 1000 + 100 * i, 100, 5, i >= 6, 100);
    ld_summarize(&d);
    assert_int_equal(d.sum.errors, 6);
    assert_true(fabs(d.sum.drop_pct - 75.0) < 1e-9);
    assert_true(fabs(d.sum.duration_s - 0.8) < 1e-9);          /* 1000 .. 1700 + 100 */
    assert_true(fabs(d.sum.throughput_rps - 10.0) < 1e-9);
    assert_int_equal(d.sum.bytes, 800);
    ld_result_free(&d);
}

/* No samples, or no Latency values: statistics are NaN ("no value"), never 0. */
static void test_no_values(void **state) {
    (void)state;
    ld_result r = { 0 };
    ld_summarize(&r);
    assert_int_equal(r.sum.count, 0);
    assert_true(r.sum.drop_pct == 0);
    assert_true(isnan(r.sum.elapsed.mean) && isnan(r.sum.latency.p99));
    assert_true(r.sum.throughput_rps == 0);

    push(&r, 1000, 10, NAN, 0, -1);
    push(&r, 1010, 30, NAN, 1, -1);
    ld_summarize(&r);
    assert_true(isnan(r.sum.latency.mean) && isnan(r.sum.latency.p50));
    assert_true(r.sum.elapsed.mean == 20);
    assert_true(fabs(r.sum.drop_pct - 50) < 1e-9);
    assert_int_equal(r.sum.bytes, 0);

    /* a NaN among values is skipped, not counted as 0 */
    push(&r, 1020, 20, 8, 1, 5);
    ld_summarize(&r);
    assert_true(r.sum.latency.mean == 8 && r.sum.latency.min == 8);
    ld_result_free(&r);
}

static void test_intern_and_growth(void **state) {
    (void)state;
    ld_result r = { 0 };
    assert_null(ld_result_intern(&r, NULL));
    const char *a = ld_result_intern(&r, "GET /pod");
    const char *b = ld_result_intern(&r, "GET /pod");
    const char *c = ld_result_intern(&r, "POST /classify");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    char buf[32];
    for (int i = 0; i < 1000; i++) {                /* many distinct strings: all kept */
        snprintf(buf, sizeof buf, "http://h/%d", i);
        const char *s = ld_result_intern(&r, buf);
        assert_non_null(s);
        assert_string_equal(s, buf);
    }
    assert_string_equal(a, "GET /pod");             /* still valid after growth */
    for (int i = 0; i < 10000; i++) {
        ld_sample s = { 0 };
        s.ts_ms = i;
        s.label = a;
        assert_int_equal(ld_result_push(&r, &s), 0);
    }
    assert_int_equal(r.n, 10000);
    assert_true(r.v[9999].ts_ms == 9999 && r.v[0].label == a);
    ld_result_free(&r);
    assert_int_equal(r.n, 0);
    ld_result_free(&r);                             /* twice: harmless */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_jmeter),
        cmocka_unit_test(test_drops_and_throughput),
        cmocka_unit_test(test_no_values),
        cmocka_unit_test(test_intern_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
