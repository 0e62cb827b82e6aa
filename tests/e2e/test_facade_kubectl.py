"""The Kubernetes API facade driven by the real kubectl (v1.32) over HTTPS
with a CA this test makes and a bearer token: get pods (kubectl's own
columns, -o wide, -o json), get deploy, short names, scale and a watch that
sees the new pods become Ready, wait --for=condition=Ready, delete (returns
once the pod is gone; the ReplicaSet replaces it), top pods, get --raw on
metrics.k8s.io, patch of deployments/scale in the three patch formats; bad
input (a bad selector, an unknown resource, a missing pod, a malformed
patch) gets the apiserver's errors and changes nothing; a wrong token and a
wrong CA are refused; plain HTTP works too; the normal front end keeps
serving beside the facade."""
# ctest-labels: kube
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import check, done, skip  # noqa: E402
from facadetest import KUBECTL, Facade, make_certs, table  # noqa: E402

if not KUBECTL:
    skip("kubectl not found (make deps installs it)")

certs = make_certs()
f = Facade(certs=certs)
check(f.scheme == "https", "the facade serves HTTPS with facade.tls (%s)" % f.url)


def pods():
    rc, out, err = f.kubectl("get", "pods", "-o", "json")
    return json.loads(out)["items"] if rc == 0 else None


def kc(*args, **kw):
    rc, out, err = f.kubectl(*args, **kw)
    if rc != 0:
        print("kubectl %s -> %d\n%s%s" % (" ".join(args), rc, out, err))
    return rc, out, err


# get pods: kubectl's columns from the server-side Table
rc, out, err = kc("get", "pods")
head, rows = table(out)
check(rc == 0 and head == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
      "get pods: NAME READY STATUS RESTARTS AGE (%r)" % (head,))
check(len(rows) == 2 and all(r[1:4] == ["1/1", "Running", "0"] and r[0].startswith("app-") for r in rows),
      "get pods: 2 pods app-..., 1/1 Running 0 (%r)" % (rows,))
check(all(r[4].endswith("s") for r in rows), "get pods: AGE in seconds (%r)" % ([r[4] for r in rows],))

rc, out, err = kc("get", "pods", "-o", "wide")
head, rows = table(out)
check(rc == 0 and head == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                           "READINESS GATES"], "get pods -o wide: the wide columns (%r)" % (head,))
check(len(rows) == 2 and all(r[6] == "podgym-test-node" and r[5].count(".") == 3 for r in rows),
      "get pods -o wide: an IP and facade.node per pod (%r)" % (rows,))

rc, out, err = kc("get", "pods", "-o", "json")
doc = json.loads(out) if rc == 0 else {}
items = doc.get("items", [])
check(doc.get("kind") == "List" and len(items) == 2, "get pods -o json: a List of 2 (%r)" % (doc.get("kind"),))
it = items[0] if items else {}
md = it.get("metadata", {})
check(it.get("kind") == "Pod" and md.get("namespace") == "default" and len(md.get("uid", "")) == 36
      and md.get("resourceVersion", "").isdigit() and md.get("creationTimestamp", "").endswith("Z")
      and md.get("labels", {}).get("app") == "app",
      "get pods -o json: uid, resourceVersion, creationTimestamp, labels (%r)" % (md,))
conds = {c["type"]: c["status"] for c in it.get("status", {}).get("conditions", [])}
cs = (it.get("status", {}).get("containerStatuses") or [{}])[0]
check(it.get("status", {}).get("phase") == "Running" and conds.get("Ready") == "True"
      and "running" in cs.get("state", {}) and cs.get("ready") is True,
      "get pods -o json: phase Running, Ready True, a running container (%r %r)" % (conds, cs.get("state")))

rc, out, err = kc("get", "deploy")
head, rows = table(out)
check(rc == 0 and head == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] and len(rows) == 1
      and rows[0][:4] == ["app", "2/2", "2", "2"], "get deploy: app 2/2 2 2 (%r %r)" % (head, rows))
rc, out, err = kc("get", "po,deploy", "-o", "name")
names = out.split()
check(rc == 0 and "deployment.apps/app" in names and sum(n.startswith("pod/app-") for n in names) == 2,
      "short names po,deploy resolve (%r)" % (names,))
rc, out, err = kc("get", "deploy", "app", "-o", "json")
dep = json.loads(out) if rc == 0 else {}
check(dep.get("metadata", {}).get("generation") == dep.get("status", {}).get("observedGeneration") and
      dep.get("spec", {}).get("replicas") == 2 and dep.get("status", {}).get("readyReplicas") == 2,
      "get deploy -o json: generation == observedGeneration, 2 replicas ready (%r)" % (dep.get("status"),))

