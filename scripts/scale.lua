-- Scaling routes: one step in or out, or an exact count, within the bounds
-- of policies/scaling.lua, each answering once the target count of pods is
-- Ready and reports metrics (or only Ready: scaling.lua's wait_for).
-- Concurrent requests are serialized.
local ops = require "ops"

local function count(req)
  local raw = req.params.n
  if not raw:match("^[+-]?%d+$") then
    error({ status = 400, code = "bad_pod_count",
            message = "pod count must be an integer, got '" .. raw .. "'" }, 0)
  end
  local n = math.tointeger(tonumber(raw))
  if not n then                         -- more digits than an integer holds: out of any bound
    local min, max = ops.bounds()
    error({ status = 422, code = "out_of_bounds",
            message = "pod count " .. raw .. " is outside [" .. min .. ", " .. max .. "]",
            min = min, max = max }, 0)
  end
  return n
end

return {
  {
    method = "POST", path = "/pod/scale/out",
    summary = "Add one pod (policy step) within the bounds and wait until it is Ready and reports metrics",
    handler = function() return ops.scale_by(1) end,
  },
  {
    method = "POST", path = "/pod/scale/in",
    summary = "Remove one pod (policy step) within the bounds and wait until the count is Ready and reports metrics",
    handler = function() return ops.scale_by(-1) end,
  },
  {
    method = "POST", path = "/pod/set-pod-count/{n}",
    summary = "Scale to exactly n pods and wait as scale/out does; n outside the bounds is a 422",
    params = { n = { description = "the pod count", schema = { type = "integer" } } },
    handler = function(req) return ops.scale_to(count(req)) end,
  },
}
