/* JTL files: writing in JMeter's default format, reading by header name,
 * JMeter's real output, bad files (core/jtl.c). */
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

#include "load/jmeter/jtl.h"
#include "load/sample.h"

static char dir[] = "/tmp/podgym-test-jtl-XXXXXX";

static int setup(void **state) {
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text) {
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static void add(ld_result *r, int64_t ts, double el, double lat, double con, int code, int ok, const char *msg,
                long bytes, long sent, int thread, const char *label, const char *url) {
    ld_sample s = { 0 };
    s.ts_ms = ts;
    s.elapsed_ms = el;
    s.latency_ms = lat;
    s.connect_ms = con;
    s.code = code;
    s.success = ok;
    snprintf(s.message, sizeof s.message, "%s", msg);
    s.bytes = bytes;
    s.sent_bytes = sent;
    s.thread = thread;
    s.label = ld_result_intern(r, label);
    s.url = ld_result_intern(r, url);
    assert_int_equal(ld_result_push(r, &s), 0);
}

/* Written, read back, written again: the same samples and the same bytes. */
static void test_round_trip(void **state) {
    (void)state;
    ld_result r = { 0 };
    add(&r, 1700000000123, 12.4, 10.6, 1.2, 200, 1, "OK", 161, 56, 1, "GET /ok", "http://127.0.0.1:8080/ok");
    add(&r, 1700000000200, 5000.2, 5000.2, 0, 0, 0, "timeout", 0, 55, 2, "GET /ok", "http://127.0.0.1:8080/ok");
    add(&r, 1700000000300, 3, 2, 0, 500, 0, "Internal, \"Server\" Error", 170, 58, 3, "a,\"b\"",
        "http://127.0.0.1:8080/fail?a=1,2");
    add(&r, 1700000000400, 0.2, 0.2, 0, 0, 0, "Connection refused", 0, 0, 1, "GET /ok", "http://127.0.0.1:9/x");
    ld_summarize(&r);

    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/a.jtl", dir);
    snprintf(p2, sizeof p2, "%s/b.jtl", dir);
    pg_err e = { 0 };
    assert_int_equal(jtl_write(p1, &r, &e), 0);
    char *text = slurp(p1);
    assert_true(!strncmp(text, jtl_header, strlen(jtl_header)));
    /* JMeter's own way of writing a sample without an HTTP answer */
    assert_non_null(strstr(text, ",Non HTTP response code: timeout,Non HTTP response message: timeout,"));
    assert_non_null(strstr(text, "\"Internal, \"\"Server\"\" Error\""));

    ld_result b = { 0 };
    assert_int_equal(jtl_read(p1, &b, &e), 0);
    assert_int_equal(b.n, r.n);
    for (size_t i = 0; i < r.n; i++) {
        const ld_sample *x = &r.v[i], *y = &b.v[i];
        assert_true(x->ts_ms == y->ts_ms);
        assert_true(y->elapsed_ms == round(x->elapsed_ms));        /* JMeter's whole ms */
        assert_true(y->latency_ms == round(x->latency_ms));
        assert_true(y->connect_ms == round(x->connect_ms));
        assert_int_equal(x->code, y->code);
        assert_int_equal(x->success, y->success);
        assert_string_equal(x->message, y->message);
        assert_int_equal(x->bytes, y->bytes);
        assert_int_equal(x->sent_bytes, y->sent_bytes);
        assert_int_equal(x->thread, y->thread);
        assert_string_equal(x->label, y->label);
        assert_string_equal(x->url, y->url);
    }
    assert_int_equal(b.sum.count, 4);
    assert_int_equal(b.sum.errors, 3);
    assert_true(fabs(b.sum.drop_pct - 75) < 1e-9);
    assert_int_equal(jtl_write(p2, &b, &e), 0);
    char *text2 = slurp(p2);
    assert_string_equal(text, text2);
    free(text);
    free(text2);
    ld_result_free(&r);
    ld_result_free(&b);
}

/* A file as JMeter 5.6 writes it, with a quoted "Non HTTP" message. */
static void test_jmeter_format(void **state) {
    (void)state;
    const char *p = write_file("jm.jtl",
        "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,"
        "sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"
        "1700000000000,120,Image Classification,200,OK,Thread Group 1-1,text,true,,345,36215,1,1,"
        "http://localhost:30030/api/v1/ml/classify,110,0,3\n"
        "1700000010000,140,Image Classification,200,OK,Thread Group 1-1,text,true,,345,36215,1,1,"
        "http://localhost:30030/api/v1/ml/classify,130,0,0\n"
        "1700000020000,2003,Image Classification,Non HTTP response code: org.apache.http.conn.HttpHostConnectException,"
        "\"Non HTTP response message: Connect to localhost:30030 [localhost/127.0.0.1] failed: Connection refused\","
        "Thread Group 1-2,text,false,,2530,0,1,1,http://localhost:30030/api/v1/ml/classify,0,0,2003\n");
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(jtl_read(p, &r, &e), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.sum.errors, 1);
    assert_int_equal(r.v[2].code, 0);
    assert_int_equal(r.v[2].thread, 2);
    assert_string_equal(r.v[0].label, "Image Classification");
    assert_true(!strncmp(r.v[2].message, "Connect to localhost:30030", 26));
    assert_true(fabs(r.sum.latency.mean - 80.0) < 1e-9);                /* (110 + 130 + 0) / 3 */
    assert_true(fabs(r.sum.elapsed.mean - (120 + 140 + 2003) / 3.0) < 1e-9);
    assert_true(fabs(r.sum.duration_s - 22.003) < 1e-9);
    ld_result_free(&r);
}

/* Any subset and order of the columns; a file without Latency has no latency. */
static void test_subset_and_order(void **state) {
    (void)state;
    const char *p = write_file("sub.jtl", "success,elapsed,timeStamp\ntrue,10,1000\nfalse,30,2000\n");
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(jtl_read(p, &r, &e), 0);
    assert_int_equal(r.n, 2);
    assert_true(r.v[1].elapsed_ms == 30 && r.v[1].ts_ms == 2000 && !r.v[1].success);
    assert_true(isnan(r.sum.latency.mean));                 /* not a made-up 0 */
    assert_true(r.sum.elapsed.mean == 20);
    ld_result_free(&r);

    /* tab-delimited, CRLF, formatted timestamps, a blank line at the end */
    p = write_file("tab.jtl", "timeStamp\telapsed\tsuccess\tLatency\r\n"
                              "2024/01/02 10:11:12.250\t7\ttrue\t5\r\n"
                              "2024/01/02 10:11:13.250\t9\tfalse\t6\r\n\r\n");
    ld_result t = { 0 };
    assert_int_equal(jtl_read(p, &t, &e), 0);
    assert_int_equal(t.n, 2);
    assert_true(t.v[1].ts_ms - t.v[0].ts_ms == 1000);
    assert_true(t.v[0].ts_ms % 1000 == 250);
    assert_true(t.sum.latency.mean == 5.5);
    ld_result_free(&t);

    /* no header, but JMeter's 17 default columns */
    p = write_file("nohdr.jtl", "1700000000000,12,l,200,OK,T 1-1,text,true,,1,2,1,1,http://h/,10,0,1\n");
    ld_result h = { 0 };
    assert_int_equal(jtl_read(p, &h, &e), 0);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].latency_ms == 10);
    ld_result_free(&h);

    /* JMeter's XML result format */
    p = write_file("x.jtl", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testResults version=\"1.2\">\n"
                            "<httpSample t=\"12\" lt=\"10\" ct=\"2\" ts=\"1700000000000\" s=\"true\" lb=\"x\" rc=\"200\" "
                            "rm=\"OK\" tn=\"TG 1-1\" by=\"100\" sby=\"50\"><httpSample t=\"1\" ts=\"1\" s=\"true\"/></httpSample>\n"
                            "<sample t=\"30\" lt=\"0\" ts=\"1700000000100\" s=\"false\" lb=\"x\" rc=\"Non HTTP response code: "
                            "java.net.SocketTimeoutException\" rm=\"Non HTTP response message: Read timed out\"/>\n"
                            "</testResults>\n");
    ld_result x = { 0 };
    assert_int_equal(jtl_read(p, &x, &e), 0);
    assert_int_equal(x.n, 2);                               /* sub-results are not samples of their own */
    assert_int_equal(x.sum.errors, 1);
    assert_string_equal(x.v[1].message, "Read timed out");
    assert_true(x.v[0].latency_ms == 10 && x.v[0].bytes == 100);
    ld_result_free(&x);
}

