/* buf.c: the one growable byte buffer (buf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

char *pg_buf_reserve(pg_buf *b, size_t more) {
    if (b->oom) return NULL;
    if (more > (size_t)-1 / 2 - b->n) goto oom;
    if (b->n + more + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + more + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) goto oom;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->n;
oom:
    b->oom = 1;
    return NULL;
}

void pg_buf_add(pg_buf *b, const void *s, size_t len) {
    char *d = pg_buf_reserve(b, len);
    if (!d) return;
    if (len) memcpy(d, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void pg_buf_adds(pg_buf *b, const char *s) { pg_buf_add(b, s, strlen(s)); }

void pg_buf_addc(pg_buf *b, char c) { pg_buf_add(b, &c, 1); }

void pg_buf_printf(pg_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (w < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)w < sizeof small) {
        pg_buf_add(b, small, (size_t)w);
        return;
    }
    char *d = pg_buf_reserve(b, (size_t)w);
    if (!d) return;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)w + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)w;
}

void pg_buf_clear(pg_buf *b) {
    b->n = 0;
    b->oom = 0;
    if (b->p) b->p[0] = '\0';
}

char *pg_buf_take(pg_buf *b, size_t *len) {
    if (!b->p && !b->oom) pg_buf_reserve(b, 0);
    if (b->p) b->p[b->n] = '\0';
    char *p = b->oom ? NULL : b->p;
    if (len) *len = b->oom ? 0 : b->n;
    if (b->oom) free(b->p);
    *b = (pg_buf)PG_BUF_INIT;
    return p;
}

void pg_buf_free(pg_buf *b) {
    free(b->p);
    *b = (pg_buf)PG_BUF_INIT;
}
