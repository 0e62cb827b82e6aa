/* backend_open.c: the backend named by cfg->backend (engine.h). */
#include <string.h>

#include "engine.h"
#include "sim.h"

pg_backend *pg_backend_open(const pg_config *cfg, pg_err *e) {
    const char *name = cfg->backend[0] ? cfg->backend : "sim";
    if (!strcmp(name, "sim")) return sim_backend_new(cfg, e);
    if (!strcmp(name, "docker") || !strcmp(name, "kube"))
        pg_errf(e, 2, "backend", "backend '%s' is not available in this build", name);
    else
        pg_errf(e, 2, "backend", "unknown backend '%s' (sim, docker or kube)", name);
    return NULL;
}
