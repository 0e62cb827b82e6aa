-- strict.lua: the globals of a route/policy state become read-only. Run
-- last, once every module global is set. The globals move to a hidden
-- table; _G (every chunk's _ENV) stays empty, with a protected metatable
-- that reads from it and refuses every assignment, so a request cannot
-- change what the next one on this state sees. Reading an unknown global
-- is an error. rawset and setmetatable on _G are refused (the metatable is
-- protected too), and rawget and pairs on _G read the hidden table.
local G = _G
local error, tostring, rawequal, rawget, rawset, next, setmetatable =
  error, tostring, rawequal, rawget, rawset, next, setmetatable
local globals = {}
for k, v in next, G do globals[k] = v end
for k in next, globals do rawset(G, k, nil) end

setmetatable(globals, {
  __index = function(_, k)
    error("unknown global '" .. tostring(k) .. "'", 2)
  end,
})

function globals.rawset(t, k, v)
  if rawequal(t, G) then error("the globals table is read-only (rawset on _G)", 2) end
  return rawset(t, k, v)
end

function globals.setmetatable(t, mt)
  if rawequal(t, G) then error("the globals table is read-only (setmetatable on _G)", 2) end
  return setmetatable(t, mt)
end

function globals.rawget(t, k)
  if rawequal(t, G) then return rawget(globals, k) end
  return rawget(t, k)
end

setmetatable(G, {
  __index = globals,            -- a table, not a function: no call per global read
  __newindex = function(_, k)
    if rawget(globals, k) ~= nil then
      error("global '" .. tostring(k) .. "' is read-only (use a local)", 2)
    end
    error("assignment to undeclared global '" .. tostring(k) .. "' (use local)", 2)
  end,
  __pairs = function() return next, globals, nil end,
  __metatable = false,
})
