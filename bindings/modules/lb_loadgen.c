/* lb_loadgen.c: the Lua `loadgen` module, the native load generator
 * (core/load/load.h) and the simulated cluster's model of it.
 *
 *   loadgen.run{url= | urls={..} | service=true [, path="/"],
 *               method=, headers={name=value}, body=, file={path=, param=, mime=},
 *               rate=, profile={{t, rps}, ...}, duration=, connections=,
 *               threads=, loops=, ramp=, think=, timeout=, keepalive=, follow=,
 *               label=, jtl=, samples=, driver="native"|"sim" (default: load.driver),
 *               client="auto"|"h1"|"curl"}                       -> result | nil, err
 *   loadgen.summarize(samples)    -> summary
 *
 * result = {summary = {count, errors, drop_pct, duration_s, throughput_rps, bytes,
 *                      elapsed = {mean, min, max, p50, p90, p95, p99}, latency = {...}},
 *           count = n, samples = n (or, with samples=true, a list of
 *           {ts (epoch s), elapsed, latency, connect (ms), code, success, message, bytes,
 *            sent_bytes, thread, label, url}),
 *           jtl = path | nil, driver = "native" | "sim" | "jmeter", warnings = {..} | nil,
 *           client = "h1" | "curl" (native: which HTTP client carried the requests)}
 * A statistic with no value (no samples, a JTL without Latency) is nil.
 *
 * Open loop when rate (or profile) is given and loops is not; closed loop
 * otherwise (core/load/load.h). When none of rate, profile, threads, loops
 * and duration is given they all come from the config's load section;
 * duration, timeout, method, body and url default to it one by one. A JTL
 * (jtl=) is written under data_dir. A plan ld_plan_check refuses (rate < 0,
 * threads < 1, a duration over load.max_duration_s, ...) and a bad URL
 * return nil, err with status 400; wrong types and unknown options raise.
 *
 * The module is not called `load`: every module is also a global, and Lua's
 * own load() must stay. jmeter.load and jmeter.summarize (lb_jmeter.c) are
 * these functions under the SPEC's names. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/jmeter/jtl.h"
#include "modules/lb_loadgen.h"
#include "runtime/runtime_priv.h"
#include "sampler/sampler.h"

/* ---- results --------------------------------------------------------------- */

static const lb_field summary_fields[] = {
    LB_F(ld_summary, count, LB_SIZE),         LB_F(ld_summary, errors, LB_SIZE),
    LB_F(ld_summary, drop_pct, LB_NUMOPT),    LB_F(ld_summary, duration_s, LB_NUMOPT),
    LB_F(ld_summary, throughput_rps, LB_NUMOPT), LB_F(ld_summary, bytes, LB_LONG),
    { NULL, LB_INT, 0 },
};
static const lb_field stats_fields[] = {
    LB_F(ld_stats, mean, LB_NUMOPT), LB_F(ld_stats, min, LB_NUMOPT), LB_F(ld_stats, max, LB_NUMOPT),
    LB_F(ld_stats, p50, LB_NUMOPT),  LB_F(ld_stats, p90, LB_NUMOPT), LB_F(ld_stats, p95, LB_NUMOPT),
    LB_F(ld_stats, p99, LB_NUMOPT),  { NULL, LB_INT, 0 },
};

/* [] -> [summary]; a NaN ("no value") is left nil, never a made-up 0. */
static void push_summary(lua_State *L, const ld_summary *s) {
    lb_push_fields(L, s, summary_fields);                  /* [sum] */
    lb_push_fields(L, &s->elapsed, stats_fields);
    lua_setfield(L, -2, "elapsed");
    lb_push_fields(L, &s->latency, stats_fields);
    lua_setfield(L, -2, "latency");
}

static const lb_field sample_fields[] = {
    LB_FN("elapsed", ld_sample, elapsed_ms, LB_NUMOPT), LB_FN("latency", ld_sample, latency_ms, LB_NUMOPT),
    LB_FN("connect", ld_sample, connect_ms, LB_NUMOPT), LB_F(ld_sample, code, LB_INT),
    LB_F(ld_sample, success, LB_BOOL),                  LB_F(ld_sample, message, LB_STR),
    LB_F(ld_sample, thread, LB_INT),                    LB_F(ld_sample, label, LB_STRP),
    LB_F(ld_sample, url, LB_STRP),                      { NULL, LB_INT, 0 },
};

