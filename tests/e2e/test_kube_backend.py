"""podgym --backend kube against a real Kubernetes API: a second podgym that
serves its simulated cluster through the Kubernetes API facade, over HTTPS
with a CA this test makes (openssl) and a bearer token. Every seed route
answers with the same JSON shapes and the same bounds as on sim; the
scale waits follow the facade's watch; k8s.request and k8s.delete_pod
work; a wrong CA, a wrong token and a closed port give the clear errors;
no secret reaches the log."""
# ctest-labels: kube
import base64
import json
import os
import shutil
import socket
import subprocess
import time

from pgtest import BIN, Server, check, done, is_error
from facadetest import OPENSSL, SIM, Facade, make_certs

tmp, CA, CERT, KEY, OTHER = make_certs()
facade = Facade(certs=(tmp, CA, CERT, KEY))
URL = facade.url
TOKEN = facade.token


def path(name):
    return os.path.join(tmp, name)


def kubeconfig(name, server=URL, ca=CA, token=TOKEN, ca_file=False):
    """A kubeconfig with the CA as data (the facade's own helper), or as a file, or for another server."""
    p = facade.kubeconfig(token=token, ca=ca, name=name)
    if server != URL or ca_file:
        with open(p) as f:
            doc = json.load(f)
        doc["clusters"][0]["cluster"]["server"] = server
        if ca_file:
            del doc["clusters"][0]["cluster"]["certificate-authority-data"]
            doc["clusters"][0]["cluster"]["certificate-authority"] = ca
        with open(p, "w") as f:
            json.dump(doc, f)
    return p


# The load test's target: the facade's own front end (GET / answers Hello, World!).
LOAD = "load: {driver: native, url: 'http://127.0.0.1:%d/', rate: 20, duration_s: 1}\n" % facade.server.port
# the defaults (10 s a call, 4 retries): a loaded machine answers late, not wrongly
KUBE = "backend: kube\nkube: {kubeconfig: %s}\n" + LOAD
kube = Server(config=KUBE % kubeconfig("good.kubeconfig"))
sim = Server(config=SIM.replace("speed: 1", "speed: 0") + "load: {rate: 20, duration_s: 1}\n")


