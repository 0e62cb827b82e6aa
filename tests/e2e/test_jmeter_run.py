"""jmeter.run: the external JMeter CLI, played by tests/fixtures/jmeter-standin/jmeter
(it writes results in JMeter 5.x's real CSV format; Debian's JMeter 2.13
cannot load plans on this machine). Properties reach it as -Jname=value,
its JTL is parsed, and every failure is a clear error: JMeter missing, plan
missing or not XML, a non-zero exit, a timeout. Then GET /app/stat with
load.driver: jmeter.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import BIN, SRC, Server, check, done  # noqa: E402

TMP = tempfile.mkdtemp(prefix="podgym-jmrun-")
DATA = os.path.join(TMP, "data")
STANDIN = os.path.join(SRC, "tests", "fixtures", "jmeter-standin", "jmeter")
PLAN = os.path.join(SRC, "tests", "fixtures", "Thread-Reward-Test.jmx")


def config(jmeter=STANDIN, extra=""):
    path = os.path.join(TMP, "podgym-%d.yaml" % abs(hash(jmeter + extra)))
    with open(path, "w") as f:
        f.write("data_dir: %s\nload:\n  jmeter: %s\n  max_duration_s: 30\n%s" % (DATA, jmeter, extra))
    return path


def lua(code, cfg=None, timeout=60):
    path = os.path.join(TMP, "t.lua")
    with open(path, "w") as f:
        f.write("local json = require 'json'\n" + code + "\n")
    p = subprocess.run([BIN, "run", "-c", cfg or config(), path], capture_output=True, text=True,
                       timeout=timeout, cwd=TMP)
    out = p.stdout.strip().splitlines()
    if p.returncode != 0 or not out:
        print("script failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
        return None
    return json.loads(out[-1])


def run(opts, cfg=None):
    """jmeter.run{opts} -> (result, err)"""
    return lua("local r, e = jmeter.run(%s)\nprint(json.encode({r = r or json.null, e = e or json.null}))" % opts,
               cfg) or {"r": None, "e": None}


notxml = os.path.join(TMP, "notxml.jmx")
with open(notxml, "w") as f:
    f.write("plain text, not a plan\n")

try:
    # ---- a run: -J properties reach JMeter, its JTL is read ----
    got = run('{plan = %s, props = {["standin.errors"] = 2}, samples = true}' % json.dumps(PLAN))
    r = got["r"]
    check(r is not None, "jmeter.run with the stand-in: %s" % (got["e"] and got["e"]["message"]))
    if r:
        s = r["summary"]
        check(r["driver"] == "jmeter" and r["count"] == 6 and s["count"] == 6, "6 samples read from its JTL")
        check(s["errors"] == 2 and abs(s["drop_pct"] - 100 * 2 / 6) < 1e-9, "2 failed samples: drop 33.3 %")
        check(r["jtl"].startswith(DATA + "/") and os.path.exists(r["jtl"]) and os.path.exists(r["log"]),
              "JTL and log under data_dir")
        with open(r["jtl"], newline="") as f:
            rows = list(csv.DictReader(f))
        lat = sum(int(x["Latency"]) for x in rows) / len(rows)
        el = sum(int(x["elapsed"]) for x in rows) / len(rows)
        check(abs(s["latency"]["mean"] - lat) < 1e-9 and abs(s["elapsed"]["mean"] - el) < 1e-9,
              "mean Latency %.2f and elapsed %.2f as in the file" % (lat, el))
        fails = [x for x in r["samples"] if not x["success"]]
        check(len(fails) == 2 and all(x["code"] == 0 and x["message"].startswith("Connect to localhost:30030")
                                      for x in fails),
              "JMeter's 'Non HTTP response' rows: code 0 and their message")
        check(all(x["label"] == "Image Classification" for x in r["samples"]), "labels from the plan")
        # rows 10 s apart; the last (a failure) took 2003 ms: first start to last end
        check(abs(s["duration_s"] - 52.003) < 1e-6, "duration from the timestamps: %s s" % s["duration_s"])

    got = run('{plan = %s, props = {["standin.samples"] = 25}, jtl = "mine.jtl"}' % json.dumps(PLAN))
    check(got["r"] and got["r"]["count"] == 25 and got["r"]["jtl"] == os.path.join(DATA, "mine.jtl"),
          "props={standin.samples=25} -> 25 samples in data_dir/mine.jtl")

    # ---- failures ----
    got = run("{plan = %s}" % json.dumps(os.path.join(TMP, "missing.jmx")))
    check(got["e"] and got["e"]["status"] == 404 and "missing.jmx" in got["e"]["message"],
          "a plan that does not exist: 404 naming it")
    got = run("{plan = %s}" % json.dumps(notxml))
    check(got["e"] and got["e"]["status"] == 502 and "Problem loading XML" in got["e"]["message"],
          "a plan that is not XML: JMeter's own log line in the error (%s)" % (got["e"] and got["e"]["message"]))
    got = run("{plan = %s}" % json.dumps(PLAN), config("/nonexistent/bin/jmeter"))
    check(got["e"] and got["e"]["status"] == 503 and got["e"]["code"] == "jmeter_missing"
          and "/nonexistent/bin/jmeter" in got["e"]["message"], "JMeter missing (a path): 503 naming it")
    got = run("{plan = %s}" % json.dumps(PLAN), config("no-such-jmeter-here"))
    check(got["e"] and got["e"]["code"] == "jmeter_missing" and "PATH" in got["e"]["message"],
          "JMeter missing (looked up in PATH): clear error")
    got = run('{plan = %s, props = {["standin.exit"] = 3}}' % json.dumps(PLAN))
    check(got["e"] and got["e"]["status"] == 502 and "status 3" in got["e"]["message"]
          and "end of run" in got["e"]["message"], "a non-zero exit: 502 with the log's last lines")
    got = run('{plan = %s, props = {["standin.samples"] = 0}}' % json.dumps(PLAN))
    check(got["e"] and got["e"]["status"] == 502 and "no samples" in got["e"]["message"],
          "a run without samples is an error, not a zero KPI")
    got = run('{plan = %s, props = {["standin.sleep"] = 20}, timeout = 1}' % json.dumps(PLAN))
    check(got["e"] and got["e"]["status"] == 504 and got["e"]["code"] == "timeout", "a run over its timeout: 504")
    got = run("{plan = %s, timeout = 1000}" % json.dumps(PLAN))
    check(got["e"] and got["e"]["status"] == 400, "a timeout over load.max_duration_s: 400")

    # ---- GET /app/stat with load.driver: jmeter ----
    srv = Server(config="load:\n  driver: jmeter\n  jmeter: %s\n  plan: %s\n" % (STANDIN, PLAN))
    try:
        status, body, _ = srv.get("/app/stat")
        rs = isinstance(body, dict) and body.get("requests_stat") or {}
        check(status == 200 and rs.get("total_packet_count") == 6 and rs.get("drop_packet_count") == 0,
              "GET /app/stat runs the plan through JMeter: %s %s" % (status, json.dumps(rs)[:200]))
        check(abs(rs.get("avg_latency", -1) - 125) < 1e-9 and abs(rs.get("avg_elapsed", -1) - 135) < 1e-9,
              "avg_latency is the mean Latency of the JTL (125 ms), avg_elapsed the mean elapsed (135 ms)")
    finally:
        srv.cleanup()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
done()
