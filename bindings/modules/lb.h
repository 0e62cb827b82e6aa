/* lb.h: what every binding file needs. Only bindings/ includes Lua. */
#ifndef PG_LB_H
#define PG_LB_H

#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "engine.h"
#include "base/err.h"

/* The engine this state belongs to (kept in the state's extra space). */
pg_engine *lb_engine(lua_State *L);

/* The backend a k8s call of this state goes to: the vector-env cluster
 * k8s.on bound it to, else the engine's (lb_k8s.c). */
pg_backend *lb_backend(lua_State *L);
/* Free the vector envs' clusters (k8s.envs), at the engine's close. */
void lb_envs_free(pg_engine *eng);

/* Expected failure: pushes nil, {code=, message=, status=}; returns 2. */
int lb_fail(lua_State *L, const pg_err *e);

/* Push e as a table {code, message, status}. */
void lb_push_err(lua_State *L, const pg_err *e);

/* Tables from descriptors (as wrk's set_fields). */
typedef enum {
    LB_INT, LB_I64, LB_SIZE, LB_LONG, LB_NUM,
    LB_NUMOPT,                  /* double; NaN ("no value") sets nothing: nil in a new table */
    LB_BOOL, LB_STR, LB_STRP,
} lb_type;
typedef struct lb_field {
    const char *name;
    lb_type type;               /* LB_STR: char[] inline; LB_STRP: const char * (NULL -> nil) */
    size_t off;
} lb_field;
#define LB_F(T, member, type) { #member, type, offsetof(T, member) }
#define LB_FN(name, T, member, type) { name, type, offsetof(T, member) }

/* Push a new table with the fields of obj; fields end at {NULL}. */
void lb_push_fields(lua_State *L, const void *obj, const lb_field *fields);   /* [] -> [t] */
void lb_set_fields(lua_State *L, int idx, const void *obj, const lb_field *fields);

/* Check the keys of the options table at idx against names (raises on an
 * unknown one, with a "did you mean"); bit i set when names[i] is there. */
uint64_t lb_options(lua_State *L, int idx, const char *const *names, size_t n, const char *fn);

/* Optional fields of an options table at idx (absent -> default). */
double lb_optnumfield(lua_State *L, int idx, const char *k, double def);
lua_Integer lb_optintfield(lua_State *L, int idx, const char *k, lua_Integer def);
const char *lb_optstrfield(lua_State *L, int idx, const char *k, const char *def);
int lb_optboolfield(lua_State *L, int idx, const char *k, int def);

/* Non-zero when live one-line progress may be drawn on stderr. */
int lb_progress_enabled(lua_State *L);
/* Draw/clear the live progress line (no-ops unless enabled). */
void lb_progress(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lb_progress_done(lua_State *L);

/* Module openers, preloaded in every state. */
int luaopen_k8s(lua_State *L);
int luaopen_docker(lua_State *L);
int luaopen_loadgen(lua_State *L);
int luaopen_jmeter(lua_State *L);
int luaopen_sampler(lua_State *L);
int luaopen_log(lua_State *L);
int luaopen_clock(lua_State *L);
int luaopen_shared(lua_State *L);
int luaopen_data(lua_State *L);
int luaopen_json(lua_State *L);       /* lb_json.c */
int luaopen_cjson(lua_State *L);      /* lua-cjson, linked statically: json.decode's parser */

/* lb_json.c: json.encode, and the same encoder for C callers. */
typedef struct lb_json_out {
    const char *p;              /* the calling thread's encode buffer: valid until its next encode */
    size_t len;
} lb_json_out;
int lb_json_encode(lua_State *L);     /* json.encode(v) -> string */
int lb_json_encode_to(lua_State *L);  /* (v, lightuserdata lb_json_out *): call it with lua_pcall */

/* The engine's sampler if a request created one, else NULL; read under the lock
 * that created it (the main thread stops it at SIGTERM). lb_sampler.c */
struct smp_manager *lb_sampler_started(pg_engine *eng);

#endif
