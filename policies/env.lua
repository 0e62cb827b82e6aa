-- env.lua: the gym-style environment of POST /env/reset, /env/step and
-- GET /env/spec.
--
-- actions: name = how many scaling steps (policies/scaling.lua's step) the
-- action scales by, negative in, positive out. Ordered by that number (then
-- by name), they are gymnasium's Discrete(n): a step posts {"action": "out"}
-- or its 0-based index, {"action": 2}; GET /env/spec, GET /openapi.json and
-- the 400 of an unknown action list them in this order. Adding a line here
-- is all an action needs, e.g. out2 = 2.
--
-- max_steps: an episode ends after this many steps (the step answers
-- truncated and done); its next step is 409 episode_done until a reset.
--
-- episodes_dir: under data_dir; each run writes its episodes to
-- <episodes_dir>/<run id>/episode-<n>.csv.
---@type podgym.env_policy
local M = {
  max_steps = 200,
  actions = { ["in"] = -1, stay = 0, out = 1 },
  episodes_dir = "episodes",
}

return M
