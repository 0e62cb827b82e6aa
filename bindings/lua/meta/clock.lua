---@meta clock
-- clock: wall, monotonic and backend time. Source: bindings/modules/lb_clock.c.

clock = {}

---Epoch seconds (CLOCK_REALTIME).
---@return number
function clock.now() end

---Monotonic seconds, for measuring intervals.
---@return number
function clock.mono() end

---Real sleep; a signal (Ctrl-C in the repl) ends it early.
---@param s number seconds >= 0
function clock.sleep(s) end

---The backend's clock (virtual on sim), else clock.now().
---@return number
function clock.backend_now() end

return clock
