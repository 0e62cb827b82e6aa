"""B2 (GET /pod on sim vs nginx), B3 (RL steps/s over HTTP vs GET / by the
same client), B4 (RL steps/s in-process)."""
import os
import re
import shutil
import tempfile
import http.client

from run import row

DUR = int(os.environ.get("BENCH_SECONDS", "5"))
# B3: this many pairs of B3_SECONDS each way (about as long as three of DUR)
B3_PAIRS = int(os.environ.get("BENCH_B3_PAIRS", "9"))
B3_SECONDS = max(1, DUR * 3 // B3_PAIRS + 1)
# The reward load test of every step: the seed's JMeter plan (one thread,
# six requests), on the simulated cluster's queue model.
SEED_PLAN = "load: {rate: 0, threads: 1, loops: 6}\n"

# The agent's six actions in turn, each request built once (in init, when
# wrk's table is ready): formatting a request in wrk's Lua on every call
# costs the client ~5 us, which would be charged to the step, while GET /
# is sent from a prebuilt buffer.
STEP_SCRIPT = """
local actions = {"in", "stay", "out", "out", "stay", "in"}
local reqs, i = {}, 0
function init(args)
  for k, a in ipairs(actions) do
    reqs[k] = wrk.format("POST", "/env/step", {["Content-Type"] = "application/json"},
                         '{"action":"' .. a .. '"}')
  end
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
"""

INPROC = r"""
local ops = require "ops"
local podview = require "podview"
local n = tonumber(arg[1])
k8s.sim.reset { seed = 1, pods = 2 }
local dirs = { 1, 0, -1, -1, 0, 1 }
local t0 = clock.mono()
local sum = 0
for i = 1, n do
  local d = dirs[i % #dirs + 1]
  if d ~= 0 then ops.scale_by(d) end
  local summary = ops.loadtest()
  local sys = podview.system()
  local _, r = ops.reward(summary, sys)
  sum = sum + r
end
local dt = clock.mono() - t0
print(string.format("steps=%d seconds=%.4f rate=%.1f", n, dt, n / dt))
"""


def endless_policies(ctx):
    """A copy of the tree's policies whose episodes outlast any B3 run (env.lua's
    max_steps = 10^9; a step past the end is a 409): B3 measures steps, not resets."""
    d = tempfile.mkdtemp(prefix="podgym-bench-policies-")
    shutil.copytree(os.path.join(ctx.src, "policies"), d, dirs_exist_ok=True)
    path = os.path.join(d, "env.lua")
    with open(path) as f:
        text = re.sub(r"max_steps = \d+", "max_steps = 1000000000", f.read())
    with open(path, "w") as f:
        f.write(text)
    return d


def run(ctx):
    rows = []
    nport, nstop = ctx.nginx()
    policies = endless_policies(ctx)
    srv = ctx.server("sim: {speed: 0, replicas: 5}\n" + SEED_PLAN, policies=policies)
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port)
        c.request("POST", "/pod/set-pod-count/5", body='""', headers={"Content-Type": "application/json"})
        c.getresponse().read()
        ref = ctx.wrk("http://127.0.0.1:%d/" % nport, 2, 32, DUR)
        got = ctx.wrk("http://127.0.0.1:%d/pod" % srv.port, 2, 32, DUR)
        ratio = got["rps"] / ref["rps"]
        rows.append(row("B2", "GET /pod (sim, 5 pods) throughput, wrk -t2 -c32", got["rps"], ref["rps"],
                        ">= 0.2 x nginx", ratio >= 0.2 and got["errors"] == 0,
                        {"podgym_rps": got["rps"], "nginx_rps": ref["rps"], "errors": got["errors"]},
                        ratio=ratio, unit=" req/s"))
        c.request("POST", "/env/reset", body='{"pods": 2, "seed": 1}', headers={"Content-Type": "application/json"})
        c.getresponse().read()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(STEP_SCRIPT)
            script = f.name
        # Short pairs of GET / and steps, back to back, the order swapped from
        # one pair to the next: each pair shares the machine's state of the
        # moment (a slow spell of the host spoils a pair, not the row), and a
        # drift within a pair favours neither side. The row is the median pair.
        pairs = []
        for i in range(B3_PAIRS):
            def get():
                return ctx.wrk("http://127.0.0.1:%d/" % srv.port, 1, 1, B3_SECONDS)
            def step():
                return ctx.wrk("http://127.0.0.1:%d/env/step" % srv.port, 1, 1, B3_SECONDS, script=script)
            if i % 2 == 0:
                base = get()
                steps = step()
            else:
                steps = step()
                base = get()
            pairs.append((steps["rps"] / base["rps"], steps, base))
        os.unlink(script)
        pairs.sort(key=lambda x: x[0])
        r3, steps, base = pairs[len(pairs) // 2]
        errors = sum(p[1]["errors"] for p in pairs)
        rows.append(row("B3", "RL steps/s over HTTP (POST /env/step, one keep-alive client, speed 0), median of %d pairs" % B3_PAIRS,
                        steps["rps"], base["rps"], ">= 0.35 x GET / and >= 5,000/s",
                        r3 >= 0.35 and steps["rps"] >= 5000 and errors == 0,
                        {"steps_per_s": steps["rps"], "get_root_per_s": base["rps"], "errors": errors,
                         "pair_ratios": [round(p[0], 3) for p in pairs],
                         "pairs_steps_get": [[p[1]["rps"], p[2]["rps"]] for p in pairs]},
                        ratio=r3, unit=" steps/s"))
    finally:
        srv.stop()
        nstop()
        shutil.rmtree(policies, ignore_errors=True)
    out = ctx.run_lua(INPROC, ["100000"], "sim: {speed: 0}\n" + SEED_PLAN)
    m = re.search(r"steps=(\d+) seconds=([\d.]+) rate=([\d.]+)", out.stdout)
    rate = float(m.group(3)) if m else 0.0
    rows.append(row("B4", "RL steps/s in-process (podgym run: scale + load test + reward)", rate, None,
                    ">= 50,000 steps/s", rate >= 50000,
                    {"steps": int(m.group(1)) if m else 0, "seconds": float(m.group(2)) if m else 0,
                     "stderr": out.stderr.strip()[-200:]}, unit=" steps/s"))
    return rows
