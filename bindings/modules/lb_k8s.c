/* lb_k8s.c: the Lua `k8s` module, the backend-independent view of the
 * target Deployment (backend.h). Works for every backend; `k8s.sim` is
 * there only when the backend is the simulated cluster.
 *
 *   k8s.pods()            {{name, phase, status, ready, deleting, restarts, created, age_s,
 *                           requests = {cpu (cores), memory (bytes)}, ip, port}, ...}
 *   k8s.metrics()         {{name, cpu (cores), memory (bytes), timestamp, window}, ...}
 *   k8s.replicas()        desired count
 *   k8s.scale(n)          true | nil, err
 *   k8s.delete_pod(name[, {grace = s}])                       true | nil, err
 *   k8s.wait{ready = n, settled = true, metrics = false, timeout = 90}
 *                                                            waited_s | nil, err (504)
 *     metrics = true: the n Ready pods must also report metrics (the metrics API lists them)
 *   k8s.quantity("250m")  0.25 | nil, err
 *   k8s.endpoints()       {"http://ip:port", ...} of the ready pods
 *   k8s.now(), k8s.sleep(s), k8s.backend()
 *   k8s.envs(n)           n | nil, err: n simulated clusters for vector envs (POST /envs)
 *   k8s.on(i, fn, ...)    fn(...) with every k8s call going to vector-env cluster i
 *   k8s.request(method, path[, body])  status, body | nil, err    (kube backend only; raises elsewhere)
 *     body: a table (sent as JSON; a PATCH as a merge patch) or a string; the answer's
 *     body is decoded when it is JSON, else the string
 *   k8s.sim.reset{seed =, pods =}, .inject{crash =, image_pull =, slow =},
 *          .fail_pod(name, status), .workload([{kind =, rps =, ...}]), .advance(s), .time()
 *
 * Expected failures return nil, {code, message, status}; misuse raises.
 * Every backend operation called here is counted, by name and outcome, in
 * /_engine/metrics (podgym_backend_calls_total, podgym_backend_errors_total);
 * now() is a clock read, not counted. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/lb.h"
#include "runtime/runtime.h"
#include "cluster/quantity.h"
#include "cluster/kube/kube.h"
#include "cluster/sim/sim.h"
#include "server/stats.h"

#define SLEEP_SLICE_S 0.05      /* k8s.sleep on a real-time clock: wall seconds between interrupt checks */

static const lb_field pod_fields[] = {
    LB_F(pg_pod, name, LB_STR),      LB_F(pg_pod, phase, LB_STR),    LB_F(pg_pod, status, LB_STR),
    LB_F(pg_pod, ready, LB_BOOL),    LB_F(pg_pod, deleting, LB_BOOL), LB_F(pg_pod, restarts, LB_INT),
    LB_F(pg_pod, created, LB_NUM),   { NULL, LB_INT, 0 },
};
static const lb_field endpoint_fields[] = {
    LB_F(pg_pod, ip, LB_STR), LB_F(pg_pod, port, LB_INT), { NULL, LB_INT, 0 },
};
static const lb_field request_fields[] = {
    LB_FN("cpu", pg_pod, req_cpu, LB_NUM), LB_FN("memory", pg_pod, req_mem, LB_NUM),
    { NULL, LB_INT, 0 },
};
static const lb_field metric_fields[] = {
    LB_F(pg_metric, name, LB_STR),              LB_F(pg_metric, cpu, LB_NUM),
    LB_FN("memory", pg_metric, mem, LB_NUM),    LB_FN("timestamp", pg_metric, ts, LB_NUM),
    LB_FN("window", pg_metric, window_s, LB_NUM), { NULL, LB_INT, 0 },
};
static const lb_field workload_fields[] = {
    LB_F(pg_workload_conf, kind, LB_STR),          LB_F(pg_workload_conf, rps, LB_NUM),
    LB_F(pg_workload_conf, step_rps, LB_NUM),      LB_F(pg_workload_conf, step_at_s, LB_NUM),
    LB_F(pg_workload_conf, amplitude_rps, LB_NUM), LB_F(pg_workload_conf, period_s, LB_NUM),
    LB_F(pg_workload_conf, trace, LB_STR),         { NULL, LB_INT, 0 },
};

