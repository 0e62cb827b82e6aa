/* fuzz_router.c: path-template matching. The input is split at its first
 * NUL byte into a template (added as a route) and paths to match (one per
 * line) against the default route table plus that template. Every match
 * must name a route, stay inside ROUTER_MAX_PARAMS and point its values
 * into the path matched. */
#include "server/router.h"
#include "fuzz.h"

static const char *ROUTES[][2] = {
    {"GET", "/"}, {"GET", "/pod"}, {"POST", "/pod/confirm"}, {"POST", "/pod/scale/out"},
    {"POST", "/pod/scale/in"}, {"POST", "/pod/set-pod-count/{n}"}, {"GET", "/app/stat"},
    {"POST", "/metrics"}, {"GET", "/metrics"}, {"GET", "/metrics/status"}, {"DELETE", "/metrics/{job}"},
    {"GET", "/metrics/{job}"}, {"*", "/any/{a}/{b}/{c}"}, {"GET", "/env/spec"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *buf = malloc(n + 1);
    memcpy(buf, data, n);
    buf[n] = 0;
    pg_router *r = router_new();
    pg_err e = {0};
    int nroutes = (int)(sizeof ROUTES / sizeof ROUTES[0]);
    for (int i = 0; i < nroutes; i++) FUZZ_CHECK(router_add(r, ROUTES[i][0], ROUTES[i][1], i, &e) == 0);
    size_t tl = strlen(buf);
    int extra = router_add(r, "GET", buf, nroutes, &e) == 0;
    FUZZ_CHECK(router_count(r) == (size_t)nroutes + (size_t)extra);
    char *paths = tl < n ? buf + tl + 1 : buf + tl;
    const char *methods[] = {"GET", "POST", "DELETE", "PUT"};
    int k = 0;
    for (char *line = paths, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        pg_match m;
        char allow[128];
        int st = router_match(r, methods[k++ % 4], line, &m, allow, sizeof allow);
        FUZZ_CHECK(st == 200 || st == 404 || st == 405);
        if (st != 200) continue;
        FUZZ_CHECK(m.id >= 0 && m.id <= nroutes);
        FUZZ_CHECK(m.nparams >= 0 && m.nparams <= ROUTER_MAX_PARAMS);
        for (int i = 0; i < m.nparams; i++) FUZZ_CHECK(m.params[i].name && m.params[i].val);
    }
    router_free(r);
    free(buf);
    return 0;
}
