/* json.encode (bindings/modules/lb_json.c) writes the same bytes as
 * lua-cjson 2.1 wherever lua-cjson writes valid JSON: random nested values,
 * every ASCII byte and well-formed UTF-8 in strings (and one special byte
 * anywhere in long plain ones), every kind of number, arrays with holes,
 * mixed tables, and the same errors. Beyond it: bytes that are not UTF-8
 * come out as \ufffd, json.array_mt and json.empty_array are arrays, and
 * no string is ever anything but a string. */
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
    "local wide = {utf8.char(0x80), utf8.char(0xe9), utf8.char(0x7ff), utf8.char(0x800), utf8.char(0x20ac),\n"
    "              utf8.char(0xd7ff), utf8.char(0xe000), utf8.char(0xfffd), utf8.char(0xffff),\n"
    "              utf8.char(0x10000), utf8.char(0x1f600), utf8.char(0x10ffff)}\n"
    "local function char()            -- any ASCII byte, or a well-formed UTF-8 sequence\n"
    "  if r(3) > 0 then return string.char(r(128)) end\n"
    "  return wide[r(#wide) + 1]\n"
    "end\n"
    "local function str()\n"
    "  local t = {}\n"
    "  local special = r(3) == 0      -- else plain text, long enough for several 8-byte words\n"
    "  for i = 1, r(special and 12 or 40) do\n"
    "    t[i] = (special and r(4) == 0) and char() or string.char(32 + r(95))\n"
    "  end\n"
    "  if r(4) == 0 and #t > 0 then t[r(#t) + 1] = ({'\\0', '\\31', '\\34', '\\47', '\\92', '\\127', wide[1], wide[12]})[r(8) + 1] end\n"
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
    "return string.format('ok %d same %d errors', same, errors)\n";

/* Beyond lua-cjson: array marks, UTF-8, no string taken for anything else. */
static const char *BEYOND =
    "local json = ...\n"
    "local enc, dec = json.encode, json.decode\n"
    "local function eq(got, want, what)\n"
    "  if got ~= want then error(what .. ': got ' .. tostring(got) .. ', want ' .. want, 0) end\n"
    "end\n"
    "eq(enc(json.array()), '[]', 'json.array() is []')\n"
    "local t = {}\n"
    "eq(json.array(t), t, 'json.array(t) returns t')\n"
    "eq(getmetatable(t), json.array_mt, '...with json.array_mt')\n"
    "eq(enc({a = t}), '{\"a\":[]}', 'json.array(t) of an empty t is []')\n"
    "eq(enc({t}), '[[]]', 'an empty marked table is []')\n"
    "eq(enc({json.empty_array, {}}), '[[],{}]', 'json.empty_array is [], a plain {} stays {}')\n"
    "eq(enc(setmetatable({1, 2, x = 3}, json.array_mt)), '[1,2]', 'a marked table: its #t elements only')\n"
    "eq(enc(setmetatable({}, {})), '{}', 'another metatable changes nothing')\n"
    "eq(select(2, pcall(json.array, setmetatable({}, {}))):match('another metatable') ~= nil, true,\n"
    "   'json.array refuses a table with another metatable')\n"
    "local s = '\\0podgym:empty-array\\0'\n"
    "eq(enc({s}), '[\"\\\\u0000podgym:empty-array\\\\u0000\"]', 'the old marker bytes are a string')\n"
    "eq(dec(enc({s}))[1], s, '...and come back as that string')\n"
    "eq(enc('caf\\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80'), '\"caf\\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80\"', 'UTF-8 as it is')\n"
    "local bad = {\n"
    "  {'\\xff', 1}, {'\\x80', 1}, {'\\xc0\\xaf', 2}, {'\\xc1\\xbf', 2}, {'\\xc3', 1}, {'\\xe2\\x82', 1},\n"
    "  {'\\xe0\\x80\\x80', 3}, {'\\xed\\xa0\\x80', 3}, {'\\xf0\\x8f\\xbf\\xbf', 4}, {'\\xf4\\x90\\x80\\x80', 4},\n"
    "  {'\\xf5\\x80', 2}, {'\\xf0\\x9f\\x98', 1}, {'\\xf1\\x80\\x80\\xe1\\x80\\xc2', 3},\n"
    "}\n"
    "for _, b in ipairs(bad) do\n"
    "  local want = '\"a' .. string.rep('\\\\ufffd', b[2]) .. 'b\"'\n"
    "  eq(enc('a' .. b[1] .. 'b'), want, 'ill-formed ' .. b[1]:gsub('.', function(c) return ('%02x'):format(c:byte()) end))\n"
    "end\n"
    "eq(enc({['\\xff'] = 1}), '{\"\\\\ufffd\":1}', 'keys too')\n"
    "local rnd = 12345\n"
    "for i = 1, 3000 do\n"
    "  local b = {}\n"
    "  for j = 1, i % 40 do rnd = (rnd * 1103515245 + 12345) % 2147483648; b[j] = string.char(rnd // 65536 % 256) end\n"
    "  local out = enc(table.concat(b))\n"
    "  if not utf8.len(out) then error('not UTF-8: ' .. out, 0) end\n"
    "  if type(dec(out)) ~= 'string' then error('not a JSON string: ' .. out, 0) end\n"
    "end\n"
    "eq(select(2, pcall(enc, {0/0})):match('NaN or Inf') ~= nil, true, 'NaN is an error')\n"
    "eq(select(2, pcall(enc, {-math.huge})):match('NaN or Inf') ~= nil, true, '-Inf is an error')\n"
    "eq(select(2, pcall(enc, {io.stdout})):match('not supported') ~= nil, true, 'a full userdata is an error')\n"
    "return 'ok'\n";

static void beyond_cjson(void **state) {
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    assert_int_equal(luaL_loadstring(L, BEYOND), LUA_OK);
    luaopen_json(L);                                /* [f, json] */
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) print_message("%s\n", lua_tostring(L, -1));
    assert_string_equal(lua_tostring(L, -1), "ok");
    lua_close(L);
}

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
    const struct CMUnitTest tests[] = { cmocka_unit_test(same_as_cjson), cmocka_unit_test(beyond_cjson) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
