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

-- the rows of an episode file (an absolute path), after its # comment line
local function csv_rows(file)
  local rows = {}
  for line in io.lines(file) do
    if line:sub(1, 1) ~= "#" then rows[#rows + 1] = line end
  end
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

-- The default observation: the thesis agent's state, and the episode CSV's
-- columns as they have always been.
local keys = {}
for k in pairs(s.observation) do keys[#keys + 1] = k end
table.sort(keys)
check(table.concat(keys, ",") == "cpu_percent,mem_percent,pods", "the default observation is cpu_percent, mem_percent, pods")
check(csv_rows(r2.file)[1] == "episode,step,time,cpu_percent,mem_percent,pods,action,next_cpu_percent,"
      .. "next_mem_percent,next_pods,avg_latency,drop_packet_percentage,total_packet_count,reward,done",
      "the default episode CSV header")

-- The episode file: this run's, absolute, and it starts with a comment
-- line that says what produced it, then the columns.
local status = engine.status()
local first = io.lines(r.file)()
check(r.file:sub(1, 1) == "/" and r.file:find("/" .. status.run_id .. "/episode-" .. r.episode .. ".csv", 1, true)
      and r.run_id == status.run_id, "the episode file is absolute and in a folder of this run (" .. r.file .. ")")
check(first == string.format("# podgym %s run %s seed 7 config %s", status.version, status.run_id,
                             status.config_hash or "unknown"),
      "the episode file's first line records version, run, seed and config (" .. first .. ")")

-- Integer actions are indices into the actions ordered by their steps.
local before_pods = k8s.replicas()
local si = call(A, STEP, '{"action": 2}')
check(si.info.action == "out" and k8s.replicas() == math.min(before_pods + 1, 5), "action 2 is out")
si = call(B, STEP, '{"action": 0}')
check(si.info.action == "in", "action 0 is in")

-- the episode and its step, as the shared dict holds them
local function load_episode() return shared.get("env.state") end

-- policies/observation.lua, edited as a REPL would: every bad edit is a 500
-- naming the file (and the field), and the cluster is left alone.
local observation = require "observation"
local default_fields = observation.fields
-- route(body) fails with code and a message that matches pattern; the
-- cluster is left as it was unless it acted (a value computed after the
-- step's scaling), and the episode does not advance.
local function fails(route, body, code, pattern, what, acted)
  local before, episode = k8s.replicas(), load_episode()
  local ok, err = pcall(call, A, route, body)
  check(not ok and type(err) == "table" and err.code == code and tostring(err.message):find(pattern)
        and (acted or k8s.replicas() == before) and load_episode() == episode,
        what .. " (" .. (type(err) == "table" and tostring(err.message) or tostring(err)) .. ")")
end
local function with_field(f)
  local fields = { table.unpack(default_fields) }
  fields[#fields + 1] = f
  observation.fields = fields
end
local function with_pods(f)       -- the third field, pods, replaced
  observation.fields = { default_fields[1], default_fields[2], f }
end
local OUT = '{"action": "out"}'
with_pods { name = "pods", unit = "pods", low = 0, high = 5 }
fails(STEP, OUT, "bad_policy", "observation.lua: field 3 %(pods%): wants {name", "a field without value: 500 at the step")
with_pods { name = "pods", unit = "pods", low = 0, high = 5, value = function() return "many" end }
fails(STEP, OUT, "bad_policy", "pods.value%(%) returned string many, not a finite number or null",
      "a value that is not a number: 500 at the step", true)
with_pods { name = "pods", unit = "pods", low = 0, high = 5, value = function(m) return m.system.no_such.field end }
fails(STEP, OUT, "bad_policy", "pods.value%(%) failed: .*attempt to index", "a value that raises: 500 at the step", true)
with_field { name = "p99_latency", unit = "ms", low = 0, high = 1 / 0 }
fails(RESET, "{}", "bad_policy", "observation.lua: field 4 %(p99_latency%): wants {name",
      "a field without value: 500 at reset")
with_field { name = "p99_latency", unit = "ms", low = 10, high = 0, value = function(m) return m.kpis.p99_latency end }
fails(RESET, "{}", "bad_policy", "field 4 %(p99_latency%): low and high must be numbers with low <= high",
      "low > high: 500 at reset")
with_field { name = "pods", unit = "pods", low = 0, high = 5, value = function() return 1 end }
fails(RESET, "{}", "bad_policy", "field 4 %(pods%): the name is taken", "a name used twice: 500 at reset")
with_field { name = "next_pods", unit = "pods", low = 0, high = 5, value = function() return 1 end }
fails(RESET, "{}", "bad_policy", "the name is taken", "a name that is another's CSV column: 500 at reset")
with_field { name = "p99 latency", unit = "ms", low = 0, high = 1, value = function() return 1 end }
fails(RESET, "{}", "bad_policy", "name must be letters, digits and _", "a name that is not a CSV column name: 500")
observation.fields = {}
fails(STEP, OUT, "bad_policy", "observation.lua: must return {fields", "no fields: 500")
observation.fields = default_fields

-- A field added while an episode runs: that episode's steps are a 409
-- until a reset starts one with the new field, in its own CSV columns.
local r3 = call(A, RESET, '{"pods": 2, "seed": 3}')
with_field { name = "p99_latency", unit = "ms", low = 0, high = 1 / 0, value = function(m) return m.kpis.p99_latency end }
fails(STEP, OUT, "observation_changed", "observation.lua changed", "an edited observation mid-episode: 409")
local r4 = call(B, RESET, '{"pods": 2, "seed": 3}')
local s4 = call(A, STEP, OUT)
check(r4.observation.p99_latency == json.null and type(s4.observation.p99_latency) == "number"
      and s4.observation.p99_latency == s4.kpis.p99_latency,
      "after a reset the observation has the new field: null at reset, the step's p99 after it")
local rows4 = csv_rows(r4.file)
check(rows4[1]:find(",pods,p99_latency,action,", 1, true) and rows4[1]:find(",next_pods,next_p99_latency,avg_latency,", 1, true)
      and select(2, rows4[2]:gsub(",", "")) == select(2, rows4[1]:gsub(",", "")),
      "the new episode's CSV has the p99_latency columns, and its rows as many fields")
observation.fields = default_fields
local r5 = call(A, RESET, '{"pods": 2, "seed": 3}')

-- policies/env.lua, edited: a clear 500 too
local envp = require "env"
envp.max_steps = "many"
fails(STEP, OUT, "bad_policy", "env.lua: max_steps must be an integer", "max_steps that is not an integer: 500")
envp.max_steps = 200
envp.actions.out = 1.5
fails(STEP, OUT, "bad_policy", "env.lua: action out = 1.5", "an action that is not an integer: 500")
envp.actions.out = 1
fails(STEP, '{"action": 3}', "bad_action", 'one of "in", "stay", "out" %(or an index 0..2%); got 3',
      "an index past the actions: 400 naming them")
fails(STEP, '{"action": 1.5}', "bad_action", "got 1.5", "an index that is not an integer: 400")

-- A line in env.lua adds an action, by name and by index.
envp.actions.out2 = 2
local r6 = call(A, RESET, '{"pods": 1, "seed": 3}')
local s6 = call(A, STEP, '{"action": 3}')
check(s6.info.action == "out2" and s6.info.from == 1 and s6.info.to == 3, "an action added to env.lua: index 3 is out2, +2 pods")
fails(STEP, '{"action": "up"}', "bad_action", '"in", "stay", "out", "out2" %(or an index 0..3%)',
      "the 400 of an unknown action lists the added one")
envp.actions.out2 = nil

-- An episode is truncated at max_steps, and done; its next step is a 409
-- until a reset.
envp.max_steps = 2
local r7 = call(A, RESET, "")
local s71, s72 = call(A, STEP, OUT), call(B, STEP, OUT)
check(not s71.done and not s71.truncated and s71.terminated == false and s72.truncated and s72.done
      and s72.terminated == false, "step 2 of max_steps 2 is truncated and done, never terminated")
fails(STEP, OUT, "episode_done", "episode " .. r7.episode .. " is done after step 2", "a step past the end: 409")
check(#csv_rows(r7.file) == 3, "the ended episode's file holds its 2 rows, none past the end")
local r7b = call(B, RESET, '""')
check(call(A, STEP, OUT).info.step == 1, "after a reset (a JSON \"\" body) the steps go on")
envp.max_steps = 200
local r8 = call(A, RESET, "{}")
fails(RESET, "[1]", "bad_body", "must be a JSON object, empty or", "reset with an array: 400")
fails(RESET, "3", "bad_body", "must be a JSON object", "reset with a number: 400")

for _, f in ipairs { file, r2.file, r3.file, r4.file, r5.file, r6.file, r7.file, r7b.file, r8.file } do
  os.remove(f)
end
os.remove(engine.config().data_dir .. "/" .. dir .. "/" .. r.run_id)
os.remove(engine.config().data_dir .. "/" .. dir)
print(string.format("%d passed, %d failed", count - failures, failures))
if failures > 0 then error(failures .. " checks failed") end
