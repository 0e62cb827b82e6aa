/* csv.c: the one CSV quoter and reader (csv.h). */
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"

static int needs_quotes(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
    return 0;
}

size_t pg_csv_field_len(const char *s, size_t n) {
    if (!needs_quotes(s, n)) return n;
    size_t q = 0;
    for (size_t i = 0; i < n; i++) q += s[i] == '"';
    return n + q + 2;
}

char *pg_csv_field_write(char *o, const char *s, size_t n) {
    if (!needs_quotes(s, n)) {
        memcpy(o, s, n);
        return o + n;
    }
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') *o++ = '"';
        *o++ = s[i];
    }
    *o++ = '"';
    return o;
}

void pg_csv_field_add(pg_buf *b, const char *s, size_t n) {
    size_t len = pg_csv_field_len(s, n);
    char *o = pg_buf_reserve(b, len);
    if (!o) return;
    b->n += (size_t)(pg_csv_field_write(o, s, n) - o);
    b->p[b->n] = '\0';
}

void pg_csv_init(pg_csv *c, FILE *f, char delim, long line) {
    memset(c, 0, sizeof *c);
    c->f = f;
    c->delim = delim;
    c->line = line;
}

void pg_csv_free(pg_csv *c) {
    pg_buf_free(&c->fields);
    free(c->off);
    c->off = NULL;
    c->nf = c->capf = 0;
}

/* Start field nf at the buffer's current end. */
static int field_start(pg_csv *c) {
    if (c->nf == c->capf) {
        size_t cap = c->capf ? c->capf * 2 : 32;
        size_t *o = realloc(c->off, cap * sizeof *o);
        if (!o) return -1;
        c->off = o;
        c->capf = cap;
    }
    c->off[c->nf++] = c->fields.n;
    return 0;
}

static int field_end(pg_csv *c) {
    pg_buf_addc(&c->fields, '\0');
    return c->fields.oom ? -1 : 0;
}

static int put(pg_csv *c, int ch) {
    pg_buf_addc(&c->fields, (char)ch);
    return c->fields.oom ? -1 : 0;
}

int pg_csv_next(pg_csv *c, long *start, const char **why) {
    pg_buf_clear(&c->fields);
    c->nf = 0;
    int ch, quoted = 0, any = 0, at_start = 1;
    *start = c->line;
    if (field_start(c)) goto nomem;
    for (;;) {
        ch = getc_unlocked(c->f);
        if (ch == EOF) {
            if (quoted) {
                *why = "unterminated quoted field";
                return -1;
            }
            if (!any) return 0;
            break;
        }
        any = 1;
        if (quoted) {
            if (ch == '"') {
                int nx = getc_unlocked(c->f);
                if (nx == '"') {
                    if (put(c, '"')) goto nomem;
                    continue;
                }
                if (nx != EOF) ungetc(nx, c->f);
                quoted = 0;
                continue;
            }
            if (ch == '\n') c->line++;
            if (put(c, ch)) goto nomem;
            continue;
        }
        if (ch == '"' && at_start) {
            quoted = 1;
            at_start = 0;
            continue;
        }
        if (ch == '\r') {
            int nx = getc_unlocked(c->f);
            if (nx == '\n') ch = '\n';
            else if (nx != EOF) ungetc(nx, c->f);
        }
        if (ch == '\n') {
            c->line++;
            if (c->fields.n == 0 && c->nf == 1 && at_start) {     /* blank line: skip */
                *start = c->line;
                any = 0;
                continue;
            }
            break;
        }
        if (ch == c->delim) {
            if (field_end(c) || field_start(c)) goto nomem;
            at_start = 1;
            continue;
        }
        at_start = 0;
        if (put(c, ch)) goto nomem;
    }
    if (field_end(c)) goto nomem;
    return 1;
nomem:
    *why = "out of memory";
    return -1;
}
