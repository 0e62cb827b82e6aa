-- episode.lua: one environment's episode, the rules of POST /env/reset and
-- /env/step (scripts/env.lua) and of every env of a vector (scripts/envs.lua):
-- the same code steps an env alone or in a batch, and a vector env's cluster
-- is reached through k8s.on(i, ...), which binds every k8s call (the
-- policies', ops.lua's, podview.lua's) to that env's simulated cluster.
-- The actions and the episode length are policies/env.lua; what the agent
-- observes is policies/observation.lua. Every step is appended to the
-- episode's CSV under data_dir, whose first line records what produced it,
-- as a # comment (pandas.read_csv(comment="#") skips it):
--   # podgym <version> run <run id> seed <seed> config <config hash>
--   episode, step, time, <the observation acted on>, action,
--   <the observation after, next_...>, avg_latency, drop_packet_percentage,
--   total_packet_count, reward, done
local data = require "data"
local engine = require "engine"
local json = require "json"
local k8s = require "k8s"
local ops = require "ops"
local podview = require "podview"
local shared = require "shared"

local check, bad_policy, null = podview.check, ops.bad_policy, json.null

-- The step's KPIs that every CSV row ends with, before reward and done.
local KPI_COLUMNS = { "avg_latency", "drop_packet_percentage", "total_packet_count" }

--- policies/env.lua, checked for what a step uses: max_steps >= 1 and
-- actions, a table.
local function env_policy()
  local env = require "env"
  if type(env) ~= "table" then bad_policy("env.lua", "must return a table") end
  if math.type(env.max_steps) ~= "integer" or env.max_steps < 1 then
    bad_policy("env.lua", "max_steps must be an integer >= 1, got " .. tostring(env.max_steps))
  end
  if type(env.actions) ~= "table" then
    bad_policy("env.lua", "actions must be a table {name = steps to scale by (an integer), ...}")
  end
  return env
end

--- policies/env.lua, checked in full: also every action (name = signed
-- scaling steps, an integer) and episodes_dir (a folder under data_dir).
local function env_policy_full()
  local env = env_policy()
  if next(env.actions) == nil then bad_policy("env.lua", "actions is empty") end
  for name, delta in pairs(env.actions) do
    if type(name) ~= "string" or math.type(delta) ~= "integer" then
      bad_policy("env.lua", "action " .. tostring(name) .. " = " .. tostring(delta) .. ": wants a name = an integer")
    end
  end
  if env.episodes_dir ~= nil and type(env.episodes_dir) ~= "string" then
    bad_policy("env.lua", "episodes_dir must be a string")
  end
  return env
end

--- The action names, by the number of steps they scale by: "in", "stay",
-- "out". An action's index in this list (0-based, as gymnasium's Discrete)
-- names it too.
local function action_names(env)
  local names = {}
  for name in pairs(env.actions) do names[#names + 1] = name end
  table.sort(names, function(a, b)
    local da, db = env.actions[a], env.actions[b]
    if da ~= db then return da < db end
    return a < b
  end)
  return names
end

--- The action a step's body names: an action of env.lua by name, or by its
-- 0-based index in action_names(); anything else is a 400 that lists them.
local function action_of(env, action)
  if type(action) == "string" and env.actions[action] then return action end
  local names = action_names(env_policy_full())
  local i = math.type(action) and math.tointeger(action)
  if i and i >= 0 and i < #names then return names[i + 1] end
  local one_of = "\"" .. table.concat(names, "\", \"") .. "\" (or an index 0.." .. #names - 1 .. ")"
  local message = (action == nil or action == json.null) and "action is required: one of " .. one_of
                  or "action must be one of " .. one_of .. "; got " .. json.encode(action)
  error({ status = 400, code = "bad_action", message = message }, 0)
end

-- CSV columns an observation field may not take.
local RESERVED = { episode = true, step = true, time = true, action = true, reward = true, done = true }
for _, c in ipairs(KPI_COLUMNS) do RESERVED[c] = true end

--- What is wrong with field f of observation.lua, which has a name and a
-- value function (names: the CSV columns of the fields before it), or nil.
local function field_problem(f, names)
  if not f.name:match("^[%a_][%w_]*$") then
    return "name must be letters, digits and _"
  end
  if #f.name > 64 then return "name is longer than 64 characters" end
  if names[f.name] or names["next_" .. f.name] or RESERVED[f.name] then
    return "the name is taken (by another field or a CSV column)"
  end
  if type(f.unit) ~= "string" then return "unit must be a string" end
  if type(f.low) ~= "number" or type(f.high) ~= "number" or not (f.low <= f.high) then
    return "low and high must be numbers with low <= high (got " .. tostring(f.low) .. " and " .. tostring(f.high) .. ")"
  end
end

--- policies/observation.lua's list of fields, checked for what a step
-- needs before it acts: a name and a value function each.
local function observation_policy_fields()
  local o = require "observation"
  local fields = type(o) == "table" and o.fields
  if type(fields) ~= "table" or #fields == 0 then
    bad_policy("observation.lua", "must return {fields = {{name =, unit =, low =, high =, value = function(s)}, ...}}")
  end
  for i, f in ipairs(fields) do
    if type(f) ~= "table" or type(f.name) ~= "string" or type(f.value) ~= "function" then
      bad_policy("observation.lua", "field " .. i .. (type(f) == "table" and type(f.name) == "string"
                 and " (" .. f.name .. ")" or "") .. ": wants {name = \"...\", ..., value = function(s)}")
    end
  end
  return fields
end

--- policies/observation.lua, checked in full (names, units, bounds), as
-- reset fixes an episode's CSV columns: its fields, in order.
local function observation_fields()
  local fields = observation_policy_fields()
  local names = {}
  for i, f in ipairs(fields) do
    local problem = field_problem(f, names)
    if problem then
      bad_policy("observation.lua", "field " .. i .. (type(f) == "table" and type(f.name) == "string"
                 and " (" .. f.name .. ")" or "") .. ": " .. problem)
    end
    names[f.name], names["next_" .. f.name] = true, true
  end
  return fields
end

--- The observation {name = value} of what was measured (observation.lua's
-- s), each value checked.
local function observe(fields, measured)
  local obs = {}
  for _, f in ipairs(fields) do
    local ok, v = pcall(f.value, measured)
    if not ok then ops.policy_failed("observation.lua", f.name .. ".value()", v) end
    if v == nil then v = null end
    if v ~= null and (math.type(v) == nil or v ~= v or v == math.huge or v == -math.huge) then
      bad_policy("observation.lua", f.name .. ".value() returned " .. type(v) .. " " .. tostring(v)
                 .. ", not a finite number or null")
    end
    obs[f.name] = v
  end
  return obs
end

--- The CSV header row of an episode that observes these fields.
local function columns(fields)
  local names = {}
  for i, f in ipairs(fields) do names[i] = f.name end
  return "episode,step,time," .. table.concat(names, ",") .. ",action,next_" .. table.concat(names, ",next_")
      .. "," .. table.concat(KPI_COLUMNS, ",") .. ",reward,done"
end

--- The comment line an episode file starts with: the podgym version, the
-- run (engine.status().run_id), the seed and the hash of the config,
-- scripts and policies in force.
local function provenance(status, seed)
  return string.format("# podgym %s run %s seed %d config %s", status.version, status.run_id or "unknown",
                       seed, status.config_hash or "unknown")
end

--- Append a row to the episode file (absolute), or raise the write's
-- failure naming the file: 507 insufficient_storage (a full disk), 500 io.
-- data.append leaves the file on its last whole row.
local function append(file, row, head)
  local path, err = data.append(file, row, head)
  if not path then
    error({ status = err.status or 500, code = err.code or "io", message = err.message, file = file }, 0)
  end
  return path
end

-- An episode's state, kept in the shared dict under its env's key (the
-- single env's "env.state", vector env i's "envs.state.<i>") so that any
-- worker may serve the next step, in two entries: under key what each step
-- rewrites (episode, step, seed, whether it is done (1: the last step
-- answered done), and the observation returned last, the state the agent
-- acts on, a value (NaN: null) per field in order); under key .. "/episode"
-- what the reset fixed (its CSV file (absolute), its header (the comment
-- line and the columns) and the observed field names, comma-separated).
local STATE, EPISODE = "<i8i8i8B", "<s2s2s2"

--- The field names of an observation, comma-separated.
local function names_of(fields)
  local names = {}
  for i, f in ipairs(fields) do names[i] = f.name end
  return table.concat(names, ",")
end

local function save_state(key, episode, step, seed, done, fields, obs)
  local values = {}
  for i, f in ipairs(fields) do
    local v = obs[f.name]
    values[i] = v == null and 0 / 0 or v
  end
  check(shared.set(key, string.pack(STATE .. ("d"):rep(#fields), episode, step, seed, done and 1 or 0,
                                    table.unpack(values))))
end

local function save_episode(key, file, head, fields)
  check(shared.set(key .. "/episode", string.pack(EPISODE, file, head, names_of(fields))))
end

--- episode, step, done, file, header, names (comma-separated), values (a
-- list, in the fields' order), seed; nil before the first reset.
local STATE_SIZE = string.packsize(STATE)

local function load_state(key)
  local s, e = shared.get(key), shared.get(key .. "/episode")
  if not s or not e then return nil end
  local file, head, names = string.unpack(EPISODE, e)
  local k = (#s - STATE_SIZE) // 8
  -- episode, step, seed, done, the k values, the position after them
  local t = { string.unpack(STATE .. ("d"):rep(k), s) }
  local values = table.move(t, 5, 4 + k, 1, {})
  for i = 1, k do
    if values[i] ~= values[i] then values[i] = null end
  end
  return t[1], t[2], t[4] == 1, file, head, names, values, t[3]
end

--- The body's JSON object; an empty body is {}, and so is the thesis
-- agent's JSON "" where agent_string is set. An array, a number or any other
-- value is a 400.
local function body_of(req, agent_string)
  if req.body == nil or req.body == "" then return {} end
  local b = req:json()
  if agent_string and b == "" then return {} end
  if type(b) ~= "table" or getmetatable(b) == json.array_mt then
    error({ status = 400, code = "bad_body", message = "the body must be a JSON object"
            .. (agent_string and ", empty or \"\"" or "") .. ", got " .. json.encode(b) }, 0)
  end
  return b
end

local function int_field(b, key, default, code)
  local v = b[key]
  if v == nil or v == json.null then return default end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and math.abs(v) < 2^53) then
    error({ status = 400, code = code, message = key .. " must be an integer" }, 0)
  end
  return math.tointeger(v)
end


--- The pods and seed a reset's body asks for, checked: not integers is a
-- 400 (bad_pod_count, bad_seed), pods outside policies/scaling.lua's bounds
-- a 422 with min and max, a negative seed a 400. An absent value is its
-- default (pods: the config's sim.replicas within the bounds, when
-- pods_default is true; nil when nil).
local function reset_args(b, pods_default, seed_default)
  local min, max = ops.bounds()
  if pods_default == true then pods_default = math.max(min, math.min(max, engine.config().sim.replicas)) end
  local pods = int_field(b, "pods", pods_default, "bad_pod_count")
  local seed = int_field(b, "seed", seed_default, "bad_seed")
  if pods and (pods < min or pods > max) then
    error({ status = 422, code = "out_of_bounds",
            message = string.format("pods %d is outside [%d, %d]", pods, min, max), min = min, max = max }, 0)
  end
  if seed and seed < 0 then error({ status = 400, code = "bad_seed", message = "seed must be >= 0" }, 0) end
  return pods, seed
end

--- Start an episode on the cluster k8s is bound to (the engine's, or a
-- vector env's inside k8s.on): reset it to `pods` pods seeded `seed`,
-- observe, create the episode file `rel` (under data_dir, with its header)
-- and keep the state under key. Returns the answer of a reset. A reset that
-- cannot write its file (507, 500: the message names the file) leaves no
-- episode to step.
local function begin(key, rel, episode, seed, pods, fields)
  if k8s.sim then
    check(k8s.sim.reset { seed = seed, pods = pods })
  else
    ops.scale_to(pods)
  end
  local status = engine.status()
  local run = status.run_id or "unknown"
  local obs = observe(fields, { system = podview.system(), kpis = {} })
  local comment, cols = provenance(status, seed), columns(fields)
  local file, err = data.append(rel, cols, comment)
  if not file then
    shared.delete(key)
    shared.delete(key .. "/episode")
    check(nil, err)
  end
  save_episode(key, file, comment .. "\n" .. cols, fields)
  save_state(key, episode, 0, seed, false, fields, obs)
  return { observation = obs, episode = episode, file = file, run_id = run, seed = seed, pods = pods }
end

--- Why an episode in this state cannot take a step (a 409 error table),
-- or nil: no episode, done, or observation.lua changed its fields (names:
-- the episode's, sig: names_of(fields)).
local function problem(sig, episode, n, over, names)
  if not episode then
    return { status = 409, code = "no_episode", message = "call POST /env/reset first" }
  end
  if over then
    return { status = 409, code = "episode_done",
             message = string.format("episode %d is done after step %d: POST /env/reset starts the next",
                                     episode, n), episode = episode, step = n }
  end
  if names ~= sig then
    return { status = 409, code = "observation_changed",
             message = "policies/observation.lua changed since this episode began: POST /env/reset starts one "
                    .. "with the new fields" }
  end
end

--- The state under key as a table (st for advance), and what stops it
-- from taking a step (problem()) or nil. sig: names_of(fields), when the
-- caller has it.
local function state(key, fields, sig)
  local episode, n, over, file, head, names, before, seed = load_state(key)
  local st = { episode = episode, n = n, file = file, head = head, before = before, seed = seed }
  return st, problem(sig or names_of(fields), episode, n, over, names)
end

--- One step of the episode under key, on the cluster k8s is bound to:
-- act, measure, observe, reward, append the row, keep the state. Returns
-- the answer of a step. st: the state under key as state() read it (read
-- here when nil).
local function advance(key, env, fields, action, st)
  local why
  if not st then st, why = state(key, fields) end
  if why then error(why, 0) end
  -- before: the observation the agent saw and acted on
  local episode, n, file, head, before, seed = st.episode, st.n, st.file, st.head, st.before, st.seed
  local delta = env.actions[action]
  if math.type(delta) ~= "integer" then
    bad_policy("env.lua", "action " .. action .. " = " .. tostring(delta) .. ": wants an integer")
  end
  local scaled = delta == 0 and { scaled = false, reason = "stay" } or ops.scale_by(delta)
  local summary = ops.loadtest()
  local system = podview.system()
  local kpis, reward = ops.reward(summary, system)
  local after = observe(fields, { system = system, kpis = kpis })
  n = n + 1
  -- no state of the cluster ends an episode (terminated); its length does
  -- (truncated), as gymnasium's TimeLimit
  local terminated, truncated = false, n >= env.max_steps
  local done = terminated or truncated
  -- episode, step, time, the observation acted on, action, the observation
  -- after, KPIs, reward, done: no value is nil (null is json.null)
  local row = { episode, n, k8s.now(), table.unpack(before) }
  row[#row + 1] = action
  for _, f in ipairs(fields) do row[#row + 1] = after[f.name] end
  for _, c in ipairs(KPI_COLUMNS) do row[#row + 1] = kpis[c] or null end
  row[#row + 1] = reward
  row[#row + 1] = done
  append(file, row, head)
  save_state(key, episode, n, seed, done, fields, after)   -- a step that failed above changed nothing here
  return {
    observation = after, reward = reward, kpis = kpis, terminated = terminated, truncated = truncated, done = done,
    info = { episode = episode, step = n, action = action, from = scaled.from, to = scaled.to,
             scaled = scaled.scaled, reason = scaled.reason },
  }
end

--- A JSON bound: math.huge (none) is null.
local function bound(x)
  if x == math.huge or x == -math.huge then return null end
  return x
end

--- GET /env/spec: the observation (in order, with units and bounds) and the
-- actions (in index order), so that a client builds its spaces from them.
local function spec()
  local env, fields = env_policy_full(), observation_fields()
  local names = action_names(env)
  local obs, low, high, actions = {}, {}, {}, {}
  for i, f in ipairs(fields) do
    low[i], high[i] = bound(f.low), bound(f.high)
    obs[i] = { name = f.name, unit = f.unit, low = low[i], high = high[i] }
  end
  for i, name in ipairs(names) do actions[i] = { index = i - 1, name = name, steps = env.actions[name] } end
  return {
    observation = obs, actions = actions, max_steps = env.max_steps,
    spaces = {
      observation = { type = "Box", shape = { #fields }, low = low, high = high },
      action = { type = "Discrete", n = #names },
    },
  }
end

return {
  env_policy = env_policy, env_policy_full = env_policy_full, action_names = action_names,
  action_of = action_of, observation_policy_fields = observation_policy_fields,
  observation_fields = observation_fields, body_of = body_of, int_field = int_field, reset_args = reset_args,
  names_of = names_of, begin = begin, state = state, advance = advance, spec = spec,
}
