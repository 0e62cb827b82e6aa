-- GET /hpa/recommend: what the Kubernetes HPA would do now (a baseline).
local engine = require "engine"
local ops = require "ops"
local podview = require "podview"

--- policies/hpa.lua, checked: tolerance >= 0, recommend(), and
-- target_cpu_percent > 0 or nil (then the config's).
local function hpa_policy()
  local hpa = require "hpa"
  if type(hpa) ~= "table" or type(hpa.recommend) ~= "function" then
    ops.bad_policy("hpa.lua", "must return a table with recommend(current, utilisation, target, min, max)")
  end
  if type(hpa.tolerance) ~= "number" or not (hpa.tolerance >= 0) then
    ops.bad_policy("hpa.lua", "tolerance must be a number >= 0")
  end
  local t = hpa.target_cpu_percent
  if t ~= nil and (type(t) ~= "number" or not (t > 0)) then
    ops.bad_policy("hpa.lua", "target_cpu_percent must be a number > 0 (or nil: the config's)")
  end
  return hpa
end

return {
  method = "GET", path = "/hpa/recommend",
  summary = "The HPA formula ceil(current x utilisation / target), tolerance 0.1, within the bounds",
  query = { target = { description = "target CPU % (default hpa.target_cpu_percent)" } },
  handler = function(req)
    local hpa = hpa_policy()
    local target = hpa.target_cpu_percent or engine.config().hpa_target_cpu_percent
    if req.query.target then
      target = tonumber(req.query.target)
      if not target or target <= 0 or target ~= target or target == math.huge then
        error({ status = 400, code = "bad_target", message = "target must be a number > 0" }, 0)
      end
    end
    local sys = podview.system()
    local current = sys.desired_pods
    if type(sys.cpu_percent) ~= "number" then
      error({ status = 503, code = "no_metrics", message = "no pod reports metrics yet" }, 0)
    end
    local min, max = ops.bounds()
    local ok, desired, info = pcall(hpa.recommend, current, sys.cpu_percent, target, min, max)
    if not ok then ops.policy_failed("hpa.lua", "recommend()", desired) end
    if math.type(desired) ~= "integer" or type(info) ~= "table" then
      ops.bad_policy("hpa.lua", "recommend() must return the pod count (an integer) and a table")
    end
    if type(info.ratio) == "number" and not (math.abs(info.ratio) < math.huge) then
      error({ status = 400, code = "bad_target",
              message = "target " .. tostring(target) .. " is too small: the ratio is not a finite number" }, 0)
    end
    local action = desired > current and "out" or desired < current and "in" or "stay"
    return {
      current_replicas = current, desired_replicas = desired, action = action,
      cpu_percent = sys.cpu_percent, target_cpu_percent = target, tolerance = hpa.tolerance,
      ratio = info.ratio, unbounded_replicas = info.unbounded, within_tolerance = info.within_tolerance,
      min = min, max = max,
    }
  end,
}
