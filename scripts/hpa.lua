-- GET /hpa/recommend: what the Kubernetes HPA would do now (a baseline).
local engine = require "engine"
local hpa = require "hpa"
local ops = require "ops"
local podview = require "podview"

return {
  method = "GET", path = "/hpa/recommend",
  summary = "The HPA formula ceil(current x utilisation / target), tolerance 0.1, within the bounds",
  query = { target = { description = "target CPU % (default hpa.target_cpu_percent)" } },
  handler = function(req)
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
    local desired, info = hpa.recommend(current, sys.cpu_percent, target, min, max)
    local action = desired > current and "out" or desired < current and "in" or "stay"
    return {
      current_replicas = current, desired_replicas = desired, action = action,
      cpu_percent = sys.cpu_percent, target_cpu_percent = target, tolerance = hpa.tolerance,
      ratio = info.ratio, unbounded_replicas = info.unbounded, within_tolerance = info.within_tolerance,
      min = min, max = max,
    }
  end,
}
