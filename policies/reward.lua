-- reward.lua: the KPIs of a load test and the reward of an RL step.
--
-- Default: the thesis agent's formula, weights 0.33 each:
--   reward = -(0.33 log2(1 + avg_latency_ms / 1000)
--            + 0.33 log2(1 + drop_percent)
--            + 0.33 log2(pods))
-- pods is the count pods(system) takes from the GET /pod system block the
-- step answers with (GET /app/stat's containers.system, /env/step's state).
local json = require "json"

---@type podgym.reward_policy
local M = {}

M.weights = { latency = 0.33, drop = 0.33, pods = 0.33 }

local function log2(x) return math.log(x, 2) end

--- KPIs from a load-test summary (as jmeter.load returns it).
-- avg_latency is the mean JMeter "Latency" (time to first byte, ms) over all
-- samples; drop_packet_percentage is failed samples / all samples x 100.
function M.kpis(summary)
  local lat, el = summary.latency or {}, summary.elapsed or {}
  return {
    avg_latency = lat.mean or 0,
    drop_packet_percentage = summary.drop_pct or 0,
    drop_packet_count = summary.errors or 0,
    total_packet_count = summary.count or 0,
    p50_latency = lat.p50 or 0,
    p90_latency = lat.p90 or 0,
    p95_latency = lat.p95 or 0,
    p99_latency = lat.p99 or 0,
    avg_elapsed = el.mean or 0,
    throughput_rps = summary.throughput_rps or 0,
    duration_s = summary.duration_s or 0,
  }
end

--- The pod count of the reward: online_pods, the pods that report metrics,
-- because that is the count the thesis agent read from the same answer
-- (containers.system.online_pods) for both its state and its reward; a
-- reward on another count (ready_pods) disagrees with the agent whenever a
-- pod is Ready but not yet in the metrics API. While no pod reports metrics
-- (online_pods is null) the count is 0, and the formula takes log2(1).
function M.pods(system)
  local n = system.online_pods
  if n == json.null then return 0 end
  return n
end

--- The reward of a state with these KPIs and this many pods.
function M.reward(kpis, pods)
  local w = M.weights
  return -(w.latency * log2(1 + kpis.avg_latency / 1000)
         + w.drop * log2(1 + kpis.drop_packet_percentage)
         + w.pods * log2(math.max(pods, 1)))
end

return M
