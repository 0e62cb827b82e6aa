-- POST /env/reset, /env/step and GET /env/spec: a gym-style environment,
-- one request per RL step, on the engine's cluster. The rules are
-- scripts/lib/episode.lua's (the same for every env of a vector,
-- scripts/envs.lua); the actions and the episode length are
-- policies/env.lua, what the agent observes policies/observation.lua.
-- Every step is appended to the episode's CSV under data_dir,
-- <episodes_dir>/<run id>/episode-<n>.csv.
local data = require "data"
local engine = require "engine"
local episode = require "episode"
local podview = require "podview"
local shared = require "shared"

local check = podview.check

-- The single env's episode state in the shared dict.
local KEY = "env.state"

local function reset(req)
  local b = episode.body_of(req, true)
  local env, fields = episode.env_policy_full(), episode.observation_fields()
  local pods, seed = episode.reset_args(b, true, engine.config().sim.seed)
  return data.locked("env", function()
    local n = check(shared.incr("env.episode", 1, 0))
    local run = engine.status().run_id or "unknown"
    return episode.begin(KEY, string.format("%s/%s/episode-%d.csv", env.episodes_dir or "episodes", run, n),
                         n, seed, pods, fields)
  end)
end

local function step(req)
  local b = episode.body_of(req)
  local env, fields = episode.env_policy(), episode.observation_policy_fields()
  local action = episode.action_of(env, b.action)
  return data.locked("env", episode.advance, KEY, env, fields, action)
end

-- The action names for the OpenAPI document: policies/env.lua's when the
-- scripts load (every edit of a policy loads them anew); none while it is broken.
local ok_names, declared = pcall(function() return episode.action_names(episode.env_policy_full()) end)
local action_schema = {
  description = "an action of policies/env.lua, by name or by its 0-based index (gymnasium's Discrete)",
  oneOf = { { type = "string", enum = ok_names and declared or nil },
            { type = "integer", minimum = 0, maximum = ok_names and #declared - 1 or nil } },
}

return {
  {
    method = "POST", path = "/env/reset",
    summary = "Start an episode: {pods, seed} (both optional; an empty body or \"\" too); "
           .. "returns the first observation and the episode file",
    body = { type = "object", properties = { pods = { type = "integer" }, seed = { type = "integer" } } },
    handler = reset,
  },
  {
    method = "POST", path = "/env/step",
    summary = "One RL step: {action: a name or index of policies/env.lua} -> observation, reward, kpis, "
           .. "terminated, truncated, done, info; 409 episode_done once the episode is done",
    body = { type = "object", required = { "action" }, properties = { action = action_schema } },
    handler = step,
  },
  {
    method = "GET", path = "/env/spec",
    summary = "The observation (names, units, bounds: policies/observation.lua) and the actions "
           .. "(policies/env.lua), with gymnasium's spaces",
    handler = episode.spec,
  },
}
