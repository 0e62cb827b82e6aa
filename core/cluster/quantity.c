/* quantity.c: Kubernetes quantity parser (see quantity.h).
 *
 * The number is scanned by hand rather than with strtod so that the result
 * does not depend on LC_NUMERIC and so that every malformed form ("1.2.3",
 * ".", "1e", "5 Mi") is rejected with one clear message. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "cluster/quantity.h"

static int bad(pg_err *e, const char *s, const char *why) {
    return pg_errf(e, 400, "bad_quantity", "invalid quantity '%.64s': %s", s, why);
}

/* Binary SI suffixes multiply; decimal ones shift the power of ten (so
 * "250m" is 250 / 10^3, exactly rounded). "" is handled by the caller. */
static const struct { const char *sfx; double mul; int exp10; } units[] = {
    { "Ki", 1024.0, 0 }, { "Mi", 1048576.0, 0 }, { "Gi", 1073741824.0, 0 },
    { "Ti", 1099511627776.0, 0 }, { "Pi", 1125899906842624.0, 0 },
    { "Ei", 1152921504606846976.0, 0 },
    { "n", 1, -9 }, { "u", 1, -6 }, { "m", 1, -3 },
    { "k", 1, 3 }, { "M", 1, 6 }, { "G", 1, 9 }, { "T", 1, 12 }, { "P", 1, 15 }, { "E", 1, 18 },
};

/* Scan "digits[.digits]" at *p into mantissa m and a power-of-ten shift.
 * Returns the number of digits read (0 = no number). */
static int scan_number(const char **p, double *m, int *shift) {
    const char *q = *p;
    int digits = 0, frac = 0;
    double v = 0;
    while (isdigit((unsigned char)*q)) { v = v * 10 + (*q++ - '0'); digits++; }
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q)) { v = v * 10 + (*q++ - '0'); digits++; frac++; }
    }
    *p = q;
    *m = v;
    *shift = -frac;
    return digits;
}

/* A decimal exponent "e<int>" / "E<int>" at p (E alone means exa). */
static int scan_exponent(const char *p, int *exp10) {
    if ((*p != 'e' && *p != 'E')) return 0;
    p++;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!isdigit((unsigned char)*p)) return 0;
    long v = 0;
    while (isdigit((unsigned char)*p)) {
        if (v < 100000) v = v * 10 + (*p - '0');
        p++;
    }
    if (*p) return -1;                          /* trailing garbage */
    *exp10 = (int)(neg ? -v : v);
    return 1;
}

static double scale10(double m, long exp10) {
    if (exp10 > 400) return m == 0 ? 0 : HUGE_VAL;
    if (exp10 < -400) return 0;
    return exp10 >= 0 ? m * pow(10, (double)exp10) : m / pow(10, (double)-exp10);
}

int k8s_quantity(const char *s, double *out, pg_err *e) {
    if (!s || !*s) return pg_errf(e, 400, "bad_quantity", "invalid quantity '': empty");
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    double m;
    int shift;
    if (scan_number(&p, &m, &shift) == 0) return bad(e, s, "expected a number");

    double v;
    int exp10 = 0;
    int ex = scan_exponent(p, &exp10);
    if (ex < 0) return bad(e, s, "malformed exponent");
    if (ex > 0) {
        v = scale10(m, (long)exp10 + shift);
    } else if (!*p) {
        v = scale10(m, shift);
    } else if (!isalpha((unsigned char)*p)) {
        return bad(e, s, "unexpected characters after the number");
    } else {
        size_t i, nu = sizeof units / sizeof units[0];
        for (i = 0; i < nu && strcmp(p, units[i].sfx) != 0; i++) {}
        if (i == nu) return bad(e, s, "unknown suffix (use n u m k M G T P E Ki Mi Gi Ti Pi Ei or e<N>)");
        v = scale10(m, (long)shift + units[i].exp10) * units[i].mul;
    }
    if (!isfinite(v) || v > 1e300) return bad(e, s, "out of range");
    *out = neg ? -v : v;
    return 0;
}
