-- env.lua: the gym-style environment of POST /env/reset and /env/step.
local M = {
  max_steps = 200,          -- an episode is done after this many steps
  actions = { ["in"] = -1, stay = 0, out = 1 },
  episodes_dir = "episodes",  -- under data_dir
}

return M
