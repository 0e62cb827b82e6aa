/* lb_jmeter.c: the Lua `jmeter` module, JMeter compatibility: the JMeter
 * CLI (core/load/jmeter/jmrun.h), JTL files (jtl.h), .jmx plans (jmx.h),
 * and the SPEC's names for the native generator (lb_loadgen.c).
 *
 *   jmeter.run{plan=, props={name=value}, jtl=, timeout=, samples=}       -> result | nil, err
 *   jmeter.read_jtl(path[, {samples=true}])                               -> result | nil, err
 *   jmeter.import(plan[, props])  -> {name, thread_group, label, mode, threads, loops, ramp, rate,
 *                                     duration, think, timeout, throughput_per_min, calc_mode,
 *                                     planned_samples, planned_s, url, urls, method, headers, body,
 *                                     file, keepalive, follow_redirects, warnings} | nil, err
 *   jmeter.load_plan{plan=, props={name=value}, jtl=, samples=, timeout=} -> result | nil, err
 *                                 (the plan imported, then run on the native generator)
 *   jmeter.load{...}, jmeter.summarize(samples): loadgen.run and loadgen.summarize
 *
 * result: as loadgen.run's (lb_loadgen.c), driver "jmeter" or "jtl" (+ log
 * for jmeter.run). Files written (jtl=, JMeter's results and logs) go under
 * data_dir. A plan that does not exist is nil, err with status 404; one that
 * is not XML, or that the native generator cannot run, 400; wrong types
 * raise. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "load/jmeter/jmrun.h"
#include "load/jmeter/jmx.h"
#include "load/jmeter/jtl.h"
#include "modules/lb_loadgen.h"
#include "sampler/sampler.h"

static pg_engine *engine(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    if (!eng) luaL_error(L, "jmeter: no engine in this state");
    return eng;
}

/* A file to write under data_dir: the given name, or a fresh one. */
static int out_path(lua_State *L, const char *given, const char *ext, char *out, size_t n, pg_err *e) {
    char name[128];
    if (!given) {
        static atomic_uint seq;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        localtime_r(&ts.tv_sec, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(name, sizeof name, "jmeter-%s-%ld-%u%s", stamp, (long)getpid(), atomic_fetch_add(&seq, 1) + 1,
                 ext);
        given = name;
    }
    return smp_resolve_path(engine(L)->cfg.data_dir, given, out, n, e);
}

/* props={name=value} at idx -> props array (strings stay on the Lua stack
 * while the table is referenced by the caller's arguments). */
static jmx_prop *read_props(lua_State *L, int idx, size_t *n) {
    *n = 0;
    if (lua_isnoneornil(L, idx)) return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t cap = 0;
    jmx_prop *v = NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {                              /* [k, v] */
        if (lua_type(L, -2) != LUA_TSTRING || !(lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)) {
            free(v);
            luaL_error(L, "props: wants {name = string or number, ...}");
        }
        lua_pushvalue(L, -1);
        lua_tostring(L, -1);                                /* numbers become strings in place */
        lua_replace(L, -2);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, idx);                                 /* keep the string alive in the table */
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            jmx_prop *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                luaL_error(L, "out of memory");
            }
            v = nv;
        }
        v[*n].name = lua_tostring(L, -2);
        v[*n].value = lua_tostring(L, -1);
        (*n)++;
        lua_pop(L, 1);                                      /* [k] */
    }
    return v;
}

static const lb_field import_fields[] = {
    LB_F(jmx_plan, name, LB_STR),
    LB_F(jmx_plan, thread_group, LB_STR),
    LB_F(jmx_plan, label, LB_STR),
    LB_FN("threads", jmx_plan, plan.threads, LB_INT),
    LB_FN("loops", jmx_plan, plan.loops, LB_INT),
    LB_FN("ramp", jmx_plan, plan.ramp_s, LB_NUM),
    LB_FN("rate", jmx_plan, plan.rate, LB_NUM),
    LB_FN("duration", jmx_plan, plan.duration_s, LB_NUM),
    LB_FN("think", jmx_plan, plan.think_ms, LB_NUM),
    LB_F(jmx_plan, throughput_per_min, LB_NUM),
    LB_F(jmx_plan, calc_mode, LB_INT),
    LB_FN("method", jmx_plan, target.method, LB_STR),
    LB_FN("keepalive", jmx_plan, target.keepalive, LB_BOOL),
    LB_FN("follow_redirects", jmx_plan, target.follow_redirects, LB_BOOL),
    { NULL, LB_INT, 0 },
};

/* [] -> [plan] */
static void push_import(lua_State *L, const jmx_plan *j) {
    const ld_plan *p = &j->plan;
    const load_target *t = &j->target;
    lb_push_fields(L, j, import_fields);
    lua_pushstring(L, load_is_open(p, t) ? "open" : "closed"), lua_setfield(L, -2, "mode");
    if (p->timeout_s > 0) lua_pushnumber(L, p->timeout_s), lua_setfield(L, -2, "timeout");
    lua_pushinteger(L, (lua_Integer)load_planned_count(p, t)), lua_setfield(L, -2, "planned_samples");
    lua_pushnumber(L, load_planned_s(p, t)), lua_setfield(L, -2, "planned_s");
    lua_pushstring(L, t->urls[0]), lua_setfield(L, -2, "url");
    lb_push_strings(L, t->urls, t->nurls), lua_setfield(L, -2, "urls");
    lb_push_strings(L, t->headers, t->nheaders), lua_setfield(L, -2, "headers");
    if (t->body) lua_pushlstring(L, t->body, t->body_len), lua_setfield(L, -2, "body");
    if (t->file_path) {
        lua_createtable(L, 0, 3);                           /* [plan, file] */
        lua_pushstring(L, t->file_path), lua_setfield(L, -2, "path");
        lua_pushstring(L, t->file_param), lua_setfield(L, -2, "param");
        if (t->file_mime) lua_pushstring(L, t->file_mime), lua_setfield(L, -2, "mime");
        lua_setfield(L, -2, "file");
    }
    lb_push_strings(L, j->warnings, j->nwarnings), lua_setfield(L, -2, "warnings");
}

