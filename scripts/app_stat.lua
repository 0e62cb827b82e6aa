-- GET /app/stat: pod state, then the reward load test, its KPIs and the reward.
local ops = require "ops"
local podview = require "podview"

return {
  method = "GET", path = "/app/stat",
  summary = "GET /pod, then run the configured load test: latency/drop KPIs and the reward",
  handler = function()
    local containers = podview.view()
    local summary = ops.loadtest()
    local kpis, reward = ops.reward(summary, containers.system)   -- on the pods this answer counts
    return { containers = containers, requests_stat = kpis, reward = reward }
  end,
}
