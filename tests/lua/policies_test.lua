-- Unit tests of the policies' mechanisms (run through `podgym run`): the
-- values a researcher edits come from the policy tables, never from here.
local failures, count = 0, 0
local function check(cond, what)
  count = count + 1
  if cond then print("ok   - " .. what) else failures = failures + 1; print("FAIL - " .. what) end
end
local function near(a, b) return math.abs(a - b) < 1e-9 end

-- pruning.lua: unsatisfactory() judges by the policy's tables as they are;
-- the test sets its own (a REPL may edit them the same way)
local pruning = require "pruning"
pruning.states = { Pending = true, ContainerCreating = true, Terminating = true }
pruning.grace_s = { ContainerCreating = 30 }
local bad, reason = pruning.unsatisfactory { status = "Pending", age_s = 1 }
check(bad and reason == "Pending", "pruning: a listed state is unsatisfactory")
check(not pruning.unsatisfactory { status = "CrashLoopBackOff", age_s = 100 }, "pruning: a state not listed stays")
check(not pruning.unsatisfactory { status = "ContainerCreating", age_s = 29 }, "pruning: within its grace a pod stays")
check(pruning.unsatisfactory { status = "ContainerCreating", age_s = 31 }, "pruning: past its grace a pod goes")
bad, reason = pruning.unsatisfactory { status = "Running", deleting = true, age_s = 3 }
check(bad and reason == "Terminating", "pruning: a deleting pod is judged as Terminating")

