#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

static int min_level = PG_LOG_INFO;
static int quiet_access = 0;

void pg_log_set_level(int level) { min_level = level; }
void pg_log_set_quiet(int quiet) { quiet_access = quiet; }
int pg_log_quiet(void) { return quiet_access; }

static const char *level_name[] = { "debug", "info", "warn", "error" };

static size_t stamp(char *buf, size_t n) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    return len + (size_t)snprintf(buf + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Each line is built whole and written with one fwrite, so lines from
 * different threads never interleave. */
void pg_log(int level, const char *fmt, ...) {
    if (level < min_level) return;
    char line[2048];
    size_t len = stamp(line, sizeof line);
    len += (size_t)snprintf(line + len, sizeof line - len, " %s ", level_name[level]);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    len = n < 0 ? len : len + (size_t)n;
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

/* Control characters and spaces in a client's path are %-escaped, so a
 * request cannot forge a log line or a field. */
static void escape_path(char *out, size_t n, const char *path) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < n; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

void pg_log_access(const char *method, const char *path, int status, double ms) {
    if (quiet_access) return;
    char line[1024], safe[768];
    escape_path(safe, sizeof safe, path);
    size_t len = stamp(line, sizeof line);
    int n = snprintf(line + len, sizeof line - len, " access method=%s path=%s status=%d ms=%.3f\n",
                     method, safe, status, ms);
    len = n < 0 ? len : len + (size_t)n;
    if (len > sizeof line - 1) { len = sizeof line - 1; line[len - 1] = '\n'; }
    fwrite(line, 1, len, stderr);
}
