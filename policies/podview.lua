-- podview.lua: the GET /pod view of the target Deployment, shared by the
-- routes, the sampler's probe and the gym environment.
--
-- cpu is in cores and memory in bytes; a percent is usage / request x 100,
-- rounded to 2 decimals; online_pods counts pods that report metrics;
-- total_pods counts every pod of the Deployment, whatever its state.
local k8s = require "k8s"
local json = require "json"

local M = {}

local floor, null = math.floor, json.null

local function round2(x)
  local y = x * 100 + 0.5
  if y >= 0 then return (y - y % 1) / 100 end   -- floor without a call (exact for y >= 0)
  return floor(y) / 100
end
M.round2 = round2

--- Raise the backend failure as the route's JSON error (502/503/504).
function M.check(value, err)
  if value == nil then
    error({ status = err and err.status or 502, code = err and err.code or "backend",
            message = err and err.message or "backend failed" }, 0)
  end
  return value
end
local check = M.check

--- The pods, the metrics and the desired count, all read once.
function M.snapshot()
  return check(k8s.snapshot())    -- {pods = k8s.pods(), metrics = k8s.metrics(), desired, now}
end

--- CPU and memory use in % of the requests, from sums (k8s.usage() or
-- view's own pass); null for each while no pod reports metrics.
function M.percents(u)
  if u.online == 0 then return null, null end
  return u.req_cpu > 0 and round2(u.cpu / u.req_cpu * 100) or null,
         u.req_mem > 0 and round2(u.mem / u.req_mem * 100) or null
end
local percents = M.percents

--- The system summary from sums (k8s.usage() or view's own pass).
local function summary(u)
  local sys = {
    cpu_percent = null, mem_percent = null, online_pods = null,
    total_pods = u.total, ready_pods = u.ready, desired_pods = u.desired,
    metrics_age_s = null,
  }
  if u.online > 0 then
    sys.cpu_percent, sys.mem_percent = percents(u)
    sys.online_pods = u.online
    sys.metrics_age_s = round2(math.max(0, u.now - u.oldest))
  end
  return sys
end

--- Aggregates only: what the sampler, the gym and the HPA baseline need
-- (sums done in C by k8s.usage(), no table per pod).
function M.system()
  return summary(check(k8s.usage()))
end

--- The whole GET /pod body: {system = {...}, container = [...], no_metrics = [...]}.
-- container lists the pods that report metrics (as the seed did), each with
-- its state; no_metrics lists the other pods (starting, failing, going).
function M.view(snap)
  snap = snap or M.snapshot()
  local pods, by_name = snap.pods, {}
  local u = { total = #pods, ready = 0, online = 0, desired = snap.desired, now = snap.now,
              cpu = 0, mem = 0, req_cpu = 0, req_mem = 0 }
  for i = 1, #pods do
    local p = pods[i]
    by_name[p.name] = p
    if p.ready then u.ready = u.ready + 1 end
  end
  local container, metered = {}, {}
  for _, m in ipairs(snap.metrics) do
    local p = by_name[m.name]
    if p then
      metered[m.name] = true
      local rc, rm = p.requests.cpu, p.requests.memory
      u.online = u.online + 1
      u.cpu, u.mem, u.req_cpu, u.req_mem = u.cpu + m.cpu, u.mem + m.memory, u.req_cpu + rc, u.req_mem + rm
      if not u.oldest or m.timestamp < u.oldest then u.oldest = m.timestamp end
      container[#container + 1] = {
        name = m.name, cpu = m.cpu, mem = m.memory, req_cpu = rc, req_mem = rm,
        cpu_percent = rc > 0 and round2(m.cpu / rc * 100) or null,
        mem_percent = rm > 0 and round2(m.memory / rm * 100) or null,
        status = p.status, ready = p.ready, restarts = p.restarts, age_s = round2(p.age_s),
      }
    end
  end
  local body = { system = summary(u) }
  if #container > 0 then body.container = container end
  local others = {}
  for i = 1, #pods do
    local p = pods[i]
    if not metered[p.name] then
      others[#others + 1] = { name = p.name, status = p.status, ready = p.ready,
                              restarts = p.restarts, age_s = round2(p.age_s) }
    end
  end
  body.no_metrics = json.array(others)
  return body
end

return M
