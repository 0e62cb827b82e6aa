"""B5 (GET /pod through the kube backend against the facade, against the
facade's own API calls for it timed by the same client) and B12 (a pod
turning Ready on the facade -> podgym's k8s.wait returns: a watch, not a
poll). The facade is a second podgym serving its simulated cluster (real
time, short start-ups) over plain HTTP on loopback."""
import http.client
import json
import atexit
import os
import shutil
import re
import statistics
import subprocess
import tempfile
import threading
import time

from run import row

N = int(os.environ.get("BENCH_B5_REQUESTS", "1500"))
B12_TRIALS = int(os.environ.get("BENCH_B12_TRIALS", "12"))
SIM = """sim:
  speed: 1
  replicas: %d
  start_delay_s: 0.3
  start_jitter_s: 0
  pending_s: 0.1
  grace_s: 0.1
  metrics_window_s: 0.1
  metrics_resolution_s: 0.1
"""
NS, DEP = "default", "app"
# What GET /pod reads (scripts/lib/podview.lua's k8s.snapshot): the scale, the pods by the
# Deployment's selector (read once, then cached), the pods' metrics.
CALLS = ["/apis/apps/v1/namespaces/%s/deployments/%s/scale" % (NS, DEP),
         "/api/v1/namespaces/%s/pods?labelSelector=%s" % (NS, "{sel}"),
         "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods?labelSelector=%s" % (NS, "{sel}")]


def kubeconfig(d, fport):
    p = os.path.join(d, "kubeconfig")
    with open(p, "w") as f:
        f.write("current-context: f\nclusters: [{name: f, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
                "users: [{name: u, user: {}}]\ncontexts: [{name: f, context: {cluster: f, user: u}}]\n" % fport)
    return p


def get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise RuntimeError("GET %s: %d %s" % (path, r.status, body[:200]))
    return dt, body


def p50(v):
    return statistics.median(v)


def b5(ctx, facade, kube, fport):
    fc = http.client.HTTPConnection("127.0.0.1", fport, timeout=10)
    kc = http.client.HTTPConnection("127.0.0.1", kube.port, timeout=10)
    _, d = get(fc, "/apis/apps/v1/namespaces/%s/deployments/%s" % (NS, DEP))
    labels = json.loads(d)["spec"]["selector"]["matchLabels"]
    sel = ",".join("%s=%s" % kv for kv in sorted(labels.items())).replace("=", "%3D").replace(",", "%2C")
    calls = [c.format(sel=sel) for c in CALLS]
    _, body = get(kc, "/pod")
    pods = json.loads(body)["system"]["total_pods"]
    for _ in range(200):                                   # warm both sides
        get(kc, "/pod")
        for c in calls:
            get(fc, c)
    pod_t, ref_t = [], []
    for i in range(N):                                     # interleaved, so noise hits both alike
        if i % 2:
            pod_t.append(get(kc, "/pod")[0])
            ref_t.append(sum(get(fc, c)[0] for c in calls))
        else:
            ref_t.append(sum(get(fc, c)[0] for c in calls))
            pod_t.append(get(kc, "/pod")[0])
    fc.close()
    kc.close()
    over_ms = (p50(pod_t) - p50(ref_t)) * 1000
    raw = {"pods": pods, "requests": N, "get_pod_p50_ms": p50(pod_t) * 1000,
           "api_calls_p50_ms": p50(ref_t) * 1000, "api_calls": len(calls),
           "get_pod_p90_ms": sorted(pod_t)[int(N * 0.9)] * 1000, "api_calls_p90_ms": sorted(ref_t)[int(N * 0.9)] * 1000}
    return row("B5", "kube: GET /pod through the kube backend vs its %d API calls, p50" % len(calls), over_ms,
               p50(ref_t) * 1000, "engine overhead <= 0.5 ms at p50", over_ms <= 0.5, raw, unit=" ms")


