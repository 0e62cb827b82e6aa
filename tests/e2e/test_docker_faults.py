"""Failing pods on the docker backend (a real private dockerd, host networking):
a pod template whose image does not exist gives a pod without a container,
ErrImagePull then ImagePullBackOff (the create answered 404 "No such image");
a command that exits at once under restart policy always gives
CrashLoopBackOff with a growing restart count; POST /pod/confirm prunes both
and the Deployment converges to its healthy pods, the daemon listing exactly
that many containers."""
# ctest-labels: docker
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import check, done, is_error  # noqa: E402


def pod_with(s, status, min_restarts=0):
    def f():
        v = dt.pod_view(s)
        for p in dt.all_pods(v or {}):
            if p["status"] == status and p["restarts"] >= min_restarts:
                return p
        return None
    return f


with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    s = dt.server(d)
    check(dt.settled(s, 1) is not None, "one healthy replica")

    st, t, _ = s.post("/test/template", body={"image": "podgym-no-such-image:1"})
    check(st == 200 and t.get("image") == "podgym-no-such-image:1", "the pod template names a missing image: %s" % t)
    st, _, _ = s.post("/test/scale/2")
    check(st == 200, "scale to 2 (no wait)")
    p = dt.until(pod_with(s, "ErrImagePull"), 10, 0.05)
    check(p is not None and p["ready"] is False, "the new pod is ErrImagePull: %s" % p)
    p2 = dt.until(pod_with(s, "ImagePullBackOff"), 15)
    check(p2 is not None and p2["name"] == (p or {}).get("name"), "then ImagePullBackOff, the same pod: %s" % p2)
    check(len(dt.containers(d)) == 1, "no container exists for it (the daemon has no such image)")
    st, pods, _ = s.get("/pod")
    check(st == 200 and pods["system"]["total_pods"] == 2 and pods["system"]["ready_pods"] == 1,
          "GET /pod counts it among the pods, not ready: %s" % pods.get("system"))

    st, t, _ = s.post("/test/template", body={"image": dt.IMAGE, "command": "sh -c 'exit 3'"})
    check(st == 200 and t.get("command") == "sh -c 'exit 3'", "the template's command exits at once")
    st, _, _ = s.post("/test/scale/3")
    crash = dt.until(pod_with(s, "CrashLoopBackOff", 1), 40, 0.2)
    check(crash is not None, "the new pod goes CrashLoopBackOff with restarts: %s" % crash)
    crash2 = dt.until(pod_with(s, "CrashLoopBackOff", (crash or {}).get("restarts", 0) + 1), 40, 0.2)
    check(crash2 is not None and crash2["name"] == crash["name"], "its restart count grows: %s -> %s"
          % (crash and crash["restarts"], crash2 and crash2["restarts"]))
    check(len(dt.containers(d)) == 2, "the daemon holds the healthy and the crashing container")

    st, t, _ = s.post("/test/template", body={"image": dt.IMAGE, "command": ""})
    check(st == 200 and t.get("command") == "", "the template is healthy again (the image's own command)")
    st, body, _ = s.post("/pod/confirm", body='""', headers=dt.THESIS)
    pruned = sorted((x["name"], x["status"]) for x in body.get("pruned", [])) if st == 200 else []
    want = sorted([(p["name"], "ImagePullBackOff"), (crash["name"], "CrashLoopBackOff")]) if p and crash else None
    check(st == 200 and [n for n, _ in pruned] == [n for n, _ in (want or [])],
          "POST /pod/confirm prunes both: %s %s" % (st, pruned))
    check(st == 200 and all(x[1] in ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "Error") for x in pruned),
          "with their statuses")
    sysd = body.get("system", {}) if st == 200 else {}
    check(sysd.get("total_pods") == 1 and sysd.get("ready_pods") == 1 and sysd.get("desired_pods") == 1,
          "and answers once converged to the healthy pod: %s" % sysd)
    cs = dt.containers(d)
    check(len(cs) == 1 and cs[0]["State"] == "running", "the daemon lists exactly the 1 healthy container")

    # A scale after the prune makes healthy replicas from the template.
    st, body, _ = s.post("/pod/scale/out", body='""', headers=dt.THESIS)
    check(st == 200 and body.get("to") == 2, "scale/out after the prune: %s %s" % (st, body))
    check(dt.settled(s, 2) is not None, "2 healthy pods")

    st, body, _ = s.post("/test/template", body={"image": dt.IMAGE, "bogus": 1})
    check(st == 500 or st == 400, "an unknown template field is refused (%s)" % st)
    check(len(dt.containers(d)) == 2, "2 containers")
done()
