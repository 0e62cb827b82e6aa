"""B11: the docker backend on a real private dockerd (tests/e2e/dockerd.py, host
networking) with the demo workload.

  GET /pod with 5 replicas, p50 over 200 requests on one keep-alive
  connection, against `docker stats --no-stream` on the same 5 containers
  (the CLI a user would run; median of 3), target >= 100 x faster.

  scale-out 1 -> 2 (POST /pod/scale/out with scaling.lua's wait_for =
  "ready"; median of 3) against the replica's own create-to-ready time: the
  same container spec created and started straight through the Engine API by
  this script, which then polls its /healthz every 2 ms (median of 3);
  target <= create-to-ready + 100 ms."""
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

from run import SRC, row

sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))

SCALING = "return { min = 1, max = 5, step = 1, timeout_s = 90, wait_for = 'ready' }\n"


def get_pod_p50(port, n=200):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", "/pod")
        r = c.getresponse()
        r.read()
        times.append(time.perf_counter() - t0)
        assert r.status == 200, r.status
    c.close()
    return statistics.median(times), times


def docker_stats(d, ids):
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        r = subprocess.run(["docker", "stats", "--no-stream"] + ids, capture_output=True, text=True, env=d.env(),
                           timeout=60)
        times.append(time.perf_counter() - t0)
        assert r.returncode == 0, r.stderr
    return statistics.median(times), times


def direct_create_to_ready(d, dockerd, port):
    """create + start + first 200 from /healthz, straight through the Engine API."""
    spec = {"Image": dockerd.DEMO_IMAGE, "Env": ["PORT=%d" % port], "Labels": {"podgym.bench": "1"},
            "HostConfig": {"NetworkMode": "host", "NanoCpus": 500000000, "Memory": 64 << 20}}
    t0 = time.perf_counter()
    st, body = d.api("POST", "/containers/create", spec)
    assert st == 201, (st, body)
    cid = body["Id"]
    st, _ = d.api("POST", "/containers/%s/start" % cid)
    assert st == 204, st
    while dockerd.http_request("GET", port, "/healthz", timeout=1)[0] != 200:
        time.sleep(0.002)
    dt = time.perf_counter() - t0
    d.api("DELETE", "/containers/%s?force=1" % cid)
    return dt


def run(ctx):
    os.environ.setdefault("PODGYM_BIN", ctx.podgym)
    os.environ.setdefault("PODGYM_BUILD", ctx.build)
    import dockerd
    import dockertest
    from pgtest import Server, write

    try:
        d = dockerd.DockerDaemon(mode="host")
        d.start()
    except dockerd.Unavailable as e:
        return [row("B11", "docker: could not start dockerd: %s" % e, None, None, None, False, {})]
    rows = []
    try:
        d.ensure_demo_image()
        base = dockertest.free_port_base(10)
        s = Server(config=dockertest.config(d, port_base=base).replace("  stats_window_s: 1\n", ""), args=["--quiet"])
        write(os.path.join(s.policies, "scaling.lua"), SCALING)
        st, body, _ = s.post("/_engine/reload")
        assert st == 200, (st, body)
        st, body, _ = s.post("/pod/set-pod-count/5")
        assert st == 200, (st, body)
        assert dockertest.settled(s, 5), "5 pods did not settle"
        p50, times = get_pod_p50(s.port)
        ids = [c["Id"][:12] for c in dockertest.containers(d)]
        ref, ref_times = docker_stats(d, ids)
        ratio = ref / p50
        rows.append(row("B11", "docker: GET /pod, 5 replicas, p50 (x faster than docker stats --no-stream)",
                        round(p50 * 1000, 3), round(ref * 1000, 1), ">= 100x", ratio >= 100,
                        {"get_pod_p50_ms": p50 * 1000, "get_pod_p99_ms": sorted(times)[int(len(times) * 0.99) - 1] * 1000,
                         "docker_stats_ms": [round(t * 1000, 1) for t in ref_times], "containers": len(ids)},
                        ratio=round(ratio, 1), unit=" ms"))

        st, body, _ = s.post("/pod/set-pod-count/1")
        assert st == 200, (st, body)
        assert dockertest.until(lambda: len(dockertest.containers(d)) == 1, 30)
        scale, own = [], []
        for _ in range(3):
            time.sleep(0.5)
            t0 = time.perf_counter()
            st, body, _ = s.post("/pod/scale/out")
            scale.append(time.perf_counter() - t0)
            assert st == 200 and body["to"] == 2, (st, body)
            st, body, _ = s.post("/pod/scale/in")
            assert st == 200, (st, body)
            assert dockertest.until(lambda: len(dockertest.containers(d)) == 1, 30)
            time.sleep(0.5)
            own.append(direct_create_to_ready(d, dockerd, base + 9))
        sm, om = statistics.median(scale), statistics.median(own)
        rows.append(row("B11", "docker: scale-out 1 -> 2 until ready (vs the replica's own create-to-ready)",
                        round(sm * 1000, 1), round(om * 1000, 1), "<= ref + 100 ms", sm <= om + 0.1,
                        {"scale_ms": [round(t * 1000, 1) for t in scale], "create_to_ready_ms": [round(t * 1000, 1) for t in own],
                         "overhead_ms": round((sm - om) * 1000, 1)}, unit=" ms"))
        s.cleanup()
    finally:
        d.stop()
    return rows