-- scaling.lua: the bounds a route uses come from the policy file. A child
-- `podgym run` whose config names a folder with the test's own scaling.lua
-- (min 2, max 3) reads those bounds through ops.bounds().
local bin = os.getenv("PODGYM_BIN") or "build/podgym"
local src = os.getenv("PODGYM_SRC") or "."
local tmp = io.popen("mktemp -d /tmp/podgym-policies-XXXXXX"):read("l")
local function sh(q) return "'" .. q:gsub("'", "'\\''") .. "'" end
local function put(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end
assert(os.execute("mkdir -p " .. sh(tmp .. "/policies") .. " " .. sh(tmp .. "/scripts") .. " && cp -r "
                  .. sh(src .. "/scripts/lib") .. " " .. sh(tmp .. "/scripts/")))
put(tmp .. "/podgym.yaml", string.format("scripts: %s/scripts\npolicies: %s/policies\ndata_dir: %s/data\n", tmp, tmp, tmp))
put(tmp .. "/bounds.lua", [[
local ok, min, max, step, timeout = pcall(require("ops").bounds)
print(ok and table.concat({ min, max, step, timeout }, ",") or (min.code .. ": " .. min.message))
]])
local function child_bounds(policy)
  put(tmp .. "/policies/scaling.lua", policy)
  local p = io.popen(sh(bin) .. " run " .. sh(tmp .. "/bounds.lua") .. " -c " .. sh(tmp .. "/podgym.yaml") .. " 2>&1")
  local out = p:read("a")
  p:close()
  return (out:gsub("\n$", ""))
end
local got = child_bounds "return { min = 2, max = 3, step = 1, timeout_s = 7 }\n"
check(got == "2,3,1,7", "ops.bounds: min 2, max 3, step 1, 7 s from the policy file (" .. got .. ")")
got = child_bounds "return { min = 2, max = 3 }\n"
check(got == "2,3,1,90", "ops.bounds: step 1 and 90 s when the policy leaves them out (" .. got .. ")")
got = child_bounds "return { min = 4, max = 3 }\n"
check(got:match "^bad_policy: policies/scaling.lua:", "ops.bounds: min > max in the file is a bad policy (" .. got .. ")")
got = child_bounds "return { min = 1.5, max = 3 }\n"
check(got:match "^bad_policy: policies/scaling.lua:", "ops.bounds: a bound that is not an integer is a bad policy")
os.execute("rm -rf " .. sh(tmp))

-- ops.bounds() follows the policy table as it is now (a REPL may edit it)
local scaling = require "scaling"
local ops = require "ops"
local function bounds() return table.concat({ ops.bounds() }, ",") end
scaling.min, scaling.max, scaling.step, scaling.timeout_s = 2, 3, 1, 7
check(bounds() == "2,3,1,7,metrics", "ops.bounds: the table's min 2, max 3, step 1, 7 s, waiting for metrics")
scaling.max = 8
check(bounds() == "2,8,1,7,metrics", "ops.bounds: an edited max is seen at once")
scaling.min = 9
local ok, err = pcall(ops.bounds)
check(not ok and type(err) == "table" and err.code == "bad_policy", "ops.bounds: min > max after an edit is a bad policy")
scaling.min, scaling.step, scaling.timeout_s = 2, 2, 30
check(bounds() == "2,8,2,30,metrics", "ops.bounds: edited step and timeout are seen")
scaling.min = 1.5
ok, err = pcall(ops.bounds)
check(not ok and err.code == "bad_policy" and err.message:find("scaling.lua: min, max and step must be integers (got 1.5,", 1, true),
      "ops.bounds: a bound that is not an integer is a bad policy naming it")
scaling.min, scaling.timeout_s = 2, 0
ok, err = pcall(ops.bounds)
check(not ok and err.message:find("timeout_s must be > 0", 1, true), "ops.bounds: timeout_s 0 is a bad policy")
scaling.max, scaling.step, scaling.timeout_s = 3, 1, 7
scaling.wait_for = "ready"
check(bounds() == "2,3,1,7,ready", "ops.bounds: wait_for \"ready\" is seen")
scaling.wait_for = "soon"
ok, err = pcall(ops.bounds)
check(not ok and err.code == "bad_policy" and err.message:find('scaling.lua: wait_for must be "metrics" or "ready", got soon', 1, true),
      "ops.bounds: a wait_for that is neither metrics nor ready is a bad policy naming it")
scaling.wait_for = nil
check(bounds() == "2,3,1,7,metrics", "ops.bounds: without wait_for a scale waits for metrics")
scaling.wait_for = "metrics"
check(bounds() == "2,3,1,7,metrics", "ops.bounds: back to the table's own values")

-- podview.round2 rounds half up to 2 decimals, as floor(x * 100 + 0.5) / 100
local round2 = require("podview").round2
local same = true
for i = -20000, 20000 do
  for _, x in ipairs { i / 1000, i / 7, i * 1e9 + 0.125, i / 200 + 0.005, i / 200 - 0.005 } do
    local want = math.floor(x * 100 + 0.5) / 100
    if round2(x) ~= want or math.type(round2(x)) ~= "float" then same = false end
  end
end
check(same, "podview.round2: the same value as floor(x * 100 + 0.5) / 100, a float")

-- reward.lua: the thesis agent's formula
local null = require("json").null
local reward = require "reward"
local summary = { count = 6, errors = 1, drop_pct = 100 / 6,
                  latency = { mean = 250, p50 = 200, p90 = 400, p95 = 450, p99 = 500 },
                  elapsed = { mean = 300 }, throughput_rps = 2, duration_s = 3 }
local k = reward.kpis(summary)
check(k.avg_latency == 250 and near(k.drop_packet_percentage, 100 / 6) and k.drop_packet_count == 1
      and k.total_packet_count == 6 and k.avg_elapsed == 300 and k.p99_latency == 500, "reward: KPIs from a summary")
local expect = -(0.33 * math.log(1 + 0.25, 2) + 0.33 * math.log(1 + 100 / 6, 2) + 0.33 * math.log(3, 2))
check(near(reward.reward(k, 3), expect), "reward: the thesis formula")
check(near(reward.reward({ avg_latency = 0, drop_packet_percentage = 0 }, 1), 0), "reward: a perfect 1-pod state is 0")
check(reward.reward({ avg_latency = 100, drop_packet_percentage = 0 }, 4)
      < reward.reward({ avg_latency = 100, drop_packet_percentage = 0 }, 2), "reward: more pods cost more")
check(reward.reward({ avg_latency = 900, drop_packet_percentage = 0 }, 2)
      < reward.reward({ avg_latency = 100, drop_packet_percentage = 0 }, 2), "reward: latency costs")
check(reward.reward({ avg_latency = 100, drop_packet_percentage = 20 }, 2)
      < reward.reward({ avg_latency = 100, drop_packet_percentage = 0 }, 2), "reward: drops cost")

-- ops.reward checks the policy on every use: an edit that breaks it is a
-- 500 naming reward.lua and the function
local kpis_fn, reward_fn, pods_fn = reward.kpis, reward.reward, reward.pods
reward.reward = nil
ok, err = pcall(ops.reward, summary, { online_pods = 2 })
check(not ok and err.code == "bad_policy" and err.message:find("reward.lua: must return a table with kpis", 1, true),
      "ops.reward: a reward policy without reward() is a bad policy")
reward.reward = function() return 0 / 0 end
ok, err = pcall(ops.reward, summary, { online_pods = 2 })
check(not ok and err.message:find("reward() returned number", 1, true), "ops.reward: a NaN reward is a bad policy")
reward.kpis = function(x) return x.no.such end
ok, err = pcall(ops.reward, summary, { online_pods = 2 })
check(not ok and err.message:find("reward.lua: kpis() failed: ", 1, true), "ops.reward: kpis() that raises names kpis()")
reward.kpis, reward.reward = kpis_fn, reward_fn
reward.pods = function(s) return s.ready_pods end
ok, err = pcall(ops.reward, summary, { online_pods = 2 })
check(not ok and err.message:find("reward.lua: pods() returned nil nil, not a number >= 0", 1, true),
      "ops.reward: a pod count that is not a number is a bad policy")
reward.kpis, reward.reward, reward.pods = kpis_fn, reward_fn, pods_fn
local _, r, pods = ops.reward(summary, { online_pods = 3, ready_pods = 4, total_pods = 5 })
check(near(r, expect) and pods == 3, "ops.reward: back to the thesis formula, on online_pods")

-- reward.lua's pod count is the one the thesis agent read: online_pods
check(reward.pods { online_pods = 2, ready_pods = 3, total_pods = 3 } == 2,
      "reward.pods: online_pods (the pods in the metrics API), not ready_pods")
check(reward.pods { online_pods = null, ready_pods = 1, total_pods = 1 } == 0,
      "reward.pods: 0 while no pod reports metrics (online_pods null)")

-- observation.lua: the thesis agent's state, in order, from the GET /pod system block
local observation = require "observation"
local names, units = {}, {}
for i, f in ipairs(observation.fields) do names[i], units[i] = f.name, f.unit end
check(table.concat(names, ",") == "cpu_percent,mem_percent,pods" and table.concat(units, ",") == "%,%,pods",
      "observation: cpu_percent (%), mem_percent (%), pods, in this order")
local sys = { cpu_percent = 42.5, mem_percent = null, ready_pods = 3, online_pods = 2 }
local values = {}
for i, f in ipairs(observation.fields) do values[i] = f.value { system = sys, kpis = {} } end
check(values[1] == 42.5 and values[2] == null and values[3] == 2,
      "observation: the values come from s.system (online pods, as the thesis agent read them)")
check(observation.fields[3].low == 0 and observation.fields[3].high == scaling.max
      and observation.fields[1].low == 0 and observation.fields[1].high == math.huge,
      "observation: pods within [0, scaling.max], percents from 0, unbounded above")

-- hpa.lua: ceil(current x utilisation / target), tolerance 0.1, bounds
local hpa = require "hpa"
check(hpa.recommend(2, 100, 50, 1, 5) == 4, "hpa: 2 pods at 100% of a 50% target -> 4")
check(hpa.recommend(2, 54, 50, 1, 5) == 2, "hpa: within the 0.1 tolerance -> no change")
check(hpa.recommend(2, 56, 50, 1, 5) == 3, "hpa: just past the tolerance -> ceil")
check(hpa.recommend(4, 10, 50, 1, 5) == 1, "hpa: scale in, ceil(4 x 0.2) = 1")
check(hpa.recommend(3, 400, 50, 1, 5) == 5, "hpa: bounded by max")
local _, info = hpa.recommend(2, 54, 50, 1, 5)
check(info.within_tolerance == true and near(info.ratio, 1.08), "hpa: reports ratio and tolerance")
-- GET /hpa/recommend checks the policy on every use
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local hpa_route = dofile(here .. "/../../scripts/hpa.lua")
local function recommend() return pcall(hpa_route.handler, { query = {} }) end
ok = recommend()
check(ok, "GET /hpa/recommend answers with the default policy")
hpa.tolerance = -1
ok, err = recommend()
check(not ok and err.code == "bad_policy" and err.message:find("hpa.lua: tolerance must be a number >= 0", 1, true),
      "GET /hpa/recommend: a negative tolerance is a bad policy")
hpa.tolerance = 0.1
local recommend_fn = hpa.recommend
hpa.recommend = function() return "two" end
ok, err = recommend()
check(not ok and err.message:find("hpa.lua: recommend() must return the pod count", 1, true),
      "GET /hpa/recommend: a recommend() that returns a string is a bad policy")
hpa.recommend = recommend_fn

-- podview.view: the GET /pod body from a snapshot. A metric finds its pod by
-- scanning (a few pods) or through a name index (many): both agree with a
-- plain reference, on random snapshots of 0 to 40 pods with metrics for some
-- of them, in another order, and one for a pod that is gone.
local podview, json = require "podview", require "json"
local function reference(snap)
  local r2 = podview.round2
  local by_name, metered, container, others = {}, {}, {}, {}
  local u = { ready = 0, online = 0, cpu = 0, mem = 0, req_cpu = 0, req_mem = 0 }
  for _, p in ipairs(snap.pods) do
    by_name[p.name] = p
    if p.ready then u.ready = u.ready + 1 end
  end
  for _, m in ipairs(snap.metrics) do
    local p = by_name[m.name]
    if p then
      metered[m.name] = true
      local rc, rm = p.requests.cpu, p.requests.memory
      u.online = u.online + 1
      u.cpu, u.mem, u.req_cpu, u.req_mem = u.cpu + m.cpu, u.mem + m.memory, u.req_cpu + rc, u.req_mem + rm
      if not u.oldest or m.timestamp < u.oldest then u.oldest = m.timestamp end
      container[#container + 1] = {
        name = m.name, cpu = m.cpu, mem = m.memory, req_cpu = rc, req_mem = rm,
        cpu_percent = rc > 0 and r2(m.cpu / rc * 100) or null, mem_percent = rm > 0 and r2(m.memory / rm * 100) or null,
        status = p.status, ready = p.ready, restarts = p.restarts, age_s = r2(p.age_s),
      }
    end
  end
  for _, p in ipairs(snap.pods) do
    if not metered[p.name] then
      others[#others + 1] = { name = p.name, status = p.status, ready = p.ready, restarts = p.restarts, age_s = r2(p.age_s) }
    end
  end
  local sys = { cpu_percent = null, mem_percent = null, online_pods = null, metrics_age_s = null,
                total_pods = #snap.pods, ready_pods = u.ready, desired_pods = snap.desired }
  if u.online > 0 then
    sys.cpu_percent = u.req_cpu > 0 and r2(u.cpu / u.req_cpu * 100) or null
    sys.mem_percent = u.req_mem > 0 and r2(u.mem / u.req_mem * 100) or null
    sys.online_pods = u.online
    sys.metrics_age_s = r2(math.max(0, snap.now - u.oldest))
  end
  return { system = sys, container = #container > 0 and container or nil, no_metrics = json.array(others) }
end
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
local rng = 12345
local function rnd(n) rng = (rng * 1103515245 + 12345) % 2147483648; return rng % n end
local agree, sizes = true, {}
for _, np in ipairs { 0, 1, 3, 5, 16, 17, 40 } do
  for _ = 1, 20 do
    local snap = { pods = {}, metrics = {}, desired = np, now = 1000 + rnd(100) }
    for i = 1, np do
      snap.pods[i] = { name = "web-" .. rnd(100000) .. "-" .. i, ready = rnd(3) > 0, restarts = rnd(4),
                       status = ({ "Running", "Pending", "CrashLoopBackOff" })[rnd(3) + 1], age_s = rnd(5000) / 7,
                       requests = { cpu = rnd(4) == 0 and 0 or 0.5, memory = rnd(4) == 0 and 0 or 536870912 } }
      if rnd(3) > 0 then
        table.insert(snap.metrics, rnd(#snap.metrics + 1) + 1,
                     { name = snap.pods[i].name, cpu = rnd(1000) / 1000, memory = rnd(2 ^ 30), timestamp = 900 + rnd(100) })
      end
    end
    table.insert(snap.metrics, rnd(#snap.metrics + 1) + 1, { name = "gone-pod", cpu = 1, memory = 1, timestamp = 1 })
    local got, want = podview.view(snap), reference(snap)
    if not same(got, want) then
      if agree or sizes[#sizes] ~= np then sizes[#sizes + 1] = np end
      agree = false
    end
  end
end
check(agree, "podview.view: the reference body on 140 random snapshots of 0 to 40 pods" ..
      (agree and "" or " (differs at " .. table.concat(sizes, ",") .. " pods)"))

-- env.lua
local env = require "env"
check(env.actions["in"] == -1 and env.actions.stay == 0 and env.actions.out == 1, "env: in/stay/out")
check(math.type(env.max_steps) == "integer" and env.max_steps > 0, "env: max_steps is a positive integer")

print(string.format("%d passed, %d failed", count - failures, failures))
return failures == 0 and 0 or 1
