/* locks.h: named process-wide mutexes, so scripts can serialize a critical
 * section (scaling) across worker threads. */
#ifndef PG_LOCKS_H
#define PG_LOCKS_H

#include <pthread.h>

#include "base/err.h"

/* The mutex for name, created on first use (at most 64 names). NULL with e
 * filled when the table is full or the name is empty/too long. */
pthread_mutex_t *pg_lock_named(const char *name, pg_err *e);

#endif
