/* registry.c: the only file that knows every backend. */
#include <string.h>

#include "cluster/registry.h"
#include "cluster/docker/docker.h"
#include "cluster/sim/sim.h"
#include "cluster/kube/kube.h"

typedef struct backend_entry {
    const char *name;
    pg_backend *(*open)(const pg_config *cfg, pg_err *e);   /* NULL: not in this build yet */
} backend_entry;

static const backend_entry BACKENDS[] = {
    {"sim", sim_backend_new},
    {"docker", dock_backend_new},
    {"kube", kube_backend_new},
};

pg_backend *pg_backend_open(const pg_config *cfg, pg_err *e) {
    const char *name = cfg->backend[0] ? cfg->backend : "sim";
    for (size_t i = 0; i < sizeof BACKENDS / sizeof BACKENDS[0]; i++) {
        if (strcmp(name, BACKENDS[i].name)) continue;
        if (BACKENDS[i].open) return BACKENDS[i].open(cfg, e);
        pg_errf(e, 2, "backend", "backend '%s' is not available in this build", name);
        return NULL;
    }
    pg_errf(e, 2, "backend", "unknown backend '%s' (sim, docker or kube)", name);
    return NULL;
}
