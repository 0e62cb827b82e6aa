-- scaling.lua: the bounds and step of every scaling route, and what a
-- scale waits for.
--
-- wait_for = "metrics": scale/in, scale/out, set-pod-count and confirm
-- answer once the target number of pods is Ready and reports metrics (the
-- metrics API lists them), as the thesis's service waited: its
-- check_container_status polled metrics.k8s.io until the item count equalled
-- the target. The next GET /app/stat then counts the new pod in online_pods,
-- the pod count the agent reads. "ready": answer as soon as the pods are
-- Ready; a new pod reports metrics only a metrics window later, so the next
-- observation may count one pod less than there are.
---@type podgym.scaling_policy
local M = {
  min = 1,               -- never fewer pods
  max = 5,               -- never more pods
  step = 1,              -- pods added or removed by /pod/scale/in and /pod/scale/out
  timeout_s = 90,        -- how long a scaling route waits (then 504 with the state)
  wait_for = "metrics",  -- "metrics" (Ready and reporting metrics) or "ready"
}

return M
