-- GET /pod and POST /pod/confirm: observe the Deployment; prune bad pods.
local json = require "json"
local ops = require "ops"
local podview = require "podview"

return {
  {
    method = "GET", path = "/pod",
    summary = "CPU/memory % of requests, online and total pods, and per-pod state",
    handler = function() return podview.view() end,
  },
  {
    method = "POST", path = "/pod/confirm",
    summary = "Prune pods in unsatisfactory states (policies/pruning.lua), wait until converged, "
           .. "then return GET /pod with the pruned pods",
    handler = function()
      local pruned, target, spent = ops.prune()
      local body = podview.view()
      body.pruned = json.array(pruned)
      body.replicas = target
      body.time_spent_sec = spent
      return body
    end,
  },
}
