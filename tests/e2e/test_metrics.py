"""e2e: /metrics sampling jobs through the real binary on the sim backend with
a real clock (speed 1: each job has its own thread; the virtual clock is
test_metrics_clock.py).

3 s at 0.2 s -> 15 +- 1 rows, one header, whole lines, increasing timestamps
on the sim's clock (SIM_EPOCH-based, not the wall clock);
a probe slower than the interval -> missed ticks, the grid kept; the probe
hot-reloads; bad input -> 400/409/429 JSON and no file; SIGTERM during a job
-> the file ends with a complete row and holds everything sampled."""
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import Server, check, done, is_error, write  # noqa: E402

HEADER = "timestamp,cpu_pct,mem_pct,online_pods,total_pods,epoch_s,probe_ms,missed"
SIM_EPOCH = 1700000000.0
CONFIG = "sim:\n  speed: 1\nsampler:\n  max_jobs: 2\nlimits:\n  lua_deadline_ms: 500\n"


def wait_job(srv, job, timeout=30):
    """Poll GET /metrics/{job} until it stops running (bounded)."""
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        status, st, _ = srv.get("/metrics/%d" % job)
        if status != 200 or not st.get("running"):
            return status, st
        time.sleep(0.1)
    return None, st


def read_csv(path):
    """(header lines, data rows as field lists, text ends with a newline)."""
    with open(path) as f:
        text = f.read()
    lines = text.split("\n")
    complete = text.endswith("\n")
    if complete:
        lines = lines[:-1]
    headers = [ln for ln in lines if ln.startswith("timestamp,")]
    rows = [ln.split(",") for ln in lines if not ln.startswith("timestamp,")]
    return headers, rows, complete


def well_formed(rows):
    """Every row has 8 fields, timestamps and epoch_s strictly increasing."""
    prev_ts, prev_ep = "", -1.0
    for r in rows:
        if len(r) != 8 or len(r[0]) != 24 or not r[0].endswith("Z"):
            return False
        ep = float(r[5])
        if r[0] <= prev_ts or ep <= prev_ep:
            return False
        prev_ts, prev_ep = r[0], ep
    return True


def data_files(srv):
    found = []
    for root, _, files in os.walk(srv.data):
        found += [os.path.join(root, f) for f in files]
    return sorted(found)


def run_basic(srv):
    status, body, resp = srv.post("/metrics?interval=0.2&duration=3")
    check(status == 202, "POST /metrics answers 202 (got %s %s)" % (status, body))
    if status != 202:
        return
    job, path = body.get("job"), body.get("file")
    check(isinstance(job, int) and job > 0, "the answer names the job")
    check(body.get("interval_s") == 0.2 and body.get("duration_s") == 3, "interval_s and duration_s echoed")
    check(os.path.isabs(path) and os.path.realpath(path) == os.path.join(os.path.realpath(srv.data), "metrics.csv"),
          "default file is metrics.csv in data_dir, as an absolute path (%s)" % path)
    check(resp.getheader("Location") == "/metrics/%d" % job, "Location header points at the job")

    status, listing, _ = srv.get("/metrics")
    check(status == 200 and any(j["job"] == job and j["running"] for j in listing.get("jobs", [])),
          "GET /metrics lists the running job")

    status, st = wait_job(srv, job)
    check(status == 200 and st["state"] == "done", "the job ends by itself after its duration")
    headers, rows, complete = read_csv(path)
    check(headers == [HEADER], "exactly one header line, the seed's columns first")
    check(14 <= len(rows) <= 16, "3 s at 0.2 s gives 15 +- 1 rows (got %d)" % len(rows))
    check(complete, "the file ends with a complete line")
    check(well_formed(rows), "every row has 8 fields; timestamps strictly increasing")
    check(all(r[4].isdigit() and int(r[4]) >= 1 for r in rows), "total_pods recorded in every row")
    check(rows and all(SIM_EPOCH <= float(r[5]) < SIM_EPOCH + 120 for r in rows)
          and rows[0][0].startswith("2023-11-14T22:1"),
          "rows are stamped on the sim's clock, from SIM_EPOCH (first %s)" % (rows[0][:1] if rows else None))
    check(SIM_EPOCH <= st.get("started", 0) < float(rows[0][5]) + 0.01 if rows else False,
          "the job's start is on the sim's clock too (%s)" % st.get("started"))
    check(len(rows) == st["samples"], "rows in the file == samples reported (%d, %d)" % (len(rows), st["samples"]))
    check(st["samples"] + st["missed"] == 15, "every tick of the grid sampled or counted missed")
    for k in ("jitter_p50_ms", "jitter_p99_ms", "jitter_max_ms", "period_error_pct", "probe_ms_max"):
        check(isinstance(st.get(k), (int, float)), "status reports %s" % k)
    check(st.get("last", {}).get("timestamp") == rows[-1][0], "status.last is the file's last row")

    # A second run never appends to the first run's file: 409 exists, the file as it was; mode=append adds.
    with open(path, "rb") as f:
        first = f.read()
    status, body, _ = srv.post("/metrics?interval=0.2&duration=1")
    check(status == 409 and is_error(body, "exists") and "mode=append" in body["error"]["message"],
          "POST /metrics onto an existing file -> 409 exists, naming mode=append (got %s %s)" % (status, body))
    with open(path, "rb") as f:
        check(f.read() == first, "the refused request left the file as it was")
    status, body, _ = srv.post("/metrics?interval=0.2&duration=1&mode=append")
    check(status == 202, "mode=append appends (got %s %s)" % (status, body))
    if status == 202:
        wait_job(srv, body["job"])
        headers, rows2, complete = read_csv(path)
        check(headers == [HEADER] and len(rows2) > len(rows) and complete,
              "appended rows follow the first run's, one header (%d -> %d rows)" % (len(rows), len(rows2)))

    # JSON Lines on request
    status, body, _ = srv.post("/metrics", body={"interval": 0.1, "duration": 0.5, "file": "runs/a.jsonl"})
    check(status == 202 and body.get("format") == "jsonl", "JSON body options; .jsonl -> JSON Lines")
    if status == 202:
        wait_job(srv, body["job"])
        with open(body["file"]) as f:
            lines = f.read().splitlines()
        objs = [json.loads(x) for x in lines]
        check(len(objs) >= 1 and all(set(o) == {"timestamp", "cpu_pct", "mem_pct", "online_pods", "total_pods",
                                                 "epoch_s", "probe_ms", "missed"} for o in objs),
              "JSON Lines rows carry every column")


