"""make soak: a mixed load on one real server for --seconds (600 by default;
ctest runs 30): wrk on GET /pod, an RL agent looping reset and steps over
HTTP, a sampler job writing its CSV all along, and a reload every
--reload-every seconds. Passes with zero 5xx (wrk's non-2xx count, every
agent answer, the access log), the sampler's CSV whole (every row complete)
and the server's RSS after the run within 10 % of its RSS after the warm-up
(the first fifth of the run, at least 15 s: every part of the mix has run
by then)."""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from pgtest import Server, check, done, skip  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=600)
ap.add_argument("--reload-every", type=float, default=30)
args = ap.parse_args()
wrk = shutil.which("wrk")
if not wrk:
    skip("wrk is not installed (make deps installs it)")

T = args.seconds
WARM = max(15.0, T / 5)
srv = Server()


def rss_kb():
    with open("/proc/%d/status" % srv.proc.pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


stop = threading.Event()
agent = {"steps": 0, "resets": 0, "bad": []}


def agent_loop():
    rnd = random.Random(7)
    while not stop.is_set():
        st, body, _ = srv.post("/env/reset", {"pods": 1, "seed": rnd.randrange(1 << 30)})
        agent["resets"] += 1
        if st != 200:
            agent["bad"].append(("reset", st))
            continue
        while not stop.is_set():
            st, body, _ = srv.post("/env/step", {"action": rnd.randrange(3)})
            if st == 409:
                break               # the episode's last step was the one before
            agent["steps"] += 1
            if st != 200:
                agent["bad"].append(("step", st))
                break
            if body.get("done"):
                break


reloads = {"n": 0, "bad": []}


def reload_loop():
    while not stop.wait(args.reload_every):
        st, body, _ = srv.post("/_engine/reload")
        reloads["n"] += 1
        if st != 200:
            reloads["bad"].append(st)


st, body, _ = srv.post("/metrics", {"interval": 0.2, "duration": T + 30, "file": "soak.csv"})
check(st == 202, "the sampler job starts (%s)" % st)
job = body.get("job") if isinstance(body, dict) else None
threads = [threading.Thread(target=agent_loop), threading.Thread(target=reload_loop)]
for t in threads:
    t.start()
w = subprocess.Popen([wrk, "-t1", "-c8", "-d%ds" % int(T), "http://127.0.0.1:%d/pod" % srv.port],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
trace = []
t0 = time.time()
while w.poll() is None:
    time.sleep(min(5.0, T / 10))
    if w.poll() is None:
        trace.append((time.time() - t0, rss_kb()))
warm = [r for t, r in trace if t >= WARM]
rss_warm = warm[0] if warm else trace[-1][1]
rss_end = trace[-1][1]          # the last look under load
out, _ = w.communicate(timeout=60)
rss_after = rss_kb()
stop.set()
for t in threads:
    t.join(timeout=120)

reqs = re.search(r"(\d+) requests in", out)
check(reqs and int(reqs.group(1)) > 0, "wrk ran (%s requests on GET /pod)" % (reqs.group(1) if reqs else "?"))
check("Non-2xx" not in out and "Socket errors" not in out, "wrk saw only 2xx and no socket error")
check(agent["steps"] > 0 and not agent["bad"],
      "the agent ran %d steps in %d episodes, every answer 200 (%s)" % (agent["steps"], agent["resets"], agent["bad"][:5]))
check(reloads["n"] >= 1 and not reloads["bad"], "%d reloads, every one 200" % reloads["n"])
if job:
    srv.request("DELETE", "/metrics/%s" % job)
csv = os.path.join(srv.data, "soak.csv")
with open(csv) as f:
    lines = f.read().split("\n")
check(lines[-1] == "", "the CSV ends with a whole line")
rows = [ln for ln in lines[1:] if ln]
ncols = lines[0].count(",")
check(len(rows) > 0 and all(r.count(",") == ncols for r in rows),
      "the sampler wrote %d whole rows of %d columns" % (len(rows), ncols + 1))
log = srv.logtext()
fives = re.findall(r"access .*status=5\d\d", log)
check(not fives, "the access log has no 5xx (%s)" % fives[:3])
growth = (rss_end - rss_warm) / rss_warm * 100
print("soak: RSS MB by second: " + ", ".join("%.0f: %.1f" % (t, r / 1024) for t, r in trace))
print("soak: %.0f s, RSS %.1f MB after the warm-up (%.0f s), %.1f MB at the end of the load (%+.1f %%), "
      "%.1f MB once it stopped" % (T, rss_warm / 1024, WARM, rss_end / 1024, growth, rss_after / 1024))
with open("/proc/%d/maps" % srv.proc.pid) as f:
    asan = "libasan" in f.read()    # its quarantine keeps freed memory: RSS says nothing there
if asan:
    print("soak: RSS not judged under AddressSanitizer (%+.1f %%)" % growth)
else:
    check(growth < 10, "RSS grew less than 10 %% after the warm-up (%+.1f %%)" % growth)
srv.cleanup()
done()
