/* lb_util.c: helpers shared by every binding file (lb.h). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "modules/lb.h"
#include "runtime/runtime.h"
#include "base/names.h"
#include "runtime/runtime_priv.h"

pg_engine *lb_engine(lua_State *L) {
    rt_state *s = *(rt_state **)lua_getextraspace(L);
    return s ? s->eng : NULL;
}

void lb_push_err(lua_State *L, const pg_err *e) {
    lua_createtable(L, 0, 3);                       /* [err] */
    lua_pushstring(L, e->code[0] ? e->code : "error");
    lua_setfield(L, -2, "code");
    lua_pushstring(L, e->message);
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, e->status ? e->status : 500);
    lua_setfield(L, -2, "status");
}

int lb_fail(lua_State *L, const pg_err *e) {
    lua_pushnil(L);
    lb_push_err(L, e);                              /* [nil, err] */
    return 2;
}

/* The interned key strings of a field list, built once per state and kept
 * in the registry under the list's address: setting a field is then a
 * rawgeti of the key and a rawset, with no C-string lookup. */
static void push_keys(lua_State *L, const lb_field *fields) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, fields) == LUA_TTABLE) return;    /* [keys] */
    lua_pop(L, 1);
    int n = 0;
    for (const lb_field *f = fields; f->name; f++) n++;
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, fields[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, fields);                              /* [keys] */
}

void lb_set_fields(lua_State *L, int idx, const void *obj, const lb_field *fields) {
    idx = lua_absindex(L, idx);
    push_keys(L, fields);                                                   /* [keys] */
    const char *base = obj;
    int i = 0;
    for (const lb_field *f = fields; f->name; f++) {
        const void *p = base + f->off;
        ++i;
        if (f->type == LB_NUMOPT && isnan(*(const double *)p)) continue;    /* no value: no key */
        lua_rawgeti(L, -1, i);                                              /* [keys, k] */
        switch (f->type) {
        case LB_INT: lua_pushinteger(L, *(const int *)p); break;
        case LB_I64: lua_pushinteger(L, (lua_Integer) * (const int64_t *)p); break;
        case LB_SIZE: lua_pushinteger(L, (lua_Integer) * (const size_t *)p); break;
        case LB_LONG: lua_pushinteger(L, (lua_Integer) * (const long *)p); break;
        case LB_NUM: lua_pushnumber(L, *(const double *)p); break;
        case LB_NUMOPT: lua_pushnumber(L, *(const double *)p); break;
        case LB_BOOL: lua_pushboolean(L, *(const int *)p); break;
        case LB_STR: lua_pushstring(L, (const char *)p); break;
        case LB_STRP:
            if (*(const char *const *)p) lua_pushstring(L, *(const char *const *)p);
            else lua_pushnil(L);
            break;
        }
        lua_rawset(L, idx);                                                 /* [keys] */
    }
    lua_pop(L, 1);
}

/* The table is sized for the fields plus a few that callers often add, so
 * filling it never rehashes. */
void lb_push_fields(lua_State *L, const void *obj, const lb_field *fields) {
    int n = 4;
    for (const lb_field *f = fields; f->name; f++) n++;
    lua_createtable(L, 0, n);                       /* [t] */
    lb_set_fields(L, -1, obj, fields);
}

/* The options table at idx, checked once: every key must be one of
 * names[] (at most 64), else misuse (raised, naming the closest one). Bit i
 * of the result is set when names[i] is present, so that absent options
 * cost nothing to read. */
uint64_t lb_options(lua_State *L, int idx, const char *const *names, size_t n, const char *fn) {
    idx = lua_absindex(L, idx);
    uint64_t m = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {                              /* [k, v] */
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: option names are strings", fn);
        const char *k = lua_tostring(L, -1);
        size_t i = 0;
        while (i < n && strcmp(names[i], k)) i++;
        if (i == n) {
            const char *near = names_closest(k, names, n);
            luaL_error(L, "%s: unknown option '%s'%s%s%s", fn, k, near ? " (did you mean '" : "", near ? near : "",
                       near ? "'?)" : "");
        }
        m |= (uint64_t)1 << i;
    }
    return m;
}

/* Push options[k] when present: 1 with the value on top, 0 (nothing pushed)
 * when the options table itself or the field is absent. */
static int optfield(lua_State *L, int idx, const char *k) {
    if (lua_isnoneornil(L, idx)) return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, k) != LUA_TNIL) return 1;      /* [v] */
    lua_pop(L, 1);
    return 0;
}

double lb_optnumfield(lua_State *L, int idx, const char *k, double def) {
    if (!optfield(L, lua_absindex(L, idx), k)) return def;
    int ok;
    double v = lua_tonumberx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok) luaL_error(L, "option '%s' must be a number", k);
    return v;
}

lua_Integer lb_optintfield(lua_State *L, int idx, const char *k, lua_Integer def) {
    if (!optfield(L, lua_absindex(L, idx), k)) return def;
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok) luaL_error(L, "option '%s' must be an integer", k);
    return v;
}

/* The returned string stays valid while the options table is alive. */
const char *lb_optstrfield(lua_State *L, int idx, const char *k, const char *def) {
    if (!optfield(L, lua_absindex(L, idx), k)) return def;
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
    const char *v = lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
}

int lb_optboolfield(lua_State *L, int idx, const char *k, int def) {
    if (!optfield(L, lua_absindex(L, idx), k)) return def;
    if (lua_type(L, -1) != LUA_TBOOLEAN) luaL_error(L, "option '%s' must be a boolean", k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

int lb_progress_enabled(lua_State *L) {
    pg_engine *eng = lb_engine(L);
    void *ud;
    return (eng && eng->interactive) || rt_progress_sink(L, &ud);
}

/* One progress line: to the state's sink (an attached session), else stderr. */
static void progress_out(lua_State *L, const char *line) {
    void *ud = NULL;
    rt_progress_fn sink = rt_progress_sink(L, &ud);
    if (sink) {
        sink(ud, line);
        return;
    }
    pg_engine *eng = lb_engine(L);
    if (!eng || !eng->interactive) return;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

void lb_progress(lua_State *L, const char *fmt, ...) {
    if (!lb_progress_enabled(L)) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    progress_out(L, line);
}

void lb_progress_done(lua_State *L) { progress_out(L, ""); }
