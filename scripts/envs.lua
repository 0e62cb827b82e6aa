-- POST /envs, /envs/step and /envs/reset: a vector of n independent
-- environments in one server, as gymnasium's vector envs (SyncVectorEnv)
-- present them, each on its own simulated cluster (its own seed, clock,
-- episode and episode file). An env's step is scripts/lib/episode.lua's, the
-- code of the single env's /env/step, run with k8s bound to the env's
-- cluster (k8s.on): policies, ops.lua and podview.lua call k8s.* as always.
--
-- Seeds: env i (0-based) of a vector seeded s starts its first episode
-- seeded s + i (gymnasium's VectorEnv.reset(seed=s)); an episode begun
-- without a seed (an autoreset, or /envs/reset without one) is seeded the
-- env's previous seed + n. So env i behaves byte for byte as the single env
-- reset with {"seed": s + i} (then s + i + n, ...) and the same pods.
--
-- Autoreset: gymnasium's default, next-step (AutoresetMode.NEXT_STEP): the
-- step after an env's episode ended (terminated or truncated) resets that
-- env instead of stepping it; its action is ignored, and it answers the
-- new episode's first observation, reward 0, terminated and truncated
-- false, info.autoreset true.
--
-- Files: <episodes_dir>/<run id>/envs-<v>/env-<i>/episode-<e>.csv, v the
-- vector (every POST /envs makes a new one), e the env's episode from 1.
local data = require "data"
local engine = require "engine"
local episode = require "episode"
local json = require "json"
local k8s = require "k8s"
local podview = require "podview"
local shared = require "shared"

local check, null = podview.check, json.null

-- The vector in the shared dict: n, v (its number), pods.
local META = "<i8i8i8"
-- An env's last reset: episode, seed, pods (what its next reset follows on).
local LAST = "<i8i8i8"

local function state_key(i) return "envs.state." .. i end
local function last_key(i) return "envs.last." .. i end

--- n, v, pods of the vector; nil before POST /envs.
local function vector()
  local s = shared.get("envs.meta")
  if not s then return nil end
  return string.unpack(META, s)
end

local function no_envs()
  error({ status = 409, code = "no_envs", message = "no vector of envs: POST /envs {\"n\": ...} first" }, 0)
end

--- Episode e of env i (0-based) of vector v, seeded seed, on env i's
-- cluster: the answer of a reset.
local function begin(env, fields, v, i, e, seed, pods)
  check(shared.set(last_key(i), string.pack(LAST, e, seed, pods)))
  local run = engine.status().run_id or "unknown"
  local rel = string.format("%s/%s/envs-%d/env-%d/episode-%d.csv", env.episodes_dir or "episodes", run, v, i, e)
  return k8s.on(i + 1, episode.begin, state_key(i), rel, e, seed, pods, fields)
end

--- Reset env i anew: its next episode, seeded seed or its previous seed + n.
local function reset_one(env, fields, n, v, i, seed, pods)
  local e, last_seed, last_pods = string.unpack(LAST, check(shared.get(last_key(i))))
  return begin(env, fields, v, i, e + 1, seed or last_seed + n, pods or last_pods)
end

local function answer_of_resets(results, ids)
  local obs, info = {}, {}
  for k, r in ipairs(results) do
    obs[k] = r.observation
    info[k] = { env = ids[k], episode = r.episode, file = r.file, seed = r.seed, pods = r.pods }
  end
  return { observation = json.array(obs), info = json.array(info), envs = json.array(ids) }
end

local function create(req)
  local b = episode.body_of(req)
  local env, fields = episode.env_policy_full(), episode.observation_fields()
  local n = episode.int_field(b, "n", nil, "bad_envs")
  if n == nil or n < 1 then
    error({ status = 400, code = "bad_envs", message = "n (the number of envs) must be an integer >= 1" }, 0)
  end
  local pods, seed = episode.reset_args(b, true, engine.config().sim.seed)
  return data.locked("envs", function()
    check(k8s.envs(n))
    local old = vector()
    local v = check(shared.incr("envs.vector", 1, 0))
    for i = n, (old or 0) - 1 do
      shared.delete(state_key(i))
      shared.delete(state_key(i) .. "/episode")
      shared.delete(last_key(i))
    end
    shared.delete("envs.meta")                     -- no vector while its envs are reset
    local results, ids = {}, {}
    for i = 0, n - 1 do
      ids[i + 1] = i
      results[i + 1] = begin(env, fields, v, i, 1, seed + i, pods)
    end
    check(shared.set("envs.meta", string.pack(META, n, v, pods)))
    local a = answer_of_resets(results, ids)
    a.n, a.vector, a.seed, a.pods, a.autoreset_mode, a.spec = n, v, seed, pods, "next_step", episode.spec()
    return a
  end)
end

--- The ids of a body's "ids" (all when absent): integers in [0, n), once each.
local function ids_of(b, n)
  local ids = b.ids
  if ids == nil or ids == null then
    ids = {}
    for i = 0, n - 1 do ids[i + 1] = i end
    return ids
  end
  if type(ids) ~= "table" or (getmetatable(ids) ~= json.array_mt and next(ids) ~= nil) then
    error({ status = 400, code = "bad_envs", message = "ids must be an array of env ids" }, 0)
  end
  local seen, out = {}, {}
  for k, x in ipairs(ids) do
    local i = math.type(x) and math.tointeger(x)
    if not i or i < 0 or i >= n or seen[i] then
      error({ status = 400, code = "bad_envs",
              message = string.format("ids[%d]: %s is not an env id of this vector (0..%d, once each)", k - 1,
                                      json.encode(x), n - 1) }, 0)
    end
    seen[i], out[k] = true, i
  end
  return out
end

local function reset(req)
  local b = episode.body_of(req, true)
  local env, fields = episode.env_policy_full(), episode.observation_fields()
  local pods, seed = episode.reset_args(b, nil, nil)
  return data.locked("envs", function()
    local n, v = vector()
    if not n then no_envs() end
    local ids = ids_of(b, n)
    local results = {}
    for k, i in ipairs(ids) do results[k] = reset_one(env, fields, n, v, i, seed and seed + i, pods) end
    return answer_of_resets(results, ids)
  end)
end

--- The actions of a step's body, one per env, each checked (by name or
-- index): a 400 for any, before any env moves.
local function actions_of(env, b, n)
  local actions = b.actions
  if type(actions) ~= "table" or getmetatable(actions) ~= json.array_mt then
    error({ status = 400, code = "bad_actions",
            message = "actions must be an array of " .. n .. " actions (names or indices), one per env" }, 0)
  end
  if #actions ~= n then
    error({ status = 400, code = "bad_actions",
            message = string.format("actions has %d actions; the vector has %d envs", #actions, n) }, 0)
  end
  local out = {}
  for i = 1, n do
    local ok, a = pcall(episode.action_of, env, actions[i])
    if not ok then
      if type(a) == "table" and a.code == "bad_action" then a.message = "actions[" .. i - 1 .. "]: " .. a.message end
      error(a, 0)
    end
    out[i] = a
  end
  return out
end

local function step_locked(b, env, fields)
  local n, v = vector()
  if not n then no_envs() end
  local actions = actions_of(env, b, n)
  -- nothing moves unless every env can: an env whose fields changed is a 409
  -- (a done or failed episode is reset, below)
  local states, stuck, sig = {}, {}, episode.names_of(fields)
  for i = 0, n - 1 do
    local st, why = episode.state(state_key(i), fields, sig)
    if why and why.code == "observation_changed" then
      why.message, why.env = "env " .. i .. ": " .. why.message, i
      error(why, 0)
    end
    states[i + 1], stuck[i + 1] = st, why
  end
  local obs, reward, terminated, truncated, done, kpis, info = {}, {}, {}, {}, {}, {}, {}
  for k = 1, n do
    local i = k - 1
    if stuck[k] then
      local r = reset_one(env, fields, n, v, i, nil, nil)
      obs[k], reward[k], terminated[k], truncated[k], done[k], kpis[k] = r.observation, 0, false, false, false, {}
      info[k] = { env = i, autoreset = true, episode = r.episode, step = 0, file = r.file, seed = r.seed }
    else
      local r = k8s.on(k, episode.advance, state_key(i), env, fields, actions[k], states[k])
      obs[k], reward[k], terminated[k], truncated[k], done[k], kpis[k] = r.observation, r.reward, r.terminated,
          r.truncated, r.done, r.kpis
      r.info.env = i
      info[k] = r.info
    end
  end
  return { observation = obs, reward = reward, terminated = terminated, truncated = truncated, done = done,
           kpis = kpis, info = info }
end

local function step(req)
  local b = episode.body_of(req)
  local env, fields = episode.env_policy(), episode.observation_policy_fields()
  return data.locked("envs", step_locked, b, env, fields)
end

return {
  {
    method = "POST", path = "/envs",
    summary = "Make a vector of n envs, each its own simulated cluster, env i seeded seed + i: "
           .. "{n, seed, pods} -> envs (ids), observation and info per env, spec",
    body = { type = "object", required = { "n" },
             properties = { n = { type = "integer", minimum = 1 }, pods = { type = "integer" },
                            seed = { type = "integer" } } },
    handler = create,
  },
  {
    method = "POST", path = "/envs/step",
    summary = "One step of every env: {actions: [one per env, a name or index of policies/env.lua]} -> "
           .. "arrays of observation, reward, terminated, truncated, done, kpis, info; an env whose "
           .. "episode ended is reset instead (next-step autoreset)",
    body = { type = "object", required = { "actions" },
             properties = { actions = { type = "array" } } },
    handler = step,
  },
  {
    method = "POST", path = "/envs/reset",
    summary = "Start the next episode of every env, or of ids: {ids, seed (env i gets seed + i), pods}",
    body = { type = "object", properties = { ids = { type = "array", items = { type = "integer" } },
                                             pods = { type = "integer" }, seed = { type = "integer" } } },
    handler = reset,
  },
}
