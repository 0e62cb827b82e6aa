-- The gym routes (scripts/env.lua) served by two workers in turn: each
-- loads the script on its own, as two Lua states of the server do, and the
-- episode's state goes between them through the shared dict. A worker must
-- never act on what it saw itself when the other has moved on since.
local failures, count = 0, 0
local function check(cond, what)
  count = count + 1
  if cond then print("ok   - " .. what) else failures = failures + 1; print("FAIL - " .. what) end
end

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local script = here .. "/../../scripts/env.lua"
local REQ = {}
REQ.__index = REQ
function REQ:json() return json.decode(self.body) end
local function call(worker, route, body)
  return worker[route].handler(setmetatable({ body = body }, REQ))
end
-- this run's episodes in a folder of their own
local dir = string.format("lua-env-test-%d", math.floor(clock.mono() * 1000) % 1000000)
require("env").episodes_dir = dir
local A, B = dofile(script), dofile(script)       -- [1] reset, [2] step
local RESET, STEP = 1, 2

local function csv_rows(file)
  local rows = {}
  for line in io.lines(engine.config().data_dir .. "/" .. file) do rows[#rows + 1] = line end
  return rows
end

local r = call(A, RESET, '{"pods": 2, "seed": 7}')
local file = r.file
local seen = r.observation                   -- what the agent acts on next
local order = { A, B, B, A, B, A, A, B }
local acts = { "out", "out", "stay", "in", "out", "in", "stay", "out" }
local steps_ok, acted_ok = true, true
for i, w in ipairs(order) do
  local s = call(w, STEP, '{"action": "' .. acts[i] .. '"}')
  steps_ok = steps_ok and s.info.step == i and s.info.episode == r.episode
  local row = csv_rows(file)[i + 1]           -- after the header
  local pods = tonumber(row:match("^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,([^,]*),"))
  acted_ok = acted_ok and pods == seen.pods
  seen = s.observation
end
check(steps_ok, "steps served by two workers in turn count 1, 2, 3, ... in one episode")
check(acted_ok, "each CSV row records the observation the other worker returned last")

-- a reset by one worker starts a new episode for the other too
local r2 = call(B, RESET, '{"pods": 3, "seed": 7}')
local s = call(A, STEP, '{"action": "stay"}')
check(r2.episode == r.episode + 1 and s.info.episode == r2.episode and s.info.step == 1,
      "after a reset by one worker, the other's next step is step 1 of the new episode")
check(#csv_rows(r2.file) == 2 and #csv_rows(file) == #order + 1, "each episode has its own CSV")

os.remove(engine.config().data_dir .. "/" .. file)
os.remove(engine.config().data_dir .. "/" .. r2.file)
os.remove(engine.config().data_dir .. "/" .. dir)
print(string.format("%d passed, %d failed", count - failures, failures))
if failures > 0 then error(failures .. " checks failed") end