class Watcher(threading.Thread):
    """A plain watch on the facade: the wall time each pod turned Ready."""

    def __init__(self, fport):
        super().__init__(daemon=True)
        self.fport, self.ready_at, self.stop = fport, {}, False

    def run(self):
        while not self.stop:
            c = http.client.HTTPConnection("127.0.0.1", self.fport, timeout=60)
            c.request("GET", "/api/v1/namespaces/%s/pods" % NS)
            r = c.getresponse()
            rv = json.loads(r.read())["metadata"]["resourceVersion"]
            c.request("GET", "/api/v1/namespaces/%s/pods?watch=1&resourceVersion=%s&timeoutSeconds=60" % (NS, rv))
            r = c.getresponse()
            while not self.stop:
                line = r.fp.readline()
                if not line:
                    break
                line = line.strip()
                if not line or not line.startswith(b"{"):
                    continue
                t = time.time()
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                o = ev.get("object", {})
                conds = o.get("status", {}).get("conditions", []) or []
                if any(x.get("type") == "Ready" and x.get("status") == "True" for x in conds):
                    self.ready_at.setdefault(o["metadata"]["name"], t)
            c.close()


B12_LUA = r"""
local n = tonumber(arg[1])
for i = 1, n do
  assert(k8s.scale(1)); assert(k8s.wait{ready = 1, timeout = 20})
  local before = {}
  for _, p in ipairs(assert(k8s.pods())) do before[p.name] = true end
  assert(k8s.scale(2))
  assert(k8s.wait{ready = 2, settled = false, timeout = 20})
  local t = clock.now()
  for _, p in ipairs(assert(k8s.pods())) do
    if not before[p.name] then print(string.format("ready %s %.6f", p.name, t)) end
  end
end
"""


def b12(ctx, facade, kube_cfg, fport):
    w = Watcher(fport)
    w.start()
    time.sleep(0.3)
    d = tempfile.mkdtemp(prefix="podgym-bench-b12-")
    atexit.register(shutil.rmtree, d, True)
    script = os.path.join(d, "b12.lua")
    with open(script, "w") as f:
        f.write(B12_LUA)
    r = subprocess.run([ctx.podgym, "run", script, str(B12_TRIALS), "-c", kube_cfg], capture_output=True, text=True,
                       timeout=300, cwd=d)
    w.stop = True
    lat = []
    for line in r.stdout.splitlines():
        if line.startswith("ready "):
            _, name, t = line.split()
            if name in w.ready_at:
                lat.append(float(t) - w.ready_at[name])
    if not lat:
        raise RuntimeError("B12: no trial measured: " + r.stdout[-300:] + r.stderr[-300:])
    v = p50(lat) * 1000
    raw = {"trials": len(lat), "p50_ms": v, "max_ms": max(lat) * 1000, "min_ms": min(lat) * 1000}
    return row("B12", "kube: pod Ready on the facade (seen by a plain watch) -> k8s.wait returns, p50", v, None,
               "<= 50 ms at p50 (a watch, not a poll)", v <= 50, raw, unit=" ms")


def facade_port(srv):
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(srv.log.name) as f:
            m = re.search(r"Kubernetes API facade on http://[^:]+:(\d+)", f.read())
        if m:
            return int(m.group(1))
        time.sleep(0.02)
    raise RuntimeError("the facade did not start")


def run(ctx):
    facade = ctx.server(SIM % 5 + "facade: {listen: '127.0.0.1:0'}\n", quiet=False)
    rows = []
    try:
        fport = facade_port(facade)
        kc = kubeconfig(facade.dir, fport)
        conf = "backend: kube\nkube: {kubeconfig: %s}\n" % kc
        kube = ctx.server(conf)
        try:
            rows.append(b5(ctx, facade, kube, fport))
            rows.append(b12(ctx, facade, kube.dir + "/podgym.yaml", fport))
        finally:
            kube.stop()
    finally:
        facade.stop()
    return rows
