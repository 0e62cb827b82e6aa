/* json_fpconv.c: number conversion for the statically linked lua-cjson.
 *
 * lua-cjson keeps its number formatting in a separate unit (fpconv) so a
 * build can swap it. Linking this one keeps the archive's fpconv.o out:
 * its "%.14g" through glibc's exact multi-precision printf costs ~400 ns a
 * number, most of the time spent encoding a GET /pod body. Here integers
 * (byte counts, pod counts, epoch seconds) and ordinary decimals are
 * printed directly, with the same digits as "%.*g"; anything unusual
 * (NaN, infinities, very large or very small magnitudes) still goes
 * through snprintf. Decoding is plain strtod: podgym never changes the
 * C locale, so '.' is always the decimal point. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fpconv_init(void);
double fpconv_strtod(const char *nptr, char **endptr);
int fpconv_g_fmt(char *str, double num, int precision);

void fpconv_init(void) {}

double fpconv_strtod(const char *nptr, char **endptr) { return strtod(nptr, endptr); }

static int put_u64(char *out, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
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
    double scaled = a * pow10tab[frac];
    if (scaled >= 1e15) goto slow;
    /* scaled carries at most half an ulp (< 0.01 below 1e15) of error from
     * the multiplication: near a rounding tie only exact conversion can tell */
    double tie = scaled - floor(scaled);
    if (fabs(tie - 0.5) < 0.03) goto slow;
    uint64_t digits = (uint64_t)llround(scaled);
    if (digits >= (uint64_t)pow10tab[precision]) goto slow;     /* rounding carried a digit */
    if (num < 0) *p++ = '-';
    uint64_t scale = (uint64_t)pow10tab[frac];
    uint64_t ip = digits / scale, fp = digits % scale;
    p += put_u64(p, ip);
    if (fp) {
        /* fractional digits, leading zeros kept, trailing zeros dropped (%g) */
        char f[24];
        for (int i = frac - 1; i >= 0; i--) {
            f[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        int n = frac;
        while (n > 0 && f[n - 1] == '0') n--;
        *p++ = '.';
        memcpy(p, f, (size_t)n);
        p += n;
    }
    *p = '\0';
    return (int)(p - str);
slow:
    return snprintf(str, 32, "%.*g", precision, num);
}
