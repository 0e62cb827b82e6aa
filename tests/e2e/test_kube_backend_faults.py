"""The kube backend under the facade's injected faults: a 409 on the scale
patch, a 429 with Retry-After, a 500, a dropped connection and a response
slower than kube.timeout_s are each retried (the route answers 200, the
fault was hit) while they pass, and answered 502/503/504 with a message
naming the server while they last; the watch of a wait survives dropped
connections; the server stays up throughout and serves again once the
faults are cleared."""
# ctest-labels: kube
import json

from pgtest import Server, check, done, is_error
from facadetest import Facade

facade = Facade()                                   # plain HTTP, no token: the faults are the subject
kc = facade.kubeconfig()
kube = Server(config="backend: kube\nkube: {kubeconfig: %s, timeout_s: 1.5, retries: 4}\n" % kc)
PODS = "/api/v1/namespaces/default/pods"
SCALE = "/apis/apps/v1/namespaces/default/deployments/app/scale"
METRICS = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"


def hits():
    st, body, _ = facade.request("GET", "/podgym/v1/faults")
    return [f.get("hits", 0) for f in body.get("faults", [])] if isinstance(body, dict) else []


def with_fault(rule, what, method, route, want_status, want_code=None, want_text=None, body=None):
    st, b, _ = facade.faults(rule)
    check(st == 200, "the facade takes the fault %s" % json.dumps(rule))
    st, b, _ = kube.request(method, route, body=body, timeout=60)
    h = hits()
    msg = b["error"]["message"] if is_error(b) else ""
    ok = st == want_status and (not want_code or is_error(b, want_code)) and (not want_text or want_text in msg)
    check(ok and h and h[0] >= 1, "%s: %s %s -> %d%s (%d %s; fault hit %s times)" % (
        what, method, route, want_status, " " + want_code if want_code else "", st,
        msg[:160] or json.dumps(b)[:120], h[0] if h else 0))
    facade.faults()
    st, _, _ = kube.get("/")
    check(st == 200, "... and the server stays up")
    return b


# --- passing faults: retried -------------------------------------------------
with_fault({"method": "GET", "path": PODS, "status": 500, "times": 2}, "a 500 twice on the pod list",
           "GET", "/pod", 200)
with_fault({"method": "GET", "path": METRICS, "status": 429, "retry_after": 1, "times": 1},
           "a 429 with Retry-After on the metrics", "GET", "/pod", 200)
b = with_fault({"method": "PATCH", "path": SCALE, "status": 409, "times": 1}, "a 409 on the scale patch",
               "POST", "/pod/scale/out", 200, body="")
check(isinstance(b, dict) and b.get("scaled") is True and b.get("to") == 3, "... and the scale happened (%s)" % b)
with_fault({"method": "GET", "path": SCALE, "drop": True, "times": 2}, "a dropped connection twice", "GET", "/pod", 200)
with_fault({"method": "GET", "path": PODS, "delay_s": 3, "times": 1}, "a response slower than the timeout, once",
           "GET", "/pod", 200)
with_fault({"method": "GET", "path": PODS, "status": 503, "retry_after": 1, "times": 1}, "a 503 with Retry-After",
           "GET", "/pod", 200)
# the wait of a scale: its list and watch connections dropped, then served
b = with_fault({"method": "GET", "path": PODS, "drop": True, "times": 3}, "the wait's pod list and watch dropped",
               "POST", "/pod/scale/in", 200, body="")
check(isinstance(b, dict) and b.get("to") == 2 and b.get("scaled") is True, "... the scale in still completes (%s)" % b)

# --- lasting faults: clear answers --------------------------------------------
SERVER = facade.url
with_fault({"method": "GET", "path": PODS, "status": 500, "times": -1}, "a 500 that lasts", "GET", "/pod", 502,
           "backend_error", SERVER)
with_fault({"method": "GET", "path": SCALE, "status": 429, "retry_after": 0.1, "times": -1}, "a 429 that lasts",
           "GET", "/pod", 503, "backend_unavailable", SERVER)
with_fault({"method": "PATCH", "path": SCALE, "status": 409, "times": -1}, "a 409 that lasts", "POST",
           "/pod/scale/out", 502, "backend_error", "409", body="")
with_fault({"method": "GET", "path": METRICS, "drop": True, "times": -1}, "connections dropped for good", "GET",
           "/pod", 503, "backend_unavailable", "cannot reach " + SERVER)
with_fault({"method": "GET", "path": SCALE, "delay_s": 3, "times": -1}, "every answer slower than the timeout",
           "GET", "/pod", 504, "backend_timeout", SERVER)
with_fault({"method": "GET", "path": PODS, "status": 403, "times": -1}, "a 403 (RBAC)", "GET", "/pod", 502,
           "backend_auth", "the token was refused by " + SERVER)

with_fault({"method": "GET", "path": PODS, "garbage": True, "times": -1}, "a 200 whose body is not JSON",
           "GET", "/pod", 502, "backend_error", SERVER)
with_fault({"method": "PATCH", "path": SCALE, "garbage": True, "times": -1}, "a scale patch answered with garbage",
           "POST", "/pod/scale/out", 502, "backend_error", SERVER, body="")
# a 409 storm (every patch refused for a while) longer than the retries: a clear 502, the bounds kept
st, b, _ = kube.get("/pod")
before = b["system"]["desired_pods"] if st == 200 else None
with_fault({"method": "PATCH", "path": SCALE, "status": 409, "times": 12}, "a storm of 12 409s", "POST",
           "/pod/scale/out", 502, "backend_error", "409", body="")
st, b, _ = kube.get("/pod")
check(st == 200 and b["system"]["desired_pods"] == before, "the storm changed nothing (%s, %s)"
      % (before, b["system"]["desired_pods"] if st == 200 else st))

# --- and once the faults are gone ------------------------------------------------
st, b, _ = kube.get("/pod")
check(st == 200 and b["system"]["total_pods"] >= 2, "with the faults cleared GET /pod answers again (%s)"
      % json.dumps(b.get("system") if isinstance(b, dict) else b)[:200])
st, b, _ = kube.get("/_engine/metrics")
check(st == 200 and 'podgym_backend_errors_total{op="pods"}' in b, "backend errors are counted in /_engine/metrics")
done()
