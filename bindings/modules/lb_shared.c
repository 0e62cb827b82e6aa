/* lb_shared.c: the Lua `shared` module, the engine's cross-worker dict
 * (core/shared.h), as OpenResty's ngx.shared.DICT:
 *
 *   shared.get(k)                 -> value | nil
 *   shared.set(k, v[, ttl])       -> true | nil, err     (v nil deletes)
 *   shared.add(k, v[, ttl])       -> true | nil, err     (err.code "exists")
 *   shared.replace(k, v[, ttl])   -> true | nil, err     (err.code "not_found")
 *   shared.incr(k, by[, init])    -> n | nil, err
 *   shared.delete(k)              -> true
 *   shared.keys([max])            -> {k, ...}            (max 1024 by default, 0 = all)
 *   shared.flush_all()
 *   shared.count()                -> n
 *
 * Values are nil, booleans, numbers and strings; anything else, an empty
 * key or a negative ttl raises. A full dict is an expected failure:
 * nil, {code="no_memory", message="no memory"}. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "modules/lb.h"
#include "shared/shared.h"

#define KEYS_DEFAULT_MAX 1024

static pg_shared *dict(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    if (!eng || !eng->shared) luaL_error(L, "shared: this state has no shared dict");
    return eng->shared;
}

static const char *check_key(lua_State *L, int idx) {
    size_t len;
    const char *k = luaL_checklstring(L, idx, &len);
    luaL_argcheck(L, len > 0, idx, "key must not be empty");
    luaL_argcheck(L, strlen(k) == len, idx, "key must not contain a NUL byte");
    luaL_argcheck(L, len <= PG_SHARED_KEY_MAX, idx, "key is too long");
    return k;
}

/* The Lua value at idx as a dict value (a string stays owned by Lua). */
static pg_shared_value check_value(lua_State *L, int idx) {
    pg_shared_value v = { .type = PG_SHARED_NIL };
    switch (lua_type(L, idx)) {
    case LUA_TNONE: case LUA_TNIL: break;
    case LUA_TBOOLEAN: v.type = PG_SHARED_BOOL; v.u.b = lua_toboolean(L, idx); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) { v.type = PG_SHARED_INT; v.u.i = lua_tointeger(L, idx); }
        else { v.type = PG_SHARED_NUM; v.u.n = lua_tonumber(L, idx); }
        break;
    case LUA_TSTRING: v.type = PG_SHARED_STR; v.u.s.p = (char *)lua_tolstring(L, idx, &v.u.s.len); break;
    default:
        luaL_argerror(L, idx, lua_pushfstring(L, "nil, boolean, number or string expected, got %s",
                                              luaL_typename(L, idx)));
    }
    return v;
}

static pg_shared_value check_number(lua_State *L, int idx) {
    pg_shared_value v = { .type = PG_SHARED_NUM, .u.n = luaL_checknumber(L, idx) };
    if (lua_isinteger(L, idx)) {
        v.type = PG_SHARED_INT;
        v.u.i = lua_tointeger(L, idx);
    }
    return v;
}

static double opt_ttl(lua_State *L, int idx) {
    double ttl = luaL_optnumber(L, idx, 0);
    luaL_argcheck(L, ttl >= 0 && isfinite(ttl), idx, "ttl must be seconds >= 0");
    return ttl;
}

/* Push v, freeing its string. */
static void push_value(lua_State *L, pg_shared_value *v) {   /* [] -> [v] */
    switch (v->type) {
    case PG_SHARED_NIL: lua_pushnil(L); break;
    case PG_SHARED_BOOL: lua_pushboolean(L, v->u.b); break;
    case PG_SHARED_INT: lua_pushinteger(L, (lua_Integer)v->u.i); break;
    case PG_SHARED_NUM: lua_pushnumber(L, v->u.n); break;
    case PG_SHARED_STR: lua_pushlstring(L, v->u.s.p, v->u.s.len); break;
    }
    pg_shared_value_free(v);
}

static int lb_shared_get(lua_State *L) {
    const char *k = check_key(L, 1);
    pg_shared_value v;
    pg_err e;
    if (pg_shared_get(dict(L), k, &v, &e) < 0) return lb_fail(L, &e);
    push_value(L, &v);
    return 1;
}

typedef int (*store_fn)(pg_shared *, const char *, const pg_shared_value *, double, pg_err *);

static int store(lua_State *L, store_fn fn) {
    const char *k = check_key(L, 1);
    pg_shared_value v = check_value(L, 2);
    double ttl = opt_ttl(L, 3);
    pg_err e;
    if (fn(dict(L), k, &v, ttl, &e) < 0) return lb_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int lb_shared_set(lua_State *L) { return store(L, pg_shared_set); }
static int lb_shared_add(lua_State *L) { return store(L, pg_shared_add); }
static int lb_shared_replace(lua_State *L) { return store(L, pg_shared_replace); }

static int lb_shared_incr(lua_State *L) {
    const char *k = check_key(L, 1);
    pg_shared_value by = check_number(L, 2), init, out;
    int has_init = !lua_isnoneornil(L, 3);
    if (has_init) init = check_number(L, 3);
    pg_err e;
    if (pg_shared_incr(dict(L), k, &by, has_init ? &init : NULL, &out, &e) < 0) return lb_fail(L, &e);
    push_value(L, &out);
    return 1;
}

static int lb_shared_delete(lua_State *L) {
    const char *k = check_key(L, 1);
    pg_err e;
    if (pg_shared_delete(dict(L), k, &e) < 0) return lb_fail(L, &e);
    lua_pushboolean(L, 1);
    return 1;
}

static int lb_shared_keys(lua_State *L) {
    lua_Integer max = luaL_optinteger(L, 1, KEYS_DEFAULT_MAX);
    luaL_argcheck(L, max >= 0, 1, "max must be >= 0 (0 = all)");
    char **keys;
    size_t n;
    pg_err e;
    if (pg_shared_keys(dict(L), (size_t)max, &keys, &n, &e) < 0) return lb_fail(L, &e);
    lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);         /* [list] */
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    pg_shared_keys_free(keys, n);
    return 1;
}

static int lb_shared_flush_all(lua_State *L) {
    pg_shared_flush_all(dict(L));
    return 0;
}

static int lb_shared_count(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)pg_shared_count(dict(L)));
    return 1;
}

int luaopen_shared(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "get", lb_shared_get },       { "set", lb_shared_set },     { "add", lb_shared_add },
        { "replace", lb_shared_replace }, { "incr", lb_shared_incr }, { "delete", lb_shared_delete },
        { "keys", lb_shared_keys },     { "flush_all", lb_shared_flush_all },
        { "count", lb_shared_count },   { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
