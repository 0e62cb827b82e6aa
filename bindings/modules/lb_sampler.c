/* lb_sampler.c: the `sampler` module, drift-free metrics sampling jobs
 * (core/sampler.h).
 *
 *   sampler.start{interval=0.2, duration=1500, file="metrics.csv", format="csv"|"jsonl",
 *                 probe="probe.sample"}    -> {job, file, format, interval_s, duration_s} | nil, err
 *   sampler.status([job])                  -> status | list of statuses (running first) | nil, err
 *   sampler.stop([job])                    -> final status | list of every status | nil, err
 *   sampler.max_jobs, sampler.data_dir     (from the config)
 *
 * The probe is a function of a policy module ("module.fn", default
 * probe.sample) returning {cpu_pct=, mem_pct=, online_pods=, total_pods=}
 * (or the GET /pod shape {system={cpu_percent=, ...}}). Each tick it runs in
 * a pooled state of the current script generation, so after a hot reload the
 * next tick already runs the new code: on the job's own thread, or, when the
 * backend's clock is virtual (the sim with speed 0), on the thread that moves
 * the clock, which is a request thread holding a state of its own: the
 * probe checks out another one. Rows are stamped on the backend's clock. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "modules/lb.h"
#include "runtime/runtime.h"
#include "sampler/sampler.h"

smp_manager *lb_sampler_manager(pg_engine *eng);

static pthread_mutex_t manager_mu = PTHREAD_MUTEX_INITIALIZER;

/* The engine's sampler, created on first use (max_jobs and data_dir from the
 * config). The engine owns it: smp_stop_all on SIGTERM, smp_manager_free at exit. */
smp_manager *lb_sampler_manager(pg_engine *eng) {
    pthread_mutex_lock(&manager_mu);
    if (!eng->sampler) {
        pg_err e;
        int max = eng->cfg.sampler.max_jobs > 0 ? eng->cfg.sampler.max_jobs : 4;
        eng->sampler = smp_manager_new(max, eng->cfg.data_dir, &e);
    }
    smp_manager *m = eng->sampler;
    pthread_mutex_unlock(&manager_mu);
    return m;
}

smp_manager *lb_sampler_started(pg_engine *eng) {
    pthread_mutex_lock(&manager_mu);
    smp_manager *m = eng->sampler;
    pthread_mutex_unlock(&manager_mu);
    return m;
}

/* ---- the probe: a Lua function run on the job's thread or the clock mover's ---- */

typedef struct lua_probe {
    pg_engine *eng;
    char module[128];
    char fn[64];
} lua_probe;

static int probe_deadline(const lua_probe *p) { return p->eng->cfg.limits.lua_deadline_ms; }

/* "module.fn" (or "module" for module.sample) */
static lua_probe *probe_new(pg_engine *eng, const char *spec, pg_err *e) {
    size_t n = strlen(spec);
    if (n == 0 || n >= sizeof ((lua_probe *)0)->module || strspn(spec,
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != n ||
        spec[0] == '.' || spec[n - 1] == '.') {
        pg_errf(e, 400, "bad_probe", "probe must be 'module.function', got '%s'", spec);
        return NULL;
    }
    lua_probe *p = calloc(1, sizeof *p);
    if (!p) {
        pg_errf(e, 500, "no_memory", "out of memory");
        return NULL;
    }
    p->eng = eng;
    const char *dot = strrchr(spec, '.');
    if (dot && dot - spec > 0 && strlen(dot + 1) < sizeof p->fn) {
        snprintf(p->module, sizeof p->module, "%.*s", (int)(dot - spec), spec);
        snprintf(p->fn, sizeof p->fn, "%s", dot + 1);
    } else {
        snprintf(p->module, sizeof p->module, "%s", spec);
        snprintf(p->fn, sizeof p->fn, "sample");
    }
    return p;
}

/* [] -> [fn], or [] and -1 with e filled */
static int push_probe(lua_State *L, const lua_probe *p, pg_err *e) {
    lua_getglobal(L, "require");
    lua_pushstring(L, p->module);                       /* [require, module] */
    if (rt_pcall(L, 1, 1, probe_deadline(p), e) != LUA_OK) {
        lua_pop(L, 1);
        char why[sizeof e->message];
        snprintf(why, sizeof why, "%s", e->message);
        return pg_errf(e, 400, "bad_probe", "probe module '%s': %.300s", p->module, why);
    }
    lua_getfield(L, -1, p->fn);                         /* [mod, fn] */
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 2);
        return pg_errf(e, 400, "bad_probe", "%s.%s is not a function", p->module, p->fn);
    }
    lua_remove(L, -2);                                  /* [fn] */
    return 0;
}

