/* fuzz_jtl.c: the JTL reader (CSV by header, or XML). A file that reads
 * gives a summary whose counts agree with its samples. */
#include <math.h>

#include "load/jmeter/jtl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    FILE *f = fmemopen((void *)data, n ? n : 1, "rb");
    if (!f) return 0;
    if (!n) fseek(f, 0, SEEK_END);
    ld_result r;
    memset(&r, 0, sizeof r);
    pg_err e = {0};
    if (jtl_read_fp(f, "fuzz.jtl", &r, &e) == 0) {
        FUZZ_CHECK(r.sum.count == r.n);
        FUZZ_CHECK(r.sum.errors <= r.sum.count);
        FUZZ_CHECK(!isnan(r.sum.drop_pct) && r.sum.drop_pct >= 0 && r.sum.drop_pct <= 100);
    } else {
        FUZZ_CHECK(e.message[0] != 0);
    }
    ld_result_free(&r);
    fclose(f);
    return 0;
}