def run_probe_reload_and_slow(srv):
    probe = os.path.join(srv.policies, "probe.lua")
    with open(probe) as f:
        original = f.read()
    status, body, _ = srv.post("/metrics?interval=0.05&duration=30&file=reload.csv")
    check(status == 202, "a second job starts")
    if status != 202:
        return
    job = body["job"]
    write(probe, "local M = {}\nfunction M.sample() return {total_pods = 99} end\nreturn M\n")
    status, _, _ = srv.post("/_engine/reload")
    check(status == 200, "reload with a new probe")
    seen = False
    deadline = time.time() + 10
    while time.time() < deadline and not seen:
        _, st, _ = srv.get("/metrics/%d" % job)
        seen = st.get("last", {}).get("total_pods") == 99
        time.sleep(0.05)
    check(seen, "the running job samples with the reloaded probe")
    status, st, _ = srv.request("DELETE", "/metrics/%d" % job)
    check(status == 200 and st.get("state") == "stopped" and not st.get("running"),
          "DELETE /metrics/{job} stops it")
    headers, rows, complete = read_csv(st["file"])
    check(complete and len(rows) == st["samples"] and well_formed(rows), "stopped job: every sample flushed, whole lines")
    check(rows and rows[-1][4] == "99" and rows[-1][2] == "", "reloaded probe's row: empty cpu field, total_pods 99")

    # A probe slower than the interval: ~0.25 s of CPU per call at 0.1 s.
    write(probe, "local M = {}\nfunction M.sample()\n  local t = os.clock()\n"
                 "  while os.clock() - t < 0.25 do end\n  return {total_pods = 1}\nend\nreturn M\n")
    srv.post("/_engine/reload")
    status, body, _ = srv.post("/metrics?interval=0.1&duration=1.2&file=slow.csv")
    check(status == 202, "a job with a slow probe starts")
    if status == 202:
        status, st = wait_job(srv, body["job"])
        check(st["samples"] + st["missed"] == 12, "slow probe: every tick sampled or missed (%s + %s)"
              % (st["samples"], st["missed"]))
        check(st["missed"] >= 2 * (st["samples"] - 1), "slow probe: overrun ticks counted as missed")
        _, rows, complete = read_csv(st["file"])
        check(complete and len(rows) == st["samples"], "slow probe: rows == samples")
        check(all(int(r[7]) >= 2 for r in rows[1:]), "each later row records the ticks skipped before it")
    # A probe that never returns: the Lua deadline stops each call, the job goes on to its end.
    write(probe, "local M = {}\nfunction M.sample()\n  while true do end\nend\nreturn M\n")
    srv.post("/_engine/reload")
    status, body, _ = srv.post("/metrics?interval=0.2&duration=1&file=stuck.csv")
    check(status == 202, "a job with a probe that never returns starts")
    if status == 202:
        status, st = wait_job(srv, body["job"])
        check(status == 200 and not st.get("running") and st.get("probe_errors", 0) >= 1,
              "the deadline stops the stuck probe and the job ends (%s)" % st)
    write(probe, original)
    srv.post("/_engine/reload")


