/* lb_loadgen.h: what the `loadgen` module (lb_loadgen.c) lends the
 * `jmeter` module (lb_jmeter.c): the result tables, a native run, and its
 * two functions, which jmeter.load and jmeter.summarize are. */
#ifndef PG_LB_LOADGEN_H
#define PG_LB_LOADGEN_H

#include "load/load.h"
#include "load/sample.h"
#include "modules/lb.h"

/* [] -> [result]: {summary, count, samples (a count, or the list), jtl,
 * driver}. */
void lb_push_result(lua_State *L, const ld_result *r, int with_samples, const char *jtl, const char *driver);
/* [] -> [list of strings] */
void lb_push_strings(lua_State *L, char *const *v, size_t n);

/* Run p on t with the native generator (load.max_duration_s, the live
 * progress line, interruption) and write its JTL to jtl under data_dir when
 * jtl is not NULL; pushes the result (+ client, + warnings when there are
 * any) or nil, err. Returns the number of values pushed. */
int lb_load_native(lua_State *L, ld_plan *p, load_target *t, const char *jtl, int with_samples,
                   char *const *warnings, size_t nwarnings);

/* Push loadgen.run as a function named fn in its messages ("loadgen.run",
 * "jmeter.load"). [] -> [function] */
void lb_push_loadgen_run(lua_State *L, const char *fn);
int lb_loadgen_summarize(lua_State *L);

#endif