# a watch, then a scale to 3: the watch sees the new pod appear and become Ready
before = {p["metadata"]["name"] for p in pods() or []}
env = dict(os.environ, HOME=f.home, KUBECONFIG="")
w = subprocess.Popen([KUBECTL, "--kubeconfig", f.kubeconfig(), "--cache-dir", os.path.join(f.home, "cache"),
                      "get", "pods", "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
os.set_blocking(w.stdout.fileno(), False)
seen, ready_new, scaled, buf, deadline = [], False, False, "", time.time() + 40
while time.time() < deadline and not ready_new:
    try:
        chunk = w.stdout.read()
    except (BlockingIOError, TypeError):
        chunk = None
    if chunk:
        buf += chunk
        lines = buf.split("\n")
        buf = lines.pop()
        for l in lines:
            seen.append(l)
            c = l.split()
            if len(c) >= 3 and c[0] not in before and c[0] != "NAME" and c[1] == "1/1" and c[2] == "Running":
                ready_new = True
    else:
        time.sleep(0.05)
    if not scaled and len(seen) >= 3:          # the header and the 2 pods: the watch is on
        scaled = True
        rc, out, err = kc("scale", "deployment/app", "--replicas=3")
        check(rc == 0 and "scaled" in out, "scale deployment/app --replicas=3: scaled (%r)" % (out.strip(),))
w.kill()
w.wait()
check(ready_new, "get pods -w shows the new pod become 1/1 Running (%r)" % (seen,))
check(sum(1 for l in seen if l.startswith("NAME")) == 1, "get pods -w prints the header once")
check(any(len(l.split()) > 2 and l.split()[0] not in before and l.split()[1] == "0/1" for l in seen),
      "get pods -w saw the new pod before it was Ready (%r)" % (seen,))

rc, out, err = kc("wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s", timeout=60)
check(rc == 0 and out.count("condition met") == 3, "wait --for=condition=Ready pod --all: 3 met (%r)" % (out,))

# delete: returns once the pod is gone; the ReplicaSet replaces it
victim = sorted(before)[0]
rc, out, err = kc("delete", "pod", victim, timeout=60)
after = {p["metadata"]["name"] for p in pods() or []}
check(rc == 0 and "deleted" in out, "delete pod %s: deleted (%r)" % (victim, out.strip()))
check(victim not in after, "delete returned once the pod was gone (%r)" % (sorted(after),))
check(len(after) == 3, "the ReplicaSet replaced it: 3 pods (%r)" % (sorted(after),))
rc, out, err = kc("wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s", timeout=60)
check(rc == 0 and out.count("condition met") == 3, "the replacement becomes Ready (%r)" % (out,))

# top pods and the raw metrics API (metrics appear a window after Ready)
deadline, rows = time.time() + 20, []
while time.time() < deadline:
    rc, out, err = f.kubectl("top", "pods")
    head, rows = table(out)
    if rc == 0 and len(rows) == 3:
        break
    time.sleep(0.3)
check(head == ["NAME", "CPU(cores)", "MEMORY(bytes)"] and len(rows) == 3
      and all(r[1].endswith("m") and r[2].endswith("Mi") and int(r[2][:-2]) > 0 for r in rows),
      "top pods: 3 pods with cpu in m and memory in Mi (%r %r)" % (head, rows))
rc, out, err = kc("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
pm = json.loads(out) if rc == 0 else {}
usage = [c["usage"] for i in pm.get("items", []) for c in i.get("containers", [])]
check(pm.get("kind") == "PodMetricsList" and len(usage) == 3
      and all(u["cpu"].endswith("n") and u["memory"].endswith("Ki") for u in usage)
      and all(i.get("window") and i.get("timestamp") for i in pm["items"]),
      "get --raw metrics.k8s.io: PodMetricsList, cpu in n, memory in Ki, timestamp, window (%r)" % (usage,))

# patch of deployments/scale in the three formats
rc, out, err = kc("patch", "deployment", "app", "--subresource=scale", "--type=merge", "-p",
                  '{"spec":{"replicas":4}}', "-o", "json")
check(rc == 0 and json.loads(out or "{}").get("spec", {}).get("replicas") == 4,
      "patch --subresource=scale --type=merge: replicas 4")
rc, out, err = kc("patch", "deployment", "app", "--subresource=scale", "--type=json", "-p",
                  '[{"op":"test","path":"/spec/replicas","value":4},{"op":"replace","path":"/spec/replicas","value":2}]',
                  "-o", "json")
check(rc == 0 and json.loads(out or "{}").get("spec", {}).get("replicas") == 2,
      "patch --subresource=scale --type=json (test + replace): replicas 2")
rc, out, err = kc("patch", "deployment", "app", "--subresource=scale", "--type=strategic", "-p",
                  '{"spec":{"replicas":3}}', "-o", "json")
check(rc == 0 and json.loads(out or "{}").get("spec", {}).get("replicas") == 3,
      "patch --subresource=scale --type=strategic: replicas 3")
rc, out, err = kc("get", "deploy", "app", "-o", "jsonpath={.spec.replicas}")
check(out == "3", "the Deployment says 3 replicas (%r)" % (out,))

# bad input: the apiserver's errors, nothing changes
live = lambda: sorted(p["metadata"]["name"] for p in pods() or [] if "deletionTimestamp" not in p["metadata"])  # noqa: E731
n_before = live()
rc, out, err = f.kubectl("get", "pods", "-l", "app in (")
check(rc != 0 and "BadRequest" in err and "unable to parse requirement" in err, "a bad label selector: BadRequest (%r)" % (err,))
rc, out, err = f.kubectl("get", "pods", "--field-selector", "spec.bogus=1")
check(rc != 0 and "field label not supported" in err, "an unknown field selector: BadRequest (%r)" % (err,))
rc, out, err = f.kubectl("get", "widgets")
check(rc != 0 and "doesn't have a resource type \"widgets\"" in err, "an unknown resource type (%r)" % (err,))
rc, out, err = f.kubectl("delete", "pod", "no-such-pod")
check(rc != 0 and "NotFound" in err and "no-such-pod" in err, "delete of a missing pod: NotFound (%r)" % (err,))
rc, out, err = f.kubectl("patch", "deployment", "app", "--subresource=scale", "--type=json", "-p",
                         '[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":7}]')
check(rc != 0 and "test failed" in err, "a JSON patch whose test fails: refused (%r)" % (err,))
rc, out, err = f.kubectl("patch", "deployment", "app", "--subresource=scale", "--type=merge", "-p",
                         '{"spec":{"replicas":-1}}')
check(rc != 0 and "is invalid" in err, "replicas -1: invalid (%r)" % (err,))
rc, out, err = f.kubectl("get", "deploy", "app", "-o", "jsonpath={.spec.replicas}")
check(out == "3" and live() == n_before and len(n_before) == 3,
      "after the bad input: still 3 replicas, the same 3 live pods (%r)" % (n_before,))

# the token and the CA are checked
rc, out, err = f.kubectl("get", "pods", kubeconfig=f.kubeconfig(token="wrong-token", name="wrong"))
check(rc != 0 and "Unauthorized" in err, "a wrong token: Unauthorized (%r)" % (err.strip()[-200:],))
rc, out, err = f.kubectl("get", "pods", kubeconfig=f.kubeconfig(ca=certs[4], name="wrongca"))
check(rc != 0 and ("certificate" in err or "x509" in err), "a wrong CA: certificate refused (%r)" % (err.strip()[-200:],))
st, body, _ = f.request("GET", "/api/v1/namespaces/default/pods", token="")
check(st == 401 and isinstance(body, dict) and body.get("kind") == "Status" and body.get("reason") == "Unauthorized",
      "no token: a 401 Status (%r %r)" % (st, body))
st, body, _ = f.request("GET", "/healthz", token="")
check(st == 200 and body == "ok", "/healthz answers without a token (%r)" % (st,))

# the normal front end keeps serving beside the facade, on the same cluster
st, body, _ = f.server.get("/pod")
check(st == 200 and isinstance(body, dict) and body.get("system", {}).get("desired_pods") == 3,
      "the front end's GET /pod sees the 3 replicas set through kubectl (%r)"
      % (body.get("system") if isinstance(body, dict) else body,))
st, body, _ = f.server.post("/pod/set-pod-count/2")
rc, out, err = kc("get", "deploy", "app", "-o", "jsonpath={.spec.replicas}")
check(st == 200 and out == "2", "a scale through the front end shows in kubectl (%r %r)" % (st, out))
f.stop()
check(f.server.proc.returncode == 0, "podgym stops cleanly with the facade (%r)" % (f.server.proc.returncode,))

# the examples: the config checks, and the kubeconfig points kubectl at its facade.listen
from pgtest import BIN, SRC  # noqa: E402
ex = os.path.join(SRC, "examples")
r = subprocess.run([BIN, "check", "-c", os.path.join(ex, "kube-facade.yaml")], capture_output=True, text=True,
                   cwd=SRC, timeout=60)
check(r.returncode == 0 and "ok" in r.stdout, "podgym check -c examples/kube-facade.yaml (%r)" % (r.stdout + r.stderr,))
r = subprocess.run([KUBECTL, "config", "view", "--kubeconfig", os.path.join(ex, "kube-facade.kubeconfig"), "-o",
                    "jsonpath={.clusters[0].cluster.server} {.contexts[0].context.namespace}"],
                   capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=f.home, KUBECONFIG=""))
with open(os.path.join(ex, "kube-facade.yaml")) as fh:
    listen = [l.split(":", 1)[1].strip() for l in fh if l.strip().startswith("listen:")][-1]
check(r.returncode == 0 and r.stdout == "http://%s default" % listen,
      "examples/kube-facade.kubeconfig points at the example's facade.listen (%r, %r)" % (r.stdout, listen))

# plain HTTP (kubectl sends a token only over HTTPS: none is set)
g = Facade()
rc, out, err = g.kubectl("get", "pods")
head, rows = table(out)
check(g.scheme == "http" and rc == 0 and head[:3] == ["NAME", "READY", "STATUS"] and len(rows) == 2,
      "plain HTTP: get pods (%r)" % (rows,))
g.stop()
done()
