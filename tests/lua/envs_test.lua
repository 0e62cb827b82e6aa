-- k8s.envs and k8s.on: vector envs' clusters, each its own simulated cluster,
-- and a binding that sends every k8s call (and a load test's) to one of
-- them, restored after the function returns or raises.
local failures, count = 0, 0
local function check(cond, what)
  count = count + 1
  if cond then print("ok   - " .. what) else failures = failures + 1; print("FAIL - " .. what) end
end

if k8s.backend() ~= "sim" then
  print("skipped: the backend is " .. k8s.backend() .. ", not sim")
  os.exit(77)
end

local limit = 1024
local _, err = k8s.envs(limit + 1)
check(err and err.status == 429 and err.code == "too_many_envs", "more than limits.envs is 429 too_many_envs")
check(k8s.envs(3) == 3, "k8s.envs(3) makes 3 clusters")
check(not pcall(k8s.on, 4, function() end), "k8s.on an env that does not exist raises")
check(not pcall(k8s.on, 0, function() end), "env clusters are numbered from 1")

k8s.sim.reset { seed = 1, pods = 1 }
k8s.on(1, k8s.sim.reset, { seed = 2, pods = 3 })
k8s.on(2, k8s.sim.reset, { seed = 3, pods = 4 })
check(k8s.replicas() == 1, "the engine's cluster keeps its 1 pod")
check(k8s.on(1, k8s.replicas) == 3 and k8s.on(2, k8s.replicas) == 4, "envs 1 and 2 have 3 and 4 pods")

k8s.on(1, k8s.sim.advance, 100)
check(k8s.on(1, k8s.sim.time) == 100 and k8s.sim.time() == 0 and k8s.on(2, k8s.sim.time) == 0,
      "each cluster has its own clock")

local a, b, c = k8s.on(2, function(x, y) return x + y, k8s.replicas(), k8s.on(1, k8s.replicas) end, 1, 2)
check(a == 3 and b == 4 and c == 3, "k8s.on passes arguments and returns every result, nested too")
check(k8s.replicas() == 1, "the binding is gone after the call")

local ok, e = pcall(k8s.on, 1, function() error({ code = "mine" }) end)
check(not ok and type(e) == "table" and e.code == "mine", "an error inside k8s.on propagates as it was")
check(k8s.replicas() == 1, "and the binding is gone after it")

local co = coroutine.wrap(function() return k8s.on(2, function() return k8s.replicas() end) end)
check(co() == 4, "a coroutine inside sees the binding")

-- a load test on a bound cluster runs on that cluster's model
local LOAD = { driver = "sim", threads = 1, loops = 6, rate = 10, duration = 1 }
local t1 = k8s.on(1, k8s.sim.time)
local r, lerr = k8s.on(1, jmeter.load, LOAD)
check(r and r.summary.count > 0, "jmeter.load inside k8s.on runs on the env's cluster" .. (lerr and ": " .. lerr.message or ""))
check(k8s.on(1, k8s.sim.time) > t1 and k8s.sim.time() == 0, "and moves only that cluster's clock")

-- the same seed and calls give the same cluster, bound or not
k8s.sim.reset { seed = 9, pods = 2 }
k8s.on(3, k8s.sim.reset, { seed = 9, pods = 2 })
local p0, p3 = k8s.pods(), k8s.on(3, k8s.pods)
check(#p0 == #p3 and p0[1].name == p3[1].name and p0[2].created == p3[2].created,
      "an env's cluster seeded as the engine's has the same pods")
local l0 = assert(jmeter.load(LOAD))
local l3 = assert(k8s.on(3, jmeter.load, LOAD))
check(l0.summary.count == l3.summary.count and l0.summary.latency.mean == l3.summary.latency.mean,
      "and the same load test")

print(string.format("%d passed, %d failed", count - failures, failures))
return failures == 0 and 0 or 1
