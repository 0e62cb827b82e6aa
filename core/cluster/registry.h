/* registry.h: the backends this build knows, by the name in the config. */
#ifndef PG_REGISTRY_H
#define PG_REGISTRY_H

#include "base/err.h"
#include "cluster/backend.h"
#include "config/config.h"

/* Create the backend named by cfg->backend ("" = sim). Errors: status 2
 * (a configuration error), code "backend". The caller owns the result and
 * frees it with its destroy op. */
pg_backend *pg_backend_open(const pg_config *cfg, pg_err *e);

#endif
