-- reward.lua: the KPIs of a load test and the reward of an RL step.
--
-- Default: the thesis agent's formula, weights 0.33 each:
--   reward = -(0.33 log2(1 + avg_latency_ms / 1000)
--            + 0.33 log2(1 + drop_percent)
--            + 0.33 log2(pods))
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

--- The reward of a state with these KPIs and this many pods.
function M.reward(kpis, pods)
  local w = M.weights
  return -(w.latency * log2(1 + kpis.avg_latency / 1000)
         + w.drop * log2(1 + kpis.drop_packet_percentage)
         + w.pods * log2(math.max(pods, 1)))
end

return M