/* ---- vector envs' clusters ------------------------------------------ */
/* The clusters of POST /envs: simulated clusters made from the config's
 * sim settings, as many as were asked for at most (never more than
 * limits.envs), kept by the engine until it closes: a state bound to one
 * (k8s.on) never sees it freed. A state's binding is a light userdata in
 * its registry, so every coroutine of the state sees it. */
struct pg_envs {
    pg_backend **b;
    int n;
};
static pthread_mutex_t envs_mu = PTHREAD_MUTEX_INITIALIZER;
static const char bound_key = 'k';

pg_backend *lb_backend(lua_State *L) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &bound_key);
    pg_backend *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (b) return b;
    pg_engine *eng = lb_engine(L);
    return eng ? eng->backend : NULL;
}

void lb_envs_free(pg_engine *eng) {
    pthread_mutex_lock(&envs_mu);
    struct pg_envs *v = eng->envs;
    eng->envs = NULL;
    pthread_mutex_unlock(&envs_mu);
    if (!v) return;
    for (int i = 0; i < v->n; i++) v->b[i]->ops->destroy(v->b[i]);
    free(v->b);
    free(v);
}

/* Make clusters until eng has n (0, or -1 with e filled). */
static int envs_grow(pg_engine *eng, int n, pg_err *e) {
    if (n > eng->cfg.limits.envs)
        return pg_errf(e, 429, "too_many_envs", "%d envs asked for; limits.envs is %d", n, eng->cfg.limits.envs);
    if (!sim_from_backend(eng->backend))
        return pg_errf(e, 409, "not_sim", "vector envs are simulated clusters: the backend is %s, not sim",
                       eng->backend ? eng->backend->ops->name : "none");
    pthread_mutex_lock(&envs_mu);
    int rc = 0;
    struct pg_envs *v = eng->envs;
    if (!v && !(v = eng->envs = calloc(1, sizeof *v))) rc = pg_errf(e, 500, "no_memory", "out of memory");
    if (!rc && v->n < n) {
        pg_backend **b = realloc(v->b, (size_t)n * sizeof *b);
        if (!b) rc = pg_errf(e, 500, "no_memory", "out of memory");
        else v->b = b;
    }
    while (!rc && v->n < n) {
        pg_backend *b = sim_backend_new(&eng->cfg, e);
        if (!b) rc = -1;
        else v->b[v->n++] = b;
    }
    pthread_mutex_unlock(&envs_mu);
    return rc;
}

/* k8s.envs(n) -> n | nil, err: at least n vector-env clusters exist
 * (429 too_many_envs past limits.envs; 409 not_sim on another backend). */
static int lb_k8s_envs(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "n must be >= 1");
    pg_engine *eng = lb_engine(L);
    if (!eng) luaL_error(L, "k8s: no engine in this state");
    pg_err e = { 0 };
    if (envs_grow(eng, n > INT32_MAX ? INT32_MAX : (int)n, &e) != 0) return lb_fail(L, &e);
    lua_pushinteger(L, n);
    return 1;
}

/* k8s.on(i, fn, ...) -> fn(...): every k8s call (and a load test's) inside
 * fn goes to vector-env cluster i (1-based) instead of the engine's; the
 * binding before is back when fn returns or raises. */
static int lb_k8s_on(lua_State *L) {
    lua_Integer i = luaL_checkinteger(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    pg_engine *eng = lb_engine(L);
    pg_backend *b = NULL;
    pthread_mutex_lock(&envs_mu);
    if (eng && eng->envs && i >= 1 && i <= eng->envs->n) b = eng->envs->b[i - 1];
    pthread_mutex_unlock(&envs_mu);
    if (!b) return luaL_argerror(L, 1, "no such env cluster (k8s.envs(n) makes them)");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &bound_key);              /* [i, fn, args..., before] */
    lua_insert(L, 1);                                           /* [before, i, fn, args...] */
    lua_pushlightuserdata(L, b);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &bound_key);
    int rc = lua_pcall(L, lua_gettop(L) - 3, LUA_MULTRET, 0);  /* [before, i, results...] */
    lua_pushvalue(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &bound_key);
    if (rc != LUA_OK) return lua_error(L);
    return lua_gettop(L) - 2;
}

static pg_backend *backend(lua_State *L) {
    pg_backend *b = lb_backend(L);
    if (!b) luaL_error(L, "k8s: no backend in this state");
    return b;
}

