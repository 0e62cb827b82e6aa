"""BJ: what the hand-written encoder (json.encode, bindings/modules/lb_json.c)
buys over lua-cjson's own encoder, in one `podgym run`: the GET /pod body of
a 5-pod sim, and a batch of 64 /env/step results (what a vectorized step
would send), each encoded N times per round (the batch N / 25 times) with json.encode and with
lua-cjson's cjson.encode, the rounds alternating; the row is the median
round. The reference is the lua-cjson linked into podgym (with podgym's
number formatter, as it would be if it replaced json.encode), reachable in
repl/run states only as require "podgym.test.cjson"; Debian's cjson.so as
shipped (glibc's printf for numbers) is a raw figure beside it.

lua-cjson writes an empty json.array as {} (it has no array marks) and
copies bytes that are not UTF-8: it does less than json.encode here."""
import os
import re

from run import row

ROUNDS = int(os.environ.get("BENCH_BJ_ROUNDS", "15"))
N = int(os.environ.get("BENCH_BJ_N", "20000"))
CJSON_SO = "/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so"

SCRIPT = r"""
local podview = require "podview"
local ops = require "ops"
local static = require "podgym.test.cjson"
local so = nil
local open = package.loadlib(arg[3], "luaopen_cjson")
if open then so = open() end
local rounds, n = tonumber(arg[1]), tonumber(arg[2])

k8s.sim.reset { seed = 1, pods = 5 }
k8s.sim.advance(120)                    -- every pod Ready and reporting metrics
local pod = podview.view()
assert(pod.system.online_pods == 5, "the 5 pods report no metrics yet")

local batch = {}
for i = 1, 64 do
  local summary = ops.loadtest()
  local sys = podview.system()
  local kpis, reward = ops.reward(summary, sys)
  batch[i] = {
    observation = { cpu_percent = sys.cpu_percent, mem_percent = sys.mem_percent, pods = sys.ready_pods },
    reward = reward, kpis = kpis, done = false, truncated = false,
    info = { episode = 1, step = i, action = "stay", scaled = false, reason = "stay" },
  }
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end
for _, case in ipairs { { "pod", pod, n }, { "batch", batch, n // 25 } } do   -- about as long each
  local name, v, n = case[1], case[2], case[3]
  local function time(f, v)
    local t0 = clock.mono()
    for _ = 1, n do f(v) end
    return (clock.mono() - t0) / n * 1e9
  end
  local ours, ref, stock = {}, {}, {}
  for r = 1, rounds do
    if r % 2 == 1 then
      ours[r] = time(json.encode, v); ref[r] = time(static.encode, v)
    else
      ref[r] = time(static.encode, v); ours[r] = time(json.encode, v)
    end
    if so then stock[r] = time(so.encode, v) end
  end
  print(string.format("%s bytes=%d ours_ns=%.1f cjson_ns=%.1f cjson_so_ns=%.1f", name, #json.encode(v),
                      median(ours), median(ref), so and median(stock) or -1))
end
"""


def run(ctx):
    out = ctx.run_lua(SCRIPT, [ROUNDS, N, CJSON_SO], "sim: {speed: 0, replicas: 5}\nload: {rate: 0, threads: 1, loops: 6}\n",
                      timeout=900)
    rows = []
    what = {"pod": "GET /pod body (sim, 5 pods), median of %d rounds of %d" % (ROUNDS, N),
            "batch": "64 /env/step results, median of %d rounds of %d" % (ROUNDS, N // 25)}
    for name in ("pod", "batch"):
        m = re.search(r"%s bytes=(\d+) ours_ns=([\d.]+) cjson_ns=([\d.]+) cjson_so_ns=([-\d.]+)" % name, out.stdout)
        if not m:
            rows.append(row("BJ", "json.encode vs cjson.encode: could not run", None, None, None, False,
                            {"stderr": out.stderr.strip()[-300:]}))
            continue
        ours, ref, stock = float(m.group(2)), float(m.group(3)), float(m.group(4))
        ratio = ref / ours
        rows.append(row("BJ" if name == "pod" else "BJv",
                        "json.encode vs lua-cjson's cjson.encode in-process, %s" % what[name],
                        ours, ref, ">= 0.9 x cjson.encode's speed, with [] and valid UTF-8, which lua-cjson 2.1 cannot write",
                        ratio >= 0.9,
                        {"bytes": int(m.group(1)), "json_encode_ns": ours, "cjson_encode_ns": ref,
                         "debian_cjson_so_ns": stock if stock >= 0 else None,
                         "vs_debian_cjson_so": stock / ours if stock >= 0 else None},
                        ratio=ratio, unit=" ns"))
    return rows