/* jmeter.import(plan[, props]) */
static int lb_jmeter_import(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    size_t np;
    jmx_prop *props = read_props(L, 2, &np);
    jmx_plan j;
    pg_err e = { 0 };
    int rc = jmx_import(path, props, np, &j, &e);
    free(props);
    if (rc) return lb_fail(L, &e);
    push_import(L, &j);
    jmx_plan_free(&j);
    return 1;
}

/* jmeter.load_plan{plan=, props=, jtl=, samples=, timeout=} */
static const char *const plan_opts[] = { "plan", "props", "jtl", "samples", "timeout" };

static int lb_jmeter_load_plan(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lb_options(L, 1, plan_opts, sizeof plan_opts / sizeof *plan_opts, "jmeter.load_plan");
    pg_engine *eng = engine(L);
    const char *plan = lb_optstrfield(L, 1, "plan", eng->cfg.load.plan[0] ? eng->cfg.load.plan : NULL);
    luaL_argcheck(L, plan != NULL, 1, "plan is required (or load.plan in the config)");
    int own_timeout = lua_getfield(L, 1, "timeout") != LUA_TNIL;   /* else the plan's, else load.timeout_s */
    lua_pop(L, 1);
    double timeout = lb_optnumfield(L, 1, "timeout", 0);
    const char *jtl_opt = lb_optstrfield(L, 1, "jtl", NULL);
    int with_samples = lb_optboolfield(L, 1, "samples", 0);
    lua_getfield(L, 1, "props");                            /* [opts, props] */
    size_t np;
    jmx_prop *props = read_props(L, lua_gettop(L), &np);
    jmx_plan j;
    pg_err e = { 0 };
    int rc = jmx_import(plan, props, np, &j, &e);
    free(props);
    if (rc) return lb_fail(L, &e);
    if (own_timeout) j.plan.timeout_s = timeout;
    else if (!(j.plan.timeout_s > 0)) j.plan.timeout_s = eng->cfg.load.timeout_s;
    int n = lb_load_native(L, &j.plan, &j.target, jtl_opt, with_samples, j.warnings, j.nwarnings);
    jmx_plan_free(&j);
    return n;
}

/* jmeter.run{plan=, props=, jtl=, timeout=, samples=}: the external JMeter CLI */
static int lb_jmeter_run(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lb_options(L, 1, plan_opts, sizeof plan_opts / sizeof *plan_opts, "jmeter.run");
    pg_engine *eng = engine(L);
    const pg_load_conf *c = &eng->cfg.load;
    const char *plan = lb_optstrfield(L, 1, "plan", c->plan[0] ? c->plan : NULL);
    luaL_argcheck(L, plan != NULL, 1, "plan is required (or load.plan in the config)");
    double timeout = lb_optnumfield(L, 1, "timeout", c->max_duration_s > 0 ? c->max_duration_s : 600);
    pg_err e = { 0 };
    char jtl[PATH_MAX], log[PATH_MAX];
    if (out_path(L, lb_optstrfield(L, 1, "jtl", NULL), ".jtl", jtl, sizeof jtl, &e)) return lb_fail(L, &e);
    size_t k = strlen(jtl);
    snprintf(log, sizeof log, "%.*s.log", (int)(k > 4 && !strcmp(jtl + k - 4, ".jtl") ? k - 4 : k), jtl);
    lua_getfield(L, 1, "props");                            /* [opts, props] */
    size_t np;
    jmx_prop *props = read_props(L, lua_gettop(L), &np);
    jmr_opts o = { .jmeter = c->jmeter, .plan = plan, .jtl = jtl, .log = log, .props = props, .nprops = np,
                   .timeout_s = timeout, .max_s = c->max_duration_s };
    ld_result r = { 0 };
    int rc = jmr_run(&o, &r, &e);
    free(props);
    if (rc) {
        ld_result_free(&r);
        return lb_fail(L, &e);
    }
    lb_push_result(L, &r, lb_optboolfield(L, 1, "samples", 0), jtl, "jmeter");
    lua_pushstring(L, log);
    lua_setfield(L, -2, "log");
    ld_result_free(&r);
    return 1;
}

/* ---- JTL files ---------------------------------------------------------------------- */

static int lb_jmeter_read_jtl(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int with_samples = lb_optboolfield(L, 2, "samples", 0);
    ld_result r = { 0 };
    pg_err e = { 0 };
    if (jtl_read(path, &r, &e)) {
        ld_result_free(&r);
        return lb_fail(L, &e);
    }
    lb_push_result(L, &r, with_samples, path, "jtl");
    ld_result_free(&r);
    return 1;
}

static const luaL_Reg jmeter_fns[] = {
    { "run", lb_jmeter_run },           { "read_jtl", lb_jmeter_read_jtl }, { "import", lb_jmeter_import },
    { "load_plan", lb_jmeter_load_plan }, { "summarize", lb_loadgen_summarize }, { NULL, NULL },
};

int luaopen_jmeter(lua_State *L) {
    luaL_newlib(L, jmeter_fns);                             /* [jmeter] */
    lb_push_loadgen_run(L, "jmeter.load");
    lua_setfield(L, -2, "load");
    return 1;
}
