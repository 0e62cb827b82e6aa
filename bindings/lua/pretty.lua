-- pretty.lua: the repl's printer. Tables are shown as Lua constructors,
-- keys sorted, cycles marked, long tables cut.
local MAX_ITEMS, MAX_DEPTH = 200, 8

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function pretty(v, indent, seen, depth)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if depth >= MAX_DEPTH then return "{...}" end
  seen[v] = true
  local n = #v
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  if n == 0 and #keys == 0 then seen[v] = nil; return "{}" end
  local pad = indent .. "  "
  local out, count = {}, 0
  for i = 1, n do
    count = count + 1
    if count > MAX_ITEMS then out[#out + 1] = pad .. "..."; break end
    out[#out + 1] = pad .. pretty(v[i], pad, seen, depth + 1)
  end
  for _, k in ipairs(keys) do
    count = count + 1
    if count > MAX_ITEMS then out[#out + 1] = pad .. "..."; break end
    local ks = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k
               or "[" .. pretty(k, pad, seen, depth + 1) .. "]"
    out[#out + 1] = pad .. ks .. " = " .. pretty(v[k], pad, seen, depth + 1)
  end
  seen[v] = nil
  return "{\n" .. table.concat(out, ",\n") .. "\n" .. indent .. "}"
end

return function(...)
  local parts = {}
  for i = 1, select("#", ...) do
    local v = (select(i, ...))
    -- a string on its own prints raw, as lua.c does; inside tables it is quoted
    parts[i] = type(v) == "string" and v or pretty(v, "", {}, 0)
  end
  return table.concat(parts, "\t")
end
