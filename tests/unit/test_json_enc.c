/* json.encode (bindings/json_enc.c) writes the same bytes as lua-cjson 2.1,
 * which it replaced on the response path: random nested values, every
 * byte in strings (and one special byte anywhere in long plain ones),
 * every kind of number, arrays with holes, mixed tables, and the same
 * errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "modules/lb.h"

static const char *CHECK =
    "local cjson, enc, seed = ...\n"
    "local rnd = seed\n"
    "local function r(n) rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd % n end\n"
    "local function str()\n"
    "  local t = {}\n"
    "  local special = r(3) == 0      -- else plain text, long enough for several 8-byte words\n"
    "  for i = 1, r(special and 12 or 40) do\n"
    "    t[i] = string.char((special and r(4) == 0) and r(256) or 32 + r(95))\n"
    "  end\n"
    "  if r(4) == 0 and #t > 0 then t[r(#t) + 1] = string.char(({0, 31, 34, 47, 92, 127, 128, 255})[r(8) + 1]) end\n"
    "  return table.concat(t)\n"
    "end\n"
    "local nums = {0, -0.0, 1, -1, 0.1, 1/3, 1e14, 1e14 - 1, -1e14 + 1, 2^53, 1e300, 5e-324, 1e-4,\n"
    "              9.99999e-5, 123456.789, math.maxinteger, math.mininteger, 99999999999999,\n"
    "              100000000000000, 1700000000.123}\n"
    "local function num()\n"
    "  local k = r(4)\n"
    "  if k == 0 then return nums[r(#nums) + 1] end\n"
    "  if k == 1 then return r(100000) - 50000 end\n"
    "  if k == 2 then return (r(2000000) - 1000000) / (r(999) + 1) end\n"
    "  return (r(1000000) / 7) * 10 ^ (r(30) - 15)\n"
    "end\n"
    "local gen\n"
    "local function tbl(d)\n"
    "  local t, kind = {}, r(5)\n"
    "  local n = r(8)\n"
    "  if kind == 0 then for i = 1, n do t[i] = gen(d + 1) end\n"
    "  elseif kind == 1 then for i = 1, n do t[str()] = gen(d + 1) end\n"
    "  elseif kind == 2 then for i = 1, n do t[r(14) + 1] = gen(d + 1) end\n"
    "  elseif kind == 3 then for i = 1, n do t[i] = gen(d + 1) end; t[str() .. 'k'] = gen(d + 1)\n"
    "  else for i = 1, n do t[num()] = gen(d + 1) end end\n"
    "  return t\n"
    "end\n"
    "function gen(d)\n"
    "  local k = r(d > 3 and 5 or 7)\n"
    "  if k == 0 then return str() elseif k == 1 then return num() elseif k == 2 then return r(2) == 0\n"
    "  elseif k == 3 then return cjson.null elseif k == 4 then return str() else return tbl(d) end\n"
    "end\n"
    "local same, errors = 0, 0\n"
    "for i = 1, 20000 do\n"
    "  local v = gen(0)\n"
    "  local ok1, a = pcall(cjson.encode, v)\n"
    "  local ok2, b = pcall(enc, v)\n"
    "  if ok1 ~= ok2 then return 'case ' .. i .. ': cjson ' .. tostring(a) .. ' / ours ' .. tostring(b) end\n"
    "  if ok1 and a ~= b then return 'case ' .. i .. ':\\n  cjson ' .. a .. '\\n  ours  ' .. b end\n"
    "  if not ok1 then\n"
    "    a, b = a:gsub('^[^:]*:%d+: ', ''), b:gsub('^[^:]*:%d+: ', '')\n"
    "    if a ~= b then return 'case ' .. i .. ': errors ' .. a .. ' / ' .. b end\n"
    "    errors = errors + 1\n"
    "  else same = same + 1 end\n"
    "end\n"
    "for _, v in ipairs{function() end, 0/0, math.huge, {[true] = 1}, {[1] = 1, [30] = 2}, {[1e20] = 1},\n"
    "                   {a = print}, io.stdout} do\n"
    "  local ok1, a = pcall(cjson.encode, v)\n"
    "  local ok2, b = pcall(enc, v)\n"
    "  if ok1 ~= ok2 or (ok1 and a ~= b) or (not ok1 and a:gsub('^[^:]*:%d+: ', '') ~= b:gsub('^[^:]*:%d+: ', '')) then\n"
    "    return 'special ' .. tostring(a) .. ' / ' .. tostring(b)\n"
    "  end\n"
    "end\n"
    "local deep, cur = {}, nil\n"
    "cur = deep\n"
    "for i = 1, 1100 do cur[1] = {}; cur = cur[1] end\n"
    "local ok, e = pcall(enc, deep)\n"
    "if ok or not e:find('excessive nesting (1001)', 1, true) then return 'depth: ' .. tostring(e) end\n"
    "if enc({'\\0podgym:empty-array\\0'}) ~= '[[]]' then return 'json.array marker' end\n"
    "return string.format('ok %d same %d errors', same, errors)\n";

static void same_as_cjson(void **state) {
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    assert_int_equal(luaL_loadstring(L, CHECK), LUA_OK);
    luaopen_cjson(L);                               /* [f, cjson] */
    lua_pushcfunction(L, lb_json_encode);
    for (int seed = 1; seed <= 3; seed++) {
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_pushinteger(L, seed * 7919);
        assert_int_equal(lua_pcall(L, 3, 1, 0), LUA_OK);
        const char *res = lua_tostring(L, -1);
        print_message("seed %d: %s\n", seed, res);
        assert_non_null(res);
        assert_true(!strncmp(res, "ok ", 3));
        lua_pop(L, 1);
    }
    lua_close(L);
}

int main(void) {
    const struct CMUnitTest tests[] = { cmocka_unit_test(same_as_cjson) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
