/* file.h: whole writes. A row podgym appends to a data file is whole or
 * absent: a write that fails part-way cuts the file back to its size
 * before the write. */
#ifndef PG_FILE_H
#define PG_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

/* Write all len bytes of p to fd (through EINTR and short writes). The
 * file held `before` bytes; on a failure it is truncated back to that.
 * Errors: 507 "insufficient_storage" (ENOSPC, EDQUOT), else 500 "io",
 * the message naming path. */
int pg_write_whole(int fd, const void *p, size_t len, off_t before, const char *path, pg_err *e);

/* The whole of the regular file at path, NUL-terminated, in one allocation
 * (so a caller that wipes a secret leaves no copy behind); the caller frees
 * it. Errors: 400 "bad_file" (missing, unreadable, not a regular file, more
 * than max bytes), 500 "no_memory"; what names the file in the message
 * ("upload file", "tls.key"). */
char *pg_read_file(const char *what, const char *path, size_t max, size_t *len, pg_err *e);

#endif
