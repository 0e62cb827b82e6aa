/* file.c: whole writes (file.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"

int pg_write_whole(int fd, const void *p, size_t len, off_t before, const char *path, pg_err *e) {
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, (const char *)p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        int err = w < 0 ? errno : ENOSPC;           /* a write of 0 bytes: the device is full */
        if (off > 0 && ftruncate(fd, before) != 0) { /* the error below is what the caller reports */ }
        if (err == ENOSPC || err == EDQUOT)
            return pg_errf(e, 507, "insufficient_storage", "%s: %s", path, strerror(err));
        return pg_errf(e, 500, "io", "%s: %s", path, strerror(err));
    }
    return 0;
}
