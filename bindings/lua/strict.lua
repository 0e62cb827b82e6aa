-- strict.lua: in route/policy states, reading or assigning an undeclared
-- global is an error (run last, after every module global is set).
setmetatable(_G, {
  __index = function(_, k)
    error("unknown global '" .. tostring(k) .. "'", 2)
  end,
  __newindex = function(_, k)
    error("assignment to undeclared global '" .. tostring(k) .. "' (use local)", 2)
  end,
})
