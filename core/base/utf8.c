/* utf8.c: well-formed UTF-8 (utf8.h). */
#include "base/utf8.h"

/* Unicode 15, table 3-7: the lead byte sets the length and the range of
 * the second byte; every later byte is 80..BF. */
int pg_utf8_next(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    int len;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;                   /* no overlong forms */
        else if (c == 0xED) hi = 0x9F;              /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;              /* nothing past U+10FFFF */
    } else {
        return -1;                                  /* 80..C1, F5..FF: never a lead */
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi) return -i;
        lo = 0x80;
        hi = 0xBF;
    }
    return len;
}

void pg_utf8_repair(pg_buf *b, const char *s, size_t n) {
    size_t i = 0, from = 0;                         /* s[from..i) is well-formed */
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        int k = pg_utf8_next(s + i, n - i);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        pg_buf_add(b, s + from, i - from);
        pg_buf_add(b, "\xEF\xBF\xBD", 3);           /* U+FFFD */
        i += (size_t)-k;
        from = i;
    }
    pg_buf_add(b, s + from, n - from);
}