/* [] -> [sample]; bytes and sent_bytes only when known (>= 0). */
static void push_sample(lua_State *L, const ld_sample *s) {
    lb_push_fields(L, s, sample_fields);
    lua_pushnumber(L, (double)s->ts_ms / 1000.0);
    lua_setfield(L, -2, "ts");
    if (s->bytes >= 0) lua_pushinteger(L, s->bytes), lua_setfield(L, -2, "bytes");
    if (s->sent_bytes >= 0) lua_pushinteger(L, s->sent_bytes), lua_setfield(L, -2, "sent_bytes");
}

void lb_push_result(lua_State *L, const ld_result *r, int with_samples, const char *jtl, const char *driver) {
    lua_createtable(L, 0, 6);
    push_summary(L, &r->sum);
    lua_setfield(L, -2, "summary");
    lua_pushinteger(L, (lua_Integer)r->n);
    lua_setfield(L, -2, "count");
    if (with_samples) {
        lua_createtable(L, (int)r->n, 0);                   /* [result, list] */
        for (size_t i = 0; i < r->n; i++) {
            push_sample(L, &r->v[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    } else {
        lua_pushinteger(L, (lua_Integer)r->n);
    }
    lua_setfield(L, -2, "samples");
    if (jtl) lua_pushstring(L, jtl), lua_setfield(L, -2, "jtl");
    lua_pushstring(L, driver);
    lua_setfield(L, -2, "driver");
}

void lb_push_strings(lua_State *L, char *const *v, size_t n) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* ---- helpers ----------------------------------------------------------------- */

static pg_engine *engine(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    if (!eng) luaL_error(L, "loadgen: no engine in this state");
    return eng;
}

/* A Lua integer as an int for a plan, saturated: the check then names it. */
static int to_int(lua_Integer v) { return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v; }

/* loadgen.run's options, checked once by lb_options: a misspelt one is an
 * error, and an absent one is never looked up. */
enum {                          /* driver first: ops.loadtest passes only that */
    O_DRIVER, O_URL, O_URLS, O_SERVICE, O_PATH, O_METHOD, O_HEADERS, O_BODY, O_FILE, O_RATE, O_PROFILE,
    O_DURATION, O_CONNECTIONS, O_THREADS, O_LOOPS, O_RAMP, O_THINK, O_TIMEOUT, O_KEEPALIVE, O_FOLLOW, O_LABEL,
    O_JTL, O_SAMPLES, O_CLIENT, O_COUNT
};
static const char *const load_opts[O_COUNT] = {
    "driver", "url", "urls", "service", "path", "method", "headers", "body", "file", "rate", "profile",
    "duration", "connections", "threads", "loops", "ramp", "think", "timeout", "keepalive", "follow", "label",
    "jtl", "samples", "client",
};

typedef struct opts {
    int idx;                    /* the options table */
    uint64_t m;                 /* which are present */
} opts;

static int ohas(const opts *o, int id) { return (int)(o->m >> id & 1); }
static double onum(lua_State *L, const opts *o, int id, double def) {
    return ohas(o, id) ? lb_optnumfield(L, o->idx, load_opts[id], def) : def;
}
static lua_Integer oint(lua_State *L, const opts *o, int id, lua_Integer def) {
    return ohas(o, id) ? lb_optintfield(L, o->idx, load_opts[id], def) : def;
}
static const char *ostr(lua_State *L, const opts *o, int id, const char *def) {
    return ohas(o, id) ? lb_optstrfield(L, o->idx, load_opts[id], def) : def;
}
static int obool(lua_State *L, const opts *o, int id, int def) {
    return ohas(o, id) ? lb_optboolfield(L, o->idx, load_opts[id], def) : def;
}
/* Push the option (nil when absent); its type. */
static int oget(lua_State *L, const opts *o, int id) {
    if (!ohas(o, id)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, o->idx, load_opts[id]);
}

/* The JTL a run writes: jtl= under data_dir. */
static int jtl_path(lua_State *L, const char *given, char *out, size_t n, pg_err *e) {
    return smp_resolve_path(engine(L)->cfg.data_dir, given, out, n, e);
}

/* A run ended with rc: write the JTL when asked, push the result or nil, err. */
static int push_run(lua_State *L, int rc, ld_result *r, const char *jtl, int with_samples, const char *driver,
                    pg_err *e) {
    if (rc == 0 && jtl) rc = jtl_write(jtl, r, e);
    if (rc) return lb_fail(L, e);
    lb_push_result(L, r, with_samples, jtl, driver);
    return 1;
}

/* ---- the native generator: progress, interruption, the run ------------------------ */

static void progress_cb(void *ud, const load_progress *p) {
    lua_State *L = ud;
    char total[48];
    if (p->total_s > 0) snprintf(total, sizeof total, "%.1f/%.1f s", p->elapsed_s, p->total_s);
    else snprintf(total, sizeof total, "%.1f s", p->elapsed_s);
    char reqs[48];
    if (p->planned) snprintf(reqs, sizeof reqs, "%zu/%zu req", p->requests, p->planned);
    else snprintf(reqs, sizeof reqs, "%zu req", p->requests);
    if (isnan(p->p99_ms))
        lb_progress(L, "load %s  %s  %zu err  %.0f req/s", total, reqs, p->errors, p->rate);
    else
        lb_progress(L, "load %s  %s  %zu err  %.0f req/s  p99 %.1f ms", total, reqs, p->errors, p->rate,
                    p->p99_ms);
}

static int stop_cb(void *ud) {
    rt_state *s = rt_state_of((lua_State *)ud);
    return s && atomic_load(&s->interrupt);
}

int lb_load_native(lua_State *L, ld_plan *p, load_target *t, const char *jtl_opt, int with_samples,
                   char *const *warnings, size_t nwarnings) {
    pg_err e = { 0 };
    char jtl[PATH_MAX];
    if (jtl_opt && jtl_path(L, jtl_opt, jtl, sizeof jtl, &e)) return lb_fail(L, &e);
    p->max_duration_s = engine(L)->cfg.load.max_duration_s;
    if (lb_progress_enabled(L)) {
        t->progress = progress_cb;
        t->progress_ud = L;
    }
    t->stop = stop_cb;
    t->stop_ud = L;
    ld_result r = { 0 };
    rt_no_escape(L, 1);                         /* sockets, curl handles, timers */
    int rc = load_run(p, t, &r, &e);
    rt_no_escape(L, 0);
    lb_progress_done(L);
    int n = push_run(L, rc, &r, jtl_opt ? jtl : NULL, with_samples, "native", &e);
    ld_result_free(&r);
    if (n == 2) return n;
    lua_pushstring(L, load_client(t) == LOAD_CLIENT_H1 ? "h1" : "curl");
    lua_setfield(L, -2, "client");
    if (nwarnings) {
        lb_push_strings(L, warnings, nwarnings);
        lua_setfield(L, -2, "warnings");
    }
    return 1;
}

/* The endpoints of the backend's ready pods + path, as a Service spreads. */
static int add_service_urls(lua_State *L, load_target *t, const char *path, pg_err *e) {
    pg_backend *b = lb_backend(L);
    if (!b) return pg_errf(e, 503, "no_backend", "no backend");
    pg_pod *v = NULL;
    size_t n = 0;
    if (b->ops->pods(b, &v, &n, e)) return -1;
    int added = 0, rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!v[i].ready || !v[i].ip[0] || v[i].port <= 0) continue;
        char url[PG_URL_MAX];
        snprintf(url, sizeof url, strchr(v[i].ip, ':') ? "http://[%s]:%d%s" : "http://%s:%d%s", v[i].ip, v[i].port,
                 path);
        rc = load_target_add_url(t, url, e);
        added++;
    }
    free(v);
    if (!rc && !added)
        return pg_errf(e, 503, "no_endpoints", "no ready pod with an endpoint on the %s backend", b->ops->name);
    return rc;
}

/* url / urls / service / headers / body / file / method options into t. */
static int read_target(lua_State *L, const opts *o, load_target *t, pg_err *e) {
    const pg_load_conf *c = &engine(L)->cfg.load;
    const char *url = ostr(L, o, O_URL, NULL);
    int service = obool(L, o, O_SERVICE, 0);
    const char *path = ostr(L, o, O_PATH, "/");
    luaL_argcheck(L, path[0] == '/', 1, "path must start with '/'");
    if (oget(L, o, O_URLS) != LUA_TNIL) {                   /* [urls] */
        luaL_argcheck(L, lua_istable(L, -1), 1, "urls must be a list of strings");
        lua_Integer n = luaL_len(L, -1);
        if (n == 0) {
            lua_pop(L, 1);
            return pg_errf(e, 400, "bad_target", "urls is empty");
        }
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "urls[%d] must be a string", (int)i);
            int rc = load_target_add_url(t, lua_tostring(L, -1), e);
            lua_pop(L, 1);
            if (rc) {
                lua_pop(L, 1);
                return -1;
            }
        }
    }
    lua_pop(L, 1);
    if (url && load_target_add_url(t, url, e)) return -1;
    if (!t->nurls && !service && c->url[0] && load_target_add_url(t, c->url, e)) return -1;
    if (!t->nurls && add_service_urls(L, t, path, e)) return -1;

    if (load_target_set_method(t, ostr(L, o, O_METHOD, c->method), e)) return -1;
    if (oget(L, o, O_HEADERS) != LUA_TNIL) {                /* [headers] */
        luaL_argcheck(L, lua_istable(L, -1), 1, "headers must be a table {name = value}");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "headers must be {name = string, ...}");
            int rc = load_target_add_header(t, lua_tostring(L, -2), lua_tostring(L, -1), e);
            lua_pop(L, 1);
            if (rc) {
                lua_pop(L, 2);
                return -1;
            }
        }
    }
    lua_pop(L, 1);
    size_t blen = 0;
    if (oget(L, o, O_BODY) != LUA_TNIL) {
        luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "body must be a string");
        const char *body = lua_tolstring(L, -1, &blen);
        if (load_target_set_body(t, body, blen, e)) return lua_pop(L, 1), -1;
    } else if (c->body[0] && !ohas(o, O_FILE) && load_target_set_body(t, c->body, strlen(c->body), e)) {
        return lua_pop(L, 1), -1;
    }
    lua_pop(L, 1);
    if (oget(L, o, O_FILE) != LUA_TNIL) {                   /* [file] */
        luaL_argcheck(L, lua_istable(L, -1), 1, "file must be {path =, param =, mime =}");
        int f = lua_gettop(L);
        const char *fp = lb_optstrfield(L, f, "path", NULL);
        luaL_argcheck(L, fp != NULL, 1, "file.path is required");
        if (load_target_set_file(t, fp, lb_optstrfield(L, f, "param", "file"), lb_optstrfield(L, f, "mime", NULL), e))
            return lua_pop(L, 1), -1;
    }
    lua_pop(L, 1);
    t->keepalive = obool(L, o, O_KEEPALIVE, 1);
    t->follow_redirects = obool(L, o, O_FOLLOW, 0);
    const char *client = ostr(L, o, O_CLIENT, "auto");
    if (!strcmp(client, "curl")) t->client = LOAD_CLIENT_CURL;
    else if (!strcmp(client, "h1")) t->client = LOAD_CLIENT_H1;
    else luaL_argcheck(L, !strcmp(client, "auto"), 1, "client must be 'auto', 'h1' or 'curl'");
    t->max_inflight = to_int(oint(L, o, O_CONNECTIONS, 0));
    return 0;
}

