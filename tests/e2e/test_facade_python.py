"""The Kubernetes API facade driven by Debian's python3-kubernetes (the
official client the original service used) over HTTPS with a CA this test
makes and a bearer token: list_namespaced_pod (selectors too),
read_namespaced_pod_status, CustomObjectsApi on metrics.k8s.io,
patch_namespaced_deployment_scale, and watch.Watch().stream seeing a
scale; delete with a grace period. Then raw requests: Tables, bad input
(malformed patches, unknown media types, bad values, unknown resources)
answered with Status objects and changing nothing, a watch from a
resourceVersion too old (ERROR 410), sendInitialEvents, BOOKMARKs, and
each fault of /podgym/v1/faults (409, 429 with Retry-After, 500, a
response slower than the client's timeout, a dropped connection)."""
# ctest-labels: kube
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import check, done, skip  # noqa: E402

try:
    import kubernetes
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
except ImportError:
    skip("python3-kubernetes is not installed for %s (make deps installs it)" % sys.executable)

from facadetest import Facade, make_certs  # noqa: E402

certs = make_certs()
f = Facade(certs=certs)
api = config.new_client_from_config(config_file=f.kubeconfig())
v1, apps, co = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
print("kubernetes client %s against %s" % (kubernetes.__version__, f.url))

# pods
pods = v1.list_namespaced_pod("default")
names = sorted(p.metadata.name for p in pods.items)
check(len(pods.items) == 2 and all(p.status.phase == "Running" and p.status.container_statuses[0].ready
                                   for p in pods.items), "list_namespaced_pod: 2 Running pods (%r)" % (names,))
check(pods.metadata.resource_version.isdigit(), "the list has a resourceVersion (%r)" % (pods.metadata.resource_version,))
check(len(v1.list_pod_for_all_namespaces().items) == 2, "list_pod_for_all_namespaces: 2")
check(len(v1.list_namespaced_pod("default", label_selector="app=app").items) == 2
      and len(v1.list_namespaced_pod("default", label_selector="app in (other)").items) == 0
      and len(v1.list_namespaced_pod("default", label_selector="!pod-template-hash").items) == 0,
      "labelSelector: app=app 2, app in (other) 0, !pod-template-hash 0")
one = v1.list_namespaced_pod("default", field_selector="metadata.name=" + names[0])
check([p.metadata.name for p in one.items] == [names[0]], "fieldSelector metadata.name=: that pod only")
check(len(v1.list_namespaced_pod("kube-system").items) == 0, "another namespace: no pods")
st = v1.read_namespaced_pod_status(names[0], "default")
conds = {c.type: c.status for c in st.status.conditions}
check(st.metadata.name == names[0] and conds.get("Ready") == "True" and st.status.pod_ip,
      "read_namespaced_pod_status: Ready True, a pod IP (%r)" % (conds,))
try:
    v1.read_namespaced_pod("no-such-pod", "default")
    check(False, "a missing pod raises")
except ApiException as ex:
    body = json.loads(ex.body)
    check(ex.status == 404 and body.get("kind") == "Status" and body.get("reason") == "NotFound"
          and body.get("details", {}).get("name") == "no-such-pod", "a missing pod: 404 NotFound Status (%r)" % (body,))

# metrics.k8s.io
m = co.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
usage = {i["metadata"]["name"]: i["containers"][0]["usage"] for i in m["items"]}
check(m["kind"] == "PodMetricsList" and sorted(usage) == names
      and all(u["cpu"].endswith("n") and int(u["cpu"][:-1]) > 0 and u["memory"].endswith("Ki") for u in usage.values()),
      "CustomObjectsApi metrics.k8s.io pods: cpu in n, memory in Ki for both pods (%r)" % (usage,))
pm = co.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods", names[0])
check(pm["metadata"]["name"] == names[0] and pm["window"] and pm["timestamp"], "one pod's PodMetrics")

# deployments, scale, and a watch that sees it
d = apps.read_namespaced_deployment("app", "default")
check(d.spec.replicas == 2 and d.status.ready_replicas == 2, "read_namespaced_deployment: 2/2")
sc = apps.read_namespaced_deployment_scale("app", "default")
check(sc.spec.replicas == 2 and sc.status.selector == "app=app", "read_namespaced_deployment_scale (%r)" % (sc.status,))

