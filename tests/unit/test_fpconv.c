/* The number formatter linked into lua-cjson prints exactly what "%.*g"
 * does; its number reader takes JSON's grammar only, within a double's range. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

int fpconv_g_fmt(char *str, double num, int precision);
double fpconv_strtod(const char *nptr, char **endptr);

static void same(double v, int prec) {
    char a[64], b[64];
    fpconv_g_fmt(a, v, prec);
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strcmp(a, b)) fail_msg("%.17g at precision %d: got %s, %%g says %s", v, prec, a, b);
}

static void test_known_values(void **state) {
    (void)state;
    const double v[] = { 0, -0.0, 1, -1, 3, 536870912, 1700000006.0971, 0.76890784527298, 153.78, 16.87,
                         0.5, 1e-4, 9.99999e-5, 1e14, 99999999999999, 123456789012345.0, 1e300, -2.5e-300,
                         NAN, INFINITY, -INFINITY, 0.1, 0.2, 0.3, 2.675, 1.005, 100.0 / 3 };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        same(v[i], 14);
        same(v[i], 6);
        same(v[i], 1);
    }
}

static void test_random_values(void **state) {
    (void)state;
    uint64_t s = 42;
    for (int i = 0; i < 500000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double r = (double)(s >> 11) / 9007199254740992.0;
        double scale[] = { 1, 1e6, 1e-3, 1e12, 3e9, 1e-4 };
        double v = (r - 0.25) * scale[i % 6];
        if (i % 7 == 0) v = floor(v);
        if (i % 11 == 0) v = round(v * 100) / 100;
        same(v, 14);
    }
}

/* Decimal numbers whose 15th significant digit is 5: the rounding of the
 * 14th digit depends on the binary value's last bits. */
static void test_near_ties(void **state) {
    (void)state;
    uint64_t s = 7;
    for (int i = 0; i < 300000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t m = 100000000000000ULL + (s >> 20) % 900000000000000ULL;
        m = m - m % 10 + 5;
        int shift = (int)((s >> 8) % 20);
        double v = (double)m / 1e15 * pow(10, shift - 4);
        same(v, 14);
        same(-v, 14);
        same(nextafter(v, 0), 14);
        same(nextafter(v, 1e300), 14);
    }
}

/* Binary fractions k / 2^n: their decimal expansions end in 5, so many
 * are exact ties at the 14th digit (printf rounds those to even) and the
 * rest sit within a rounding error of one. */
static void test_binary_fractions(void **state) {
    (void)state;
    uint64_t s = 11;
    for (int i = 0; i < 300000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double k = (double)((s >> 11) % 100000000000ULL);
        double v = ldexp(k, -(int)(1 + (s >> 3) % 40));
        same(v, 14);
        same(-v, 14);
        same(v, 6);
    }
    same(5.8982866210937503, 14);
    same(0.000125, 2);
    same(0.000375, 2);
    same(2.5, 1);
    same(3.5, 1);
}

/* Integers of every length, each side of every power of ten, at every
 * precision (printed as they are below 10^precision, with an exponent
 * from there). */
static void test_integers(void **state) {
    (void)state;
    uint64_t s = 5;
    for (int digits = 1; digits <= 15; digits++) {
        double p10 = pow(10, digits - 1);
        for (int i = 0; i < 20000; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = p10 + (double)((s >> 11) % (uint64_t)(9 * p10));
            for (int prec = 1; prec <= 14; prec += i % 3 ? 13 : 1) {
                same(v, prec);
                same(-v, prec);
            }
        }
        for (int prec = 1; prec <= 14; prec++) {
            same(p10, prec);
            same(p10 - 1, prec);
            same(p10 + 1, prec);
        }
    }
}

/* Read text (followed by ','): the number of bytes read and the value. */
static size_t reads(const char *text, double *v) {
    char buf[64], *end;
    snprintf(buf, sizeof buf, "%s,", text);
    *v = fpconv_strtod(buf, &end);
    return (size_t)(end - buf);
}

static void test_strtod_json_only(void **state) {
    (void)state;
    static const struct { const char *text; double v; } ok[] = {
        { "0", 0 }, { "-0", -0.0 }, { "7", 7 }, { "-12", -12 }, { "0.5", 0.5 }, { "1e3", 1000 }, { "1E+2", 100 },
        { "2.5e-3", 0.0025 }, { "123456789012345678901234567890", 1.2345678901234568e29 },
        { "1e-400", 0 }, { "1.7976931348623157e308", 1.7976931348623157e308 },
    };
    double v;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = reads(ok[i].text, &v);
        if (n != strlen(ok[i].text) || v != ok[i].v) fail_msg("%s: read %zu bytes, %.17g", ok[i].text, n, v);
    }
    assert_true(signbit((reads("-0", &v), v)));
    static const char *const bad[] = { "0x3", "0X3", "03", "-03", "00", "1.", "-.5", ".5", "+1", "-", "1e400", "-1e400",
                                       "1.8e308", "NaN", "nan", "Infinity", "-Infinity", "inf", "1.e5", "0x1p3", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (reads(bad[i], &v) != 0) fail_msg("%s is not a JSON number, yet was read", bad[i]);
    assert_int_equal(reads("1e", &v), 1);          /* "e" with no digits: the number is 1, the tokenizer sees "e" */
    assert_int_equal(reads("-5 ", &v), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_random_values),
        cmocka_unit_test(test_near_ties),
        cmocka_unit_test(test_binary_fractions),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_strtod_json_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
