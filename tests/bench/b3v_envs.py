"""B3v: env-steps/s over HTTP with 64 envs a POST /envs/step (one keep-alive
client, wrk -t1 -c1), against B4's in-process steps/s (scale + load test +
reward, podgym run) measured in the same run."""
import os
import re
import shutil

from b2_sim import INPROC, SEED_PLAN, endless_policies
from run import row

DUR = int(os.environ.get("BENCH_SECONDS", "5"))
N = 64

# Every request steps the 64 envs with the agent's actions in turn, each
# body built once in init (see b2_sim.STEP_SCRIPT).
STEP_SCRIPT = """
local actions = {"in", "stay", "out", "out", "stay", "in"}
local reqs, i = {}, 0
function init(args)
  for k = 1, #actions do
    local a = {}
    for e = 1, %d do a[e] = '"' .. actions[(k + e) %% #actions + 1] .. '"' end
    reqs[k] = wrk.format("POST", "/envs/step", {["Content-Type"] = "application/json"},
                         '{"actions":[' .. table.concat(a, ",") .. ']}')
  end
end
function request()
  i = i %% #reqs + 1
  return reqs[i]
end
""" % N


def run(ctx):
    import http.client
    import json
    import tempfile
    policies = endless_policies(ctx)
    srv = ctx.server("sim: {speed: 0, replicas: 5}\n" + SEED_PLAN, policies=policies)
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port)
        c.request("POST", "/envs", body=json.dumps({"n": N, "seed": 1, "pods": 2}),
                  headers={"Content-Type": "application/json"})
        c.getresponse().read()
        c.close()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(STEP_SCRIPT)
            script = f.name
        got = ctx.wrk("http://127.0.0.1:%d/envs/step" % srv.port, 1, 1, DUR, script=script)
        os.unlink(script)
    finally:
        srv.stop()
        shutil.rmtree(policies, ignore_errors=True)
    out = ctx.run_lua(INPROC, ["100000"], "sim: {speed: 0}\n" + SEED_PLAN)
    m = re.search(r"rate=([\d.]+)", out.stdout)
    inproc = float(m.group(1)) if m else 0.0
    env_steps = got["rps"] * N
    ratio = env_steps / inproc if inproc else 0.0
    return [row("B3v", "env-steps/s over HTTP, %d envs a POST /envs/step, one keep-alive client (speed 0)" % N,
                env_steps, inproc, ">= 0.5 x in-process (B4)", ratio >= 0.5 and got["errors"] == 0,
                {"env_steps_per_s": env_steps, "requests_per_s": got["rps"], "envs": N,
                 "inproc_steps_per_s": inproc, "errors": got["errors"], "seconds": DUR},
                ratio=ratio, unit=" env-steps/s")]
