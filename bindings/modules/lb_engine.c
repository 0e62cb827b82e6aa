/* lb_engine.c: the `engine` module: status, reload, routes, metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "modules/lb.h"
#include "runtime/runtime_priv.h"
#include "server/stats.h"

/* engine.status() -> {version, backend, run_id, config_hash, generation, routes, last_error,
 * uptime_s, ...} */
static int lb_engine_status(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    rt_runtime *rt = eng ? eng->rt : NULL;
    lua_createtable(L, 0, 10);
    lua_pushstring(L, PODGYM_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, eng && eng->backend ? eng->backend->ops->name : (eng ? eng->cfg.backend : "none"));
    lua_setfield(L, -2, "backend");
    lua_pushnumber(L, eng ? pg_wall() - eng->started : 0);
    lua_setfield(L, -2, "uptime_s");
    if (eng && eng->run_id[0]) {
        lua_pushstring(L, eng->run_id);
        lua_setfield(L, -2, "run_id");
    }
    if (!rt) return 1;
    lua_pushinteger(L, rt_generation(rt));
    lua_setfield(L, -2, "generation");
    int failed;
    lua_pushinteger(L, rt_reloads(rt, &failed));
    lua_setfield(L, -2, "reloads");
    lua_pushinteger(L, failed);
    lua_setfield(L, -2, "reload_failures");
    char err[1024];
    rt_last_error(rt, err, sizeof err);
    if (err[0]) lua_pushstring(L, err);
    else lua_pushnil(L);
    lua_setfield(L, -2, "last_error");
    lua_pushstring(L, rt_scripts_dir(rt));
    lua_setfield(L, -2, "scripts");
    lua_pushstring(L, rt_policies_dir(rt));
    lua_setfield(L, -2, "policies");
    rt_gen *g = rt_state_gen(rt_state_of(L));
    if (g) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)g->hash);
        lua_pushstring(L, hex);
        lua_setfield(L, -2, "config_hash");           /* config + scripts + policies of this state */
        lua_createtable(L, (int)g->nroutes, 0);
        for (size_t i = 0; i < g->nroutes; i++) {
            lua_createtable(L, 0, 4);
            lua_pushstring(L, g->routes[i].method);
            lua_setfield(L, -2, "method");
            lua_pushstring(L, g->routes[i].path);
            lua_setfield(L, -2, "path");
            lua_pushstring(L, g->routes[i].summary);
            lua_setfield(L, -2, "summary");
            lua_pushstring(L, g->scripts[g->routes[i].file].name);
            lua_setfield(L, -2, "file");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "routes");
    }
    return 1;
}

/* engine.reload() -> generation | nil, err */
static int lb_engine_reload(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    pg_err e;
    if (!eng || !eng->rt) {
        pg_errf(&e, 409, "no_runtime", "no script runtime in this process");
        return lb_fail(L, &e);
    }
    if (rt_reload(eng->rt, &e) < 0) return lb_fail(L, &e);
    lua_pushinteger(L, rt_generation(eng->rt));
    return 1;
}

/* engine.routes() -> the route declarations of this state's generation (no handlers) */
static int lb_engine_routes(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "podgym.routes");        /* [routes] */
    lua_Integer n = luaL_len(L, -1);
    lua_createtable(L, (int)n, 0);                              /* [routes, out] */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);                                  /* [routes, out, decl] */
        lua_newtable(L);                                        /* [routes, out, decl, copy] */
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            if (lua_type(L, -2) == LUA_TSTRING && !lua_isfunction(L, -1)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_settable(L, -4);
            } else {
                lua_pop(L, 1);
            }
        }
        lua_rawseti(L, -3, i);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    return 1;
}

/* engine.metrics() -> Prometheus text */
static int lb_engine_metrics(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    size_t len;
    char *text = pg_stats_render(&len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (text) luaL_addlstring(&b, text, len);
    free(text);
    if (eng && eng->rt) {
        int failed, n = rt_reloads(eng->rt, &failed);
        char line[512];
        snprintf(line, sizeof line,
                 "# HELP podgym_reloads_total Script reloads attempted.\n# TYPE podgym_reloads_total counter\n"
                 "podgym_reloads_total %d\n"
                 "# HELP podgym_reload_failures_total Reloads refused (the previous version kept serving).\n"
                 "# TYPE podgym_reload_failures_total counter\npodgym_reload_failures_total %d\n"
                 "# HELP podgym_generation Current script generation.\n# TYPE podgym_generation gauge\n"
                 "podgym_generation %d\n",
                 n, failed, rt_generation(eng->rt));
        luaL_addstring(&b, line);
    }
    luaL_pushresult(&b);
    return 1;
}

static const lb_field load_fields[] = {
    LB_F(pg_load_conf, driver, LB_STR),     LB_F(pg_load_conf, url, LB_STR),
    LB_F(pg_load_conf, method, LB_STR),     LB_F(pg_load_conf, rate, LB_NUM),
    LB_F(pg_load_conf, duration_s, LB_NUM), LB_F(pg_load_conf, threads, LB_INT),
    LB_F(pg_load_conf, loops, LB_INT),      LB_F(pg_load_conf, timeout_s, LB_NUM),
    LB_F(pg_load_conf, max_duration_s, LB_NUM), LB_F(pg_load_conf, plan, LB_STR),
    LB_F(pg_load_conf, jmeter, LB_STR),     LB_F(pg_load_conf, body, LB_STR),
    { NULL, 0, 0 },
};

static const lb_field sampler_fields[] = {
    LB_F(pg_sampler_conf, interval_s, LB_NUM), LB_F(pg_sampler_conf, duration_s, LB_NUM),
    LB_F(pg_sampler_conf, file, LB_STR),       LB_F(pg_sampler_conf, format, LB_STR),
    LB_F(pg_sampler_conf, max_jobs, LB_INT),   { NULL, 0, 0 },
};

static const lb_field top_fields[] = {
    LB_F(pg_config, backend, LB_STR),       LB_F(pg_config, data_dir, LB_STR),
    LB_FN("namespace", pg_config, ns, LB_STR), LB_F(pg_config, deployment, LB_STR),
    LB_FN("hpa_target_cpu_percent", pg_config, hpa_target_pct, LB_NUM),
    LB_F(pg_config, listen_host, LB_STR),   LB_F(pg_config, listen_port, LB_INT),
    { NULL, 0, 0 },
};

/* engine.config() -> the settings scripts may read (never the auth token) */
static int lb_engine_config(lua_State *L) {
    const pg_config *c = &lb_engine(L)->cfg;
    lb_push_fields(L, c, top_fields);
    lb_push_fields(L, &c->load, load_fields);
    lua_setfield(L, -2, "load");
    lb_push_fields(L, &c->sampler, sampler_fields);
    lua_setfield(L, -2, "sampler");
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)c->sim.seed);
    lua_setfield(L, -2, "seed");
    lua_pushnumber(L, c->sim.speed);
    lua_setfield(L, -2, "speed");
    lua_pushinteger(L, c->sim.replicas);
    lua_setfield(L, -2, "replicas");
    lua_setfield(L, -2, "sim");
    return 1;
}

int lb_engine_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "status", lb_engine_status }, { "reload", lb_engine_reload },
        { "routes", lb_engine_routes }, { "metrics", lb_engine_metrics },
        { "config", lb_engine_config },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
