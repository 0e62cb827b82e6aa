/* fuzz_kube_objects.c: Pods, PodMetrics and label selectors read from any
 * JSON an API server could send, and the RFC 3339 and duration parsers.
 * A pod read gives a name and a status; a selector that fits is not empty. */
#include <math.h>

#include "cluster/kube/objects.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char s[128];
    size_t k = n < sizeof s - 1 ? n : sizeof s - 1;
    memcpy(s, data, k);
    s[k] = 0;
    double t = k8s_time(s), d = k8s_duration(s);
    FUZZ_CHECK(!isnan(t) && !isnan(d));
    json_t *j = json_loadb((const char *)data, n, JSON_DECODE_ANY, NULL);
    if (!j) return 0;
    pg_pod p;
    if (k8s_pod_read(j, &p) == 0) {
        FUZZ_CHECK(p.name[0] != 0 && memchr(p.name, 0, sizeof p.name));
        FUZZ_CHECK(p.status[0] != 0 && memchr(p.status, 0, sizeof p.status));
        FUZZ_CHECK(memchr(p.phase, 0, sizeof p.phase) && memchr(p.ip, 0, sizeof p.ip));
        FUZZ_CHECK(!p.deleting || !p.ready);
    }
    pg_metric m;
    if (k8s_metric_read(j, &m) == 0) FUZZ_CHECK(m.name[0] != 0 && !isnan(m.cpu) && !isnan(m.mem));
    char sel[256];
    json_t *spec = json_object_get(json_object_get(j, "spec"), "selector");
    json_t *sl = spec ? spec : j;
    if (k8s_selector(sl, sel, sizeof sel) == 0) FUZZ_CHECK(sel[0] != 0 && strlen(sel) < sizeof sel);
    (void)k8s_selector_matches(sl, j);
    json_decref(j);
    return 0;
}
