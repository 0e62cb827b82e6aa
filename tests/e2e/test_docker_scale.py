"""The docker backend on a real private dockerd (host networking) with the demo
workload: scale 1 -> 3 -> 1 through the HTTP routes with the daemon listing
exactly that many labelled containers each time; GET /pod shows the config's
requests and non-zero CPU under load; k8s.endpoints() lists the ready
replicas on port_base + slot; containers without podgym's labels (or of
another deployment) are never touched; the `docker` Lua module through
`podgym run` (containers, inspect, run, logs, stats, stop, remove, request,
failures as nil + err)."""
# ctest-labels: docker
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import BIN, SRC, check, done, is_error  # noqa: E402

LUA = r'''
local id = assert(docker.run{image = "%(image)s", cmd = "sh -c 'echo out-line; echo err-line >&2; sleep 30'",
                             labels = {["podgym.lua-test"] = "1"}, env = {"A=b"}})
local list = assert(docker.containers{label = "podgym.lua-test=1"})
assert(#list == 1 and list[1].Id == id, "containers{label} lists the new one")
local doc = assert(docker.inspect(id))
assert(doc.State.Running == true, "inspect: running")
local logs
for _ = 1, 50 do logs = assert(docker.logs(id)); if logs:find("err%%-line") then break end; clock.sleep(0.1) end
assert(logs:find("out%%-line") and logs:find("err%%-line"), "logs has stdout and stderr: " .. logs)
local st = assert(docker.stats(id))
assert(st.memory > 0 and st.cpu >= 0 and st.memory_limit > 0, "stats")
local v, status = docker.request("GET", "/version")
assert(status == 200 and v.ApiVersion, "request")
assert(docker.stop(id, {timeout = 0}))
assert(docker.remove(id))
local none, err = docker.inspect(id)
assert(none == nil and err.status == 404 and err.code == "not_found", "a removed container is 404")
local bad, err2 = docker.run{image = "podgym-no-such-image:1"}
assert(bad == nil and err2.status == 404 and err2.message:find("No such image"), "a missing image is 404")
local ok, why = pcall(docker.run, {image = "x", bogus = 1})
assert(not ok and tostring(why):find("bogus"), "an unknown option raises")
print("lua-ok")
'''


def count_is(d, n, dep="app"):
    return dt.until(lambda: len(dt.containers(d, dep)) == n, 30)


