/* log.h: one-line logging to stderr, safe from any thread. */
#ifndef PG_LOG_H
#define PG_LOG_H

enum { PG_LOG_DEBUG, PG_LOG_INFO, PG_LOG_WARN, PG_LOG_ERROR };

void pg_log_set_level(int level);
void pg_log_set_quiet(int quiet);       /* quiet: access log off, warnings still shown */
int pg_log_quiet(void);
void pg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pg_log_access(const char *method, const char *path, int status, double ms);

#endif
