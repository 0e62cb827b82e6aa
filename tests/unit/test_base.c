/* test_base: the one byte buffer and the one clock (core/base). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/csv.h"
#include "base/file.h"

static void test_buf_grows_and_terminates(void **st) {
    (void)st;
    pg_buf b = PG_BUF_INIT;
    for (int i = 0; i < 1000; i++) pg_buf_printf(&b, "%04d,", i);
    assert_false(b.oom);
    assert_int_equal(b.n, 5000);
    assert_int_equal(b.p[b.n], '\0');
    assert_memory_equal(b.p + 4995, "0999,", 5);
    pg_buf_adds(&b, "x");
    pg_buf_addc(&b, 'y');
    size_t len;
    char *p = pg_buf_take(&b, &len);
    assert_int_equal(len, 5002);
    assert_string_equal(p + 5000, "xy");
    assert_null(b.p);
    assert_int_equal(b.n, 0);
    free(p);
}

static void test_buf_long_printf(void **st) {
    (void)st;
    pg_buf b = PG_BUF_INIT;
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    pg_buf_adds(&b, "<");
    pg_buf_printf(&b, "%s>", big);
    assert_int_equal(b.n, 1001);
    assert_int_equal(b.p[1000], '>');
    assert_int_equal(b.p[1001], '\0');
    pg_buf_clear(&b);
    assert_int_equal(b.n, 0);
    assert_string_equal(b.p, "");
    pg_buf_free(&b);
}

static void test_buf_empty_take(void **st) {
    (void)st;
    pg_buf b = PG_BUF_INIT;
    size_t len = 7;
    char *p = pg_buf_take(&b, &len);
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
}

static void test_buf_oom_sticks(void **st) {
    (void)st;
    pg_buf b = PG_BUF_INIT;
    pg_buf_adds(&b, "ab");
    assert_null(pg_buf_reserve(&b, (size_t)-1 / 2));
    assert_true(b.oom);
    pg_buf_adds(&b, "cd");
    assert_int_equal(b.n, 2);
    size_t len = 9;
    assert_null(pg_buf_take(&b, &len));
    assert_int_equal(len, 0);
}

static void test_clock_monotonic_sleep(void **st) {
    (void)st;
    double a = pg_mono();
    int64_t an = pg_mono_ns();
    pg_sleep(0.02);
    double b = pg_mono();
    assert_true(b - a >= 0.02);
    assert_true(pg_mono_ns() - an >= 20000000);
    double w = pg_wall();
    assert_true(w > 1.7e9);
    assert_true(llabs(pg_wall_ns() / 1000000000 - (int64_t)w) <= 1);
    pg_sleep(-1);       /* no sleep, no hang */
    for (int i = 0; i < 50; i++) {                  /* a deadline past any nanosecond carry */
        double before = pg_wall();
        struct timespec ts = pg_wall_after(0.9999);
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        double at = (double)ts.tv_sec + ts.tv_nsec / 1e9;
        assert_true(at >= before + 0.9999 - 1e-3 && at <= pg_wall() + 0.9999 + 1e-3);
    }
}

static void test_csv_quote(void **st) {
    (void)st;
    pg_buf b = PG_BUF_INIT;
    pg_csv_field_add(&b, "plain", 5);
    pg_buf_addc(&b, ',');
    pg_csv_field_add(&b, "a,b", 3);
    pg_buf_addc(&b, ',');
    pg_csv_field_add(&b, "say \"hi\"", 8);
    pg_buf_addc(&b, ',');
    pg_csv_field_add(&b, "two\nlines\r", 10);
    assert_string_equal(b.p, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\r\"");
    assert_int_equal(pg_csv_field_len("say \"hi\"", 8), 12);
    pg_buf_free(&b);
}

/* What the quoter writes, the reader reads back field for field. */
static void test_csv_round_trip(void **st) {
    (void)st;
    const char *fields[] = { "", "x", "a,b", "\"", "multi\nline", "end\r\n", "  spaced " };
    const size_t nf = sizeof fields / sizeof *fields;
    pg_buf b = PG_BUF_INIT;
    pg_buf_adds(&b, "\n\n");                            /* blank lines are skipped */
    for (int row = 0; row < 3; row++) {
        for (size_t i = 0; i < nf; i++) {
            if (i) pg_buf_addc(&b, ',');
            pg_csv_field_add(&b, fields[i], strlen(fields[i]));
        }
        pg_buf_adds(&b, row == 1 ? "\r\n" : "\n");
    }
    FILE *f = fmemopen(b.p, b.n, "r");
    assert_non_null(f);
    pg_csv c;
    pg_csv_init(&c, f, ',', 1);
    long start;
    const char *why = NULL;
    long starts[3];
    for (int row = 0; row < 3; row++) {
        assert_int_equal(pg_csv_next(&c, &start, &why), 1);
        starts[row] = start;
        assert_int_equal(c.nf, nf);
        for (size_t i = 0; i < nf; i++) assert_string_equal(pg_csv_get(&c, i), fields[i]);
    }
    assert_int_equal(pg_csv_next(&c, &start, &why), 0);
    assert_int_equal(starts[0], 3);                    /* after two blank lines */
    assert_int_equal(starts[1], 6);                    /* each row spans three lines */
    pg_csv_free(&c);
    fclose(f);
    pg_buf_free(&b);
}

static void test_csv_unterminated(void **st) {
    (void)st;
    char text[] = "a,\"never closed\nb\n";
    FILE *f = fmemopen(text, strlen(text), "r");
    pg_csv c;
    pg_csv_init(&c, f, ';', 1);
    long start;
    const char *why = NULL;
    assert_int_equal(pg_csv_next(&c, &start, &why), 1);   /* ';' is the delimiter: one field */
    assert_int_equal(c.nf, 1);
    assert_string_equal(pg_csv_get(&c, 0), "a,\"never closed");
    pg_csv_free(&c);
    fclose(f);
    char bad[] = "x,\"open\n";
    f = fmemopen(bad, strlen(bad), "r");
    pg_csv_init(&c, f, ',', 1);
    assert_int_equal(pg_csv_next(&c, &start, &why), -1);
    assert_string_equal(why, "unterminated quoted field");
    pg_csv_free(&c);
    fclose(f);
}

static void test_read_file(void **st) {
    (void)st;
    char path[] = "/tmp/podgym-test-read-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc\0def", 7), 7);
    close(fd);
    pg_err e;
    size_t n = 0;
    char *p = pg_read_file("test file", path, 100, &n, &e);
    assert_non_null(p);
    assert_int_equal(n, 7);
    assert_memory_equal(p, "abc\0def", 7);
    assert_int_equal(p[7], '\0');                  /* NUL-terminated */
    free(p);
    assert_null(pg_read_file("test file", path, 6, &n, &e));     /* over max */
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "bad_file");
    assert_non_null(strstr(e.message, "test file"));
    unlink(path);
    assert_null(pg_read_file("test file", path, 100, &n, &e));   /* gone */
    assert_non_null(strstr(e.message, "No such file"));
    assert_null(pg_read_file("test file", "/tmp", 100, &n, &e)); /* a folder */
    assert_string_equal(e.code, "bad_file");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_terminates),
        cmocka_unit_test(test_buf_long_printf),
        cmocka_unit_test(test_buf_empty_take),
        cmocka_unit_test(test_buf_oom_sticks),
        cmocka_unit_test(test_clock_monotonic_sleep),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_csv_quote),
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_csv_unterminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
