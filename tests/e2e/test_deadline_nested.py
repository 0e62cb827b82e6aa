"""A request's CPU deadline holds when another Lua state runs inside it on the
same thread: on the simulated cluster's virtual clock a sampler job's probe
runs on the thread of the request that moves the clock. The probe's time is
the request's; a deadline that passes while the probe runs stops the request
as soon as control comes back to it (it used to be lost, and the request ran
on forever)."""
import os
import shutil
import tempfile
import time

from pgtest import SRC, Server, check, done, is_error, write

root = tempfile.mkdtemp(prefix="podgym-nested-")
scripts, policies = os.path.join(root, "scripts"), os.path.join(root, "policies")
shutil.copytree(os.path.join(SRC, "scripts"), scripts)
shutil.copytree(os.path.join(SRC, "policies"), policies)
# A probe that burns about 40 ms of CPU per tick.
write(os.path.join(policies, "slowprobe.lua"), """
local M = {}
function M.sample()
  local t = os.clock()
  while os.clock() - t < 0.04 do end
  return { cpu_pct = 1, mem_pct = 1, online_pods = 1, total_pods = 1 }
end
return M
""")
write(os.path.join(scripts, "nested.lua"), """
return {
  method = "POST", path = "/nested/{what}",
  handler = function(req)
    local job = assert(sampler.start { interval = 0.2, duration = 100, probe = "slowprobe.sample",
                                       file = "nested-" .. req.params.what .. ".csv" })
    k8s.sleep(2)                    -- ten ticks: about 400 ms of probe CPU on this thread
    sampler.stop(job.job)
    if req.params.what == "spin" then while true do end end
    return { ok = true }
  end,
}
""")
s = Server(config="sim: {speed: 0}\nlimits: {lua_deadline_ms: 150}\n", scripts=scripts, policies=policies)
t0 = time.time()
st, body, _ = s.post("/nested/spin", timeout=20)
took = time.time() - t0
check(st == 504 and is_error(body, "deadline"),
      "a request whose deadline passed while a probe ran inside it answers 504 deadline (%s %s)" % (st, body))
check(took < 10, "it stops at once, not after the probe (%.2f s)" % took)
st, body, _ = s.get("/")
check(st == 200, "the server answers afterwards")
s.stop()
shutil.rmtree(root, ignore_errors=True)
done()
