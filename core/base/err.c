#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

int pg_errf(pg_err *e, int status, const char *code, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

void pg_err_clear(pg_err *e) {
    if (!e) return;
    e->code[0] = '\0';
    e->message[0] = '\0';
    e->status = 0;
}
