"""B6: the metrics sampler at 0.2 s for 60 s through the real server (sim
backend), against the ideal schedule start + k x 0.2 s.

Measured twice: from the CSV file itself (epoch_s column: the sim's clock,
real time at speed 1, at each wake, so the row times a researcher plots) and from the engine's own
counters (GET /metrics/{job}: jitter = wake - scheduled tick on
CLOCK_MONOTONIC, missed ticks, mean period)."""
import csv
import http.client
import json
import os
import time

from run import row

INTERVAL = 0.2
SECONDS = float(os.environ.get("BENCH_B6_SECONDS", "60"))


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def from_file(path):
    """Period error and jitter relative to the first row, from epoch_s."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    ep = [float(r["epoch_s"]) for r in rows]
    if len(ep) < 2:
        return {"rows": len(ep)}
    ks = [round((e - ep[0]) / INTERVAL) for e in ep]
    mean_period = (ep[-1] - ep[0]) / (ks[-1] - ks[0])
    jit_ms = [abs((e - (ep[0] + k * INTERVAL)) * 1000.0) for e, k in zip(ep, ks)]
    gaps = sum(1 for a, b in zip(ks, ks[1:]) if b - a != 1)
    return {
        "rows": len(ep),
        "mean_period_s": mean_period,
        "period_error_pct": abs(mean_period - INTERVAL) / INTERVAL * 100.0,
        "jitter_p99_ms": pct(jit_ms, 99),
        "jitter_max_ms": max(jit_ms),
        "grid_gaps": gaps,
    }


def run(ctx):
    srv = ctx.server("sim:\n  speed: 1\n")    # a real clock: the job's own thread
    try:
        def call(method, path):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            c.request(method, path)
            r = c.getresponse()
            body = json.loads(r.read() or b"null")
            c.close()
            return r.status, body

        status, started = call("POST", "/metrics?interval=%g&duration=%g&file=b6.csv" % (INTERVAL, SECONDS))
        if status != 202:
            raise RuntimeError("POST /metrics answered %s: %s" % (status, started))
        job = started["job"]
        deadline = time.time() + SECONDS + 30
        st = None
        while time.time() < deadline:
            time.sleep(1)
            _, st = call("GET", "/metrics/%d" % job)
            if not st.get("running"):
                break
        if st is None or st.get("running"):
            raise RuntimeError("the sampling job did not finish")
        f = from_file(started["file"])
    finally:
        srv.stop()

    ticks = int(round(SECONDS / INTERVAL))
    period_err = f.get("period_error_pct")
    p99 = max(f.get("jitter_p99_ms") or 0, st.get("jitter_p99_ms") or 0)
    missed = st.get("missed", 0)
    raw = {
        "seconds": SECONDS, "interval_s": INTERVAL, "ticks": ticks, "rows": f.get("rows"),
        "samples": st.get("samples"), "missed": missed, "probe_errors": st.get("probe_errors"),
        "file_mean_period_s": f.get("mean_period_s"), "file_period_error_pct": period_err,
        "file_jitter_p99_ms": f.get("jitter_p99_ms"), "file_jitter_max_ms": f.get("jitter_max_ms"),
        "file_grid_gaps": f.get("grid_gaps"),
        "engine_period_error_pct": st.get("period_error_pct"),
        "engine_jitter_p50_ms": st.get("jitter_p50_ms"), "engine_jitter_p99_ms": st.get("jitter_p99_ms"),
        "engine_jitter_max_ms": st.get("jitter_max_ms"), "probe_ms_mean": st.get("probe_ms_mean"),
        "probe_ms_max": st.get("probe_ms_max"),
    }
    eng_err = abs(st.get("period_error_pct") or 0)
    worst_err = max(period_err or 0, eng_err)
    return [
        row("B6", "sampler 0.2 s x %gs: mean period error" % SECONDS, worst_err, INTERVAL, "<= 0.05 %",
            period_err is not None and worst_err <= 0.05, raw,
            ratio=(f.get("mean_period_s") or 0) / INTERVAL, unit=" %"),
        row("B6", "sampler 0.2 s x %gs: p99 abs jitter" % SECONDS, p99, 0.0, "<= 2 ms", p99 <= 2.0,
            {"file_jitter_p99_ms": f.get("jitter_p99_ms"), "engine_jitter_p99_ms": st.get("jitter_p99_ms"),
             "engine_jitter_max_ms": st.get("jitter_max_ms")}, unit=" ms"),
        row("B6", "sampler 0.2 s x %gs: missed ticks" % SECONDS, missed, 0, "0 missed, %d rows" % ticks,
            missed == 0 and f.get("rows") == ticks,
            {"missed": missed, "rows": f.get("rows"), "ticks": ticks}),
    ]
