/* csv.h: the one CSV quoter and the one CSV reader (RFC 4180: a field that
 * holds the delimiter, a quote, CR or LF is quoted, quotes doubled). */
#ifndef PG_CSV_H
#define PG_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"

/* ---- writing ---- */

/* Bytes that field s[0..n) takes in a row (quotes included). */
size_t pg_csv_field_len(const char *s, size_t n);
/* Write the field at o, which has room for pg_csv_field_len(s, n) bytes;
 * returns the end of what was written. */
char *pg_csv_field_write(char *o, const char *s, size_t n);
/* Append the field to b. */
void pg_csv_field_add(pg_buf *b, const char *s, size_t n);

/* ---- reading ---- */

typedef struct pg_csv {
    FILE *f;                    /* not owned */
    char delim;
    long line;                  /* physical line of the next character */
    pg_buf fields;              /* the record's fields, each NUL-terminated */
    size_t *off;                /* field i starts at fields.p + off[i] */
    size_t nf, capf;
} pg_csv;

/* A reader of f from physical line `line` (1 for a file's start). */
void pg_csv_init(pg_csv *c, FILE *f, char delim, long line);
void pg_csv_free(pg_csv *c);

/* Read one record (blank lines are skipped). Returns 1, 0 at end of file,
 * -1 on error (*why set: an unterminated quoted field, out of memory).
 * *start is the line the record starts on. */
int pg_csv_next(pg_csv *c, long *start, const char **why);

/* Field i < c->nf of the current record. */
static inline const char *pg_csv_get(const pg_csv *c, size_t i) { return c->fields.p + c->off[i]; }

#endif
