"""Helpers of the docker backend's e2e tests (test_docker_*.py): podgym serving
the docker backend on a real private dockerd (tests/e2e/dockerd.py) with the
demo workload, free replica ports, the labelled containers as the daemon
lists them, and bounded polls. Standard library only."""
import json
import os
import random
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
from pgtest import Server, write  # noqa: E402

IMAGE = dockerd.DEMO_IMAGE
THESIS = {"Content-Type": "application/json"}   # the thesis agent posts a JSON body of ""

# Test routes: scale without waiting, and the pod template (as `kubectl set image`).
TEST_ROUTES = r'''
local k8s, docker = require "k8s", require "docker"
return {
  { method = "POST", path = "/test/scale/{n}", summary = "k8s.scale(n), no wait",
    handler = function(req)
      local ok, err = k8s.scale(math.tointeger(tonumber(req.params.n)))
      if not ok then error(err, 0) end
      return { ok = true }
    end },
  { method = "POST", path = "/test/template", summary = "docker.template(body)",
    handler = function(req)
      local t, err = docker.template(req:json())
      if not t then error(err, 0) end
      return t
    end },
  { method = "GET", path = "/test/endpoints", summary = "k8s.endpoints()",
    handler = function()
      local eps, err = k8s.endpoints()
      if not eps then error(err, 0) end
      return { endpoints = require("json").array(eps) }
    end },
}
'''


def free_port_base(n=8):
    """A base port with n free consecutive loopback ports (host networking shares the machine's ports)."""
    for _ in range(200):
        base = random.randrange(20000, 45000)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


DEFAULT_LOAD = "load: {duration_s: 1, rate: 10, method: POST, body: 'hello', timeout_s: 2}\n"


def config(d, deployment="app", network=None, port_base=None, extra_docker="", extra="", load=DEFAULT_LOAD, cpu=0.5):
    """The podgym.yaml lines of a docker-backend server on daemon d."""
    network = network or d.mode
    port_base = port_base or free_port_base()
    return ("backend: docker\n"
            "target: {deployment: %s}\n"
            "docker:\n"
            "  socket: %s\n"
            "  image: %s\n"
            "  cpu: %g\n"
            "  memory: 64Mi\n"
            "  port_base: %d\n"
            "  network: %s\n"
            "  grace_s: 2\n"
            "  stats_window_s: 1\n"
            "%s"
            "%s%s" % (deployment, d.socket, IMAGE, cpu, port_base, network, extra_docker, load, extra))


def server(d, scaling=None, test_routes=True, **kw):
    """podgym serve on the docker backend of d, with the test routes and (optionally) its own scaling.lua."""
    s = Server(config=config(d, **kw))
    changed = False
    if test_routes:
        write(os.path.join(s.scripts, "test_routes.lua"), TEST_ROUTES)
        changed = True
    if scaling:
        write(os.path.join(s.policies, "scaling.lua"), scaling)
        changed = True
    if changed:
        st, body, _ = s.post("/_engine/reload")
        assert st == 200, (st, body)
    return s


def containers(d, deployment="app", running_only=False):
    """The pod containers of a deployment as the daemon lists them (not the state container)."""
    f = json.dumps({"label": ["podgym.deployment=" + deployment, "podgym.managed=true"]})
    st, body = d.api("GET", "/containers/json?all=1&filters=" + urllib.parse.quote(f))
    assert st == 200, (st, body)
    out = [c for c in body if "podgym.role" not in (c.get("Labels") or {})]
    if running_only:
        out = [c for c in out if c["State"] == "running"]
    return out


def until(fn, timeout=30, interval=0.1):
    """fn() polled until it returns something true (bounded); that value, or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def pod_view(s):
    st, body, _ = s.get("/pod")
    return body if st == 200 else None


def all_pods(view):
    """Every pod of a GET /pod body: those with metrics and the others."""
    return list(view.get("container") or []) + list(view.get("no_metrics") or [])


def settled(s, n):
    """GET /pod once n pods are ready and report metrics and no other pod exists (bounded), else None."""
    def ok():
        v = pod_view(s)
        if v and v["system"]["total_pods"] == n and v["system"]["ready_pods"] == n and v["system"]["online_pods"] == n:
            return v
        return None
    return until(ok, 40)