with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    # Containers podgym must leave alone: no labels, half the labels, another deployment.
    keep = [d.run(cmd=["sleep", "600"]),
            d.run(cmd=["sleep", "600"], labels={"podgym.deployment": "app"}),
            d.run(cmd=["sleep", "600"], labels={"podgym.deployment": "other", "podgym.managed": "true"})]
    base = dt.free_port_base()
    # `podgym check` opens the backend but changes nothing on the daemon
    cdir = tempfile.mkdtemp(prefix="podgym-e2e-check-")
    cfg = os.path.join(cdir, "podgym.yaml")
    with open(cfg, "w") as f:
        f.write("scripts: %s/scripts\npolicies: %s/policies\ndata_dir: %s/data\n%s"
                % (os.path.abspath(SRC), os.path.abspath(SRC), cdir, dt.config(d, port_base=base)))
    r = subprocess.run([BIN, "check", "-c", cfg], capture_output=True, text=True, timeout=60, cwd=cdir)
    check(r.returncode == 0 and "backend docker" in r.stdout, "podgym check on docker: %s %s" % (r.stdout, r.stderr))
    check(len(dt.containers(d)) == 0, "and creates no container")
    shutil.rmtree(cdir, ignore_errors=True)
    s = dt.server(d, port_base=base)
    v = dt.settled(s, 1)
    check(v is not None, "the server starts with one ready replica reporting metrics")
    check(len(dt.containers(d)) == 1, "the daemon lists one labelled container")

    st, body, _ = s.post("/pod/set-pod-count/3", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("to") == 3 and body.get("scaled") is True, "set-pod-count/3: %s %s" % (st, body))
    v = dt.pod_view(s)
    check(v and v["system"]["online_pods"] == 3 and v["system"]["desired_pods"] == 3,
          "after the scale GET /pod counts 3 pods reporting metrics: %s" % (v and v["system"]))
    cs = dt.containers(d)
    check(len(cs) == 3 and all(c["State"] == "running" for c in cs), "the daemon lists exactly 3 running labelled containers")
    ports = sorted(int(c["Labels"]["podgym.port"]) for c in cs)
    check(ports == [base, base + 1, base + 2], "replicas serve on port_base + slot: %s" % ports)
    env_ok = all(("PORT=%d" % int(c["Labels"]["podgym.port"])) in (d.inspect(c["Id"])["Config"]["Env"] or []) for c in cs)
    hc = d.inspect(cs[0]["Id"])["HostConfig"]
    check(env_ok and hc["NetworkMode"] == "host" and hc["NanoCpus"] == 500000000 and hc["Memory"] == 64 * 1024 * 1024
          and hc["RestartPolicy"]["Name"] == "always", "each has PORT, host networking, the cpu and memory limits, restart always")
    st, eps, _ = s.get("/test/endpoints")
    urls = sorted(eps.get("endpoints", [])) if st == 200 else []
    check(urls == ["http://127.0.0.1:%d" % p for p in ports], "k8s.endpoints() lists the 3 ready replicas: %s" % urls)
    check(all(dockerd.http_request("GET", p, "/healthz")[0] == 200 for p in ports), "each endpoint answers")

    pods = dt.all_pods(v)
    check(all(p.get("status") == "Running" and p.get("ready") is True for p in pods), "every pod is Running and ready")
    cont = v.get("container") or []
    check(cont and all(c["req_cpu"] == 0.5 and c["req_mem"] == 64 * 1024 * 1024 for c in cont),
          "GET /pod shows the config's requests (0.5 cores, 64Mi)")
    check(cont and all(c["mem"] > 0 for c in cont), "memory is measured (usage less inactive_file)")

    # Load: every replica busy with CPU-bound POSTs; GET /pod reads the collector's cache.
    stop = threading.Event()

    def load(port):
        while not stop.is_set():
            dockerd.http_request("POST", port, "/?rounds=2000", body=b"x" * 2048, timeout=10)

    threads = [threading.Thread(target=load, args=(p,)) for p in ports for _ in range(2)]
    for t in threads:
        t.start()
    try:
        busy = dt.until(lambda: (lambda v: v if v and v["system"]["cpu_percent"] and v["system"]["cpu_percent"] > 20
                                 and all(c["cpu_percent"] > 5 for c in v.get("container", [])) else None)(dt.pod_view(s)), 20, 0.25)
    finally:
        stop.set()
        for t in threads:
            t.join()
    check(busy is not None, "under load GET /pod shows non-zero CPU %% per pod and in total: %s"
          % (busy and [c["cpu_percent"] for c in busy["container"]]))
    if busy:
        check(all(c["cpu"] <= 0.5 * 1.3 for c in busy["container"]),
              "the CPU in cores stays near the 0.5-core limit (%s)" % [round(c["cpu"], 3) for c in busy["container"]])

    st, body, _ = s.post("/pod/set-pod-count/1", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("from") == 3 and body.get("to") == 1, "set-pod-count/1: %s %s" % (st, body))
    check(count_is(d, 1), "the daemon soon lists exactly 1 labelled container")
    check(len(dt.containers(d)) == 1, "and stays at 1")
    v = dt.settled(s, 1)
    check(v is not None and v["system"]["desired_pods"] == 1, "GET /pod settles at 1 pod")
    st, body, _ = s.post("/pod/scale/in", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("scaled") is False and "minimum" in body.get("reason", ""), "scale/in at the minimum does nothing: %s" % body)
    check(len(dt.containers(d)) == 1, "still 1 container")

    left = [d.inspect(c) for c in keep]
    check(all(x and x["State"]["Running"] for x in left), "containers without podgym's labels or of another deployment run on, untouched")

    st, body, _ = s.post("/test/template", body={"image": ""})
    check(st == 400 and is_error(body), "docker.template with an empty image is a 400: %s %s" % (st, body))
    st, body, _ = s.post("/test/template", body={"command": "sh -c 'unclosed"})
    check(st == 400 and is_error(body), "an unsplittable command is a 400")

    check("(API %s)" % d.version in s.logtext(), "the API version is the daemon's (%s, below the client's)" % d.version)
    st, text, _ = s.get("/_engine/status")
    check(st == 200 and "docker" in str(text), "the engine reports the docker backend")
    s.stop()
    check(len(dt.containers(d)) == 1, "stopping podgym leaves the Deployment's containers (the state lives in the daemon)")

    # The docker Lua module, through `podgym run` with DOCKER_HOST (no backend of its own).
    path = os.path.join(s.dir, "lua_test.lua")
    with open(path, "w") as f:
        f.write(LUA % {"image": dt.IMAGE})
    r = subprocess.run([BIN, "run", path], capture_output=True, text=True, env=d.env(), timeout=120, cwd=s.dir)
    check(r.returncode == 0 and "lua-ok" in r.stdout, "the docker module: %s %s" % (r.stdout[-300:], r.stderr[-600:]))
done()
