/* err.h: the small error record every core call fills on failure.
 *
 * Core functions return 0 on success and -1 on failure, having filled a
 * pg_err: a stable machine code ("not_found", "timeout", ...), a human
 * message, and the HTTP status a route should answer with. Core never
 * prints and never exits. */
#ifndef PG_ERR_H
#define PG_ERR_H

typedef struct pg_err {
    char code[32];
    char message[480];
    int status;                 /* HTTP status to answer with: 400, 404, 502, 504, ... */
} pg_err;

/* Fill e (when not NULL) and return -1, so callers can `return pg_errf(...)`. */
int pg_errf(pg_err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void pg_err_clear(pg_err *e);

#endif