/* rc of backend operation op, counted. */
static int counted(pg_backend_op op, int rc) {
    pg_stats_backend_call(op, rc != 0);
    return rc;
}

static int ok_or_fail(lua_State *L, int rc, const pg_err *e) {
    if (rc != 0) return lb_fail(L, e);
    lua_pushboolean(L, 1);
    return 1;
}

/* Pods as a list of tables; a backend error leaves nil, err. */
static int push_pods(lua_State *L, pg_backend *b, int ready_endpoints) {
    pg_pod *v;
    size_t n;
    pg_err e = { 0 };
    if (counted(PG_OP_PODS, b->ops->pods(b, &v, &n, &e)) != 0) return lb_fail(L, &e);
    double now = b->ops->now(b);
    lua_createtable(L, (int)n, 0);                              /* [list] */
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        const pg_pod *p = &v[i];
        if (ready_endpoints) {
            if (!p->ready || !p->ip[0]) continue;
            lua_pushfstring(L, strchr(p->ip, ':') ? "http://[%s]:%d" : "http://%s:%d", p->ip, p->port);
        } else {
            lb_push_fields(L, p, pod_fields);                   /* [list, pod] */
            lua_pushnumber(L, now - p->created);
            lua_setfield(L, -2, "age_s");
            lb_push_fields(L, p, request_fields);               /* [list, pod, req] */
            lua_setfield(L, -2, "requests");
            if (p->ip[0]) lb_set_fields(L, -1, p, endpoint_fields);
        }
        lua_rawseti(L, -2, ++k);                                /* [list] */
    }
    free(v);
    return 1;
}

static int lb_k8s_pods(lua_State *L) { return push_pods(L, backend(L), 0); }
static int lb_k8s_endpoints(lua_State *L) { return push_pods(L, backend(L), 1); }

static int lb_k8s_metrics(lua_State *L) {
    pg_backend *b = backend(L);
    pg_metric *v;
    size_t n;
    pg_err e = { 0 };
    if (counted(PG_OP_METRICS, b->ops->metrics(b, &v, &n, &e)) != 0) return lb_fail(L, &e);
    lua_createtable(L, (int)n, 0);                              /* [list] */
    for (size_t i = 0; i < n; i++) {
        lb_push_fields(L, &v[i], metric_fields);                /* [list, m] */
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(v);
    return 1;
}

/* k8s.snapshot() -> {pods = k8s.pods(), metrics = k8s.metrics(), desired, now} | nil, err:
 * what a view of the Deployment reads, in one call. */
static int lb_k8s_snapshot(lua_State *L) {
    pg_backend *b = backend(L);
    int desired;
    pg_err e = { 0 };
    if (counted(PG_OP_REPLICAS, b->ops->replicas(b, &desired, &e)) != 0) return lb_fail(L, &e);
    lua_createtable(L, 0, 4);                                   /* [snap] */
    if (push_pods(L, b, 0) != 1) return 2;                      /* [snap, pods] or [snap, nil, err] */
    lua_setfield(L, -2, "pods");
    if (lb_k8s_metrics(L) != 1) return 2;
    lua_setfield(L, -2, "metrics");
    lua_pushinteger(L, desired);
    lua_setfield(L, -2, "desired");
    lua_pushnumber(L, b->ops->now(b));
    lua_setfield(L, -2, "now");
    return 1;
}

/* Sums over the pods that report metrics, and pod counts: what an
 * observation needs, without a table per pod. */
static const lb_field usage_fields[] = {
    LB_F(pg_usage, total, LB_INT),    LB_F(pg_usage, ready, LB_INT),  LB_F(pg_usage, online, LB_INT),
    LB_F(pg_usage, desired, LB_INT),  LB_F(pg_usage, cpu, LB_NUM),    LB_F(pg_usage, mem, LB_NUM),
    LB_F(pg_usage, req_cpu, LB_NUM),  LB_F(pg_usage, req_mem, LB_NUM), LB_F(pg_usage, now, LB_NUM),
    { NULL, LB_INT, 0 },
};

/* k8s.usage([t]) -> {total, ready, online, desired, cpu, mem, req_cpu, req_mem, oldest, now} | nil, err
 * With t, the fields go into t (oldest nil while no pod reports metrics)
 * and t is returned: a loop that observes every step builds no table. */
static int lb_k8s_usage(lua_State *L) {
    int into = !lua_isnoneornil(L, 1);
    if (into) luaL_checktype(L, 1, LUA_TTABLE);
    pg_backend *b = backend(L);
    pg_err e = { 0 };
    pg_usage u;
    if (counted(PG_OP_USAGE, pg_backend_usage(b, &u, &e))) return lb_fail(L, &e);
    if (into) {
        lua_settop(L, 1);
        lb_set_fields(L, 1, &u, usage_fields);
    } else {
        lb_push_fields(L, &u, usage_fields);
    }
    if (u.online) lua_pushnumber(L, u.oldest);
    else lua_pushnil(L);                            /* clears a reused t; nothing in a new one */
    lua_setfield(L, -2, "oldest");
    return 1;
}

static int lb_k8s_replicas(lua_State *L) {
    pg_backend *b = backend(L);
    int n;
    pg_err e = { 0 };
    if (counted(PG_OP_REPLICAS, b->ops->replicas(b, &n, &e)) != 0) return lb_fail(L, &e);
    lua_pushinteger(L, n);
    return 1;
}

static int lb_k8s_scale(lua_State *L) {
    pg_backend *b = backend(L);
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 1000000, 1, "replicas must be >= 0");
    pg_err e = { 0 };
    return ok_or_fail(L, counted(PG_OP_SCALE, b->ops->scale(b, (int)n, &e)), &e);
}

