-- scaling.lua: the bounds and step of every scaling route.
local M = {
  min = 1,          -- never fewer pods
  max = 5,          -- never more pods
  step = 1,         -- pods added or removed by /pod/scale/in and /pod/scale/out
  timeout_s = 90,   -- how long a scaling route waits for the pods to be ready
}

return M
