/* fuzz_kubeconfig.c: the kubeconfig reader (libyaml). Any input either
 * gives a server URL or fails with status 2, code "backend" and a message,
 * holding no secret afterwards. */
#include "cluster/kube/kubeconfig.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char path[64];
    int fd = fuzz_memfd(data, n, path, sizeof path);
    if (fd < 0) return 0;
    k8s_auth a;
    pg_err e = {0};
    if (k8s_kubeconfig_load(path, 1, NULL, &a, &e) < 0) {
        FUZZ_CHECK(e.status == 2 && strcmp(e.code, "backend") == 0 && e.message[0] != 0);
        FUZZ_CHECK(a.token == NULL && a.key.p == NULL && a.ca.p == NULL);
    } else {
        FUZZ_CHECK(!strncmp(a.server, "https://", 8) || !strncmp(a.server, "http://", 7));
        FUZZ_CHECK(!a.cert.p == !a.key.p);
        k8s_auth_free(&a);
    }
    close(fd);
    return 0;
}
