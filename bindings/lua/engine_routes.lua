-- engine_routes.lua: the built-in routes every generation serves.
local engine = require "engine"
local json = require "json"

local function openapi()
  local paths = {}
  for _, r in ipairs(engine.routes()) do
    local item = paths[r.path] or {}
    paths[r.path] = item
    local op = {
      summary = r.summary,
      description = r.description,
      responses = r.responses or { ["200"] = { description = "OK" } },
    }
    local params = {}
    for name in r.path:gmatch("{([%w_]+)}") do
      local decl = r.params and r.params[name] or {}
      params[#params + 1] = {
        name = name, ["in"] = "path", required = true,
        description = decl.description, schema = decl.schema or { type = "string" },
      }
    end
    for name, decl in pairs(r.query or {}) do
      params[#params + 1] = {
        name = name, ["in"] = "query", required = decl.required or false,
        description = decl.description, schema = decl.schema or { type = "string" },
      }
    end
    table.sort(params, function(a, b) return a.name < b.name end)
    if #params > 0 then op.parameters = params end
    if r.body then
      op.requestBody = { content = { ["application/json"] = { schema = r.body } } }
    end
    item[r.method:lower()] = op
  end
  return {
    openapi = "3.0.3",
    info = { title = "podgym", version = engine.status().version,
             description = "Observe and scale the pods of one Deployment; reward KPIs from load tests." },
    paths = paths,
  }
end

return {
  {
    method = "GET", path = "/_engine/status",
    summary = "Engine version, backend, script generation, routes and last reload error",
    handler = function() return engine.status() end,
  },
  {
    method = "POST", path = "/_engine/reload",
    summary = "Reload scripts and policies now (422 and the old version keeps serving on error)",
    handler = function()
      local gen, err = engine.reload()
      if not gen then
        return 422, { error = { code = "reload_failed", message = err.message },
                      generation = engine.status().generation }
      end
      return { reloaded = true, generation = gen }
    end,
  },
  {
    method = "GET", path = "/_engine/metrics",
    summary = "Prometheus text: requests by route and status, latency histogram, Lua errors, reloads",
    handler = function()
      return 200, engine.metrics(), { ["Content-Type"] = "text/plain; version=0.0.4" }
    end,
  },
  {
    method = "GET", path = "/openapi.json",
    summary = "OpenAPI 3 document generated from the route scripts' declarations",
    handler = function() return 200, json.encode(openapi()), { ["Content-Type"] = "application/json" } end,
  },
}