/* profile={{t, rps}, ...} */
static int read_profile(lua_State *L, const opts *o, load_target *t, pg_err *e) {
    if (oget(L, o, O_PROFILE) == LUA_TNIL) return lua_pop(L, 1), 0;
    luaL_argcheck(L, lua_istable(L, -1), 1, "profile must be a list of {t, rps}");
    lua_Integer n = luaL_len(L, -1);
    load_step *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    if (!s) luaL_error(L, "out of memory");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);                              /* [profile, step] */
        int ok1 = 0, ok2 = 0;
        if (lua_istable(L, -1)) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            s[i - 1].t_s = lua_tonumberx(L, -2, &ok1);
            s[i - 1].rps = lua_tonumberx(L, -1, &ok2);
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        if (!ok1 || !ok2) {
            free(s);
            luaL_error(L, "profile[%d] must be {t, rps}", (int)i);
        }
    }
    lua_pop(L, 1);
    int rc = load_target_set_profile(t, s, (size_t)n, e);
    free(s);
    return rc;
}

/* rate/duration/threads/loops/... into p (ld_plan_check judges them);
 * returns 0 or pushes nil, err (returns 2). */
static int read_plan(lua_State *L, const opts *o, ld_plan *p) {
    const pg_load_conf *c = &engine(L)->cfg.load;
    int explicit_mode = ohas(o, O_RATE) || ohas(o, O_PROFILE) || ohas(o, O_THREADS) || ohas(o, O_LOOPS)
                        || ohas(o, O_DURATION);
    p->rate = onum(L, o, O_RATE, explicit_mode ? 0 : c->rate);
    p->duration_s = onum(L, o, O_DURATION, c->duration_s);
    p->threads = to_int(oint(L, o, O_THREADS, explicit_mode ? 1 : c->threads));
    p->loops = to_int(oint(L, o, O_LOOPS, explicit_mode ? 0 : c->loops));
    p->ramp_s = onum(L, o, O_RAMP, 0);
    p->think_ms = onum(L, o, O_THINK, 0);
    p->timeout_s = onum(L, o, O_TIMEOUT, c->timeout_s);
    p->label = ostr(L, o, O_LABEL, NULL);
    p->max_duration_s = c->max_duration_s;
    if (ohas(o, O_RATE) && p->rate == 0) {  /* in a plan rate 0 means closed loop; an option rate = 0 is a mistake */
        pg_err e;
        pg_errf(&e, 400, "bad_rate", "rate 0 requests/s (wants > 0)");
        return lb_fail(L, &e);
    }
    return 0;
}