events, dep_events = [], []


def watch_pods(rv):
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=30):
        p = ev["object"]
        events.append((ev["type"], p.metadata.name, bool(p.status.container_statuses and
                                                         p.status.container_statuses[0].ready)))
        if ev["type"] == "MODIFIED" and p.metadata.name not in names and events[-1][2]:
            w.stop()


def watch_deps(rv):
    w = watch.Watch()
    for ev in w.stream(apps.list_namespaced_deployment, "default", resource_version=rv, timeout_seconds=30):
        o = ev["object"]
        dep_events.append((ev["type"], o.spec.replicas, o.status.ready_replicas))
        if o.spec.replicas == 3 and o.status.ready_replicas == 3:
            w.stop()


tp = threading.Thread(target=watch_pods, args=(pods.metadata.resource_version,))
td = threading.Thread(target=watch_deps, args=(apps.list_namespaced_deployment("default").metadata.resource_version,))
tp.start()
td.start()
time.sleep(0.5)
sc = apps.patch_namespaced_deployment_scale("app", "default", {"spec": {"replicas": 3}})
check(sc.spec.replicas == 3, "patch_namespaced_deployment_scale (a dict: strategic merge patch): 3")
tp.join(40)
td.join(40)
new = [e for e in events if e[1] not in names]
check(not tp.is_alive() and new and new[0][0] == "ADDED" and new[-1] == ("MODIFIED", new[0][1], True),
      "watch.Watch().stream(list_namespaced_pod) from the list's resourceVersion: the new pod ADDED, then Ready (%r)"
      % (events,))
check(not any(e[1] in names for e in events), "the watch from a resourceVersion sends no old events (%r)" % (events,))
check(not td.is_alive() and dep_events and dep_events[0][:2] == ("MODIFIED", 3) and dep_events[-1] == ("MODIFIED", 3, 3),
      "watch.Watch().stream(list_namespaced_deployment) sees the scale to 3 and 3 ready (%r)" % (dep_events,))

# delete with a grace period: Terminating for it; 0: gone at once
victim = names[0]
r = v1.delete_namespaced_pod(victim, "default", grace_period_seconds=5)
p = v1.read_namespaced_pod(victim, "default")
check(p.metadata.deletion_timestamp is not None and p.metadata.deletion_grace_period_seconds == 5,
      "delete with grace 5: the pod has a deletionTimestamp and grace 5 (%r)" % (p.metadata.deletion_grace_period_seconds,))
rows = v1.list_namespaced_pod("default", field_selector="metadata.name=" + victim).items
check(len(rows) == 1, "it is still there, Terminating")
v1.delete_namespaced_pod(names[1], "default", grace_period_seconds=0)
check(not v1.list_namespaced_pod("default", field_selector="metadata.name=" + names[1]).items,
      "delete with grace 0: gone at once")
live = [p for p in v1.list_namespaced_pod("default").items if not p.metadata.deletion_timestamp]
check(len(live) == 3, "the ReplicaSet keeps 3 live pods (%d)" % len(live))

