"""GET /_engine/metrics counts every backend operation the k8s module calls,
by operation, and the failed ones apart: GET /pod reads the pods, a scale
scales and waits, deleting a pod that does not exist is an error."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import Server, check, done, is_error, write  # noqa: E402

GONE = """
return { method = "POST", path = "/gone", handler = function()
  local ok, err = k8s.delete_pod("no-such-pod")
  if ok then return { deleted = true } end
  error({ status = err.status, code = err.code, message = err.message }, 0)
end }
"""


def counters(s):
    st, text, _ = s.get("/_engine/metrics")
    assert st == 200, (st, text)
    found = {}
    for kind, op, n in re.findall(r'^podgym_backend_(calls|errors)_total\{op="([a-z_]+)"\} (\d+)$', text, re.M):
        found[(kind, op)] = int(n)
    return found


s = Server(config="sim: {seed: 1, speed: 0, replicas: 2}\n")
try:
    write(os.path.join(s.scripts, "gone.lua"), GONE)
    s.post("/_engine/reload")
    before = counters(s)
    check(before.get(("calls", "pods")) is not None and before.get(("errors", "delete_pod")) == 0,
          "every backend operation has a calls and an errors series from the start")
    for _ in range(3):
        check(s.get("/pod")[0] == 200, "GET /pod")
    st, body, _ = s.post("/pod/scale/out", body='""', headers={"Content-Type": "application/json"})
    check(st == 200 and body["scaled"], "POST /pod/scale/out scales (%d %s)" % (st, body))
    after = counters(s)

    def grew(op):
        return after[("calls", op)] - before[("calls", op)]

    check(grew("pods") >= 3 and grew("metrics") >= 3,
          "3 GET /pod: podgym_backend_calls_total{op=\"pods\"} and {op=\"metrics\"} grew by 3 or more (%d, %d)"
          % (grew("pods"), grew("metrics")))
    check(grew("scale") == 1 and grew("wait") == 1,
          "one scale-out: one scale and one wait counted (%d, %d)" % (grew("scale"), grew("wait")))
    check(all(after[k] == before[k] for k in after if k[0] == "errors"), "no backend error counted so far")

    st, body, _ = s.post("/gone")
    check(st == 404 and is_error(body), "deleting a pod that does not exist: 404 (%d %s)" % (st, body))
    last = counters(s)
    check(last[("calls", "delete_pod")] == after[("calls", "delete_pod")] + 1
          and last[("errors", "delete_pod")] == after[("errors", "delete_pod")] + 1,
          "the failed delete_pod is counted as a call and as an error")
    check(all(last[k] == after[k] for k in last if k[0] == "errors" and k[1] != "delete_pod"),
          "no other operation counted an error")
finally:
    s.cleanup()
done()
