"""The docker backend's state lives in the daemon (a real private dockerd, host
networking): podgym killed with SIGKILL in the middle of a scale-out 1 -> 5
starts again, adopts the containers it finds, reads the desired count back
and completes it without ever going past the bound; the next scale works.
Then the daemon is stopped under a running server: GET /pod and the scaling
routes answer 503 backend_unavailable naming the socket, GET / still
answers, and once the daemon is back (its restart policy brings the
containers back) podgym lists them again and scales."""
# ctest-labels: docker
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import check, done, is_error  # noqa: E402


def restart_daemon(d):
    """Stop the harness's private dockerd by its pid and start it again on the same
    paths (the harness has no public restart: its own stop and launch steps)."""
    d._stop_daemon()
    d._launch()


with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    base = dt.free_port_base()
    s = dt.server(d, port_base=base)
    check(dt.settled(s, 1) is not None, "one ready replica")

    # ---- SIGKILL in the middle of a scale-out
    result = {}

    def scale():
        try:
            result["r"] = s.post("/pod/set-pod-count/5", body='""', headers=dt.THESIS, timeout=60)
        except Exception as e:          # the server dies under it
            result["e"] = e

    t = threading.Thread(target=scale)
    t.start()
    mid = dt.until(lambda: (lambda n: n if 2 <= n < 5 else None)(len(dt.containers(d))), 20, 0.01)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(10)
    t.join(30)
    n_at_kill = len(dt.containers(d))
    check(mid is not None and n_at_kill < 5, "podgym killed mid scale-out with %s of 5 containers made" % n_at_kill)

    # A kill between a create and its start leaves a container that never ran: made here on
    # purpose (the kill above lands anywhere), in the first free slot.
    used = {int(c["Labels"]["podgym.slot"]) for c in dt.containers(d)}
    slot = min(set(range(5)) - used) if len(used) < 5 else None
    if slot is not None:
        spec = {"Image": dt.IMAGE, "Env": ["PORT=%d" % (base + slot)],
                "Labels": {"podgym.deployment": "app", "podgym.managed": "true", "podgym.slot": str(slot),
                           "podgym.port": str(base + slot)},
                "HostConfig": {"NetworkMode": "host", "RestartPolicy": {"Name": "always"}}}
        st, made = d.api("POST", "/containers/create?name=app-never", spec)
        check(st == 201, "a labelled container created and never started: %s" % st)

    s2 = dt.server(d, port_base=base)
    v = dt.pod_view(s2)
    check(v is not None and v["system"]["desired_pods"] == 5, "the new podgym reads the desired count 5 back: %s"
          % (v and v["system"]))
    peak = [0]

    def five():
        n = len(dt.containers(d))
        peak[0] = max(peak[0], n)
        return n == 5

    check(dt.until(five, 30, 0.05), "it adopts the containers and completes the count to 5")
    v = dt.settled(s2, 5)
    check(v is not None, "5 pods ready and reporting metrics")
    check(peak[0] <= 5 and len(dt.containers(d)) == 5, "never more than 5 containers (peak %d)" % peak[0])
    names = sorted(p["name"] for p in dt.all_pods(v or {}))
    check(len(set(names)) == 5, "5 distinct pods")
    check(slot is None or "app-never" in names, "the container that never ran was started and adopted")
    ports = sorted(int(c["Labels"]["podgym.port"]) for c in dt.containers(d))
    check(ports == list(range(base, base + 5)), "each in its own slot and port: %s" % ports)
    st, body, _ = s2.post("/pod/scale/out", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("scaled") is False and "maximum" in body.get("reason", ""),
          "scale/out at the bound of 5 does nothing: %s" % body)
    check(len(dt.containers(d)) == 5, "still 5 containers")
    st, body, _ = s2.post("/pod/set-pod-count/2", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("from") == 5 and body.get("to") == 2, "the next scale works: %s %s" % (st, body))
    check(dt.until(lambda: len(dt.containers(d)) == 2, 30), "the daemon soon lists 2 containers")

    # ---- the daemon stopped under a running server
    d._stop_daemon()
    # podgym learns it from the events stream ending: at once, but asynchronously
    dt.until(lambda: s2.get("/pod")[0] == 503, 10, 0.05)
    st, body, _ = s2.get("/pod")
    check(st == 503 and is_error(body) and body["error"]["code"] == "backend_unavailable"
          and d.socket in body["error"]["message"], "daemon stopped: GET /pod is 503 backend_unavailable naming the socket: %s %s"
          % (st, body))
    st, body, _ = s2.post("/pod/scale/out", body='""', headers=dt.THESIS)
    check(st == 503 and is_error(body) and body["error"]["code"] == "backend_unavailable", "scale/out is 503 too: %s" % body)
    st, text, _ = s2.get("/")
    check(st == 200 and "Hello, World!" in text, "GET / still answers")
    st, body, _ = s2.get("/app/stat")
    check(st == 503 and is_error(body), "GET /app/stat is a 503 (%s)" % st)
    check(s2.proc.poll() is None, "the server stays up")

    d._launch()
    back = dt.until(lambda: (lambda v: v if v and v["system"]["ready_pods"] == 2 else None)(dt.pod_view(s2)), 40, 0.2)
    check(back is not None, "once the daemon is back GET /pod answers with the 2 pods ready again: %s"
          % (back and back["system"]))
    st, body, _ = s2.post("/pod/set-pod-count/3", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("to") == 3, "and scaling works again: %s %s" % (st, body))
    check(len(dt.containers(d)) == 3, "3 containers")
    s2.stop()
done()
