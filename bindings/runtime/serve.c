/* serve.c: one HTTP request through the route table and a Lua handler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "server/http.h"
#include "modules/lb.h"
#include "base/log.h"
#include "runtime/runtime_priv.h"
#include "runtime/serve.h"
#include "server/stats.h"

/* [] -> [req] */
static void push_req(lua_State *L, http_req *req, const char *method, const pg_match *m) {
    lua_createtable(L, 0, 8);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, http_path(req));
    lua_setfield(L, -2, "path");
    lua_createtable(L, 0, m->nparams);
    for (int i = 0; i < m->nparams; i++) {
        lua_pushlstring(L, m->params[i].val, m->params[i].len);
        lua_setfield(L, -2, m->params[i].name);
    }
    lua_setfield(L, -2, "params");
    rt_state *st = rt_state_of(L);                  /* headers and query: built on first use */
    st->req = req;
    lua_pushinteger(L, ++st->req_seq);
    lua_setfield(L, -2, "_seq");
    size_t len;
    const char *body = http_body(req, &len);
    lua_pushlstring(L, body, len);
    lua_setfield(L, -2, "body");
    lua_getfield(L, LUA_REGISTRYINDEX, "podgym.req");
    lua_setmetatable(L, -2);
}

/* Encode the value at idx as json.encode does, into out (the thread's
 * encode buffer, no Lua string made); on failure pushes the message. */
static int encode_json(lua_State *L, int idx, lb_json_out *out) {
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, lb_json_encode_to);
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, out);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) return -1;    /* [msg] */
    return 0;
}

static void error_resp(http_resp *resp, const pg_err *e) {
    http_resp_error(resp, e->status ? e->status : 500, e->code[0] ? e->code : "error", e->message);
}

/* The error table {status=, code=, message=, ...extras} -> {"error":{code,message}, extras...} */
static void error_table_resp(lua_State *L, int idx, const pg_err *e, http_resp *resp) {
    idx = lua_absindex(L, idx);
    lua_newtable(L);                                    /* [out] */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            if (strcmp(k, "status") && strcmp(k, "code") && strcmp(k, "message")) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_settable(L, -4);
                continue;
            }
        }
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, e->code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, e->message);
    lua_setfield(L, -2, "message");
    lua_setfield(L, -2, "error");
    lb_json_out out;
    if (encode_json(L, -1, &out) == 0) {
        http_resp_set(resp, e->status, "application/json", out.p, out.len);
    } else {
        error_resp(resp, e);
    }
}

static void add_headers(lua_State *L, int idx, http_resp *resp) {
    if (!lua_istable(L, idx)) return;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)) {
            const char *k = lua_tostring(L, -2);
            const char *v = lua_tostring(L, -1);
            if (!strcasecmp(k, "Content-Type")) resp->content_type = NULL, http_resp_header(resp, "Content-Type", v);
            else http_resp_header(resp, k, v);
        }
        lua_pop(L, 1);
    }
}

