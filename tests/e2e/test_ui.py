"""GET /ui in a real browser: Debian's chromium, headless, loads the page
from a server on the simulated cluster (episodes stepped, a sampler job
running), the pods table is read from the DOM it built and compared with
GET /pod, the charts have points, and a screenshot is saved to the build
directory (ui.png). Chromium reaches nothing but loopback: every host name
but 127.0.0.1 resolves to nothing and every other address goes to a dead
proxy. Skipped (77) when chromium is missing or cannot run here."""
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import BIN, Server, check, done, skip  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    skip("no chromium (make deps installs Debian's)")
BUILD = os.environ.get("PODGYM_BUILD") or os.path.dirname(os.path.abspath(BIN))
profile = tempfile.mkdtemp(prefix="podgym-chromium-")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile, "--window-size=1280,1000",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--mute-audio",
    # loopback only: names resolve to nothing but 127.0.0.1, other addresses go to a dead proxy
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
]


def chromium(*args, timeout=180):
    return subprocess.run([CHROMIUM] + FLAGS + list(args), capture_output=True, text=True, timeout=timeout)


try:
    p = chromium("--dump-dom", "data:text/html,<p id=x>static</p><script>x.textContent='ran'</script>", timeout=120)
except (OSError, subprocess.TimeoutExpired) as e:
    shutil.rmtree(profile, ignore_errors=True)
    skip("chromium cannot run here: %s" % e)
if p.returncode != 0 or ">ran<" not in p.stdout:
    shutil.rmtree(profile, ignore_errors=True)
    skip("chromium cannot run here (exit %d): %s" % (p.returncode, p.stderr.strip()[-300:]))


# the rules hold: a name and an outside address both fail, loopback answers (checked on the server below)
probe = ("data:text/html,<p id=a>-</p><p id=b>-</p><script>"
         "const f=(u,id)=>fetch(u,{mode:'no-cors'}).then(()=>document.getElementById(id).textContent='reached')"
         ".catch(()=>document.getElementById(id).textContent='blocked');"
         "f('http://example.com/','a');f('http://93.184.216.34/','b')</script>")
p = chromium("--virtual-time-budget=3000", "--dump-dom", probe)
check('<p id="a">blocked</p>' in p.stdout and '<p id="b">blocked</p>' in p.stdout,
      "chromium reaches neither a host name nor an outside address (%s)" % p.stdout.strip()[-200:])


class Table(html.parser.HTMLParser):
    """The rows of table#pods's tbody: {name: {cell class: text}}; the charts' data-points."""

    def __init__(self):
        super().__init__()
        self.rows, self.points, self.loaded = {}, {}, None
        self.in_pods = self.in_body = False
        self.row = self.cell = None
        self.figure = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "pods":
            self.in_pods, self.loaded = True, a.get("data-loaded")
        elif self.in_pods and tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr" and "data-name" in a:
            self.row = {}
            self.rows[a["data-name"]] = self.row
        elif self.row is not None and tag == "td":
            self.cell = (a.get("class") or "").split()[0]
            self.row[self.cell] = ""
        elif tag == "figure":
            self.figure = a.get("id")
        elif tag == "svg" and self.figure:
            self.points[self.figure] = int(a.get("data-points", "0"))

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        elif tag == "tr":
            self.row = None
        elif tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.in_pods = False
        elif tag == "figure":
            self.figure = None

    def handle_data(self, text):
        if self.row is not None and self.cell:
            self.row[self.cell] += text


