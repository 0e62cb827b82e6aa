-- prelude.lua: runs first in every Lua state, before any script.
-- Arguments: true for route/policy states (sandboxed), false for repl/run;
-- the C function that builds req.headers and req.query on first use.
-- Returns the metatable of request objects.
local sandboxed, req_fields = ...
local json = require "json"

local REQ = {}
local LAZY = { headers = true, query = true }
REQ.__index = function(t, k)
  local m = REQ[k]
  if m ~= nil then return m end
  if LAZY[k] then
    local v = req_fields(t, k)
    rawset(t, k, v)
    return v
  end
end

local function bad_json(message)
  error({ status = 400, code = "bad_json", message = message }, 0)
end

--- req:json(): the body decoded as JSON (json.decode: strict); a missing or
--- malformed body is a 400 bad_json.
function REQ:json()
  local cached = rawget(self, "_json")
  if cached ~= nil then return cached end
  local body = self.body
  if body == nil or body == "" then bad_json("request body is empty; JSON expected") end
  local ok, v = pcall(json.decode, body)
  if not ok then bad_json("request body is not valid JSON: " .. tostring(v)) end
  rawset(self, "_json", v)
  return v
end

if sandboxed then
  -- The libraries were opened by runtime.c (only the allowed ones); the base
  -- library's load, setmetatable and collectgarbage are narrowed here.

  -- No finalizers: the collector runs them with hooks off, so the CPU
  -- deadline could not stop one that never returns. (Lua marks an object
  -- for finalization only when its metatable has __gc as it is set.)
  local rawsetmetatable, rawget, type, error, select = setmetatable, rawget, type, error, select
  setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("__gc finalizers are not available to scripts", 2)
    end
    return rawsetmetatable(t, mt)
  end

  local rawload = load
  -- text chunks only: no binary chunks in scripts
  load = function(chunk, name, mode, ...)
    if select("#", ...) > 0 then return rawload(chunk, name, "t", ...) end
    return rawload(chunk, name, "t")
  end

  -- Reading the heap and small steps only: a full collection, stopping the
  -- collector or changing its mode would stall or outlast the request.
  local rawcollect = collectgarbage
  local STEP_MAX_KB = 1024
  collectgarbage = function(opt, arg)
    if opt == "count" or opt == "isrunning" then return rawcollect(opt) end
    if opt == "step" and (arg == nil or (type(arg) == "number" and arg <= STEP_MAX_KB)) then
      return rawcollect("step", arg or 0)
    end
    error(string.format("collectgarbage(%q) is not available to scripts (count, isrunning, step up to %d KB are)",
      tostring(opt or "collect"), STEP_MAX_KB), 2)
  end
end

return REQ
