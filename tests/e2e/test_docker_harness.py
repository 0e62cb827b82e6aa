"""The Docker test harness and the demo workload, on a real private dockerd in
host and in bridge mode: the demo image builds and imports, the workload serves
GET / and POST with a cost that grows with rounds, rejects bad input and keeps
serving, honours SIGTERM (docker stop), and after teardown nothing is left: no
daemon or shim process, mounts, cgroups, bridge, iptables rule or folder.  A
harness killed with SIGKILL is swept by the next one."""
# ctest-labels: docker
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
from pgtest import check, done  # noqa: E402

IMAGE = dockerd.DEMO_IMAGE


def timed_post(port, rounds, body=b"x" * 4096):
    t0 = time.monotonic()
    st, out = dockerd.http_request("POST", port, "/?rounds=%d" % rounds, body=body, timeout=30)
    return time.monotonic() - t0, st, out


def raw_exchange(port, data):
    """Sends raw bytes, returns what the server answers before it closes (bounded)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got
    except OSError as e:
        return str(e).encode()
    finally:
        s.close()


def keepalive_pair(port):
    """Two requests on one connection: both answered, the connection kept."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/healthz")
        r1 = c.getresponse()
        r1.read()
        sock1 = c.sock
        c.request("POST", "/?rounds=1", body=b"abc")
        r2 = c.getresponse()
        r2.read()
        return r1.status, r2.status, sock1 is not None and c.sock is sock1
    finally:
        c.close()