static double num_field(lua_State *L, int t, const char *k, const char *alt) {
    lua_getfield(L, t, k);
    if (alt && lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, t, alt);
    }
    double v = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;   /* json.null -> NAN */
    lua_pop(L, 1);
    return v;
}

/* The row from the table at idx: {cpu_pct, ...} or {system = {cpu_percent, ...}}. */
static int read_row(lua_State *L, int idx, smp_row *row, const lua_probe *p, pg_err *e) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx))
        return pg_errf(e, 500, "bad_probe", "%s.%s returned a %s, not a table", p->module, p->fn,
                       luaL_typename(L, idx));
    if (lua_getfield(L, idx, "system") == LUA_TTABLE) idx = lua_gettop(L);   /* [.., sys] */
    row->cpu_pct = num_field(L, idx, "cpu_pct", "cpu_percent");
    row->mem_pct = num_field(L, idx, "mem_pct", "mem_percent");
    row->online_pods = num_field(L, idx, "online_pods", NULL);
    row->total_pods = num_field(L, idx, "total_pods", NULL);
    lua_pop(L, 1);
    return 0;
}

static int probe_call(void *ud, smp_row *row, pg_err *e) {
    lua_probe *p = ud;
    rt_state *s = p->eng->rt ? rt_checkout(p->eng->rt) : NULL;
    if (!s) return pg_errf(e, 500, "no_state", "no Lua state for the probe");
    lua_State *L = rt_lua(s);
    int rc = push_probe(L, p, e);
    if (rc == 0 && rt_pcall(L, 0, 1, probe_deadline(p), e) != LUA_OK) rc = -1;
    if (rc == 0) rc = read_row(L, -1, row, p, e);
    rt_checkin(p->eng->rt, s);                          /* clears the stack */
    return rc;
}

/* Resolve the probe once in a state of the current generation, so a typo is
 * a 400 now rather than an empty value in every row. */
static int probe_check(const lua_probe *p, pg_err *e) {
    if (!p->eng->rt) return pg_errf(e, 500, "no_runtime", "no script runtime in this process");
    rt_state *s = rt_checkout(p->eng->rt);
    if (!s) return pg_errf(e, 500, "no_state", "no Lua state for the probe");
    int rc = push_probe(rt_lua(s), p, e);
    rt_checkin(p->eng->rt, s);
    return rc;
}

/* ---- results ---- */

static const lb_field status_fields[] = {
    LB_F(smp_status, job, LB_INT),
    LB_F(smp_status, running, LB_BOOL),
    LB_F(smp_status, state, LB_STR),
    LB_F(smp_status, file, LB_STR),
    LB_F(smp_status, format, LB_STR),
    LB_F(smp_status, interval_s, LB_NUM),
    LB_F(smp_status, duration_s, LB_NUM),
    LB_F(smp_status, started, LB_NUM),
    LB_F(smp_status, elapsed_s, LB_NUM),
    LB_F(smp_status, ticks, LB_I64),
    LB_F(smp_status, samples, LB_I64),
    LB_F(smp_status, missed, LB_I64),
    LB_F(smp_status, probe_errors, LB_I64),
    LB_F(smp_status, bytes, LB_I64),
    LB_F(smp_status, jitter_p50_ms, LB_NUM),
    LB_F(smp_status, jitter_p99_ms, LB_NUM),
    LB_F(smp_status, jitter_max_ms, LB_NUM),
    LB_F(smp_status, probe_ms_mean, LB_NUM),
    LB_F(smp_status, probe_ms_max, LB_NUM),
    { NULL, 0, 0 },
};