def run_bad_inputs(srv, outside):
    before = data_files(srv)
    q = urllib.parse.quote
    bad = [
        ("interval=0.005", "bad_interval"), ("interval=3601", "bad_interval"), ("interval=abc", "bad_interval"),
        ("interval=nan", "bad_interval"), ("interval=inf", "bad_interval"), ("interval=-1", "bad_interval"),
        ("interval=1e999", "bad_interval"), ("duration=0", "bad_duration"), ("duration=-5", "bad_duration"),
        ("duration=1e9", "bad_duration"), ("duration=NaN", "bad_duration"),
        ("file=" + q("../../etc/passwd"), "bad_file"), ("file=" + q("/etc/passwd"), "bad_file"),
        ("file=" + q(outside), "bad_file"), ("file=a%01b.csv", "bad_file"), ("file=new%0Aline.csv", "bad_file"),
        ("file=", "bad_file"), ("file=sub/", "bad_file"), ("file=.", "bad_file"),
        ("file=" + q("x/../../y.csv"), "bad_file"), ("format=xml", "bad_format"), ("mode=overwrite", "bad_mode"),
    ]
    for query, code in bad:
        status, body, _ = srv.post("/metrics?" + query)
        check(status == 400 and is_error(body, code), "POST /metrics?%s -> 400 %s (got %s %s)"
              % (query, code, status, body))
    bodies = [
        ({"file": "nul\u0000.csv"}, "bad_file"), ({"interval": "abc"}, "bad_interval"),
        ({"interval": True}, "bad_interval"), ({"duration": [1]}, "bad_duration"), ({"file": 7}, "bad_file"),
        ('{"interval": ', "bad_json"),
    ]
    for b, code in bodies:
        status, body, _ = srv.post("/metrics", body=b if isinstance(b, dict) else b,
                                   headers={"Content-Type": "application/json"})
        check(status == 400 and is_error(body, code), "POST /metrics body %r -> 400 %s (got %s %s)"
              % (b, code, status, body))
    # A NUL in a query value must not be cut off into a shorter, valid name.
    status, body, _ = srv.post("/metrics?duration=0.1&file=evil%00.csv")
    check(status == 400 and is_error(body), "POST /metrics?file=evil%%00.csv -> 400 (got %s %s)" % (status, body))
    check(data_files(srv) == before, "no file created by any refused request")
    check(not os.path.exists(outside), "nothing written outside the data directory")

    status, body, _ = srv.get("/metrics/999")
    check(status == 404 and is_error(body, "not_found"), "GET /metrics/999 -> 404")
    status, body, _ = srv.request("DELETE", "/metrics/abc")
    check(status == 404 and is_error(body), "DELETE /metrics/abc -> 404")

    # max_jobs = 2: a third job is refused, a busy file is refused
    srv.request("DELETE", "/metrics")
    s1, b1, _ = srv.post("/metrics?interval=0.2&duration=60&file=long1.csv")
    s2, b2, _ = srv.post("/metrics?interval=0.2&duration=60&file=long2.csv")
    check(s1 == 202 and s2 == 202, "two long jobs start")
    status, body, _ = srv.post("/metrics?interval=0.2&duration=1&file=third.csv")
    check(status == 429 and is_error(body, "too_many_jobs"), "a third job -> 429 too_many_jobs (got %s)" % status)
    check(not os.path.exists(os.path.join(srv.data, "third.csv")), "the refused job created no file")
    if s2 == 202:
        srv.request("DELETE", "/metrics/%d" % b2["job"])
    status, body, _ = srv.post("/metrics?interval=0.2&duration=1&file=long1.csv")
    check(status == 409 and is_error(body, "file_busy"), "a file another job writes -> 409 file_busy (got %s)" % status)
    status, body, _ = srv.request("DELETE", "/metrics")
    check(status == 200 and all(not j["running"] for j in body.get("jobs", [])), "DELETE /metrics stops every job")


def run_sigterm(outside_dir):
    srv = Server(config=CONFIG)
    try:
        status, body, _ = srv.post("/metrics?interval=0.05&duration=600&file=term.csv")
        check(status == 202, "a job to interrupt starts")
        if status != 202:
            return
        time.sleep(1.5)
        _, st, _ = srv.get("/metrics/%d" % body["job"])
        sampled = st.get("samples", 0)
        srv.signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(15)
        except Exception:
            rc = None
        check(rc == 0, "SIGTERM: the server exits cleanly (status %s)" % rc)
        headers, rows, complete = read_csv(body["file"])
        check(complete, "SIGTERM: the file ends with a complete row")
        check(headers == [HEADER] and well_formed(rows), "SIGTERM: one header, whole rows")
        check(len(rows) >= sampled > 0, "SIGTERM: nothing sampled before the signal is lost (%d >= %d)"
              % (len(rows), sampled))
    finally:
        srv.cleanup()


def main():
    srv = Server(config=CONFIG)
    outside = os.path.join(srv.dir, "outside.csv")
    try:
        run_basic(srv)
        run_probe_reload_and_slow(srv)
        run_bad_inputs(srv, outside)
    finally:
        rc = srv.stop()
        check(rc == 0, "server stops cleanly with jobs stopped (status %s)" % rc)
        srv.cleanup()
    run_sigterm(None)
    done()


if __name__ == "__main__":
    main()
