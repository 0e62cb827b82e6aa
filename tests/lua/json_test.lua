-- json: one encoder, one strict decoder, arrays marked by json.array_mt.
local failures, count = 0, 0
local function check(cond, what)
  count = count + 1
  if cond then print("ok   - " .. what) else failures = failures + 1; print("FAIL - " .. what) end
end

-- Strict: each of these is an error, and through req:json() a 400 bad_json.
local REQ = debug.getregistry()["podgym.req"]
local bad = {
  '{"pods":0x3}', '{"pods":03}', '{"pods":-03}', 'NaN', 'Infinity', '-Infinity', '{"pods":NaN}',
  '{"pods":1e400}', '{"pods":-1e400}', '{"pods":1.}', '{"pods":-.5}', '{"pods":+1}', '{"pods":2}\0',
  '{"pods":2} \0 ', '{"a":"x\0y"}', '[1,2]\0[3]', '{"pods":2} x', '[1,]', '',
}
for _, text in ipairs(bad) do
  local shown = ("%q"):format(text):gsub("\\\n", "\\n")
  check(not pcall(json.decode, text), "decode refuses " .. shown)
  local ok, err = pcall(REQ.json, setmetatable({ body = text ~= "" and text or " " }, REQ))
  check(not ok and type(err) == "table" and err.status == 400 and err.code == "bad_json",
        "req:json() of " .. shown .. " is 400 bad_json")
end
check(select(2, pcall(json.decode, '{"pods":2}\0')):find("NUL byte at character 11", 1, true),
      "the NUL is named with its position")
check(select(2, pcall(json.decode, '{"a":[],"b":x}')):find("at character 13", 1, true),
      "an error after an empty array keeps its position in the text")

local good = {
  { '{"pods":3}', 3 }, { '{"pods":-0}', 0 }, { '{"pods":0.5e1}', 5 }, { '{"pods":1E2}', 100 },
  { ' {"pods":2} \n\t', 2 }, { '{"pods":1e-400}', 0 },
}
for _, g in ipairs(good) do
  local ok, v = pcall(json.decode, g[1])
  check(ok and v.pods == g[2], "decode reads " .. ("%q"):format(g[1]):gsub("\\\n", "\\n"))
end

-- Arrays: decoded ones carry json.array_mt, so [] comes back as [].
local docs = {
  '[]', '{"a":[],"b":{},"c":[[],[1,[]]]}', '[[],"\\u0000",["\\u0000"],["\\u0000\\u0000"],[]]',
  '{"s":"[]","t":"\\"[ ]","u":[ \n ]}', '[null,[],null]', '{"k":["\\u0000\\u0000\\u0000",[]]}',
}
local canon = {
  '[]', function(x) return json.encode(x.a) == "[]" and json.encode(x.b) == "{}" and json.encode(x.c) == "[[],[1,[]]]" end,
  '[[],"\\u0000",["\\u0000"],["\\u0000\\u0000"],[]]',
  function(x) return x.s == "[]" and x.t == '"[ ]' and json.encode(x.u) == "[]" end,
  '[null,[],null]', '{"k":["\\u0000\\u0000\\u0000",[]]}',
}
for i, d in ipairs(docs) do
  local v = json.decode(d)
  local again, shown = json.encode(v), d:gsub("\n", "\\n")
  if type(canon[i]) == "string" then
    check(again == canon[i], "decode -> encode keeps " .. shown .. " (" .. again .. ")")
  else
    check(canon[i](v), "decode -> encode keeps the arrays and objects of " .. shown .. " (" .. again .. ")")
  end
end
local v = json.decode('{"a":[],"b":{},"c":[1,2]}')
check(getmetatable(v.a) == json.array_mt and getmetatable(v.c) == json.array_mt, "decoded arrays carry json.array_mt")
check(getmetatable(v) == nil and getmetatable(v.b) == nil, "decoded objects carry no metatable")
check(json.encode(v.a) == "[]" and json.encode(v.b) == "{}", "[] stays [], {} stays {}")
local one = json.decode('["\\u0000"]')
check(#one == 1 and one[1] == "\0", "an array of one NUL string is that, never an empty array")
v.c[1], v.c[2] = nil, nil
check(json.encode(v.c) == "[]", "a decoded array emptied by the script is still []")

-- The marks.
check(json.encode(json.array()) == "[]" and json.encode({ json.empty_array }) == "[[]]", "json.array() and json.empty_array are []")
local t = { 1, 2 }
check(json.array(t) == t and getmetatable(t) == json.array_mt, "json.array(t) sets json.array_mt on t and returns it")
check(json.encode({}) == "{}", "a plain empty table is {}")
local s = "\0podgym:empty-array\0"
check(json.encode(s) == '"\\u0000podgym:empty-array\\u0000"' and json.decode(json.encode({ s }))[1] == s,
      "a string with the bytes of the old empty-array marker round-trips as a string")

-- Output is valid UTF-8.
check(json.encode("a\xffb\xe2\x82") == '"a\\ufffdb\\ufffd"', "ill-formed UTF-8 is \\ufffd")
check(json.encode("\xc3\xa9\xf0\x9f\x98\x80") == '"\xc3\xa9\xf0\x9f\x98\x80"', "well-formed UTF-8 is kept")
check(not pcall(json.encode, { 0 / 0 }) and not pcall(json.encode, math.huge), "NaN and Inf are encode errors")

-- One encoder: lua-cjson's configuration (and its second encoder, json.new) is not part of json.
local keys = {}
for k in pairs(json) do keys[#keys + 1] = k end
table.sort(keys)
check(table.concat(keys, ",") == "array,array_mt,decode,empty_array,encode,null", "json has " .. table.concat(keys, ","))

print(string.format("%d passed, %d failed", count - failures, failures))
return failures == 0 and 0 or 1