static int lb_k8s_delete_pod(lua_State *L) {
    pg_backend *b = backend(L);
    const char *name = luaL_checkstring(L, 1);
    double grace = lb_optnumfield(L, 2, "grace", -1);          /* < 0: the backend's default */
    luaL_argcheck(L, !isnan(grace), 2, "grace must be a number");
    pg_err e = { 0 };
    return ok_or_fail(L, counted(PG_OP_DELETE_POD, b->ops->delete_pod(b, name, grace, &e)), &e);
}

static void wait_progress(void *ud, int ready, int want, double elapsed) {
    lb_progress((lua_State *)ud, "waiting: %d/%d, %.1f s", ready, want, elapsed);
}

static int wait_stop(void *ud) { return rt_interrupted((lua_State *)ud); }

static int lb_k8s_wait(lua_State *L) {
    pg_backend *b = backend(L);
    pg_err e = { 0 };
    int desired = 0;
    if (lb_optnumfield(L, 1, "ready", -1) < 0
        && counted(PG_OP_REPLICAS, b->ops->replicas(b, &desired, &e)) != 0)
        return lb_fail(L, &e);
    pg_wait w = {
        .ready = (int)lb_optintfield(L, 1, "ready", desired),
        .settled = lb_optboolfield(L, 1, "settled", 1),
        .metrics = lb_optboolfield(L, 1, "metrics", 0),
        .timeout_s = lb_optnumfield(L, 1, "timeout", 90),
    };
    luaL_argcheck(L, w.ready >= 0, 1, "ready must be >= 0");
    luaL_argcheck(L, w.timeout_s >= 0 && isfinite(w.timeout_s), 1, "timeout must be >= 0");
    if (lb_progress_enabled(L)) {
        w.progress = wait_progress;
        w.progress_ud = L;
    }
    w.stop = wait_stop;                         /* Ctrl-C in the repl */
    w.stop_ud = L;
    double waited = 0;
    int rc = counted(PG_OP_WAIT, b->ops->wait(b, &w, &waited, &e));
    lb_progress_done(L);
    if (rc != 0) return lb_fail(L, &e);
    lua_pushnumber(L, waited);
    return 1;
}

static int lb_k8s_quantity(lua_State *L) {
    double v;
    pg_err e = { 0 };
    if (k8s_quantity(luaL_checkstring(L, 1), &v, &e) != 0) return lb_fail(L, &e);
    lua_pushnumber(L, v);
    return 1;
}

static int lb_k8s_now(lua_State *L) {
    pg_backend *b = backend(L);
    lua_pushnumber(L, b->ops->now(b));
    return 1;
}