s = Server(config="sim: {seed: 4, speed: 0, replicas: 3}\n")
try:
    st, body, r = s.get("/ui")
    check(st == 200 and "text/html" in r.getheader("Content-Type", "") and "<table id=\"pods\"" in body,
          "GET /ui serves the page")
    check("http://" not in body.replace("http://www.w3.org/2000/svg", "") and "https://" not in body,
          "the page loads nothing from outside the server")
    # an episode done and one running, and a sampler job: every chart has data
    st, _, _ = s.post("/env/reset", {"pods": 2})
    for a in ["out", "out", "stay", "in"]:
        st, _, _ = s.post("/env/step", {"action": a})
    check(st == 200, "episode 1 stepped")
    st, _, _ = s.post("/metrics", {"interval": 1, "duration": 600})
    check(st == 202, "a sampler job runs")
    st, _, _ = s.post("/env/reset", {"pods": 3})
    for a in ["stay", "out", "stay"]:
        st, _, _ = s.post("/env/step", {"action": a})
    st, series, _ = s.get("/ui/series")
    check(st == 200 and series["episode"]["episode"] == 2 and len(series["episode"]["points"]) == 3
          and all(isinstance(p["latency"], (int, float)) for p in series["episode"]["points"]),
          "GET /ui/series has the current episode's steps with their latency")
    check(series["sampler"] and series["sampler"]["running"] and len(series["sampler"]["points"]) >= 1,
          "GET /ui/series has the running sampler job's rows (%s)" % str(series["sampler"])[:200])
    ts = [p["t"] for p in series["sampler"]["points"]]
    check(ts == sorted(ts), "the sampler's series is the rows since the clock's last reset (time never goes back)")
    st, rewards, _ = s.get("/ui/rewards")
    eps = rewards.get("episodes", [])
    check(st == 200 and [e["episode"] for e in eps] == [1, 2] and [e["steps"] for e in eps] == [4, 3]
          and all(isinstance(e["reward"], (int, float)) for e in eps), "GET /ui/rewards: the reward per episode (%s)" % eps)

    url = "http://127.0.0.1:%d/ui" % s.port
    p = chromium("--virtual-time-budget=5000", "--dump-dom", url)
    check(p.returncode == 0 and "<tbody>" in p.stdout, "chromium loads /ui (exit %d)" % p.returncode)
    t = Table()
    t.feed(p.stdout)
    st, pod, _ = s.get("/pod")
    want = {c["name"]: c for c in (pod.get("container") or []) + (pod.get("no_metrics") or [])}
    check(st == 200 and len(want) >= 2 and len(want) == pod["system"]["total_pods"], "GET /pod lists every pod")
    check(set(t.rows) == set(want), "the page's pods table lists the pods GET /pod lists (%s vs %s)"
          % (sorted(t.rows), sorted(want)))
    same = all(t.rows[n]["status"] == want[n]["status"] and t.rows[n]["ready"] == ("yes" if want[n]["ready"] else "no")
               and t.rows[n]["restarts"] == str(want[n]["restarts"]) for n in want if n in t.rows)
    check(same, "status, ready and restarts match GET /pod (%s)" % t.rows)
    cpu_ok = all(abs(float(t.rows[n]["cpu"]) - want[n]["cpu_percent"]) < 0.006 and
                 abs(float(t.rows[n]["mem"]) - want[n]["mem_percent"]) < 0.006
                 for n in want if n in t.rows and want[n].get("cpu_percent") is not None)
    check(cpu_ok, "CPU % and memory % of requests match GET /pod")
    check(all(t.points.get(f, 0) > 0 for f in ("chart-cpu", "chart-mem", "chart-pods", "chart-latency", "chart-reward")),
          "every chart has points (%s)" % t.points)
    check(t.points.get("chart-reward") == 2, "the reward chart has one bar per episode")

    shot = os.path.join(BUILD, "ui.png")
    if os.path.exists(shot):
        os.unlink(shot)
    p = chromium("--virtual-time-budget=5000", "--screenshot=" + shot, url)
    ok = os.path.exists(shot) and open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(shot) > 10000
    check(ok, "a screenshot of /ui is saved to %s" % shot)
    print("screenshot: %s" % shot)
finally:
    s.stop()
    shutil.rmtree(profile, ignore_errors=True)
done()