/* Results of a handler, from base to top: status, body[, headers] | body. */
static void results_resp(lua_State *L, int base, http_resp *resp, const rt_route *r) {
    int n = lua_gettop(L) - base + 1;
    int status = 200, bi = base, hi = 0;
    if (n >= 1 && lua_type(L, base) == LUA_TNUMBER) {
        status = (int)lua_tointeger(L, base);
        if (status < 100 || status > 599) {
            pg_err e;
            pg_errf(&e, 500, "bad_response", "%s %s returned status %s", r->method, r->path, lua_tostring(L, base));
            error_resp(resp, &e);
            return;
        }
        bi = base + 1;
        hi = n >= 3 ? base + 2 : 0;
    } else if (n >= 2) {
        hi = base + 1;
    }
    int has_ct = 0;
    if (hi && lua_istable(L, hi)) {
        lua_pushnil(L);
        while (lua_next(L, hi)) {
            if (lua_type(L, -2) == LUA_TSTRING && !strcasecmp(lua_tostring(L, -2), "Content-Type")) has_ct = 1;
            lua_pop(L, 1);
        }
    }
    int bt = bi <= lua_gettop(L) ? lua_type(L, bi) : LUA_TNONE;
    if (bt == LUA_TTABLE) {
        lb_json_out out;
        if (encode_json(L, bi, &out) != 0) {
            pg_err e;
            pg_errf(&e, 500, "bad_response", "%s %s: cannot encode the response as JSON: %s", r->method, r->path,
                    lua_tostring(L, -1));
            pg_log(PG_LOG_ERROR, "%s", e.message);
            error_resp(resp, &e);
            return;
        }
        http_resp_set(resp, status, has_ct ? NULL : "application/json", out.p, out.len);
    } else if (bt == LUA_TSTRING || bt == LUA_TNUMBER) {
        size_t len;
        const char *s = lua_tolstring(L, bi, &len);
        http_resp_set(resp, status, has_ct ? NULL : "text/plain; charset=utf-8", s, len);
    } else if (bt == LUA_TNIL || bt == LUA_TNONE) {
        http_resp_set(resp, status == 200 ? 204 : status, has_ct ? NULL : "text/plain; charset=utf-8", "", 0);
    } else {
        pg_err e;
        pg_errf(&e, 500, "bad_response", "%s %s returned a %s body", r->method, r->path, lua_typename(L, bt));
        error_resp(resp, &e);
        return;
    }
    if (hi) add_headers(L, hi, resp);
}

void pg_serve_request(void *ud, http_req *req, http_resp *resp) {
    pg_engine *eng = ud;
    double t0 = pg_mono();
    const char *method = http_method(req);
    const char *path = http_path(req);
    const char *lookup = strcmp(method, "HEAD") ? method : "GET";
    char route[160] = "";            /* a copy: the generation may be freed at checkin */
    rt_state *st = rt_checkout(eng->rt);
    if (!st) {
        http_resp_error(resp, 503, "unavailable", "no Lua state available");
        goto done;
    }
    pg_match m;
    char allow[256];
    int found = router_match(rt_router(st), lookup, path, &m, allow, sizeof allow);
    if (found == 404) {
        char msg[600];
        snprintf(msg, sizeof msg, "no route for %s", path);
        http_resp_error(resp, 404, "not_found", msg);
        goto checkin;
    }
    if (found == 405) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s is not allowed on %s (allowed: %s)", method, path, allow);
        http_resp_error(resp, 405, "method_not_allowed", msg);
        http_resp_header(resp, "Allow", allow);
        goto checkin;
    }
    rt_gen *g = rt_state_gen(st);
    size_t rlen = strnlen(g->routes[m.id].path, sizeof route - 1);
    memcpy(route, g->routes[m.id].path, rlen);
    route[rlen] = '\0';
    lua_State *L = rt_lua(st);
    rt_push_handler(st, m.id);
    push_req(L, req, method, &m);
    pg_err e;
    int base = lua_gettop(L) - 1;
    st->escape_ok = 1;                              /* a call stuck in C is left (deadline.c) */
    int rc = rt_pcall(L, 1, LUA_MULTRET, eng->cfg.limits.lua_deadline_ms, &e);
    st->escape_ok = 0;
    st->req = NULL;
    if (rc != LUA_OK) {
        if (e.status >= 500) pg_stats_lua_error(e.status == 504 && !strcmp(e.code, "deadline"));
        if (!st->abandoned && lua_istable(L, -1)) error_table_resp(L, -1, &e, resp);
        else error_resp(resp, &e);
    } else {
        results_resp(L, base, resp, &g->routes[m.id]);
    }
checkin:
    rt_checkin(eng->rt, st);
done:
    if (!strcmp(method, "HEAD")) {
        free(resp->body);
        resp->body = NULL;
        resp->len = 0;
    }
    double dt = pg_mono() - t0;
    pg_stats_request(method, route, resp->status, dt);
    pg_log_access(method, path, resp->status, dt * 1000.0);
}

/* The garbage of the requests just served is collected here, once their
 * responses are on their way, rather than inside a later request. */
void pg_serve_after(void *ud) {
    pg_engine *eng = ud;
    rt_collect(eng->rt);
}
