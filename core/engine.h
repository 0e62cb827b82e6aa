/* engine.h: what one podgym process holds, shared by every thread. */
#ifndef PG_ENGINE_H
#define PG_ENGINE_H

#include <stdint.h>

#include "cluster/backend.h"
#include "config/config.h"

struct pg_shared;
struct smp_manager;
struct rt_runtime;
struct pg_envs;

typedef struct pg_engine {
    pg_config cfg;
    pg_backend *backend;            /* owned */
    struct pg_shared *shared;       /* the `shared` dict, owned */
    struct smp_manager *sampler;    /* sampling jobs, owned */
    struct rt_runtime *rt;          /* Lua runtime (bindings/), owned */
    struct pg_envs *envs;           /* vector envs' clusters (k8s.envs, lb_k8s.c), owned */
    double started;                 /* epoch s */
    char run_id[40];                /* this process's run: "20261201T223400Z-1a2b3c4d" */
    uint64_t config_hash;           /* the effective config (secrets left out) */
    int interactive;                /* repl/run with stderr on a terminal: live progress lines */
} pg_engine;

#endif