#define TARGET_MT "podgym.load_target"

static int target_gc(lua_State *L) {
    load_target_free(luaL_checkudata(L, 1, TARGET_MT));
    return 0;
}

/* A load_target owned by a userdata on the stack, so that an error raised
 * while the options are read frees what was already copied in. */
static load_target *new_target(lua_State *L) {
    load_target *t = lua_newuserdatauv(L, sizeof *t, 0);    /* [.., t] */
    load_target_init(t);
    if (luaL_newmetatable(L, TARGET_MT)) {
        lua_pushcfunction(L, target_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return t;
}

/* ---- the simulated cluster's model -------------------------------------------- */

/* The sim driver's result of this thread, emptied for the next run (the
 * memory of a small test is kept; the thread's exit frees it). */
static pthread_key_t sim_key;
static pthread_once_t sim_once = PTHREAD_ONCE_INIT;

static void sim_result_free(void *p) {
    ld_result_free(p);
    free(p);
}

static void sim_key_init(void) { pthread_key_create(&sim_key, sim_result_free); }

static ld_result *sim_result(void) {
    pthread_once(&sim_once, sim_key_init);
    ld_result *r = pthread_getspecific(sim_key);
    if (!r && (r = calloc(1, sizeof *r)) && pthread_setspecific(sim_key, r)) {
        free(r);
        r = NULL;
    }
    if (r) ld_result_reset(r, 4096);
    return r;
}

/* driver "sim": the backend's own model of the load test. */
static int run_sim(lua_State *L, ld_plan *p, const char *jtl_opt, int with_samples) {
    pg_backend *b = lb_backend(L);
    pg_err e = { 0 };
    if (!b || !b->ops->loadtest) {
        pg_errf(&e, 400, "no_model", "the %s backend has no load model (driver 'sim')", b ? b->ops->name : "?");
        return lb_fail(L, &e);
    }
    char jtl[PATH_MAX];
    if (jtl_opt && jtl_path(L, jtl_opt, jtl, sizeof jtl, &e)) return lb_fail(L, &e);
    ld_result *r = sim_result();                /* the thread's, reused: a step makes one of these */
    if (!r) luaL_error(L, "out of memory");
    p->stop = stop_cb;                          /* Ctrl-C ends a real-time wait */
    p->stop_ud = L;
    rt_no_escape(L, 1);                         /* the sim's lock is held throughout */
    int rc = b->ops->loadtest(b, p, r, &e);     /* the backend fills r->sum too */
    rt_no_escape(L, 0);
    return push_run(L, rc, r, jtl_opt ? jtl : NULL, with_samples, "sim", &e);
}

/* ---- loadgen.run ------------------------------------------------------------------ */

/* The driver when the options name none: load.driver, where "auto" is the
 * sim's own model on the sim backend unless a target (url, urls, service,
 * load.url) is named, and "jmeter" (jmeter.run's) is native here. */
static const char *default_driver(lua_State *L, const opts *o) {
    pg_engine *eng = engine(L);
    const char *d = eng->cfg.load.driver;
    if (!strcmp(d, "native") || !strcmp(d, "sim")) return d;
    int target = ohas(o, O_URL) || ohas(o, O_URLS) || ohas(o, O_SERVICE) || eng->cfg.load.url[0];
    return !strcmp(d, "auto") && !target && eng->backend && !strcmp(eng->backend->ops->name, "sim") ? "sim" : "native";
}

/* loadgen.run{...}; its name in messages is upvalue 1. */
static int lb_loadgen_run(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    opts o = { .idx = 1, .m = lb_options(L, 1, load_opts, O_COUNT, lua_tostring(L, lua_upvalueindex(1))) };
    const char *driver = ostr(L, &o, O_DRIVER, default_driver(L, &o));
    luaL_argcheck(L, !strcmp(driver, "native") || !strcmp(driver, "sim"), 1, "driver must be 'native' or 'sim'");
    const char *jtl = ostr(L, &o, O_JTL, NULL);
    int with_samples = obool(L, &o, O_SAMPLES, 0);
    ld_plan p = { 0 };
    int n = read_plan(L, &o, &p);
    if (n) return n;
    if (!strcmp(driver, "sim")) return run_sim(L, &p, jtl, with_samples);
    load_target *t = new_target(L);                         /* [opts, t] */
    pg_err e = { 0 };
    if (read_target(L, &o, t, &e) || read_profile(L, &o, t, &e)) return lb_fail(L, &e);
    return lb_load_native(L, &p, t, jtl, with_samples, NULL, 0);
}

void lb_push_loadgen_run(lua_State *L, const char *fn) {
    lua_pushstring(L, fn);
    lua_pushcclosure(L, lb_loadgen_run, 1);
}

/* ---- loadgen.summarize ------------------------------------------------------------ */

static double sample_num(lua_State *L, int idx, const char *k, int i, int required) {
    int t = lua_getfield(L, idx, k);
    int ok;
    double v = lua_tonumberx(L, -1, &ok);
    lua_pop(L, 1);
    if (t == LUA_TNIL && !required) return NAN;
    if (!ok) luaL_error(L, "samples[%d].%s must be a number", i, k);
    return v;
}

/* loadgen.summarize(samples): samples as loadgen.run{samples = true} gives them. */
int lb_loadgen_summarize(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    ld_result r = { 0 };
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, 1, i) != LUA_TTABLE) {
            ld_result_free(&r);
            return luaL_error(L, "samples[%d] must be a table", (int)i);
        }
        int s = lua_gettop(L);
        ld_sample x = { 0 };
        double ts = sample_num(L, s, "ts", (int)i, 0);
        x.ts_ms = isnan(ts) ? 0 : (int64_t)llround(ts * 1000.0);
        x.elapsed_ms = sample_num(L, s, "elapsed", (int)i, 1);
        x.latency_ms = sample_num(L, s, "latency", (int)i, 0);
        double bytes = sample_num(L, s, "bytes", (int)i, 0);
        x.bytes = isnan(bytes) ? -1 : (long)bytes;
        if (lua_getfield(L, s, "success") != LUA_TBOOLEAN) {
            ld_result_free(&r);
            return luaL_error(L, "samples[%d].success must be a boolean", (int)i);
        }
        x.success = lua_toboolean(L, -1);
        lua_pop(L, 2);
        if (ld_result_push(&r, &x)) {
            ld_result_free(&r);
            return luaL_error(L, "out of memory");
        }
    }
    ld_summarize(&r);
    push_summary(L, &r.sum);
    ld_result_free(&r);
    return 1;
}

int luaopen_loadgen(lua_State *L) {
    lua_createtable(L, 0, 2);                               /* [loadgen] */
    lb_push_loadgen_run(L, "loadgen.run");
    lua_setfield(L, -2, "run");
    lua_pushcfunction(L, lb_loadgen_summarize);
    lua_setfield(L, -2, "summarize");
    return 1;
}
