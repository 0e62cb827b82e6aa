-- ops.lua: the cluster operations the routes share: bounded, serialized
-- scaling with a wait, pruning, and the configured load test. The rules
-- themselves come from policies/scaling.lua, pruning.lua and reward.lua,
-- checked each time they are used: an edit that breaks one is a 500 naming
-- the file, and the cluster is left as it was.
local k8s = require "k8s"
local data = require "data"
local engine = require "engine"
local jmeter = require "jmeter"
local json = require "json"
local podview = require "podview"

local check = podview.check
local config = engine.config()      -- the process's settings, fixed while it runs
local M = {}

--- Raise the 500 that names a policy file and what is wrong with it.
local function bad_policy(file, message)
  error({ status = 500, code = "bad_policy", message = "policies/" .. file .. ": " .. message }, 0)
end
M.bad_policy = bad_policy

--- Raise what a policy's function raised: an error that is already a
-- route's error (a table with a status, such as a backend failure) as it
-- is, any other as the 500 naming the file and the function.
function M.policy_failed(file, what, err)
  if type(err) == "table" and err.status then error(err, 0) end
  bad_policy(file, what .. " failed: " .. tostring(err))
end

-- What a scale may wait for (policies/scaling.lua's wait_for): the target
-- count of pods Ready and reporting metrics, or only Ready.
local WAIT_FOR = { metrics = true, ready = true }

--- The scaling policy of policies/scaling.lua, checked on every call:
-- min, max, step, timeout_s and wait_for ("metrics" or "ready").
function M.bounds()
  local s = require "scaling"
  if type(s) ~= "table" then bad_policy("scaling.lua", "must return a table") end
  local min, max, step = s.min, s.max, s.step or 1
  local timeout = s.timeout_s or 90
  local wait_for = s.wait_for or "metrics"
  if math.type(min) ~= "integer" or math.type(max) ~= "integer" or math.type(step) ~= "integer" then
    bad_policy("scaling.lua", string.format("min, max and step must be integers (got %s, %s, %s)",
                                            tostring(min), tostring(max), tostring(step)))
  end
  if min < 0 or min > max then
    bad_policy("scaling.lua", string.format("bounds min = %d, max = %d are not a range", min, max))
  end
  if step < 1 then bad_policy("scaling.lua", "step must be at least 1") end
  if type(timeout) ~= "number" or not (timeout > 0) then bad_policy("scaling.lua", "timeout_s must be > 0") end
  if not WAIT_FOR[wait_for] then
    bad_policy("scaling.lua", "wait_for must be \"metrics\" or \"ready\", got " .. tostring(s.wait_for))
  end
  return min, max, step, timeout, wait_for
end

--- Scale to the target that target_of(from, min, max, step, arg) picks
-- (within bounds; or from and a reason not to move) and wait until that many
-- pods are ready (and report metrics, as scaling.lua's wait_for says).
-- Serialized process-wide. Returns the seed's timing fields plus
-- from/to/scaled/reason. A wait timeout raises a 504 carrying the state.
local function scale_locked(target_of, arg)
  local min, max, step, timeout, wait_for = M.bounds()
  local from = check(k8s.replicas())
  local to, reason = target_of(from, min, max, step, arg)
  local start = k8s.now()
  if reason then
    return { from = from, to = to, scaled = false, reason = reason,
             start_time = start, finish_time = start, time_spent_sec = 0 }
  end
  if to ~= from then check(k8s.scale(to)) end
  local _, werr = k8s.wait { ready = to, settled = false, metrics = wait_for == "metrics", timeout = timeout }
  local finish = k8s.now()
  if werr then
    werr.from, werr.to = from, to
    werr.start_time, werr.finish_time, werr.time_spent_sec = start, finish, finish - start
    local ok, view = pcall(podview.view)
    if ok then werr.pods = view end
    error(werr, 0)
  end
  return { from = from, to = to, scaled = to ~= from, reason = to == from and "already at " .. to or nil,
           start_time = start, finish_time = finish, time_spent_sec = finish - start }
end

local function by_delta(from, min, max, step, sign)
  local to = from + sign * step
  if to > max then
    if from >= max then return from, string.format("at the maximum of %d pods", max) end
    to = max
  elseif to < min then
    if from <= min then return from, string.format("at the minimum of %d pods", min) end
    to = min
  end
  return to
end

local function exactly(_, min, max, _, n)
  if n < min or n > max then
    error({ status = 422, code = "out_of_bounds",
            message = string.format("pod count %s is outside [%d, %d]", tostring(n), min, max),
            min = min, max = max }, 0)
  end
  return n
end

--- Scale by delta pods (the policy's step, signed), within the bounds.
function M.scale_by(sign)
  return data.locked("scale", scale_locked, by_delta, sign)
end

--- Scale to exactly n pods; n outside the bounds is a 422 with min and max.
function M.scale_to(n)
  return data.locked("scale", scale_locked, exactly, n)
end

--- Prune pods in unsatisfactory states (policies/pruning.lua), set replicas
-- to the healthy count (never below the minimum) and wait until converged
-- (the pods reporting metrics too, as scaling.lua's wait_for says).
function M.prune()
  local pruning = require "pruning"
  if type(pruning) ~= "table" or type(pruning.unsatisfactory) ~= "function" then
    bad_policy("pruning.lua", "must return a table with unsatisfactory(pod)")
  end
  return data.locked("scale", function()
    local min, max, _, timeout, wait_for = M.bounds()
    local pods = check(k8s.pods())
    local bad, healthy = {}, 0
    for _, p in ipairs(pods) do
      local prune, reason = pruning.unsatisfactory(p)
      if prune then
        bad[#bad + 1] = { name = p.name, status = type(reason) == "string" and reason or p.status }
      elseif not p.deleting then
        healthy = healthy + 1
      end
    end
    local target = math.max(min, math.min(max, healthy))
    local start = k8s.now()
    if target ~= check(k8s.replicas()) then check(k8s.scale(target)) end
    for _, b in ipairs(bad) do
      local ok, err = k8s.delete_pod(b.name, { grace = 0 })
      if not ok and err.status ~= 404 then check(nil, err) end
    end
    local _, err = k8s.wait { ready = target, settled = true, metrics = wait_for == "metrics", timeout = timeout }
    if err then
      err.pruned = json.array(bad)
      error(err, 0)
    end
    return bad, target, k8s.now() - start
  end)
end

--- Run the load test the config names (load.driver) and return its summary.
function M.loadtest()
  local driver = config.load.driver
  if driver == "auto" then driver = config.backend == "sim" and "sim" or "native" end
  local res, err
  if driver == "jmeter" then
    res, err = jmeter.run { plan = config.load.plan }
  else
    -- every other setting (url or the ready pods, method, rate or threads x
    -- loops, duration, timeout, body) comes from the load section itself
    res, err = jmeter.load { driver = driver }
  end
  return check(res, err).summary
end

--- The reward policy applied to a load-test summary and the GET /pod
-- system block the step answers with: kpis, reward (checked) and the pod
-- count the reward took (reward.lua's pods(system)).
function M.reward(summary, system)
  local reward = require "reward"
  if type(reward) ~= "table" or type(reward.kpis) ~= "function" or type(reward.reward) ~= "function"
     or type(reward.pods) ~= "function" then
    bad_policy("reward.lua", "must return a table with kpis(summary), pods(system) and reward(kpis, pods)")
  end
  local ok, kpis = pcall(reward.kpis, summary)
  if not ok then M.policy_failed("reward.lua", "kpis()", kpis) end
  if type(kpis) ~= "table" then
    bad_policy("reward.lua", "kpis() returned " .. type(kpis) .. " " .. tostring(kpis) .. ", not a table")
  end
  local pok, pods = pcall(reward.pods, system)
  if not pok then M.policy_failed("reward.lua", "pods()", pods) end
  if math.type(pods) == nil or not (pods >= 0) or pods == math.huge then
    bad_policy("reward.lua", "pods() returned " .. type(pods) .. " " .. tostring(pods) .. ", not a number >= 0")
  end
  local rok, r = pcall(reward.reward, kpis, pods)
  if not rok then M.policy_failed("reward.lua", "reward()", r) end
  if math.type(r) == nil or r ~= r or r == math.huge or r == -math.huge then
    bad_policy("reward.lua", "reward() returned " .. type(r) .. " " .. tostring(r) .. ", not a finite number")
  end
  return kpis, r, pods
end

return M