def exercise_workload(d, mode):
    # The image: busybox intact (not a symlink to itself), the workload as its command.
    st, img = d.api("GET", "/images/%s/json" % IMAGE)
    check(st == 200, "%s: %s exists on the private daemon" % (mode, IMAGE))
    cfg = (img or {}).get("Config") or {}
    check(cfg.get("Cmd") == ["/usr/bin/podgym-workload"], "%s: the image's command is the workload" % mode)
    check(len((cfg.get("Labels") or {}).get("podgym.content", "")) == 64, "%s: the image carries its content hash" % mode)
    cid = d.run(IMAGE, cmd=["/bin/sh", "-c", "[ -f /bin/busybox ] && [ ! -L /bin/busybox ] && ls / >/dev/null && "
                                              "[ -x /usr/bin/podgym-workload ]"],
                host_config={"NetworkMode": "none"})
    st, res = d.api("POST", "/containers/%s/wait" % cid, timeout=60)
    check(st == 200 and res.get("StatusCode") == 0, "%s: /bin/busybox is a real file and its applets work" % mode)

    # The workload, on a free loopback port.
    port = dockerd.free_port()
    if mode == "host":
        cid = d.run(IMAGE, env={"PORT": port}, host_config={"NetworkMode": "host"})
    else:
        cid = d.run(IMAGE, env={"PORT": 8080}, exposed=["8080/tcp"],
                    host_config={"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}})
        ip = ((d.inspect(cid) or {}).get("NetworkSettings") or {}).get("IPAddress", "")
        import ipaddress
        check(ip and ipaddress.ip_address(ip) in ipaddress.ip_network(d.subnet),
              "bridge: the container's address %s is in the harness's subnet %s" % (ip, d.subnet))
    check(dockerd.wait_http(port, "/healthz", timeout=20), "%s: the workload answers GET /healthz" % mode)
    cg = d.cgroup_parent.strip("/")
    check(any(dockerd.cgroup_pids(os.path.join(dockerd.CGROUP_ROOT, c, cg))
              for c in os.listdir(dockerd.CGROUP_ROOT) + [""]),
          "%s: the container runs under the harness's cgroup parent %s" % (mode, d.cgroup_parent))
    st, body = dockerd.http_request("GET", port, "/")
    info = json.loads(body) if st == 200 else {}
    check(st == 200 and info.get("service") == "podgym-workload", "%s: GET / answers 200 with the service" % mode)

    # Cost grows with rounds (the direction, never a time).
    cheap = sorted(timed_post(port, 0)[0] for _ in range(3))[1]
    dear = sorted(timed_post(port, 2000)[0] for _ in range(3))[1]
    _, st0, out0 = timed_post(port, 0)
    _, st1, out1 = timed_post(port, 7)
    r1 = json.loads(out1) if st1 == 200 else {}
    check(st0 == 200 and st1 == 200 and r1.get("rounds") == 7 and r1.get("bytes") == 4096,
          "%s: POST answers with the rounds done and the body size" % mode)
    check(json.loads(out0)["hash"] != r1.get("hash"), "%s: the hash depends on the rounds" % mode)
    check(dear > cheap, "%s: a POST of 2000 rounds costs more than one of 0 (%.1f ms > %.1f ms)"
          % (mode, dear * 1e3, cheap * 1e3))

    # Bad input: a clear 4xx, and the server keeps serving.
    st, _ = dockerd.http_request("POST", port, "/?rounds=lots", body=b"x")
    check(st == 400, "%s: ?rounds=lots is a 400" % mode)
    st, _ = dockerd.http_request("POST", port, "/?rounds=99999999", body=b"x")
    check(st == 400, "%s: rounds above the cap is a 400" % mode)
    got = raw_exchange(port, b"\x00\xff garbage \r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400"), "%s: a garbage request line is a 400" % mode)
    got = raw_exchange(port, b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 4"), "%s: a huge Content-Length is refused" % mode)
    got = raw_exchange(port, b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 20000 + b"\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 431"), "%s: oversized headers are a 431" % mode)
    got = raw_exchange(port, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    check(dockerd.http_request("GET", port, "/healthz")[0] == 200, "%s: the workload survives all of it" % mode)
    s1, s2, same = keepalive_pair(port)
    check(s1 == 200 and s2 == 200 and same, "%s: two requests on one keep-alive connection" % mode)

    # docker stop honours SIGTERM: it exits by itself (code 0), not by the SIGKILL after t=10 (137).
    t0 = time.monotonic()
    st, _ = d.api("POST", "/containers/%s/stop?t=10" % cid, timeout=30)
    took = time.monotonic() - t0
    state = ((d.inspect(cid) or {}).get("State")) or {}
    check(st == 204 and state.get("Status") == "exited", "%s: docker stop stops the workload" % mode)
    check(state.get("ExitCode") == 0 and not state.get("OOMKilled"),
          "%s: it exited on SIGTERM with code 0, not killed (code %s, stop took %.2f s of t=10)"
          % (mode, state.get("ExitCode"), took))
    st, logs = d.api("GET", "/containers/%s/logs?stderr=1&stdout=1" % cid)
    check("signal received" in str(logs), "%s: the workload logged the signal" % mode)


def mean_latency(port, clients, each):
    """Mean latency of `clients` concurrent keep-alive clients posting `each` requests, and failures."""
    import threading
    lat, fails, lock = [], [0], threading.Lock()

    def client():
        for _ in range(each):
            t, st, _ = timed_post(port, 300)
            with lock:
                if st == 200:
                    lat.append(t)
                else:
                    fails[0] += 1
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return (sum(lat) / len(lat) if lat else 0), fails[0]


def cpu_limit(d):
    """Under --cpus 0.5 the latency rises with the load (the direction, not a time)."""
    port = dockerd.free_port()
    d.run(IMAGE, env={"PORT": port}, host_config={"NetworkMode": "host", "NanoCpus": 500000000})
    check(dockerd.wait_http(port), "cpus: a workload limited to half a core serves")
    one, f1 = mean_latency(port, 1, 6)
    eight, f8 = mean_latency(port, 8, 4)
    check(f1 == 0 and f8 == 0 and eight > one,
          "cpus: 8 clients wait longer than 1 (%.0f ms > %.0f ms, failures %d, %d)" % (eight * 1e3, one * 1e3, f1, f8))


def daemon_restart(d):
    """stop_daemon/restart_daemon: the socket goes away and comes back on the same roots; a
    container with a restart policy is back and serving."""
    port = dockerd.free_port()
    cid = d.run(IMAGE, env={"PORT": port},
                host_config={"NetworkMode": "host", "RestartPolicy": {"Name": "always"}})
    check(dockerd.wait_http(port), "restart: a workload with restart policy always serves")
    first = d.pid
    d.stop_daemon()
    check(not dockerd._alive(first) and not d._ping(d.socket), "restart: the stopped daemon answers no _ping")
    check(dockerd.http_request("GET", port, "/healthz", timeout=2)[0] is None,
          "restart: its containers stopped with it")
    d.restart_daemon()
    check(d.pid != first and d._ping(d.socket), "restart: a new dockerd answers on the same socket")
    back = dockerd.wait_http(port)
    state = ((d.inspect(cid) or {}).get("State")) or {}
    check(back and state.get("Running"), "restart: the workload is back and serving")


def leftovers(info, ipt_before):
    """What a stopped harness left behind (empty lists when nothing)."""
    left = {}
    left["processes"] = dockerd.pids_mentioning(info["dir"] + "/") + \
        [p for p in [info["pid"]] + info.get("children", []) if dockerd._alive(p)]
    left["mounts"] = dockerd.mounts_under(info["dir"])
    left["dir"] = [info["dir"]] if os.path.exists(info["dir"]) else []
    left["bridge"] = [b for b in dockerd.bridges() if b == info["bridge"]]
    cg = info["cgroup_parent"].strip("/")
    left["cgroups"] = [c for c in os.listdir(dockerd.CGROUP_ROOT) if os.path.isdir(os.path.join(dockerd.CGROUP_ROOT, c, cg))]
    after = dockerd.iptables_save()
    marks = [m for m in (info["bridge"], info["subnet"]) if m]
    left["iptables rules naming us"] = [r for _, r in dockerd._iptables_rules(after) if any(m in r for m in marks)]
    return left, after


def run_mode(mode):
    ipt_before = dockerd.iptables_save()
    bridges_before = dockerd.bridges()
    with dockerd.skip_unless_docker(mode=mode, reuse=False) as d:
        info = {"dir": d.dir, "pid": d.pid, "bridge": d.bridge, "subnet": d.subnet, "cgroup_parent": d.cgroup_parent}
        check(d.private and d.pid and os.path.exists(d.socket), "%s: a private dockerd runs (pid %s)" % (mode, d.pid))
        check(len(d.socket) <= 107, "%s: its socket path fits a unix address" % mode)
        st, ver = d.api("GET", "/version")
        check(st == 200 and ver.get("ApiVersion") == d.version, "%s: /version answers, API %s" % (mode, d.version))
        if mode == "host":
            check(d.bridge is None, "host: no bridge")
        else:
            check(d.bridge in dockerd.bridges() and d.bridge not in bridges_before and d.bridge != "docker0",
                  "bridge: a bridge of its own (%s, %s)" % (d.bridge, d.subnet))
        d.ensure_demo_image()
        exercise_workload(d, mode)
        st, cs = d.api("GET", "/containers/json?all=1")
        check(st == 200 and len(cs) == 2, "%s: the daemon lists the 2 containers the test made" % mode)
        if mode == "host":
            cpu_limit(d)
            daemon_restart(d)
    info["children"] = [pid for pid, _ in d.children]
    check("containerd" in [name for _, name in d.children],
          "%s: teardown saw the daemon's children (%s)" % (mode, sorted({name for _, name in d.children})))
    left, ipt_after = leftovers(info, ipt_before)
    for what, items in left.items():
        check(not items, "%s: after teardown no %s left %s" % (mode, what, items or ""))
    if ipt_after != ipt_before:
        # Another suite's daemon may write rules meanwhile; ours never does (--iptables=false).
        others = [p for p in dockerd.daemons_running()]
        check(others, "%s: iptables identical to before (or another daemon changed it: pids %s)" % (mode, others))
    else:
        check(True, "%s: iptables identical to before" % mode)


def run_interrupted_harness(sig):
    """A harness SIGKILLed mid-run leaves a daemon, a container and a bridge, and the next harness
    sweeps them; one that gets SIGTERM cleans up by itself."""
    what = "SIGKILLed harness" if sig == signal.SIGKILL else "SIGTERMed harness"
    code = ("import sys; sys.path.insert(0, %r); import dockerd, time\n"
            "d = dockerd.DockerDaemon(mode='bridge', reuse=False); d.start(); d.ensure_demo_image()\n"
            "port = dockerd.free_port()\n"
            "cid = d.run(env={'PORT': 8080}, exposed=['8080/tcp'], host_config={'PortBindings': "
            "{'8080/tcp': [{'HostIp': '127.0.0.1', 'HostPort': str(port)}]}})\n"
            "dockerd.wait_http(port)\n"
            "print(d.dir, d.pid, d.bridge, d.cgroup_parent, d.inspect(cid)['State']['Pid'], flush=True)\n"
            "time.sleep(120)\n" % os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = []
    for ln in p.stdout:             # the harness logs first; the child's own line starts with the folder
        if ln.startswith("/"):
            line = ln.split()
            break
    if len(line) != 5:
        p.kill()
        p.wait()
        check(False, "%s: the child started a daemon and a workload" % what)
        return
    info = {"dir": line[0], "pid": int(line[1]), "bridge": line[2], "subnet": None, "cgroup_parent": line[3]}
    workload = int(line[4])
    os.kill(p.pid, sig)
    p.wait()
    if sig == signal.SIGKILL:
        check(dockerd._alive(info["pid"]) and dockerd._alive(workload) and info["bridge"] in dockerd.bridges(),
              "%s: its daemon, workload and bridge outlive it" % what)
        dockerd.sweep_stale()
    else:
        check(p.returncode == -signal.SIGTERM, "%s: it ends by the signal (%s)" % (what, p.returncode))
    left, _ = leftovers(info, None)
    left["workload process"] = [workload] if dockerd._alive(workload) else []
    for kind, items in left.items():
        check(not items, "%s: afterwards no %s left %s" % (what, kind, items or ""))


run_mode("host")
run_mode("bridge")
run_interrupted_harness(signal.SIGKILL)
run_interrupted_harness(signal.SIGTERM)
done()
