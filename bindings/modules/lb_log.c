/* lb_log.c: the Lua `log` module, one line per call through pg_log:
 *
 *   log.debug(msg)  log.info(fmt, ...)  log.warn(...)  log.error(...)
 *
 * With more than one argument the first is a string.format format;
 * a lone argument is passed through tostring. The line starts with the
 * caller's "chunk:line:", and control characters are escaped (\n, \xNN) so
 * a value from a request can never forge a second log line. */
#include <stdio.h>

#include <lualib.h>

#include "modules/lb.h"
#include "base/log.h"

/* Append s to b with control bytes escaped. */
static void add_escaped(luaL_Buffer *b, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') luaL_addstring(b, "\\n");
        else if (ch == '\r') luaL_addstring(b, "\\r");
        else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            char esc[5];
            snprintf(esc, sizeof esc, "\\x%02x", ch);
            luaL_addstring(b, esc);
        } else luaL_addchar(b, (char)ch);
    }
}

static int log_at(lua_State *L, int level) {
    int n = lua_gettop(L);
    luaL_checkany(L, 1);
    if (n > 1) {                                    /* [fmt, ...] */
        luaL_checkstring(L, 1);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);                           /* [format, fmt, ...] */
        lua_call(L, n, 1);                          /* [msg] */
    } else {
        luaL_tolstring(L, 1, NULL);                 /* [v, msg] */
    }
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_where(L, 1);                               /* "chunk:line: " of the caller */
    luaL_addvalue(&b);
    add_escaped(&b, msg, len);
    luaL_pushresult(&b);                            /* [..., msg, line] */
    pg_log(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int lb_log_debug(lua_State *L) { return log_at(L, PG_LOG_DEBUG); }
static int lb_log_info(lua_State *L) { return log_at(L, PG_LOG_INFO); }
static int lb_log_warn(lua_State *L) { return log_at(L, PG_LOG_WARN); }
static int lb_log_error(lua_State *L) { return log_at(L, PG_LOG_ERROR); }

int luaopen_log(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "debug", lb_log_debug }, { "info", lb_log_info },
        { "warn", lb_log_warn },   { "error", lb_log_error }, { NULL, NULL },
    };
    luaL_newlibtable(L, fns);                       /* [log] */
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    lua_getfield(L, -1, "format");                  /* [log, string, format] */
    lua_remove(L, -2);                              /* [log, format]: kept even if a script replaces string */
    luaL_setfuncs(L, fns, 1);                       /* [log] */
    return 1;
}