static void expect_error(const char *name, const char *text, const char *msg_part) {
    const char *p = write_file(name, text);
    ld_result r = { 0 };
    pg_err e = { 0 };
    assert_int_equal(jtl_read(p, &r, &e), -1);
    assert_int_equal(e.status, 400);
    if (!strstr(e.message, msg_part)) fail_msg("error '%s' does not say '%s'", e.message, msg_part);
    ld_result_free(&r);
}

static void test_bad_files(void **state) {
    (void)state;
    const char *hdr = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,"
                      "failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n";
    const char *ok = "1700000000000,12,l,200,OK,T 1-1,text,true,,1,2,1,1,http://h/,10,0,1\n";
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s1700000000000,abc,l,200,OK,T 1-1,text,true,,1,2,1,1,http://h/,10,0,1\n", hdr, ok);
    expect_error("nan.jtl", buf, "nan.jtl:3: column 'elapsed': not a number: 'abc'");
    snprintf(buf, sizeof buf, "%s%s1700000000000,12,l,200\n", hdr, ok);
    expect_error("short.jtl", buf, "short.jtl:3: 4 fields where the header has 17");
    expect_error("nocol.jtl", "timeStamp,label,success\n1,a,true\n", "nocol.jtl:1: missing column 'elapsed'");
    snprintf(buf, sizeof buf, "%s1700000000000,12,l,200,OK,T 1-1,text,maybe,,1,2,1,1,http://h/,10,0,1\n", hdr);
    expect_error("bool.jtl", buf, "column 'success': not true or false: 'maybe'");
    snprintf(buf, sizeof buf, "%s1700000000000,12,l,200,OK,T 1-1,text,true,,1,2,1,1,http://h/,x1,0,1\n", hdr);
    expect_error("lat.jtl", buf, "column 'Latency': not a number: 'x1'");
    snprintf(buf, sizeof buf, "%syesterday,12,l,200,OK,T 1-1,text,true,,1,2,1,1,http://h/,1,0,1\n", hdr);
    expect_error("ts.jtl", buf, "column 'timeStamp': not a timestamp: 'yesterday'");
    snprintf(buf, sizeof buf, "%s1700000000000,12,\"unterminated,200,OK\n", hdr);
    expect_error("quote.jtl", buf, "unterminated quoted field");
    expect_error("empty.jtl", "", "empty file");
    expect_error("blank.jtl", "\n\n  \n", "empty file");
    expect_error("three.jtl", "1700000000000,12,true\n", "no header line");
    expect_error("xml.jtl", "<testResults><httpSample t=\"x\" ts=\"1\" s=\"true\"/></testResults>",
                 "attribute 't': not a number: 'x'");
    expect_error("xml2.jtl", "<testResults><httpSample", "not well-formed XML");

    ld_result r = { 0 };
    pg_err e = { 0 };
    char path[600];
    snprintf(path, sizeof path, "%s/does-not-exist.jtl", dir);
    assert_int_equal(jtl_read(path, &r, &e), -1);
    assert_int_equal(e.status, 404);
    snprintf(path, sizeof path, "%s/no-such-dir/x.jtl", dir);
    assert_int_equal(jtl_write(path, &r, &e), -1);
    assert_int_equal(e.status, 500);
    ld_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_jmeter_format),
        cmocka_unit_test(test_subset_and_order),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
