/* fuzz_quantity.c: the Kubernetes quantity parser ("250m", "1.5Gi").
 * Accepted: a finite value and no error; refused: 400 bad_quantity and
 * *out untouched. */
#include <math.h>

#include "cluster/quantity.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char s[256];
    if (n >= sizeof s) n = sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;
    double v = -12345.0;
    pg_err e = {0};
    if (k8s_quantity(s, &v, &e) == 0) {
        FUZZ_CHECK(!isnan(v));
    } else {
        FUZZ_CHECK(e.status == 400);
        FUZZ_CHECK(strcmp(e.code, "bad_quantity") == 0);
        FUZZ_CHECK(v == -12345.0);
    }
    return 0;
}
