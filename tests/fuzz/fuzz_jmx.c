/* fuzz_jmx.c: the .jmx importer (expat). A plan either imports to one the
 * generator's own check accepts, or is refused with a message. */
#include "load/jmeter/jmx.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char path[64];
    int fd = fuzz_memfd(data, n, path, sizeof path);
    if (fd < 0) return 0;
    jmx_prop props[] = {{"threads", "3"}, {"duration", "2"}, {"host", "127.0.0.1"}};
    jmx_plan p;
    pg_err e = {0};
    if (jmx_import(path, props, 3, &p, &e) == 0) {
        FUZZ_CHECK(p.plan.label != NULL);
        jmx_plan_free(&p);
    } else {
        FUZZ_CHECK(e.message[0] != 0);
        FUZZ_CHECK(e.status == 400 || e.status == 404);
    }
    close(fd);
    return 0;
}
