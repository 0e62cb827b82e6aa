/* fuzz_config.c: the podgym.yaml reader (libyaml). Any input either loads
 * or fails with one message naming the file and a line. */
#include "config/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char path[64];
    int fd = fuzz_memfd(data, n, path, sizeof path);
    if (fd < 0) return 0;
    pg_config *c = malloc(sizeof *c);
    pg_config_defaults(c);
    pg_err e = {0};
    if (pg_config_load(c, path, &e) < 0) {
        FUZZ_CHECK(e.message[0] != 0);
        FUZZ_CHECK(strstr(e.message, path) != NULL);
    } else {
        FUZZ_CHECK(c->listen_port >= 0 && c->listen_port <= 65535);
    }
    free(c);
    close(fd);
    return 0;
}
