-- POST /env/reset and /env/step: a gym-style environment, one request per
-- RL step. Every step is appended to the episode's CSV under data_dir.
local data = require "data"
local engine = require "engine"
local json = require "json"
local k8s = require "k8s"
local ops = require "ops"
local podview = require "podview"
local shared = require "shared"

local HEADER = "episode,step,time,cpu_percent,mem_percent,pods,action,next_cpu_percent,next_mem_percent,"
            .. "next_pods,avg_latency,drop_packet_percentage,total_packet_count,reward,done"

local seen = { env = false }     -- the policy and its fields as last checked: unchanged, no check
local function env_policy()
  local env = require "env"
  if env == seen.env and env.max_steps == seen.max_steps and env.actions == seen.actions then return env end
  if type(env) ~= "table" or math.type(env.max_steps) ~= "integer" or type(env.actions) ~= "table" then
    error({ status = 500, code = "bad_policy",
            message = "policies/env.lua: needs max_steps (integer) and actions (table)" }, 0)
  end
  seen.env, seen.max_steps, seen.actions = env, env.max_steps, env.actions
  return env
end

local null, pack, unpack = json.null, string.pack, string.unpack

-- {cpu_percent, mem_percent, pods}: the system's utilisation (as GET /pod's
-- system block) and its ready pods, from one k8s.usage() call.
local U = {}      -- k8s.usage's sums, refilled on every observation
local function observe()
  local u, err = k8s.usage(U)
  if not u then podview.check(nil, err) end
  local cpu, mem = podview.percents(u)
  return { cpu_percent = cpu, mem_percent = mem, pods = u.ready }
end

-- The episode's state, kept in the shared dict so that any worker may serve
-- the next step: episode, step, the observation returned last (the state
-- the agent acts on) and the CSV file, packed in one value. NaN is null.
-- A state remembers the value it wrote or read last, decoded: while the
-- dict still holds those bytes (this worker served the step before), the
-- value is not unpacked again.
local STATE = "<i8i8ddi8"
local last, last_episode, last_n, last_cpu, last_mem, last_pods, last_file

local function save_state(episode, n, obs, file)
  local cpu, mem = obs.cpu_percent, obs.mem_percent
  local s = pack(STATE, episode, n, cpu == null and 0 / 0 or cpu, mem == null and 0 / 0 or mem, obs.pods) .. file
  local ok, err = shared.set("env.state", s)
  if not ok then podview.check(nil, err) end
  last, last_episode, last_n, last_cpu, last_mem, last_pods, last_file = s, episode, n, cpu, mem, obs.pods, file
end

-- episode, step, cpu_percent, mem_percent, pods, file; nil without an episode.
local function load_state()
  local s = shared.get("env.state")
  if not s then return nil end
  if s ~= last then
    local episode, n, cpu, mem, pods, at = unpack(STATE, s)
    last, last_episode, last_n, last_cpu, last_mem, last_pods, last_file =
      s, episode, n, cpu == cpu and cpu or null, mem == mem and mem or null, pods, s:sub(at)
  end
  return last_episode, last_n, last_cpu, last_mem, last_pods, last_file
end

local function body_of(req)
  if req.body == nil or req.body == "" then return {} end
  local b = req:json()
  if type(b) ~= "table" then
    error({ status = 400, code = "bad_body", message = "the body must be a JSON object" }, 0)
  end
  return b
end

local function int_field(b, key, default)
  local v = b[key]
  if v == nil or v == json.null then return default end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and math.abs(v) < 2^53) then
    error({ status = 400, code = "bad_" .. key, message = key .. " must be an integer" }, 0)
  end
  return math.tointeger(v)
end

local function reset(req)
  local b = body_of(req)
  local cfg = engine.config()
  local min, max = ops.bounds()
  local pods = int_field(b, "pods", math.max(min, math.min(max, cfg.sim.replicas)))
  local seed = int_field(b, "seed", cfg.sim.seed)
  if pods < min or pods > max then
    error({ status = 422, code = "out_of_bounds",
            message = string.format("pods %d is outside [%d, %d]", pods, min, max), min = min, max = max }, 0)
  end
  if seed < 0 then error({ status = 400, code = "bad_seed", message = "seed must be >= 0" }, 0) end
  return data.locked("env", function()
    if k8s.sim then
      podview.check(k8s.sim.reset { seed = seed, pods = pods })
    else
      ops.scale_to(pods)
    end
    local episode = podview.check(shared.incr("env.episode", 1, 0))
    local file = string.format("%s/episode-%d.csv", env_policy().episodes_dir or "episodes", episode)
    local obs = observe()
    save_state(episode, 0, obs, file)
    return { observation = obs, episode = episode, file = file, seed = seed, pods = pods }
  end)
end

local STAY = { scaled = false, reason = "stay" }

-- The step itself, under the "env" lock.
local function step_locked(env, action)
  -- cpu, mem, pods: what the agent saw and acted on
  local episode, n, cpu, mem, pods, file = load_state()
  if not episode then
    error({ status = 409, code = "no_episode", message = "call POST /env/reset first" }, 0)
  end
  local delta = env.actions[action]
  local scaled = delta == 0 and STAY or ops.scale_by(delta)
  local summary = ops.loadtest()
  local after = observe()
  local kpis, reward = ops.reward(summary, after.pods)
  n = n + 1
  local done = n >= env.max_steps
  local written, err = data.append(file, {
    episode, n, k8s.now(), cpu, mem, pods, action,
    after.cpu_percent, after.mem_percent, after.pods, kpis.avg_latency, kpis.drop_packet_percentage,
    kpis.total_packet_count, reward, done,
  }, HEADER)
  if not written then podview.check(nil, err) end
  save_state(episode, n, after, file)        -- a step that failed above changed nothing here
  return {
    observation = after, reward = reward, kpis = kpis, done = done,
    info = { episode = episode, step = n, action = action, from = scaled.from, to = scaled.to,
             scaled = scaled.scaled, reason = scaled.reason },
  }
end

local function step(req)
  local b = body_of(req)
  local env = env_policy()
  local action = b.action
  if action == nil or action == json.null then
    error({ status = 400, code = "bad_action", message = "action is required: in, stay or out" }, 0)
  end
  if type(action) ~= "string" or not env.actions[action] then
    error({ status = 400, code = "bad_action",
            message = "action must be one of \"in\", \"stay\", \"out\"; got " .. json.encode(action) }, 0)
  end
  return data.locked("env", step_locked, env, action)
end

return {
  {
    method = "POST", path = "/env/reset",
    summary = "Start an episode: {pods, seed} (both optional); returns the first observation",
    body = { type = "object", properties = { pods = { type = "integer" }, seed = { type = "integer" } } },
    handler = reset,
  },
  {
    method = "POST", path = "/env/step",
    summary = "One RL step: {action: in|stay|out} -> observation, reward, kpis, done, info",
    body = { type = "object", required = { "action" },
             properties = { action = { type = "string", enum = { "in", "stay", "out" } } } },
    handler = step,
  },
}
