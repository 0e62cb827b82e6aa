/* runtime_priv.h: the runtime's structures, for bindings/ files only. */
#ifndef PG_RUNTIME_PRIV_H
#define PG_RUNTIME_PRIV_H

#include <stdatomic.h>
#include <time.h>

#include "runtime.h"

typedef struct rt_file {
    char *name;                 /* chunk name: "scripts/pod.lua" or module "pruning" */
    char *src;
    size_t len;
} rt_file;

typedef struct rt_route {
    char method[16];
    char *path;
    char *summary;
    int file;                   /* index into gen->scripts */
} rt_route;

typedef struct rt_gen {
    int id;
    int refs;                   /* states of this generation + 1 while current */
    rt_file *scripts;
    size_t nscripts;
    rt_file *policies;
    size_t npolicies;
    rt_route *routes;
    size_t nroutes;
    pg_router *router;
    double loaded_at;
} rt_gen;

struct rt_state {
    lua_State *L;
    struct lb_heap *heap;       /* the state's allocator (lalloc.c) */
    pg_engine *eng;
    rt_runtime *rt;
    rt_gen *gen;                /* NULL for repl/run states */
    int flags;
    struct timespec deadline;   /* thread CPU time, set at the first hook */
    int deadline_ms;
    int started;
    int armed;
    int timed_out;
    atomic_int interrupt;
    struct http_req *req;       /* the request being served, NULL between requests */
    lua_Integer req_seq;        /* its number: a req table kept past its request sees none */
};

rt_gen *rt_state_gen(rt_state *s);
rt_state *rt_state_of(lua_State *L);
const char *rt_scripts_dir(rt_runtime *rt);
const char *rt_policies_dir(rt_runtime *rt);

#endif
