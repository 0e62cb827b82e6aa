"""B7 (closed-loop native generator vs wrk) and B8 (open-loop rate accuracy).

B7: `jmeter.load{threads = 32, duration = D}` (32 keep-alive connections,
one event loop, the h1 client that plain http:// takes) against nginx's
`GET /`, beside wrk with the same 32 connections and duration. The generator
is one thread by design, so the ratio is taken against wrk -t1 (one event
loop as well); wrk -t2 and the libcurl client (`client = "curl"`) are in the
raw figures. Best of three alternating runs each, to damp a noisy machine.

B8: `jmeter.load{rate = R, duration = D}` (open loop) against an nginx that
logs every request's time ($msec): the achieved rate is what nginx saw,
(N - 1) / (last - first), beside the requested R; the generator's own count,
errors and latency (measured from the intended send times) are in the raw
figures.
"""
import json
import os
import shutil
import subprocess
import tempfile

from run import row

DUR = int(os.environ.get("BENCH_SECONDS", "5"))
CONNS = 32
RATE = 2000


def podgym_load(ctx, opts, timeout):
    """Run jmeter.load{opts} through `podgym run`; its summary."""
    d = tempfile.mkdtemp(prefix="podgym-b7-")
    try:
        cfg = os.path.join(d, "podgym.yaml")
        with open(cfg, "w") as f:
            f.write("data_dir: %s/data\nload:\n  max_duration_s: 600\n" % d)
        script = os.path.join(d, "load.lua")
        with open(script, "w") as f:
            f.write("local json = require 'json'\nlocal r = assert(jmeter.load(%s))\n"
                    "print(json.encode({count = r.count, summary = r.summary, client = r.client}))\n" % opts)
        p = subprocess.run([ctx.podgym, "run", "-c", cfg, script], capture_output=True, text=True,
                           timeout=timeout, cwd=d)
        if p.returncode != 0:
            raise RuntimeError("podgym run failed: " + (p.stderr or p.stdout)[-300:])
        return json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def b7(ctx):
    port, stop = ctx.nginx()
    url = "http://127.0.0.1:%d/" % port
    try:
        wrk1, native = [], []
        for _ in range(3):
            wrk1.append(ctx.wrk(url, 1, CONNS, DUR))
            native.append(podgym_load(ctx, '{url = "%s", threads = %d, duration = %d}' % (url, CONNS, DUR),
                                      DUR + 60))
        wrk2 = ctx.wrk(url, 2, CONNS, DUR)
        curl = podgym_load(ctx, '{url = "%s", threads = %d, duration = %d, client = "curl"}' % (url, CONNS, DUR),
                           DUR + 60)
    finally:
        stop()
    ref = max(w["rps"] for w in wrk1)
    best = max(native, key=lambda n: n["summary"]["throughput_rps"])
    got = best["summary"]["throughput_rps"]
    ratio = got / ref
    errors = best["summary"]["errors"]
    return row("B7", "native generator, closed loop, %d connections, %d s, vs wrk -t1 -c%d" % (CONNS, DUR, CONNS),
               got, ref, ">= 0.8 x wrk", ratio >= 0.8 and errors == 0,
               {"native_rps": got, "native_runs_rps": [n["summary"]["throughput_rps"] for n in native],
                "native_requests": best["count"], "native_errors": errors, "native_client": best["client"],
                "curl_client_rps": curl["summary"]["throughput_rps"],
                "native_p99_ms": best["summary"]["latency"].get("p99"),
                "wrk_t1_rps": ref, "wrk_t1_runs_rps": [w["rps"] for w in wrk1], "wrk_t2_rps": wrk2["rps"],
                "ratio_vs_wrk_t2": got / wrk2["rps"], "seconds": DUR}, ratio=ratio, unit=" req/s")


def b8(ctx):
    port, stop = ctx.nginx(log=True)
    try:
        res = podgym_load(ctx, '{url = "http://127.0.0.1:%d/", rate = %d, duration = %d}' % (port, RATE, DUR),
                          DUR + 60)
    finally:
        log = stop()
    times = sorted(float(line.split()[0]) for line in log.splitlines() if line.strip())
    n = len(times)
    achieved = (n - 1) / (times[-1] - times[0]) if n > 1 and times[-1] > times[0] else 0.0
    planned = RATE * DUR
    s = res["summary"]
    ratio = achieved / RATE
    ok = abs(ratio - 1) <= 0.01 and res["count"] == planned and n == planned and s["errors"] == 0
    return row("B8", "native generator, open loop at %d req/s for %d s: rate nginx saw" % (RATE, DUR),
               achieved, float(RATE), "within 1 %", ok,
               {"requested_rps": RATE, "nginx_requests": n, "planned": planned, "samples": res["count"],
                "errors": s["errors"], "client_rps": s["throughput_rps"],
                "latency_p50_ms": s["latency"].get("p50"), "latency_p99_ms": s["latency"].get("p99"),
                "latency_max_ms": s["latency"].get("max"), "seconds": DUR}, ratio=ratio, unit=" req/s")


def run(ctx):
    return [b7(ctx), b8(ctx)]