static int lb_k8s_sleep(lua_State *L) {
    pg_backend *b = backend(L);
    double s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be >= 0");
    pg_err e = { "sleep", "backend sleep failed", 500 };
    pg_engine *eng = lb_engine(L);
    int sim = !strcmp(b->ops->name, "sim");
    if (sim && eng->cfg.sim.speed <= 0)                 /* the virtual clock: no waiting */
        return ok_or_fail(L, counted(PG_OP_SLEEP, b->ops->sleep(b, s)), &e);
    /* A real-time clock: in slices of SLEEP_SLICE_S wall seconds, so that
     * an interrupt (Ctrl-C in the repl) ends it; one backend call counted. */
    double slice = SLEEP_SLICE_S * (sim ? eng->cfg.sim.speed : 1), left = s;
    int rc = 0;
    while (rc == 0 && left > 1e-9 && !rt_interrupted(L)) {
        double d = fmin(left, slice);
        rc = b->ops->sleep(b, d);
        left -= d;
    }
    return ok_or_fail(L, counted(PG_OP_SLEEP, rc), &e);
}

static int lb_k8s_backend(lua_State *L) {
    lua_pushstring(L, backend(L)->ops->name);
    return 1;
}

/* k8s.request(method, path[, body]) -> status, body | nil, err: one call of
 * the Kubernetes API podgym does not wrap (kube backend; elsewhere raises). */
static int lb_k8s_request(lua_State *L) {
    pg_backend *b = backend(L);
    const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    if (!kube_is_backend(b)) return luaL_error(L, "k8s.request: only on the kube backend (this one is %s)", b->ops->name);
    luaL_argcheck(L, *method && strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(method), 1,
                  "method must be an HTTP method (GET, PATCH, ...)");
    luaL_argcheck(L, path[0] == '/' && strcspn(path, " \t\r\n") == strlen(path) && strlen(path) < 4096, 2,
                  "path must start with '/' and hold no spaces");
    const char *body = NULL;
    if (lua_type(L, 3) == LUA_TTABLE) {
        lb_json_out out;
        lua_pushcfunction(L, lb_json_encode_to);
        lua_pushvalue(L, 3);
        lua_pushlightuserdata(L, &out);
        lua_call(L, 2, 0);
        body = lua_pushlstring(L, out.p, out.len);
    } else if (!lua_isnoneornil(L, 3)) {
        body = luaL_checkstring(L, 3);
    }
    long status = 0;
    char *resp = NULL, ctype[96];
    size_t len = 0;
    pg_err e = { 0 };
    if (counted(PG_OP_REQUEST, kube_request(b, method, path, body, &status, &resp, &len, ctype, sizeof ctype, &e)))
        return lb_fail(L, &e);
    lua_pushinteger(L, status);                                 /* [.., status] */
    lua_pushlstring(L, resp ? resp : "", len);                  /* [.., status, text] */
    free(resp);
    if (strstr(ctype, "json")) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);   /* [.., status, text, loaded] */
        int top = lua_gettop(L);
        if (lua_getfield(L, top, "json") == LUA_TTABLE && lua_getfield(L, -1, "decode") == LUA_TFUNCTION) {
            lua_pushvalue(L, top - 1);                          /* [.., loaded, json, decode, text] */
            if (lua_pcall(L, 1, 1, 0) == LUA_OK) lua_replace(L, top - 1);   /* the text becomes the table */
        }
        lua_settop(L, top - 1);                                 /* [.., status, body] */
    }
    return 2;
}

/* ---- k8s.sim ------------------------------------------------------- */

static sim *sim_of(lua_State *L) {
    sim *s = sim_from_backend(backend(L));
    if (!s) luaL_error(L, "k8s.sim: the backend is not sim");
    return s;
}

static int lb_k8s_sim_reset(lua_State *L) {
    sim *s = sim_of(L);
    const pg_sim_conf *c = sim_conf(s);
    lua_Integer seed = lb_optintfield(L, 1, "seed", (lua_Integer)c->seed);
    lua_Integer pods = lb_optintfield(L, 1, "pods", c->replicas);
    luaL_argcheck(L, pods >= 0 && pods <= SIM_MAX_PODS, 1, "pods must be in [0, 1000]");
    pg_err e = { 0 };
    return ok_or_fail(L, sim_reset(s, (uint64_t)seed, (int)pods, &e), &e);
}

