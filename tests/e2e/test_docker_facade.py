"""The Kubernetes API facade on the docker backend: kubectl and a raw watch
drive real containers on a private dockerd (host networking) with the demo
workload. kubectl get pods lists the containers' pods with the statuses
GET /pod shows; kubectl scale creates a real container, which a watch from
the list's resourceVersion sees ADDED and then Ready (the docker backend's
changes op, fed by the events stream and the prober); kubectl wait returns
once every pod is Ready; kubectl delete pod removes the container and the
backend replaces it."""
# ctest-labels: docker kube
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import check, done, free_port, request, skip  # noqa: E402

KUBECTL = "/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else shutil.which("kubectl")
if not KUBECTL:
    skip("kubectl is not installed")
home = tempfile.mkdtemp(prefix="podgym-e2e-dkf-")


def kubectl(port, *args, timeout=90):
    cfg = os.path.join(home, "config")
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "p",
           "clusters": [{"name": "p", "cluster": {"server": "http://127.0.0.1:%d" % port}}],
           "users": [{"name": "p", "user": {}}],
           "contexts": [{"name": "p", "context": {"cluster": "p", "user": "p", "namespace": "default"}}]}
    with open(cfg, "w") as f:
        json.dump(doc, f)
    r = subprocess.run([KUBECTL, "--kubeconfig", cfg, "--cache-dir", os.path.join(home, "cache"),
                        "--request-timeout", "30s"] + list(args),
                       capture_output=True, text=True, timeout=timeout, env=dict(os.environ, HOME=home, KUBECONFIG=""))
    return r.returncode, r.stdout, r.stderr


def pods_json(port):
    rc, out, err = kubectl(port, "get", "pods", "-o", "json")
    return json.loads(out)["items"] if rc == 0 else None


def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))


class Watch(threading.Thread):
    """GET .../pods?watch=1 from a resourceVersion; every event's (type, name, ready) in order."""

    def __init__(self, port, rv):
        super().__init__(daemon=True)
        self.port, self.rv, self.events, self.cv = port, rv, [], threading.Condition()

    def run(self):
        c = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        c.sendall(b"GET /api/v1/namespaces/default/pods?watch=1&resourceVersion=%s HTTP/1.1\r\nHost: t\r\n\r\n"
                  % self.rv.encode())
        f = c.makefile("rb")
        while f.readline() not in (b"\r\n", b""):
            pass                                    # the headers
        try:
            while True:
                size = f.readline().strip()         # chunked: one event (or more) per chunk
                if not size or int(size, 16) == 0:
                    break
                data = f.read(int(size, 16))
                f.readline()
                for line in data.splitlines():
                    ev = json.loads(line)
                    with self.cv:
                        self.events.append((ev["type"], ev["object"]["metadata"]["name"], ready(ev["object"])))
                        self.cv.notify_all()
        except (OSError, ValueError):
            pass

    def wait_for(self, pred, timeout=90):
        with self.cv:
            return self.cv.wait_for(lambda: pred(self.events), timeout)


with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    fport = free_port()
    s = dt.server(d, extra="facade: {listen: 127.0.0.1:%d}\n" % fport)
    check(dt.settled(s, 1) is not None, "the server starts with one ready replica")
    items = pods_json(fport)
    view = dt.pod_view(s)
    names = sorted(p["name"] for p in dt.all_pods(view)) if view else []
    check(items is not None and sorted(p["metadata"]["name"] for p in items) == names and len(names) == 1,
          "kubectl get pods lists the container's pod as GET /pod does (%s, %s)" % (items and len(items), names))
    check(items and all(p["status"]["phase"] == "Running" and ready(p) for p in items), "it is Running and Ready")
    rc, out, err = kubectl(fport, "get", "pods")
    check(rc == 0 and out.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and "1/1" in out
          and "Running" in out, "kubectl's own columns: %s %s" % (out.strip(), err.strip()))

    st, lst, _ = request(fport, "GET", "/api/v1/namespaces/default/pods")
    w = Watch(fport, lst["metadata"]["resourceVersion"])
    w.start()
    rc, out, err = kubectl(fport, "scale", "deployment/app", "--replicas=2")
    check(rc == 0 and "scaled" in out, "kubectl scale deployment/app --replicas=2: %s %s" % (out.strip(), err.strip()))
    check(dt.until(lambda: len(dt.containers(d)) == 2, 60), "the daemon runs 2 labelled containers")
    new = w.wait_for(lambda evs: any(t == "ADDED" and n not in names for t, n, _ in evs))
    check(new, "the watch sees the new pod ADDED (%s)" % w.events)
    check(w.wait_for(lambda evs: any(n not in names and r for _, n, r in evs)),
          "and then Ready, as the prober finds its port answering (%s)" % w.events[-3:])
    newname = next(n for t, n, _ in w.events if t == "ADDED" and n not in names)
    seq = [t for t, n, _ in w.events if n == newname]
    check(seq.count("ADDED") == 1 and "DELETED" not in seq,
          "the new pod is ADDED once and never DELETED on its way to Ready (%s)" % seq)
    rc, out, err = kubectl(fport, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=90s", timeout=120)
    check(rc == 0 and out.count("condition met") == 2, "kubectl wait --for=condition=Ready pod --all: %s %s"
          % (out.strip(), err.strip()))

    victim = names[0]
    rc, out, err = kubectl(fport, "delete", "pod", victim, "--timeout=90s", timeout=120)
    check(rc == 0 and "deleted" in out, "kubectl delete pod %s: %s %s" % (victim, out.strip(), err.strip()))
    check(dt.until(lambda: all(c["Names"][0].lstrip("/") != victim for c in dt.containers(d))
                   and len(dt.containers(d, running_only=True)) == 2, 90),
          "its container is gone and a replacement runs: 2 containers again")
    check(w.wait_for(lambda evs: any(t == "DELETED" and n == victim for t, n, _ in evs)),
          "the watch sees it DELETED")
    s.cleanup()
shutil.rmtree(home, ignore_errors=True)
done()
