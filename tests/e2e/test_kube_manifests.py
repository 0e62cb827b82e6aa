"""examples/kubernetes: the manifests parse as Kubernetes objects, fit
together (the Deployment runs as the ServiceAccount the RoleBinding binds,
the Service selects the Deployment's pods, the ConfigMap's podgym.yaml uses
the kube backend and passes `podgym check`'s config reader), and the Role
grants exactly the verbs the kube backend uses: the table K8S_RBAC_TABLE in
core/cluster/kube/client.h, itself checked against the calls in kube.c."""
# ctest-labels: kube
import os
import re
import subprocess
import tempfile

from pgtest import BIN, SRC, check, done, skip

try:
    import yaml
except ImportError:
    skip("python3-yaml is not installed (apt-get install python3-yaml)")

DIR = os.path.join(SRC, "examples", "kubernetes")
objs = {}
for name in sorted(os.listdir(DIR)):
    if not name.endswith(".yaml"):
        continue
    with open(os.path.join(DIR, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    ok = all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name")
             for d in docs)
    check(ok and docs, "%s parses as Kubernetes objects (apiVersion, kind, metadata.name)" % name)
    for d in docs:
        objs[d["kind"]] = d

for kind in ("ServiceAccount", "Role", "RoleBinding", "Deployment", "Service", "ConfigMap"):
    check(kind in objs, "examples/kubernetes has a %s" % kind)
if len(objs) < 6:
    done()

# --- the verbs the client uses -------------------------------------------------
client_h = open(os.path.join(SRC, "core/cluster/kube/client.h")).read()
table = {}
for group, resource, verbs in re.findall(r'X\("([^"]*)",\s*"([^"]+)",\s*"([^"]+)"\)', client_h):
    table[(group, resource)] = set(verbs.split())
check(table, "client.h has the K8S_RBAC_TABLE (%d rows)" % len(table))

# each call in kube.c, by its path and method, must be in the table
kube_c = open(os.path.join(SRC, "core/cluster/kube/kube.c")).read()
VERB = {"GET": "get", "PATCH": "patch", "DELETE": "delete", "PUT": "update", "POST": "create"}
used = {}
for fn in re.split(r'\n(?=static |int |const )', kube_c):
    paths = re.findall(r'"(/api[^"]*)"', fn)
    methods = re.findall(r'k8s_(?:json|call)\([^,]+,\s*"([A-Z]+)"', fn)
    streams = "k8s_stream(" in fn
    for p in paths:
        if "metrics.k8s.io" in p:
            key = ("metrics.k8s.io", "pods")
        elif "/deployments/%s/scale" in p:
            key = ("apps", "deployments/scale")
        elif "/deployments/" in p:
            key = ("apps", "deployments")
        elif "/pods" in p:
            key = ("", "pods")
        else:
            continue
        vs = used.setdefault(key, set())
        for m in methods:
            v = VERB[m]
            if v == "get" and "/pods?" in p or v == "get" and p.endswith("/pods"):
                v = "list"
            vs.add(v)
        if streams and "watch=1" in p:
            vs.add("watch")
# a list call also lists (GET on a collection); the watch path is a list with watch=1
for key, vs in sorted(used.items()):
    missing = vs - table.get(key, set())
    check(not missing, "kube.c's calls on %s/%s are in the table (%s; missing %s)" %
          (key[0] or "core", key[1], " ".join(sorted(vs)), " ".join(sorted(missing)) or "none"))

# and the table grants nothing kube.c does not call (but a single pod's metrics,
# which the issue's Role names beside the list)
ALSO = {("metrics.k8s.io", "pods"): {"get"}}
for key, vs in sorted(table.items()):
    extra = vs - used.get(key, set()) - ALSO.get(key, set())
    check(not extra, "every verb of the table on %s/%s is used by kube.c (unused: %s)" %
          (key[0] or "core", key[1], " ".join(sorted(extra)) or "none"))

# --- the Role grants exactly the table ------------------------------------------
role = objs["Role"]
granted = {}
for rule in role.get("rules", []):
    for g in rule.get("apiGroups", []):
        for r in rule.get("resources", []):
            granted.setdefault((g, r), set()).update(rule.get("verbs", []))
check(granted == table, "the Role grants exactly the client's verbs (granted %s, used %s)" %
      (sorted((k, sorted(v)) for k, v in granted.items()), sorted((k, sorted(v)) for k, v in table.items())))
check(not any("*" in v for v in granted.values()) and ("", "*") not in granted, "the Role has no wildcard")
check(role.get("kind") == "Role", "a namespaced Role, not a ClusterRole")

# --- the pieces fit together -------------------------------------------------------
sa, rb, dep, svc, cm = objs["ServiceAccount"], objs["RoleBinding"], objs["Deployment"], objs["Service"], objs["ConfigMap"]
ns = sa["metadata"].get("namespace", "default")
check(all(o["metadata"].get("namespace", "default") == ns for o in objs.values()), "every object is in namespace " + ns)
check(rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]},
      "the RoleBinding binds the Role")
check({"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": ns} in rb.get("subjects", []),
      "... to the ServiceAccount")
pod = dep["spec"]["template"]
check(pod["spec"].get("serviceAccountName") == sa["metadata"]["name"], "the Deployment runs as the ServiceAccount")
check(pod["spec"].get("automountServiceAccountToken", True), "... with its token mounted (in-cluster credentials)")
labels = pod["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in dep["spec"]["selector"]["matchLabels"].items()),
      "the Deployment's selector matches its template")
check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "the Service selects the podgym pods")
ports = svc["spec"]["ports"]
c = pod["spec"]["containers"][0]
cports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
check(any(p["port"] == 6000 and cports.get(p.get("targetPort"), p.get("targetPort")) == 6000 for p in ports),
      "the Service serves port 6000 on the container's 6000")
check(c.get("imagePullPolicy") == "Never", "the image is not pulled (built by make image, no registry)")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
args = c.get("args", [])
conf_path = args[args.index("-c") + 1] if "-c" in args else ""
check(os.path.dirname(conf_path) in mounts, "podgym reads its config from the ConfigMap's mount (%s)" % conf_path)

# the ConfigMap's podgym.yaml: the kube backend, listening on 6000, read by podgym's own reader
conf = yaml.safe_load(cm["data"]["podgym.yaml"])
check(conf.get("backend") == "kube", "podgym.yaml uses the kube backend")
check(str(conf.get("listen", "")).endswith(":6000"), "podgym.yaml listens on port 6000")
check("kubeconfig" not in conf.get("kube", {}), "... on the in-cluster service account (no kubeconfig)")
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "podgym.yaml")
    with open(path, "w") as f:
        f.write(cm["data"]["podgym.yaml"].replace("/data", d))
    env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT="1")
    env.pop("KUBECONFIG", None)
    env["HOME"] = d
    r = subprocess.run([BIN, "check", "-c", path], capture_output=True, text=True, env=env, timeout=30)
    out = r.stdout + r.stderr
    # no service account here: the config is read and the backend then asks for the token file
    check("serviceaccount/token" in out and "config" not in out.split("backend")[0],
          "podgym reads the ConfigMap's podgym.yaml and looks for the service account token (%s)" % out.strip()[:200])
done()
