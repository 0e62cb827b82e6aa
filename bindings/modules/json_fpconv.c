/* json_fpconv.c: number conversion for json.encode (json_enc.c),
 * data.append's CSV rows and the statically linked lua-cjson.
 *
 * lua-cjson keeps its number formatting in a separate unit (fpconv) so a
 * build can swap it. Linking this one keeps the archive's fpconv.o out:
 * "%.14g" through glibc's exact multi-precision printf costs ~400 ns a
 * number; this costs ~30. Here integers
 * (byte counts, pod counts, epoch seconds) and ordinary decimals are
 * printed directly, with the same digits as "%.*g"; anything unusual
 * (NaN, infinities, very large or very small magnitudes) still goes
 * through snprintf. Decoding is strtod (podgym never changes the C
 * locale, so '.' is always the decimal point) held to JSON's grammar. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fpconv_init(void);
double fpconv_strtod(const char *nptr, char **endptr);
int fpconv_g_fmt(char *str, double num, int precision);

void fpconv_init(void) {}

/* lua-cjson reads every number through this: a number is what JSON's
 * grammar and strtod both read to the same byte, -?(0|[1-9][0-9]*)
 * (.[0-9]+)?([eE][+-]?[0-9]+)?, and within a double's range. Anything
 * else ("1.", "-.5", "0x3", "03", "1e400") reads nothing here, which
 * lua-cjson reports as an invalid number. */
static const char *digits(const char *p) {
    while (*p >= '0' && *p <= '9') p++;
    return p;
}

double fpconv_strtod(const char *nptr, char **endptr) {
    const char *p = nptr + (*nptr == '-');
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') p = digits(p);
    else goto none;
    if (*p == '.' && p[1] >= '0' && p[1] <= '9') p = digits(p + 1);
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1 + (p[1] == '+' || p[1] == '-');
        if (*q >= '0' && *q <= '9') p = digits(q);
    }
    char *end;
    double d = strtod(nptr, &end);
    if (end != p || isinf(d)) goto none;
    *endptr = end;
    return d;
none:
    *endptr = (char *)nptr;
    return 0;
}

/* Two digits at a time. */
static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* v < 10^8 as exactly 8 digits, leading zeros kept. */
static inline void put8(char *o, uint32_t v) {
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(o, digits2 + hi / 100 * 2, 2);
    memcpy(o + 2, digits2 + hi % 100 * 2, 2);
    memcpy(o + 4, digits2 + lo / 100 * 2, 2);
    memcpy(o + 6, digits2 + lo % 100 * 2, 2);
}

/* v < 10^16 as 24 digits ending at d + 24 (the first eight always 0). */
static inline void put24(char d[24], uint64_t v) {
    memcpy(d, "00000000", 8);
    put8(d + 8, (uint32_t)(v / 100000000));
    put8(d + 16, (uint32_t)(v % 100000000));
}

/* v < 10^16 without leading zeros. */
static int put_u64(char *out, uint64_t v) {
    if (v < 10) {
        *out = (char)('0' + v);
        return 1;
    }
    if (v < 100) {
        memcpy(out, digits2 + v * 2, 2);
        return 2;
    }
    char d[40];                             /* room for the fixed-size copy below */
    put24(d, v);
    int z = 8;
    while (d[z] == '0') z++;
    memcpy(out, d + z, 16);                 /* fixed size; only 24 - z bytes count */
    return 24 - z;
}

static const double pow10tab[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9, 1e10,
                                   1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20 };
/* str holds at least 32 bytes (lua-cjson's FPCONV_G_FMT_BUFSIZE). */
int fpconv_g_fmt(char *str, double num, int precision) {
    if (precision < 1 || precision > 14 || !isfinite(num)) goto slow;
    char *p = str;
    double a = fabs(num);
    if (a == 0) {
        if (signbit(num)) *p++ = '-';
        *p++ = '0';
        *p = '\0';
        return (int)(p - str);
    }
    if (a < 1e-4 || a >= pow10tab[precision]) goto slow;        /* %g would use an exponent */
    if (a == (double)(uint64_t)a) {                             /* integral: print it as is */
        if (num < 0) *p++ = '-';
        p += put_u64(p, (uint64_t)a);
        *p = '\0';
        return (int)(p - str);
    }
    /* exponent: a in [10^e, 10^(e+1)) */
    int e;
    if (a >= 1) {
        e = 0;
        while (e + 1 < precision && a >= pow10tab[e + 1]) e++;
    } else {
        e = -1;
        while (e > -4 && a * pow10tab[-e] < 1) e--;
        if (a * pow10tab[-e] < 1) goto slow;
    }
    int frac = precision - 1 - e;                               /* digits after the point */
    if (frac > 20) goto slow;
    /* 10^frac (<= 1e20) is exact, so scaled is a * 10^frac correctly
     * rounded. Below 2^52 every n + 0.5 is a double, and rounding is
     * monotonic: scaled is on the same side of a tie as the exact product,
     * or on the tie itself. There the product's rounding error, which fma
     * gives exactly, says which side the exact product is on; none is an
     * exact decimal tie, which printf rounds to even. (Binary fractions
     * such as the simulator's k / 1024 ms land there often.) */
    double scaled = a * pow10tab[frac];
    if (scaled >= 1e15) goto slow;
    double fl = (double)(uint64_t)scaled, rem = scaled - fl;     /* floor: scaled is >= 0 */
    int up = rem > 0.5;
    if (rem == 0.5) {
        double err = fma(a, pow10tab[frac], -scaled);
        up = err > 0 || (err == 0 && fmod(fl, 2) == 1);
    }
    uint64_t digits = (uint64_t)fl + (uint64_t)up;
    if (digits >= (uint64_t)pow10tab[precision]) goto slow;     /* rounding carried a digit */
    if (num < 0) *p++ = '-';
    /* The digits right-aligned in w places (leading zeros below 1): the
     * integer part's ilen, then frac more, of which %g drops trailing zeros. */
    int ilen = e >= 0 ? e + 1 : 0, w = ilen + frac;
    char d[24];
    put24(d, digits);
    const char *f = d + 24 - w;
    int n = w;
    while (n > ilen && f[n - 1] == '0') n--;
    if (ilen) {
        memcpy(p, f, (size_t)ilen);
        p += ilen;
    } else {
        *p++ = '0';
    }
    if (n > ilen) {
        *p++ = '.';
        memcpy(p, f + ilen, (size_t)(n - ilen));
        p += n - ilen;
    }
    *p = '\0';
    return (int)(p - str);
slow:
    return snprintf(str, 32, "%.*g", precision, num);
}
