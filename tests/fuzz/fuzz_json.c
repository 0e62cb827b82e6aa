/* fuzz_json.c: the JSON path every route body takes: json.decode (strict
 * lua-cjson) and json.encode (podgym's encoder). For any input:
 *   - decode either gives a value or raises an error string (never a crash);
 *   - what encode writes from a decoded value, and from the raw input as a
 *     Lua string (bytes from a path or a body), is valid UTF-8 and decodes
 *     again: JSON podgym writes is always JSON. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/utf8.h"
#include "modules/lb.h"
#include "fuzz.h"

static lua_State *L;

static void utf8_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int k = pg_utf8_next(s + i, n - i);
        FUZZ_CHECK(k > 0);
        i += (size_t)k;
    }
}

/* encode the value on top (popped) and check the text; 0 when the encoder
 * refused the value (a number JSON cannot carry, a cycle: raised, fine). */
static int encode_check(void) {
    lua_getfield(L, 1, "encode");
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING);
        lua_pop(L, 1);
        return 0;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    FUZZ_CHECK(s != NULL);
    utf8_ok(s, n);
    lua_getfield(L, 1, "decode");
    lua_insert(L, -2);
    FUZZ_CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    lua_pop(L, 1);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_requiref(L, "json", luaopen_json, 1);  /* stack: [json] at 1 */
    }
    lua_settop(L, 1);
    lua_getfield(L, 1, "decode");
    lua_pushlstring(L, (const char *)data, n);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        encode_check();
    } else {
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING);
        lua_pop(L, 1);
    }
    lua_pushlstring(L, (const char *)data, n);      /* the raw bytes as a string value */
    FUZZ_CHECK(encode_check());
    lua_createtable(L, 0, 1);                       /* ... and as a key */
    lua_pushlstring(L, (const char *)data, n);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    FUZZ_CHECK(encode_check());
    lua_settop(L, 1);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