def shape(v):
    """The JSON shape: keys and value types (null matches anything, numbers are numbers)."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def same_shape(a, b, where=""):
    """Differences between shapes a and b (None matches anything, [] any list)."""
    if a == "NoneType" or b == "NoneType":
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = ["%s.%s missing on kube" % (where, k) for k in b if k not in a]
        out += ["%s.%s extra on kube" % (where, k) for k in a if k not in b]
        for k in a:
            if k in b:
                out += same_shape(a[k], b[k], where + "." + k)
        return out
    if isinstance(a, list) and isinstance(b, list):
        return same_shape(a[0], b[0], where + "[]") if a and b else []
    return [] if a == b else ["%s: %s on kube, %s on sim" % (where, a, b)]


def compare(what, method, route, body=None):
    ks, kb, _ = kube.request(method, route, body=body)
    ss, sb, _ = sim.request(method, route, body=body)
    diff = same_shape(shape(kb), shape(sb))
    check(ks == ss and not diff, "%s %s: %d on kube as on sim (%d), same JSON shape (%s)"
          % (method, route, ks, ss, "; ".join(diff[:4]) or "identical")
          + ("" if ks == ss else " kube said %s" % json.dumps(kb)[:300]))
    return ks, kb


# --- every seed route ------------------------------------------------------------
st, body = compare("pod", "GET", "/pod")
check(st == 200 and body["system"]["total_pods"] == 2 and body["system"]["desired_pods"] == 2,
      "GET /pod reads the facade's Deployment: 2 pods (%s)" % json.dumps(body)[:300])
pod0 = (body.get("container") or body.get("no_metrics") or [{}])[0]
check(pod0.get("status") == "Running" and pod0.get("ready") is True and pod0.get("name", "").startswith("app-"),
      "... Running and Ready, named by the ReplicaSet (%s)" % pod0)
check(body["system"]["online_pods"] == 2 and 0 <= body["system"]["cpu_percent"],
      "... reporting metrics through metrics.k8s.io (cpu %s%%)" % body["system"]["cpu_percent"])
check(0 <= pod0.get("age_s", -1) < 3600 and body["system"]["metrics_age_s"] is not None
      and 0 <= body["system"]["metrics_age_s"] < 60,
      "... ages on the wall clock (age_s %s, metrics_age_s %s)" % (pod0.get("age_s"), body["system"]["metrics_age_s"]))

st, body = compare("scale out", "POST", "/pod/scale/out", body="")
check(st == 200 and body["from"] == 2 and body["to"] == 3 and body["scaled"] is True,
      "scale out 2 -> 3 (%s)" % body)
st, body, _ = kube.get("/pod")
check(body["system"]["total_pods"] == 3 and body["system"]["ready_pods"] == 3 and body["system"]["online_pods"] == 3,
      "... returned once the three pods are Ready and report metrics (%s)" % body["system"])
st, body = compare("scale in", "POST", "/pod/scale/in", body="")
check(st == 200 and body["from"] == 3 and body["to"] == 2, "scale in 3 -> 2 (%s)" % body)
st, body = compare("set-pod-count 1", "POST", "/pod/set-pod-count/1", body="")
check(st == 200 and body["to"] == 1, "set-pod-count/1 (%s)" % body)
st, body = compare("at the lower bound", "POST", "/pod/scale/in", body="")
check(st == 200 and body["scaled"] is False and body["time_spent_sec"] == 0 and body.get("reason"),
      "scale in at 1: 200, not scaled, time_spent_sec 0, a reason (%s)" % body)

st, body = compare("set-pod-count", "POST", "/pod/set-pod-count/3", body="")
check(st == 200 and body["to"] == 3, "set-pod-count/3 (%s)" % body)
st, body, _ = kube.get("/pod")
check(body["system"]["ready_pods"] == 3 and body["system"]["desired_pods"] == 3, "... 3 pods Ready")
st, body = compare("beyond the bounds", "POST", "/pod/set-pod-count/9", body="")
check(st == 422 and is_error(body, "out_of_bounds") and body.get("min") == 1 and body.get("max") == 5,
      "set-pod-count/9: 422 with min and max (%s)" % body)
st, body = compare("not a number", "POST", "/pod/set-pod-count/x", body="")
check(st == 400 and is_error(body), "set-pod-count/x: 400")
st, body = compare("set-pod-count 5", "POST", "/pod/set-pod-count/5", body="")
st, body = compare("at the upper bound", "POST", "/pod/scale/out", body="")
check(st == 200 and body["scaled"] is False and body["from"] == 5, "scale out at 5: not scaled (%s)" % body)

st, body = compare("confirm", "POST", "/pod/confirm", body="")
check(st == 200 and isinstance(body.get("pruned"), list) and body["system"]["total_pods"] >= 1,
      "POST /pod/confirm: GET /pod + pruned (%s)" % json.dumps(body)[:200])

st, body = compare("app stat", "GET", "/app/stat")
rs = body.get("requests_stat", {}) if isinstance(body, dict) else {}
check(st == 200 and rs.get("total_packet_count", 0) > 0 and rs.get("drop_packet_percentage") == 0
      and isinstance(body.get("reward"), (int, float)),
      "GET /app/stat: a native load test, no drops, a reward (%s)" % json.dumps(rs)[:200])

st, body = compare("env reset", "POST", "/env/reset", body={"pods": 2})
check(st == 200 and body["observation"]["pods"] == 2, "POST /env/reset {pods: 2} (%s)" % body.get("observation"))
st, body = compare("env step", "POST", "/env/step", body={"action": "out"})
check(st == 200 and body["observation"]["pods"] == 3 and isinstance(body["reward"], (int, float)),
      "POST /env/step out: 3 pods observed (%s)" % body.get("observation"))
compare("env spec", "GET", "/env/spec")

# --- the Lua API on kube: delete_pod, request, wait ---------------------------------
LUA = r"""
local pods = assert(k8s.pods())
local victim = pods[1].name
local ok, err = k8s.delete_pod("no-such-pod")
print("missing", ok, err and err.status, err and err.code)
print("delete", k8s.delete_pod(victim, {grace = 0.2}))
local after = assert(k8s.pods())
local seen = false
for _, p in ipairs(after) do if p.name == victim then seen = p.status end end
print("victim", seen)
print("wait", k8s.wait{ready = #pods, timeout = 20} ~= nil)
local st, scale = k8s.request("GET", "/apis/apps/v1/namespaces/default/deployments/app/scale")
print("request", st, type(scale) == "table" and math.tointeger(scale.spec.replicas) == k8s.replicas())
local st2, patched = k8s.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/app/scale",
                                 {spec = {replicas = 2}})
print("patch", st2, type(patched) == "table" and math.tointeger(patched.spec.replicas), k8s.replicas())
local st3, nf = k8s.request("GET", "/api/v1/namespaces/default/pods/nope")
print("notfound", st3, type(nf) == "table" and nf.kind)
print("timeout", select(2, k8s.wait{ready = 4, timeout = 0.5}).code)
print("backend", k8s.backend())
"""
with open(path("t.lua"), "w") as f:
    f.write(LUA)
r = subprocess.run([BIN, "run", path("t.lua"), "-c", kube.config], capture_output=True, text=True, timeout=120)
out = dict(line.split("\t", 1) for line in r.stdout.splitlines() if "\t" in line)
check(r.returncode == 0, "podgym run on kube exits 0 (%s)" % (r.stderr.strip()[-300:]))
check(out.get("missing") == "nil\t404\tnot_found", "k8s.delete_pod of a pod that is not there: nil, 404 not_found (%s)"
      % out.get("missing"))
check(out.get("delete") == "true", "k8s.delete_pod with a grace: true")
check(out.get("victim") in ("Terminating", "false"), "... the pod is Terminating, then gone (%s)" % out.get("victim"))
check(out.get("wait") == "true", "k8s.wait sees the ReplicaSet's replacement Ready")
check(out.get("request") == "200\ttrue", "k8s.request GET deployments/app/scale: 200 and the Scale decoded (%s)"
      % out.get("request"))
check(out.get("patch") == "200\t2\t2", "k8s.request PATCH (merge patch) scales to 2 (%s)" % out.get("patch"))
check(out.get("notfound") == "404\tStatus", "k8s.request of a missing pod: 404 and the Status (%s)" % out.get("notfound"))
check(out.get("timeout") == "timeout", "k8s.wait past its timeout: err.code timeout")
with open(path("r.lua"), "w") as f:
    f.write('local ok, e = pcall(k8s.request, "GET", "/api") print(ok, e)\n')
r = subprocess.run([BIN, "run", path("r.lua"), "-c", sim.config], capture_output=True, text=True, timeout=60)
check(r.stdout.startswith("false") and "only on the kube backend" in r.stdout,
      "k8s.request on sim raises: only on the kube backend (%s)" % r.stdout.strip())

# k8s.request in a route script (a sandboxed state): the decoded answer
with open(os.path.join(kube.scripts, "kreq.lua"), "w") as f:
    f.write('return {method = "GET", path = "/kreq", handler = function()\n'
            '  local st, d = k8s.request("GET", "/apis/apps/v1/namespaces/default/deployments/app")\n'
            '  return {status = st, kind = d.kind, replicas = d.spec.replicas}\nend}\n')
deadline = time.time() + 10
st, body = 404, None
while time.time() < deadline and st == 404:
    st, body, _ = kube.get("/kreq")
    time.sleep(0.05)
check(st == 200 and body.get("status") == 200 and body.get("kind") == "Deployment",
      "k8s.request from a route script: the Deployment, decoded (%d %s)" % (st, body))

def serves(what, config, env):
    s = Server(config=config, env=env)
    st, body, _ = s.get("/pod")
    check(st == 200 and body["system"]["total_pods"] >= 1, "%s: GET /pod answers (%d %s)"
          % (what, st, json.dumps(body)[:160]))
    s.stop()
    return s


# --- clear errors -----------------------------------------------------------------
def error_of(config, what, status, code, text):
    s = Server(config=config)
    st, body, _ = s.get("/pod")
    msg = body["error"]["message"] if is_error(body) else str(body)
    check(st == status and is_error(body, code) and text in msg,
          "%s: %d %s '%s' (%d %s)" % (what, status, code, text, st, msg[:200]))
    st2, _, _ = s.get("/")
    check(st2 == 200, "... and the server stays up")
    s.stop()
    return msg


error_of(KUBE % kubeconfig("token.kubeconfig", token="not-the-token"), "a wrong token", 502, "backend_auth",
         "the token was refused by " + URL)
error_of(KUBE % kubeconfig("ca.kubeconfig", ca=OTHER), "a CA that did not sign the certificate", 502,
         "backend_tls", "certificate verify failed for " + URL)
held = socket.socket()                               # bound, never listening: refused, and no one else's
held.bind(("127.0.0.1", 0))
closed = "https://127.0.0.1:%d" % held.getsockname()[1]
error_of(KUBE % kubeconfig("closed.kubeconfig", server=closed), "a closed port", 503, "backend_unavailable",
         "cannot reach " + closed)
error_of(KUBE % kubeconfig("nodep.kubeconfig") + "target: {deployment: nope}\n", "a Deployment that is not there",
         404, "not_found", "no deployment 'nope' in namespace 'default' on " + URL)
# tls-server-name: the name TLS checks the certificate against (it names DNS:localhost, not this one)
def with_server_name(name, server_name):
    p = kubeconfig(name)
    with open(p) as f:
        doc = json.load(f)
    doc["clusters"][0]["cluster"]["tls-server-name"] = server_name
    with open(p, "w") as f:
        json.dump(doc, f)
    return p


serves("tls-server-name localhost (a name the certificate has)", KUBE % with_server_name("sn.kubeconfig", "localhost"),
       {})
error_of(KUBE % with_server_name("sn2.kubeconfig", "api.example.org"), "tls-server-name the certificate lacks", 502,
         "backend_tls", "certificate verify failed for " + URL)
# the CA as a file works as its data does
s = Server(config=KUBE % kubeconfig("cafile.kubeconfig", ca_file=True))
st, body, _ = s.get("/pod")
check(st == 200 and body["system"]["total_pods"] >= 1, "certificate-authority as a file works too")
s.stop()

# --- the other credential sources --------------------------------------------------
home = os.path.join(tmp, "home")
os.makedirs(home)
NO_KC = "backend: kube\n"
# KUBECONFIG as a list: a missing file skipped, the context from the first file that sets it
serves("KUBECONFIG=missing:good", NO_KC, {"KUBECONFIG": "%s:%s" % (path("missing.yaml"), kubeconfig("env.kubeconfig")),
                                          "HOME": home})
# ~/.kube/config
os.makedirs(os.path.join(home, ".kube"))
shutil.copy(kubeconfig("home.kubeconfig"), os.path.join(home, ".kube", "config"))
serves("~/.kube/config", NO_KC, {"HOME": home, "KUBECONFIG": ""})
os.unlink(os.path.join(home, ".kube", "config"))
# in cluster: the service account's token, ca.crt and namespace, the service's host and port
sa = os.path.join(tmp, "serviceaccount")
os.makedirs(sa)
shutil.copy(CA, os.path.join(sa, "ca.crt"))
with open(os.path.join(sa, "token"), "w") as f:
    f.write(TOKEN)
with open(os.path.join(sa, "namespace"), "w") as f:
    f.write("default\n")
s = serves("in cluster (KUBERNETES_SERVICE_HOST/PORT, the service account files)",
           "backend: kube\nkube: {serviceaccount_dir: %s}\n" % sa,
           {"HOME": home, "KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(facade.port)})
check(TOKEN not in s.logtext(), "... the service account token is not in the log")
# kube.insecure: the wrong CA is not checked
serves("kube.insecure with a CA that did not sign the certificate",
       "backend: kube\nkube: {kubeconfig: %s, insecure: true}\n" % kubeconfig("ins.kubeconfig", ca=OTHER),
       {})

# client certificate and key as data (the facade asks for none: they must load and not get in the
# way), and a key that does not match its certificate: a clear TLS error naming the server
subprocess.run([OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("client.key"), "-out",
                path("client.csr"), "-subj", "/CN=podgym-agent"], check=True, capture_output=True, timeout=60)
subprocess.run([OPENSSL, "x509", "-req", "-in", path("client.csr"), "-CA", CA, "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path("client.pem"), "-days", "2"], check=True, capture_output=True,
               timeout=60)


def with_client_cert(name, key):
    p = kubeconfig(name)
    with open(p) as f:
        doc = json.load(f)
    user = doc["users"][0]["user"]
    user["client-certificate-data"] = base64.b64encode(open(path("client.pem"), "rb").read()).decode()
    user["client-key-data"] = base64.b64encode(open(key, "rb").read()).decode()
    with open(p, "w") as f:
        json.dump(doc, f)
    return p


s = serves("a client certificate and key as data", KUBE % with_client_cert("cert.kubeconfig", path("client.key")), {})
check("PRIVATE KEY" not in s.logtext(), "... the key is not in the log")
error_of(KUBE % with_client_cert("badkey.kubeconfig", KEY), "a client key that is not the certificate's", 502,
         "backend_tls", "TLS with " + URL + " failed")

# --- no secret in the logs ---------------------------------------------------------
kube.stop()
log = kube.logtext()
check(TOKEN not in log and "BEGIN" not in log, "neither the token nor a PEM is in the kube podgym's log")
shutil.rmtree(tmp, ignore_errors=True)
done()
