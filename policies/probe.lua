-- probe.lua: what the metrics sampler records each tick (POST /metrics,
-- sampler.start). The sampler calls probe.sample() on its own thread, in a
-- state of the current script generation, so an edit here (or in podview.lua)
-- takes effect at the next tick.
--
-- sample() returns the GET /pod system summary (policies/podview.lua), with
-- the column names of the seed's metrics.csv:
--   cpu_pct, mem_pct  usage / request x 100 over the pods that report metrics,
--                     2 decimals; null (an empty CSV field) when none does
--   online_pods       pods that report metrics (null when none does)
--   total_pods        pods of the target Deployment, in every state
-- A backend failure raises: the row is still written, with empty values, and
-- counted in the job's probe_errors.
local podview = require "podview"

local M = {}

function M.sample()
  local sys = podview.system()
  return {
    cpu_pct = sys.cpu_percent,
    mem_pct = sys.mem_percent,
    online_pods = sys.online_pods,
    total_pods = sys.total_pods,
  }
end

return M
