/* file.c: whole writes (file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

char *pg_read_file(const char *what, const char *path, size_t max, size_t *len, pg_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        pg_errf(e, 400, "bad_file", "%s '%.300s': cannot read: %s", what, path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        pg_errf(e, 400, "bad_file", "%s '%.300s' is not a regular file of at most %zu bytes", what, path, max);
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *p = malloc(n + 1);
    while (p && got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (!p) {
        pg_errf(e, 500, "no_memory", "%s '%.300s': out of memory", what, path);
        return NULL;
    }
    if (got != n) {
        pg_errf(e, 400, "bad_file", "%s '%.300s': %s", what, path, got < n && err ? strerror(err) : "changed while read");
        free(p);
        return NULL;
    }
    p[n] = '\0';
    if (len) *len = n;
    return p;
}
