"""e2e: a sampler job follows the sim's virtual clock (speed 0) over HTTP.

The clock moves only when a request moves it, and a job writes a row for
every 0.2 s tick the clock passes, as it moves: the rows are consecutive
ticks of the sim clock from SIM_EPOCH (the clock of the episode rows and of
the scale answers), none twice; the new pod shows from the tick the scale's
wait ended on; the rows over a load test show its requests; a job ends when
the clock passes its duration; a reset re-anchors a running job at SIM_EPOCH.
jmeter.load{} without a driver runs the sim's model (load.driver auto)."""
import csv
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import BIN, Server, check, done  # noqa: E402

SIM_EPOCH = 1700000000.0
CONFIG = ("sim: {seed: 4, speed: 0, replicas: 2, start_delay_s: 6, start_jitter_s: 0, pending_s: 1,\n"
          "      metrics_window_s: 5, metrics_resolution_s: 1, workload: {kind: constant, rps: 10}}\n"
          "load: {rate: 60, duration_s: 5}\n")


def rows_of(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def num(v):
    return float(v) if v != "" else None


def on_grid(rows, t0):
    """Every row at t0 + 0.2 k for k = 0, 1, 2, ... (to the microsecond)."""
    return all(abs(float(r["epoch_s"]) - (t0 + 0.2 * k)) < 1e-6 for k, r in enumerate(rows))


def main():
    srv = Server(config=CONFIG)
    try:
        status, body, _ = srv.post("/env/reset", body={"pods": 2, "seed": 4})
        check(status == 200, "POST /env/reset (got %s %s)" % (status, body))
        episode_file = body["file"]
        status, job, _ = srv.post("/metrics", body={"interval": 0.2, "duration": 60})
        check(status == 202, "POST /metrics answers 202 (got %s %s)" % (status, job))
        jid, path = job["job"], job["file"]
        _, st, _ = srv.get("/metrics/%d" % jid)
        check(st.get("samples") == 1 and st.get("started") == SIM_EPOCH and st["last"]["epoch_s"] == SIM_EPOCH,
              "tick 0 is taken at the start, at the sim's clock (%s)" % st)
        time.sleep(0.5)
        _, st, _ = srv.get("/metrics/%d" % jid)
        check(st.get("samples") == 1 and st.get("running"), "the wall clock moves nothing (%s rows)" % st.get("samples"))

        status, scaled, _ = srv.post("/pod/scale/out", body="")
        check(status == 200 and scaled.get("to") == 3, "scale out 2 -> 3 (got %s %s)" % (status, scaled))
        start, finish = scaled.get("start_time"), scaled.get("finish_time")
        check(start == SIM_EPOCH and finish >= start + 6, "the scale waited on the sim clock (%s .. %s)" % (start, finish))
        status, stat, _ = srv.get("/app/stat")
        check(status == 200 and stat["requests_stat"]["total_packet_count"] >= 290,
              "GET /app/stat ran the sim's load test (%s)" % (stat.get("requests_stat") if status == 200 else stat))

        # a short job ends when the clock passes its duration (the step's load test moves it 5 s)
        status, short, _ = srv.post("/metrics", body={"interval": 0.2, "duration": 3, "file": "short.csv"})
        check(status == 202, "a second job starts")
        status, step, _ = srv.post("/env/step", body={"action": "stay"})
        check(status == 200, "POST /env/step (got %s %s)" % (status, step))
        _, sst, _ = srv.get("/metrics/%d" % short["job"])
        check(sst.get("state") == "done" and not sst.get("running") and sst.get("samples") == 15,
              "3 s at 0.2 s: done after 15 rows once the clock passed it (%s)" % sst)
        srows = rows_of(sst["file"])
        check(len(srows) == 15 and on_grid(srows, float(srows[0]["epoch_s"])),
              "the short job's rows: 15 consecutive 0.2 s ticks")
        check(abs(sst.get("finished", 0) - (float(srows[0]["epoch_s"]) + 3)) < 1e-3,
              "it finished at start + duration on the sim clock (%s)" % sst.get("finished"))

        _, st, _ = srv.get("/metrics/%d" % jid)
        check(st.get("running") and st.get("missed") == 0 and st.get("ticks") == st.get("samples"),
              "the long job runs on: every tick sampled, none missed (%s)" % st)
        before_reset = st.get("samples", 0)
        status, _, _ = srv.post("/env/reset", body={"pods": 1, "seed": 5})
        check(status == 200, "a second POST /env/reset")
        status, st, _ = srv.request("DELETE", "/metrics/%d" % jid)
        check(status == 200 and st.get("state") == "stopped", "DELETE /metrics/{job} stops it")

        rows = rows_of(path)
        check(len(rows) == st.get("samples") == before_reset + 1, "rows in the file == samples (%d, %s)"
              % (len(rows), st.get("samples")))
        main_rows, after = rows[:-1], rows[-1]
        ts = [r["timestamp"] for r in main_rows]
        check(on_grid(main_rows, SIM_EPOCH), "rows are consecutive 0.2 s ticks of the sim clock from SIM_EPOCH")
        check(len(set(ts)) == len(ts) and ts == sorted(ts) and ts[0] == "2023-11-14T22:13:20.000Z",
              "no timestamp twice, in order, ISO on the sim clock (%s ..)" % ts[0])
        check(float(after["epoch_s"]) == SIM_EPOCH and after["total_pods"] == "1",
              "the reset re-anchors the job: a row at SIM_EPOCH on the fresh 1-pod cluster (%s)" % dict(after))

        by_t = {round(float(r["epoch_s"]) - SIM_EPOCH, 3): r for r in main_rows}
        f = round(finish - SIM_EPOCH, 3)
        check(f in by_t, "the scale's finish time is a row's time (%s)" % f)
        check(main_rows[0]["total_pods"] == "2" and all(r["total_pods"] == "3" for r in main_rows[1:]),
              "total_pods: 2 at the start, 3 from the tick after the scale")
        # Ready after start_delay_s (6), reporting a metrics window (5) later, at a refresh tick (1 s)
        first3 = next((float(r["epoch_s"]) for r in main_rows if r["online_pods"] == "3"), None)
        check(first3 == SIM_EPOCH + 11 and first3 >= finish,
              "the new pod reports from the tick it first has metrics at (%s, wait ended %s)" % (first3, finish))
        idle = [num(r["cpu_pct"]) for r in main_rows if float(r["epoch_s"]) < finish]
        busy = [num(r["cpu_pct"]) for r in main_rows if finish + 1 <= float(r["epoch_s"]) <= finish + 5]
        check(idle and busy and min(busy) > 2 * max(idle),
              "rows over the load test show its requests (cpu %% %s vs %s)" % (min(busy or [0]), max(idle or [0])))

        with open(episode_file) as fh:     # its first line is a # comment
            ep = list(csv.DictReader(line for line in fh if not line.startswith("#")))
        t_ep = float(ep[0]["time"]) if ep else 0
        last = float(main_rows[-1]["epoch_s"])
        check(last <= t_ep < last + 0.2, "the episode row's time is on the same clock: after the last tick, "
              "within one interval (%s, %s)" % (t_ep, last))
    finally:
        rc = srv.stop()
        check(rc == 0, "server stops cleanly (status %s)" % rc)
        srv.cleanup()

    # jmeter.load{} without a driver: load.driver auto = the sim's model on the sim
    srv = Server(config=CONFIG)
    try:
        script = os.path.join(srv.dir, "load.lua")
        with open(script, "w") as fh:
            fh.write("local t0 = k8s.now()\nlocal r = assert(jmeter.load{rate = 20, duration = 2})\n"
                     "print(r.driver, r.summary.count, k8s.now() - t0)\n")
        out = subprocess.run([BIN, "run", script, "-c", srv.config], capture_output=True, text=True, timeout=60)
        fields = out.stdout.split()
        check(out.returncode == 0 and fields[:2] == ["sim", "40"] and float(fields[2]) >= 2,
              "jmeter.load{} without a driver runs the sim's model and moves its clock (%s %s)"
              % (out.stdout.strip(), out.stderr.strip()[-200:]))
    finally:
        srv.cleanup()
    done()


if __name__ == "__main__":
    main()
