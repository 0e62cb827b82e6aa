-- observation.lua: what the agent observes, one line per field, in order.
--
-- POST /env/reset and /env/step answer `observation = {name = value, ...}`
-- with these fields; the episode CSV has one column per field for the state
-- the agent acted on (name) and one for the state after the step
-- (next_name), in this order. An episode's columns are the fields at its
-- reset (its CSV has one header): an edit shows in the observation at once
-- and in the CSV from the next reset.
--
-- Each field has a name (letters, digits, _), a unit, bounds (low, high;
-- math.huge: none) and value(s), which computes it from what was measured:
--   s.system  the GET /pod system block: cpu_percent, mem_percent (null
--             while no pod reports metrics), online_pods, total_pods,
--             ready_pods, desired_pods, metrics_age_s
--   s.kpis    the step's KPIs (policies/reward.lua: avg_latency,
--             p50/p90/p95/p99_latency, drop_packet_percentage, ...);
--             empty at reset, before any load test
-- A value is a number, or null (nil is null: not known yet). Every field is
-- checked in full at each reset, and a step checks that it can compute them:
-- a bad edit is a 500 naming this file.
--
-- Default: the thesis agent's state, cpu %, memory % and online pods (the
-- pods that report metrics: the count it read from containers.system, the
-- count reward.lua's reward takes; null, like the percents, while none does).
local scaling = require "scaling"

local M = {}

---@type podgym.observation_field[]
M.fields = {
  { name = "cpu_percent", unit = "%", low = 0, high = math.huge, value = function(s) return s.system.cpu_percent end },
  { name = "mem_percent", unit = "%", low = 0, high = math.huge, value = function(s) return s.system.mem_percent end },
  { name = "pods", unit = "pods", low = 0, high = scaling.max, value = function(s) return s.system.online_pods end },
}

return M
