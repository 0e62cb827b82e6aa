-- k8s_test.lua: the `k8s` module on the simulated cluster, as a researcher
-- drives it from a script (podgym run). Needs sim.speed 0 (the default).

if k8s.backend() ~= "sim" or not k8s.sim then
  print("skipped: the k8s test needs the sim backend")
  os.exit(77)
end
if k8s.sim.time() ~= k8s.sim.time() then
  print("skipped: the k8s test needs sim.speed 0")
  os.exit(77)
end

local function check(cond, msg, ...)
  if not cond then error(string.format(msg, ...), 2) end
end

local function by_name(name)
  for _, p in ipairs(k8s.pods()) do
    if p.name == name then return p end
  end
end

local function names()
  local t = {}
  for _, p in ipairs(k8s.pods()) do t[#t + 1] = p.name end
  return table.concat(t, " ")
end

-- a fresh, deterministic cluster
assert(k8s.sim.reset{seed = 5, pods = 2})
local pods = k8s.pods()
check(#pods == 2, "reset: %d pods", #pods)
for _, p in ipairs(pods) do
  check(p.status == "Running" and p.phase == "Running" and p.ready == true, "reset: %s is %s", p.name, p.status)
  check(p.name:match("^.+%-[%w]+%-[%w]+$") and #p.name:match("%-(%w+)%-%w+$") == 10, "pod name %s", p.name)
  check(p.requests.cpu == 0.5 and p.requests.memory == 512 * 1024 * 1024, "requests %s %s",
        p.requests.cpu, p.requests.memory)
  check(p.restarts == 0 and p.deleting == false, "fresh pod %s", p.name)
  check(p.age_s > 0 and p.created < k8s.now(), "age of %s", p.name)
end
local first = names()
assert(k8s.sim.reset{seed = 5, pods = 2})
check(names() == first, "same seed, other names: %s vs %s", names(), first)
assert(k8s.sim.reset{seed = 6, pods = 2})
check(names() ~= first, "another seed gives the same names")

local m = k8s.metrics()
check(#m == 2, "metrics right after reset: %d", #m)
for _, x in ipairs(m) do
  check(x.cpu > 0 and x.memory > 0 and x.window > 0 and x.timestamp <= k8s.now(), "metric of %s", x.name)
end

-- scale out and wait (on the virtual clock: no real waiting)
check(k8s.scale(3) == true, "scale(3)")
check(k8s.replicas() == 3, "replicas %d", k8s.replicas())
local pending = 0
for _, p in ipairs(k8s.pods()) do
  if not p.ready then pending = pending + 1 end
end
check(pending == 1, "one new pod starting, got %d", pending)
local waited = assert(k8s.wait{ready = 3})
check(waited > 0 and waited < 90, "waited %s", waited)
check(#k8s.pods() == 3, "3 pods after the wait")

-- delete: Terminating, replaced at once, gone after the grace period
local victim = k8s.pods()[1].name
check(k8s.delete_pod(victim, {grace = 10}) == true, "delete_pod")
local v = by_name(victim)
check(v and v.status == "Terminating" and v.deleting == true and v.ready == false, "victim state")
check(#k8s.pods() == 4, "replacement created: %d pods", #k8s.pods())
check(k8s.replicas() == 3, "replicas unchanged by a delete")
assert(k8s.wait{ready = 3, settled = true})
check(by_name(victim) == nil, "victim still there after the wait")

local ok, err = k8s.delete_pod("no-such-pod")
check(ok == nil and err.status == 404 and err.code == "not_found", "delete of a missing pod")

-- a wait that cannot succeed: 504 with the state
local before = k8s.now()
ok, err = k8s.wait{ready = 5, timeout = 10}
check(ok == nil and err.status == 504 and err.code == "timeout", "wait timeout: %s", err and err.code)
check(err.message:find("3/5 ready", 1, true) and err.message:find("10.0 s", 1, true), "message %s", err.message)
check(math.abs(k8s.now() - before - 10) < 1e-6, "the timeout moved the clock by 10 s")

-- quantities
check(k8s.quantity("250m") == 0.25, "250m")
check(k8s.quantity("512Mi") == 536870912, "512Mi")
check(k8s.quantity("1e3") == 1000, "1e3")
ok, err = k8s.quantity("5 Mi")
check(ok == nil and err.status == 400 and err.message:find("5 Mi", 1, true), "bad quantity accepted")

-- clocks
local t0, n0 = k8s.sim.time(), k8s.now()
assert(k8s.sleep(30))
assert(k8s.sim.advance(5))
check(math.abs(k8s.sim.time() - t0 - 35) < 1e-9, "sim time moved %s", k8s.sim.time() - t0)
check(math.abs(k8s.now() - n0 - 35) < 1e-9, "backend clock moved %s", k8s.now() - n0)
check(#k8s.endpoints() == 0, "sim pods have no endpoints")

-- injected failures
assert(k8s.sim.inject{crash = 1})
assert(k8s.scale(4))
ok, err = k8s.wait{ready = 4, timeout = 60}
check(ok == nil and err.status == 504, "a crashing pod got ready")
local crashed
for _, p in ipairs(k8s.pods()) do
  if not p.ready then crashed = p end
end
check(crashed and crashed.phase == "Running" and crashed.restarts >= 1, "crash loop: %s restarts %s",
      crashed and crashed.status, crashed and crashed.restarts)
check(crashed.status == "CrashLoopBackOff" or crashed.status == "Error" or crashed.status == "Running",
      "crash loop status %s", crashed.status)
assert(k8s.sim.inject{crash = 0, image_pull = 0, slow = 0})
ok, err = k8s.sim.inject{meteor = 1}
check(ok == nil and err.status == 400, "unknown injection accepted")

local healthy = k8s.pods()[1].name
assert(k8s.sim.fail_pod(healthy, "ImagePullBackOff"))
local h = by_name(healthy)
check(h.phase == "Pending" and not h.ready and (h.status == "ErrImagePull" or h.status == "ImagePullBackOff"),
      "forced image pull failure: %s", h.status)
ok, err = k8s.sim.fail_pod("no-such-pod", "Pending")
check(ok == nil and err.status == 404, "fail_pod of a missing pod")

-- workload: changes the metrics
assert(k8s.sim.reset{seed = 5, pods = 2})
local w = k8s.sim.workload{kind = "constant", rps = 10}
check(w.kind == "constant" and w.rps == 10, "workload table")
local function cpu()
  local s = 0
  for _, x in ipairs(k8s.metrics()) do s = s + x.cpu end
  return s
end
local low = cpu()
k8s.sim.workload{rps = 70}
assert(k8s.sim.advance(1))
check(cpu() > low * 3, "cpu does not follow the workload: %s vs %s", cpu(), low)
ok, err = k8s.sim.workload{kind = "chaos"}
check(ok == nil and err.status == 400, "bad workload kind accepted")
check(k8s.sim.workload().rps == 70, "a bad workload replaced the good one")

-- snapshot and usage agree with the separate calls
local snap = assert(k8s.snapshot())
check(#snap.pods == #k8s.pods() and #snap.metrics == #k8s.metrics(), "snapshot lists differ from pods()/metrics()")
check(snap.desired == k8s.replicas() and snap.now == k8s.now(), "snapshot desired/now differ")
local u = assert(k8s.usage())
local ready, cpu_sum = 0, 0
for _, p in ipairs(snap.pods) do if p.ready then ready = ready + 1 end end
for _, m in ipairs(snap.metrics) do cpu_sum = cpu_sum + m.cpu end
check(u.total == #snap.pods and u.ready == ready and u.online == #snap.metrics, "usage counts differ")
check(math.abs(u.cpu - cpu_sum) < 1e-9 and u.desired == snap.desired, "usage sums differ")
-- usage(t) fills t (and returns it) with the same sums; a field that has no
-- value any more (oldest, once no pod reports metrics) is cleared
local into = { stale = true }
check(k8s.usage(into) == into, "usage(t) does not return t")
for k, v in pairs(u) do check(into[k] == v, "usage(t).%s = %s, usage() gives %s", k, tostring(into[k]), tostring(v)) end
check(into.oldest ~= nil and into.stale == true, "usage(t) lost oldest or touched another field")
assert(k8s.sim.reset { seed = 3, pods = 0 })
check(k8s.usage(into).online == 0 and into.oldest == nil, "usage(t) kept oldest with no metrics")
check(not pcall(k8s.usage, "t"), "usage('t') did not raise")

-- misuse raises
check(not pcall(k8s.scale, -1), "scale(-1) did not raise")
check(not pcall(k8s.scale, "many"), "scale('many') did not raise")
check(not pcall(k8s.sim.workload, {amplitude = 3}), "unknown workload field did not raise")
check(not pcall(k8s.wait, {ready = -1}), "wait{ready=-1} did not raise")

print("k8s_test: ok")