# raw requests: Tables
st, body, _ = f.request("GET", "/api/v1/namespaces/default/pods?includeObject=Object",
                        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
check(st == 200 and body.get("kind") == "Table" and [c["name"] for c in body["columnDefinitions"]][:5]
      == ["Name", "Ready", "Status", "Restarts", "Age"] and body["rows"][0]["object"]["kind"] == "Pod",
      "a pod Table with kubectl's columns and the full objects (includeObject=Object)")
st, body, _ = f.request("GET", "/apis/apps/v1/namespaces/default/deployments",
                        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
check(st == 200 and [c["name"] for c in body["columnDefinitions"]][:5]
      == ["Name", "Ready", "Up-to-date", "Available", "Age"]
      and body["rows"][0]["object"]["kind"] == "PartialObjectMetadata",
      "a deployment Table with kubectl's columns and PartialObjectMetadata rows")
st, body, _ = f.request("GET", "/version")
check(st == 200 and body.get("major") == "1" and body.get("gitVersion", "").startswith("v1."), "/version")
st, body, _ = f.request("GET", "/apis/apps/v1")
scale = [r for r in body.get("resources", []) if r["name"] == "deployments/scale"]
check(scale and scale[0]["group"] == "autoscaling" and scale[0]["version"] == "v1" and scale[0]["kind"] == "Scale",
      "discovery publishes deployments/scale as autoscaling/v1 Scale")
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
st, body, r = f.request("GET", "/apis", headers={"Accept": V2 + ",application/json"})
groups = {g["metadata"]["name"]: g for g in body.get("items", [])} if isinstance(body, dict) else {}
dep = [x for x in groups.get("apps", {}).get("versions", [{}])[0].get("resources", []) if x["resource"] == "deployments"]
subs = {x["subresource"]: x["responseKind"] for x in (dep[0].get("subresources", []) if dep else [])}
check(st == 200 and r.getheader("Content-Type") == V2 and "metrics.k8s.io" in groups
      and subs.get("scale") == {"group": "autoscaling", "version": "v1", "kind": "Scale"},
      "aggregated discovery v2 when asked: apps (deployments/scale as autoscaling/v1 Scale) and metrics.k8s.io")
st, body, r = f.request("GET", "/apis", headers={"Accept": "application/json"})
check(st == 200 and body.get("kind") == "APIGroupList", "the legacy APIGroupList otherwise")


# bad input: Status errors, nothing changes
def replicas():
    return apps.read_namespaced_deployment_scale("app", "default").spec.replicas


SCALE = "/apis/apps/v1/namespaces/default/deployments/app/scale"
bad = [
    ("a malformed merge patch", "PATCH", SCALE, '{"spec": {"replicas": ', "application/merge-patch+json", 400),
    ("a malformed JSON patch", "PATCH", SCALE, '[{"op": "replace", "path": ', "application/json-patch+json", 400),
    ("a JSON patch that is not an array", "PATCH", SCALE, '{"op": "replace"}', "application/json-patch+json", 400),
    ("a JSON patch op without a path", "PATCH", SCALE, '[{"op": "replace", "value": 9}]', "application/json-patch+json", 400),
    ("a patch as plain JSON", "PATCH", SCALE, '{"spec": {"replicas": 9}}', "application/json", 415),
    ("a patch as text", "PATCH", SCALE, 'replicas=9', "text/plain", 415),
    ("replicas as a string", "PATCH", SCALE, '{"spec": {"replicas": "9"}}', "application/merge-patch+json", 422),
    ("negative replicas", "PUT", SCALE, '{"spec": {"replicas": -2}}', "application/json", 422),
    ("a stale resourceVersion", "PUT", SCALE, '{"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 9}}',
     "application/json", 409),
    ("a bad label selector", "GET", "/api/v1/namespaces/default/pods?labelSelector=app%20in%20(a", None, None, 400),
    ("an unknown field", "GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.foo%3D1", None, None, 400),
    ("an unknown resource", "GET", "/api/v1/namespaces/default/widgets", None, None, 404),
    ("an unknown group", "GET", "/apis/batch/v1/jobs", None, None, 404),
    ("a missing deployment's scale", "GET", "/apis/apps/v1/namespaces/default/deployments/nope/scale", None, None, 404),
    ("a POST of a pod", "POST", "/api/v1/namespaces/default/pods", '{"kind": "Pod"}', "application/json", 405),
    ("a bad resourceVersion", "GET", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=abc", None, None, 400),
    ("sendInitialEvents without bookmarks", "GET", "/api/v1/namespaces/default/pods?watch=1&sendInitialEvents=true",
     None, None, 422),
]
before = replicas()
for what, method, path, body, ctype, want in bad:
    st, b, _ = f.request(method, path, body=body, headers={"Content-Type": ctype} if ctype else None)
    check(st == want and isinstance(b, dict) and b.get("kind") == "Status" and b.get("code") == want
          and b.get("status") == "Failure" and b.get("message"), "%s: %d Status (%r %r)" % (what, want, st, b))
check(replicas() == before, "after the bad input the replicas are unchanged (%r)" % (before,))

# PUT and JSON patch that work
st, b, _ = f.request("PUT", SCALE, body={"spec": {"replicas": 2}})
check(st == 200 and b.get("spec", {}).get("replicas") == 2 and replicas() == 2, "PUT deployments/scale: 2")
st, b, _ = f.request("PATCH", SCALE, body='[{"op": "replace", "path": "/spec/replicas", "value": 3}]',
                     headers={"Content-Type": "application/json-patch+json"})
check(st == 200 and b.get("spec", {}).get("replicas") == 3, "JSON patch deployments/scale: 3")


def watch_lines(path, limit_s=15):
    """The events of a watch until it ends (timeoutSeconds in path) or limit_s."""
    conn = http.client.HTTPSConnection("127.0.0.1", f.port, timeout=limit_s, context=f.ctx)
    conn.request("GET", path, headers={"Authorization": "Bearer " + f.token})
    r = conn.getresponse()
    out = []
    try:
        for line in r:
            out.append(json.loads(line))
    except (TimeoutError, OSError):
        pass
    conn.close()
    return r.status, out


# sendInitialEvents: an ADDED per pod, then the initial-events-end BOOKMARK
st, evs = watch_lines("/api/v1/namespaces/default/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                      "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
types = [e["type"] for e in evs]
first = types.index("BOOKMARK") if "BOOKMARK" in types else 0
check(st == 200 and first >= 3 and types[:first] == ["ADDED"] * first
      and evs[types.index("BOOKMARK")]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true",
      "sendInitialEvents=true: ADDED per pod, then the initial-events-end BOOKMARK (%r)" % (types,))
# allowWatchBookmarks: a BOOKMARK on an idle watch
rv = v1.list_namespaced_pod("default", field_selector="metadata.name=none").metadata.resource_version
st, evs = watch_lines("/api/v1/namespaces/default/pods?watch=1&allowWatchBookmarks=true&fieldSelector=metadata.name%3D"
                      "none&resourceVersion=" + rv + "&timeoutSeconds=7")
check(st == 200 and evs and all(e["type"] == "BOOKMARK" for e in evs)
      and int(evs[0]["object"]["metadata"]["resourceVersion"]) >= int(rv),
      "allowWatchBookmarks: an idle watch gets BOOKMARKs with a resourceVersion (%r)" % ([e["type"] for e in evs],))

# faults: each switched on for one request, then gone
st, b, _ = f.faults({"method": "PATCH", "path": "/scale", "status": 409})
check(st == 200 and b["faults"][0]["times"] == 1, "PUT /podgym/v1/faults: one rule (%r)" % (b,))
try:
    apps.patch_namespaced_deployment_scale("app", "default", {"spec": {"replicas": 2}})
    check(False, "the 409 fault answers")
except ApiException as ex:
    check(ex.status == 409 and json.loads(ex.body).get("reason") == "Conflict", "fault 409 on a patch: Conflict")
check(replicas() == 3, "the faulted patch changed nothing")
sc = apps.patch_namespaced_deployment_scale("app", "default", {"spec": {"replicas": 2}})
check(sc.spec.replicas == 2, "the next patch goes through (times 1)")
f.faults({"path": "/deployments", "status": 429, "retry_after": 1})
st, b, r = f.request("GET", "/apis/apps/v1/namespaces/default/deployments/app")
check(st == 429 and r.getheader("Retry-After") == "1" and b.get("reason") == "TooManyRequests",
      "fault 429: TooManyRequests with Retry-After: 1 (%r %r)" % (st, r.getheader("Retry-After")))
f.faults({"path": "/deployments", "status": 429, "retry_after": 1})
d = apps.read_namespaced_deployment("app", "default")      # urllib3 honours Retry-After and asks again
st, b, _ = f.request("GET", "/podgym/v1/faults")
check(d.metadata.name == "app" and b["faults"][0]["hits"] == 1,
      "the Python client waits out the 429's Retry-After and gets the Deployment (hits %r)" % (b["faults"][0]["hits"],))
f.faults({"path": "/pods", "status": 500, "times": 2})
codes = []
for _ in range(3):
    st, b, _ = f.request("GET", "/api/v1/namespaces/default/pods")
    codes.append(st)
check(codes == [500, 500, 200], "fault 500 twice (times 2), then 200 (%r)" % (codes,))
f.faults({"path": "/pods", "delay_s": 3})
try:
    f.request("GET", "/api/v1/namespaces/default/pods", timeout=1)
    check(False, "the slow fault outlasts a 1 s client timeout")
except (TimeoutError, OSError) as ex:
    check(True, "fault delay 3 s: a client with a 1 s timeout times out (%s)" % (type(ex).__name__,))
f.faults({"path": "/pods", "delay_s": 3})
items = v1.list_namespaced_pod("default", _request_timeout=1).items     # urllib3 retries the read once
st, b, _ = f.request("GET", "/podgym/v1/faults")
check(items and b["faults"][0]["hits"] == 1, "the Python client retries after its 1 s timeout and gets the list")
f.faults({"path": "/pods", "drop": True})
try:
    f.request("GET", "/api/v1/namespaces/default/pods")
    check(False, "the drop fault closes the connection")
except (http.client.RemoteDisconnected, ConnectionError, OSError) as ex:
    check(True, "fault drop: the connection closes unanswered (%s)" % (type(ex).__name__,))
st, b, _ = f.request("GET", "/podgym/v1/faults")
check(st == 200 and b["faults"][0]["hits"] == 1 and b["faults"][0]["times"] == 0, "GET /podgym/v1/faults counts hits")
st, b, _ = f.faults({"status": 200})
check(st == 400 and b.get("kind") == "Status", "a fault with status 200 is refused (%r)" % (st,))
f.faults()
check(len(v1.list_namespaced_pod("default").items) >= 2, "after the faults the facade answers as before")

# a watch from a resourceVersion the history no longer holds: ERROR 410
old = "1"
apps.patch_namespaced_deployment_scale("app", "default", {"spec": {"replicas": 1000}})
apps.patch_namespaced_deployment_scale("app", "default", {"spec": {"replicas": 0}})
time.sleep(1.5)                        # the grace period: the 1000 pods go away
v1.list_namespaced_pod("default", field_selector="metadata.name=none")
st, evs = watch_lines("/api/v1/namespaces/default/pods?watch=1&resourceVersion=" + old)
check(st == 200 and len(evs) == 1 and evs[0]["type"] == "ERROR" and evs[0]["object"]["code"] == 410
      and evs[0]["object"]["reason"] == "Expired", "a watch from a too old resourceVersion: ERROR 410 Expired (%r)"
      % (evs[:1],))
st, evs = watch_lines("/api/v1/namespaces/default/pods?watch=1&resourceVersion=99999999")
check(st == 200 and len(evs) == 1 and evs[0]["type"] == "ERROR" and evs[0]["object"]["code"] == 410,
      "a watch from a resourceVersion the facade never gave (another life of it): ERROR 410, re-list (%r)" % (evs[:1],))
apps.patch_namespaced_deployment_scale("app", "default", {"spec": {"replicas": 2}})
st, body, _ = f.server.get("/pod")
check(st == 200 and body["system"]["desired_pods"] == 2, "the front end still serves (%r)" % (st,))
f.stop()

# a watch that says nothing for longer than limits.connection_timeout_s stays open and delivers
g = Facade(extra="limits: {connection_timeout_s: 1}\n")
st, body, _ = g.request("GET", "/apis/apps/v1/namespaces/default/deployments")
rv = body["metadata"]["resourceVersion"]
got = []


def idle_watch():
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=20)
    conn.request("GET", "/apis/apps/v1/namespaces/default/deployments?watch=1&timeoutSeconds=5&resourceVersion=" + rv)
    r = conn.getresponse()
    try:
        for line in r:
            got.append(json.loads(line)["type"])
        got.append("end")
    except (OSError, http.client.HTTPException) as ex:
        got.append("cut: %s" % type(ex).__name__)
    conn.close()


t = threading.Thread(target=idle_watch)
t.start()
time.sleep(2.5)                         # 2.5 connection timeouts without an event
g.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/app/scale", body='{"spec": {"replicas": 3}}',
          headers={"Content-Type": "application/merge-patch+json"})
t.join(20)
check(got[:1] == ["MODIFIED"] and got[-1] == "end",
      "a watch idle past limits.connection_timeout_s still delivers its event and ends cleanly (%r)" % (got,))
g.stop()
done()
