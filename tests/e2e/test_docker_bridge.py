"""The docker backend with bridge networking (a real private dockerd with a
bridge of its own): each replica's port is published on 127.0.0.1 and
k8s.endpoints() lists those; GET /app/stat runs the native load generator
over the ready replicas, and at the same offered load more replicas give a
lower average latency and fewer drops (the direction only, never a time)."""
# ctest-labels: docker
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import check, done  # noqa: E402

# A POST costs WORK_ROUNDS=50 rounds, about 2 ms of a core; a replica limited to 0.02 cores
# serves about 10 a second, so 16 requests/s overload one replica and keep four at 40 %. The
# limits are small on purpose: the replicas share their daemon's cgroup, which a busy machine
# (ctest -j2 beside other suites) may give a tenth of a core in all, and 4 x 0.02 cores still fit.
LOAD = "load: {duration_s: 3, rate: 16, method: POST, body: '%s', timeout_s: 1}\n" % ("x" * 512)
DOCKER = "  env: WORK_ROUNDS=50\n"
SCALING = "return { min = 1, max = 5, step = 1, timeout_s = 90, wait_for = 'ready' }\n"


def stat(s):
    st, body, _ = s.get("/app/stat", timeout=60)
    assert st == 200, (st, body)
    return body["requests_stat"], body


with dockerd.skip_unless_docker(mode="bridge") as d:
    d.ensure_demo_image()
    base = dt.free_port_base()
    s = dt.server(d, port_base=base, scaling=SCALING, extra_docker=DOCKER, load=LOAD, cpu=0.02)
    check(dt.until(lambda: (dt.pod_view(s) or {}).get("system", {}).get("ready_pods") == 1, 30), "one ready replica")
    st, body, _ = s.post("/pod/set-pod-count/2", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("to") == 2, "scale to 2 in bridge mode: %s %s" % (st, body))
    cs = dt.containers(d)
    hcs = [d.inspect(c["Id"])["HostConfig"] for c in cs]
    ports = sorted(int(c["Labels"]["podgym.port"]) for c in cs)
    check(len(cs) == 2 and all(h["NetworkMode"] == "bridge" for h in hcs), "2 containers on the bridge network")
    binds = sorted(b["HostIp"] + ":" + b["HostPort"] for h in hcs for v in h["PortBindings"].values() for b in v)
    check(binds == ["127.0.0.1:%d" % p for p in ports], "each publishes its port on 127.0.0.1 only: %s" % binds)
    st, eps, _ = s.get("/test/endpoints")
    check(st == 200 and sorted(eps["endpoints"]) == ["http://127.0.0.1:%d" % p for p in ports],
          "k8s.endpoints() lists the published ports: %s" % eps)
    check(all(dockerd.http_request("GET", p, "/healthz")[0] == 200 for p in ports), "each answers through its published port")

    # 4 replicas first: the overloaded single replica would still work off the requests the
    # generator gave up on (they stay queued in it) while the 4-replica test ran.
    st, body, _ = s.post("/pod/set-pod-count/4", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("to") == 4, "scale to 4: %s" % body)
    four, full4 = stat(s)
    st, body, _ = s.post("/pod/set-pod-count/1", body='""', headers=dt.THESIS)
    check(st == 200, "back to 1")
    check(dt.until(lambda: len(dt.containers(d)) == 1, 30), "1 container")
    one, full1 = stat(s)
    print("# 1 replica: avg latency %.1f ms, drops %.1f %% of %d; 4 replicas: %.1f ms, %.1f %% of %d"
          % (one["avg_latency"], one["drop_packet_percentage"], one["total_packet_count"],
             four["avg_latency"], four["drop_packet_percentage"], four["total_packet_count"]))
    check(one["total_packet_count"] > 0 and four["total_packet_count"] > 0, "both load tests sent requests")
    check(four["avg_latency"] < one["avg_latency"], "4 replicas answer with a lower average latency than 1 (%.1f < %.1f ms)"
          % (four["avg_latency"], one["avg_latency"]))
    check(four["drop_packet_percentage"] <= one["drop_packet_percentage"] and one["drop_packet_percentage"] > 0,
          "and drop fewer requests (%.1f %% <= %.1f %%, 1 replica overloaded)"
          % (four["drop_packet_percentage"], one["drop_packet_percentage"]))
    check(isinstance(full4.get("reward"), float) and full4["reward"] != full1["reward"], "the reward follows the KPIs")
done()
