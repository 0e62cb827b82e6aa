-- hpa.lua: the Kubernetes Horizontal Pod Autoscaler's formula, as a
-- calibrated baseline for the agent:
--   desired = ceil(current_replicas x current_utilisation / target)
-- with no change while |current / target - 1| <= tolerance.
local M = {
  tolerance = 0.1,
  target_cpu_percent = nil,   -- nil: hpa.target_cpu_percent from podgym.yaml
}

function M.recommend(current, utilisation, target, min, max)
  local ratio = utilisation / target
  local desired = current
  if math.abs(ratio - 1) > M.tolerance then
    desired = math.ceil(current * ratio)
  end
  local bounded = math.max(min, math.min(max, desired))
  return bounded, { ratio = ratio, unbounded = desired, within_tolerance = math.abs(ratio - 1) <= M.tolerance }
end

return M
