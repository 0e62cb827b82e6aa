/* buf.h: the one growable byte buffer. The bytes are always NUL-terminated
 * (p[n] == 0 once anything was added). An allocation failure sets oom and
 * makes every later add a no-op, so a writer checks once at the end. */
#ifndef PG_BUF_H
#define PG_BUF_H

#include <stddef.h>

typedef struct pg_buf {
    char *p;                    /* owned; NULL until the first add */
    size_t n, cap;
    int oom;
} pg_buf;

#define PG_BUF_INIT { NULL, 0, 0, 0 }

/* Room for more bytes (and the NUL) past n; returns p + n, or NULL (oom set). */
char *pg_buf_reserve(pg_buf *b, size_t more);
void pg_buf_add(pg_buf *b, const void *s, size_t len);
void pg_buf_adds(pg_buf *b, const char *s);
void pg_buf_addc(pg_buf *b, char c);
void pg_buf_printf(pg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the contents, keep the memory. */
void pg_buf_clear(pg_buf *b);
/* Hand the bytes to the caller (who frees them; never NULL unless oom) and reset b. */
char *pg_buf_take(pg_buf *b, size_t *len);
void pg_buf_free(pg_buf *b);

#endif
