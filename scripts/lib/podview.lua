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
-- A metric finds its pod by name: by scanning the pods while there are a
-- few (names are interned strings, so == compares pointers), through a
-- name index past SCAN_PODS.
local SCAN_PODS = 16
function M.view(snap)
  snap = snap or M.snapshot()
  local pods, metrics = snap.pods, snap.metrics
  local np = #pods
  local by_name
  if np > SCAN_PODS then
    by_name = {}
    for i = 1, np do by_name[pods[i].name] = i end
  end
  local ready, online, cpu, mem, req_cpu, req_mem, oldest = 0, 0, 0, 0, 0, 0, nil
  for i = 1, np do
    if pods[i].ready then ready = ready + 1 end
  end
  local container, metered = {}, {}          -- metered[i]: pods[i] reports metrics
  for j = 1, #metrics do
    local m = metrics[j]
    local name, i = m.name, nil
    if by_name then
      i = by_name[name]
    else
      for k = 1, np do
        if pods[k].name == name then i = k break end
      end
    end
    if i then
      local p = pods[i]
      metered[i] = true
      local req = p.requests
      local rc, rm, mc, mm, ts = req.cpu, req.memory, m.cpu, m.memory, m.timestamp
      online = online + 1
      cpu, mem, req_cpu, req_mem = cpu + mc, mem + mm, req_cpu + rc, req_mem + rm
      if not oldest or ts < oldest then oldest = ts end
      container[online] = {
        name = name, cpu = mc, mem = mm, req_cpu = rc, req_mem = rm,
        cpu_percent = rc > 0 and round2(mc / rc * 100) or null,
        mem_percent = rm > 0 and round2(mm / rm * 100) or null,
        status = p.status, ready = p.ready, restarts = p.restarts, age_s = round2(p.age_s),
      }
    end
  end
  local others, n = {}, 0
  for i = 1, np do
    if not metered[i] then
      local p = pods[i]
      n = n + 1
      others[n] = { name = p.name, status = p.status, ready = p.ready,
                    restarts = p.restarts, age_s = round2(p.age_s) }
    end
  end
  return {
    system = summary { total = np, ready = ready, online = online, desired = snap.desired, now = snap.now,
                       cpu = cpu, mem = mem, req_cpu = req_cpu, req_mem = req_mem, oldest = oldest },
    container = online > 0 and container or nil,
    no_metrics = json.array(others),
  }
end

return M