/* inject{crash = p, image_pull = p, slow = p}: every key is applied. */
static int lb_k8s_sim_inject(lua_State *L) {
    sim *s = sim_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    pg_err e = { 0 };
    lua_pushnil(L);                                             /* [opts, nil] */
    while (lua_next(L, 1)) {                                    /* [opts, k, v] */
        luaL_argcheck(L, lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TNUMBER, 1,
                      "want {crash = p, image_pull = p, slow = p}");
        if (sim_inject(s, lua_tostring(L, -2), lua_tonumber(L, -1), &e) != 0) return lb_fail(L, &e);
        lua_pop(L, 1);                                          /* [opts, k] */
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int lb_k8s_sim_fail_pod(lua_State *L) {
    sim *s = sim_of(L);
    pg_err e = { 0 };
    return ok_or_fail(L, sim_fail_pod(s, luaL_checkstring(L, 1), luaL_checkstring(L, 2), &e), &e);
}

/* workload() -> current; workload{...} changes the given fields and returns the result. */
static int lb_k8s_sim_workload(lua_State *L) {
    sim *s = sim_of(L);
    pg_workload_conf w;
    sim_workload(s, &w);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {  /* reject typos */
            const lb_field *f = workload_fields;
            while (f->name && !(lua_type(L, -2) == LUA_TSTRING && !strcmp(f->name, lua_tostring(L, -2))))
                f++;
            if (!f->name)
                luaL_argerror(L, 1, lua_pushfstring(L, "unknown workload field '%s'",
                                                    luaL_tolstring(L, -2, NULL)));
        }
        snprintf(w.kind, sizeof w.kind, "%s", lb_optstrfield(L, 1, "kind", w.kind));
        snprintf(w.trace, sizeof w.trace, "%s", lb_optstrfield(L, 1, "trace", w.trace));
        w.rps = lb_optnumfield(L, 1, "rps", w.rps);
        w.step_rps = lb_optnumfield(L, 1, "step_rps", w.step_rps);
        w.step_at_s = lb_optnumfield(L, 1, "step_at_s", w.step_at_s);
        w.amplitude_rps = lb_optnumfield(L, 1, "amplitude_rps", w.amplitude_rps);
        w.period_s = lb_optnumfield(L, 1, "period_s", w.period_s);
        pg_err e = { 0 };
        if (sim_set_workload(s, &w, &e) != 0) return lb_fail(L, &e);
        sim_workload(s, &w);
    }
    lb_push_fields(L, &w, workload_fields);
    return 1;
}

static int lb_k8s_sim_advance(lua_State *L) {
    sim *s = sim_of(L);
    double sec = luaL_checknumber(L, 1);
    luaL_argcheck(L, sec >= 0 && isfinite(sec), 1, "seconds must be >= 0");
    pg_err e = { 0 };
    return ok_or_fail(L, sim_advance(s, sec, &e), &e);
}

static int lb_k8s_sim_time(lua_State *L) {
    lua_pushnumber(L, sim_time(sim_of(L)));
    return 1;
}

int luaopen_k8s(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "pods", lb_k8s_pods },         { "metrics", lb_k8s_metrics },  { "usage", lb_k8s_usage },
        { "snapshot", lb_k8s_snapshot },
        { "replicas", lb_k8s_replicas }, { "scale", lb_k8s_scale },
        { "delete_pod", lb_k8s_delete_pod }, { "wait", lb_k8s_wait },
        { "quantity", lb_k8s_quantity }, { "endpoints", lb_k8s_endpoints },
        { "now", lb_k8s_now },           { "sleep", lb_k8s_sleep },
        { "backend", lb_k8s_backend },   { "request", lb_k8s_request },
        { "envs", lb_k8s_envs },         { "on", lb_k8s_on },           { NULL, NULL },
    };
    static const luaL_Reg simfns[] = {
        { "reset", lb_k8s_sim_reset },       { "inject", lb_k8s_sim_inject },
        { "fail_pod", lb_k8s_sim_fail_pod }, { "workload", lb_k8s_sim_workload },
        { "advance", lb_k8s_sim_advance },   { "time", lb_k8s_sim_time },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);                                        /* [k8s] */
    pg_engine *eng = lb_engine(L);
    if (eng && sim_from_backend(eng->backend)) {
        luaL_newlib(L, simfns);                                 /* [k8s, sim] */
        lua_setfield(L, -2, "sim");                             /* [k8s] */
    }
    return 1;
}
