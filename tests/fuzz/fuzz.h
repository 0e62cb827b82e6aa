/* fuzz.h: what the libFuzzer harnesses share.
 *
 * Each harness is one LLVMFuzzerTestOneInput over one reader of untrusted
 * bytes. Readers that take a path get the input as a memfd, named by its
 * /proc/self/fd path, so nothing touches the disk. A harness aborts (and
 * libFuzzer saves the input) when the reader breaks its own contract, not
 * only when a sanitizer fires. */
#ifndef PG_FUZZ_H
#define PG_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding data; its path in path. -1 when none can be made. */
static inline int fuzz_memfd(const uint8_t *data, size_t n, char *path, size_t len) {
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    lseek(fd, 0, SEEK_SET);
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#endif