static const lb_field start_fields[] = {
    LB_F(smp_status, job, LB_INT),
    LB_F(smp_status, file, LB_STR),
    LB_F(smp_status, format, LB_STR),
    LB_F(smp_status, interval_s, LB_NUM),
    LB_F(smp_status, duration_s, LB_NUM),
    { NULL, 0, 0 },
};

static const lb_field sample_fields[] = {
    LB_F(smp_sample, timestamp, LB_STR),
    LB_F(smp_sample, epoch_s, LB_NUM),
    LB_F(smp_sample, probe_ms, LB_NUM),
    LB_F(smp_sample, missed, LB_I64),
    { NULL, 0, 0 },
};

/* A number, or json.null (lightuserdata NULL) when unknown: the row as in the file. */
static void set_value(lua_State *L, const char *k, double v) {
    if (isfinite(v)) lua_pushnumber(L, v);
    else lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void push_status(lua_State *L, const smp_status *st) {
    lb_push_fields(L, st, status_fields);               /* [st] */
    if (st->finished > 0) set_num(L, "finished", st->finished);
    if (st->has_period) {
        set_num(L, "mean_period_s", st->mean_period_s);
        set_num(L, "period_error_pct", st->period_error_pct);
    }
    if (st->error[0]) {
        lua_pushstring(L, st->error);
        lua_setfield(L, -2, "error");
    }
    if (st->has_last) {
        lb_push_fields(L, &st->last, sample_fields);    /* [st, last] */
        set_value(L, "cpu_pct", st->last.v.cpu_pct);
        set_value(L, "mem_pct", st->last.v.mem_pct);
        set_value(L, "online_pods", st->last.v.online_pods);
        set_value(L, "total_pods", st->last.v.total_pods);
        lua_setfield(L, -2, "last");                    /* [st] */
    }
}

/* [] -> [list] */
static void push_all(lua_State *L, smp_manager *m) {
    smp_status *all = NULL;
    size_t n = smp_status_all(m, &all);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_status(L, &all[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(all);
}

/* ---- options ---- */

/* Fill s from the options table at 1 over the config's defaults; takes
 * nothing on failure. The strings stay valid while the table is alive. */
static int read_spec(lua_State *L, pg_engine *eng, smp_spec *s, pg_err *e) {
    const pg_sampler_conf *c = &eng->cfg.sampler;
    s->interval_s = lb_optnumfield(L, 1, "interval", c->interval_s);
    s->duration_s = lb_optnumfield(L, 1, "duration", c->duration_s);
    s->file = lb_optstrfield(L, 1, "file", c->file);
    if (!lua_isnoneornil(L, 1) && lua_getfield(L, 1, "file") == LUA_TSTRING &&
        lua_rawlen(L, -1) != strlen(s->file)) {
        lua_pop(L, 1);
        return pg_errf(e, 400, "bad_file", "file name contains a NUL character");
    }
    if (!lua_isnoneornil(L, 1)) lua_pop(L, 1);
    const char *fmt = lb_optstrfield(L, 1, "format", NULL);
    if (!fmt) {                                         /* from the extension, else the config */
        size_t n = strlen(s->file);
        int jl = (n > 6 && !strcmp(s->file + n - 6, ".jsonl")) ||
                 (n > 7 && !strcmp(s->file + n - 7, ".ndjson"));
        fmt = jl ? "jsonl" : c->format[0] ? c->format : "csv";
    }
    const char *mode = lb_optstrfield(L, 1, "mode", "new");
    if (!strcmp(mode, "append")) s->append = 1;
    else if (strcmp(mode, "new")) return pg_errf(e, 400, "bad_mode", "mode must be new or append, got '%.40s'", mode);
    if (!strcmp(fmt, "csv")) s->format = SMP_CSV;
    else if (!strcmp(fmt, "jsonl")) s->format = SMP_JSONL;
    else return pg_errf(e, 400, "bad_format", "format must be csv or jsonl, got '%.40s'", fmt);
    return 0;
}

/* ---- the module ---- */

/* sampler.start{...} -> {job, file, format, interval_s, duration_s} | nil, err */
static int lb_sampler_start(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    luaL_argcheck(L, lua_isnoneornil(L, 1) || lua_istable(L, 1), 1, "options table expected");
    if (!eng) return luaL_error(L, "sampler: no engine in this state");
    pg_err e;
    smp_manager *m = lb_sampler_manager(eng);
    if (!m) return lb_fail(L, &(pg_err){ "internal", "the sampler could not be created", 500 });
    smp_spec s = { 0 };
    if (read_spec(L, eng, &s, &e)) return lb_fail(L, &e);
    lua_probe *p = probe_new(eng, lb_optstrfield(L, 1, "probe", "probe.sample"), &e);
    if (!p) return lb_fail(L, &e);
    if (probe_check(p, &e)) {
        free(p);
        return lb_fail(L, &e);
    }
    s.probe = probe_call;
    s.ud = p;
    s.ud_free = free;
    s.clock = eng->backend;             /* the engine's: it outlives the sampler */
    smp_status st;
    if (smp_start(m, &s, &st, &e) < 0) return lb_fail(L, &e);   /* p freed by smp_start */
    lb_push_fields(L, &st, start_fields);
    return 1;
}

/* sampler.status([job]) -> status | list | nil, err */
static int lb_sampler_status(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    if (!eng) return luaL_error(L, "sampler: no engine in this state");
    smp_manager *m = lb_sampler_manager(eng);
    if (lua_isnoneornil(L, 1)) {
        if (m) push_all(L, m);
        else lua_newtable(L);
        return 1;
    }
    int job = (int)luaL_checkinteger(L, 1);
    smp_status st;
    pg_err e;
    if (!m || smp_status_get(m, job, &st, &e) < 0) {
        pg_errf(&e, 404, "not_found", "no sampling job %d", job);
        return lb_fail(L, &e);
    }
    push_status(L, &st);
    return 1;
}

/* sampler.stop([job]) -> final status | list of every status | nil, err */
static int lb_sampler_stop(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    if (!eng) return luaL_error(L, "sampler: no engine in this state");
    smp_manager *m = lb_sampler_manager(eng);
    if (lua_isnoneornil(L, 1)) {
        if (m) {
            smp_stop_all(m);
            push_all(L, m);
        } else {
            lua_newtable(L);
        }
        return 1;
    }
    int job = (int)luaL_checkinteger(L, 1);
    smp_status st;
    pg_err e;
    if (!m || smp_stop(m, job, &st, &e) < 0) {
        pg_errf(&e, 404, "not_found", "no sampling job %d", job);
        return lb_fail(L, &e);
    }
    push_status(L, &st);
    return 1;
}

int luaopen_sampler(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "start", lb_sampler_start },
        { "status", lb_sampler_status },
        { "stop", lb_sampler_stop },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);                                /* [sampler] */
    pg_engine *eng = lb_engine(L);
    if (eng) {
        lua_pushinteger(L, eng->cfg.sampler.max_jobs);
        lua_setfield(L, -2, "max_jobs");
        lua_pushstring(L, eng->cfg.data_dir);
        lua_setfield(L, -2, "data_dir");
    }
    return 1;
}
