"""B3v: env-steps/s over HTTP with 64 envs a POST /envs/step (one keep-alive
client, wrk -t1 -c1), against B4's in-process steps/s (scale + load test +
reward, podgym run) measured in the same run. As B3 does, short pairs back
to back, the order swapped from one pair to the next (a slow spell of the
shared machine spoils a pair, not the row); the row is the median pair."""
import os
import re
import shutil

from b2_sim import INPROC, SEED_PLAN, endless_policies
from run import row

DUR = int(os.environ.get("BENCH_SECONDS", "5"))
N = 64
PAIRS = int(os.environ.get("BENCH_B3V_PAIRS", "5"))
PAIR_SECONDS = max(1, DUR * 2 // PAIRS + 1)
INPROC_STEPS = 30000

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
        pairs = []
        for k in range(PAIRS):
            def over_http():
                return ctx.wrk("http://127.0.0.1:%d/envs/step" % srv.port, 1, 1, PAIR_SECONDS, script=script)

            def inproc():
                out = ctx.run_lua(INPROC, [str(INPROC_STEPS)], "sim: {speed: 0}\n" + SEED_PLAN)
                m = re.search(r"rate=([\d.]+)", out.stdout)
                return float(m.group(1)) if m else 0.0
            if k % 2 == 0:
                got = over_http()
                rate = inproc()
            else:
                rate = inproc()
                got = over_http()
            pairs.append((got["rps"] * N / rate if rate else 0.0, got, rate))
        os.unlink(script)
    finally:
        srv.stop()
        shutil.rmtree(policies, ignore_errors=True)
    pairs.sort(key=lambda p: p[0])
    ratio, got, inproc_rate = pairs[len(pairs) // 2]
    errors = sum(p[1]["errors"] for p in pairs)
    env_steps = got["rps"] * N
    return [row("B3v", "env-steps/s over HTTP, %d envs a POST /envs/step, one keep-alive client (speed 0), "
                "median of %d pairs" % (N, PAIRS),
                env_steps, inproc_rate, ">= 0.5 x in-process (B4)", ratio >= 0.5 and errors == 0,
                {"env_steps_per_s": env_steps, "requests_per_s": got["rps"], "envs": N,
                 "inproc_steps_per_s": inproc_rate, "errors": errors,
                 "pair_ratios": [round(p[0], 3) for p in pairs],
                 "pairs_http_inproc": [[round(p[1]["rps"] * N), round(p[2])] for p in pairs]},
                ratio=ratio, unit=" env-steps/s")]
