"""The thesis agent's own loop, 20 steps, on real containers (the docker
backend on a private dockerd, host networking, the demo workload): GET
/app/stat -> state (cpu, mem, online_pods) -> scale in or out with a JSON
body of "" -> GET /app/stat -> reward. After every scale the next
/app/stat's online_pods is the target (the scale waited for the pods'
metrics), the server's reward is the agent's formula on the same answer,
the KPIs come from real requests, and the daemon lists as many containers
as the scale's target. Then /env/reset and /env/step, the gym routes, on
the same containers."""
# ctest-labels: docker
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import check, done, thesis_reward  # noqa: E402

STEPS = 20
SCALING = "return { min = 1, max = 3, step = 1, timeout_s = 90 }\n"   # the test's bounds




with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    s = dt.server(d, scaling=SCALING)
    check(dt.settled(s, 1) is not None, "one ready replica reporting metrics")
    rng = random.Random(7)
    st, stat, _ = s.get("/app/stat")
    check(st == 200, "GET /app/stat: %s" % st)
    pods_ok = reward_ok = count_ok = real_ok = 0
    wrong = []
    for i in range(STEPS):
        state = stat["containers"]["system"]
        busy = state["cpu_percent"] is not None and state["cpu_percent"] > 60
        action = ("out" if busy else "in") if rng.random() < 0.3 else rng.choice(["in", "out"])
        st, sc, _ = s.post("/pod/scale/" + action, body='""', headers=dt.THESIS)
        if st != 200:
            wrong.append(("scale", i, st, sc))
            break
        st, stat, _ = s.get("/app/stat")
        if st != 200:
            wrong.append(("stat", i, st, stat))
            break
        online = stat["containers"]["system"]["online_pods"]
        pods_ok += online == sc["to"]
        if online != sc["to"]:
            wrong.append(("pods", i, action, sc["from"], sc["to"], online))
        if online is not None and abs(stat["reward"] - thesis_reward(stat)) <= 1e-9:
            reward_ok += 1
        rs = stat["requests_stat"]
        real_ok += rs["total_packet_count"] > 0 and rs["avg_latency"] > 0
        n = len(dt.containers(d, running_only=True))
        count_ok += n >= sc["to"]      # the ones going away may still stop
    print("# %d steps: online_pods = target %d, reward = the agent's %d, real requests %d, containers %d"
          % (STEPS, pods_ok, reward_ok, real_ok, count_ok))
    check(pods_ok == STEPS, "after every scale the next /app/stat's online_pods is the target (%d/%d; %s)"
          % (pods_ok, STEPS, wrong[:3]))
    check(reward_ok == STEPS, "the server's reward is the agent's formula on every step (%d/%d)" % (reward_ok, STEPS))
    check(real_ok == STEPS, "every step's KPIs come from real requests (%d/%d)" % (real_ok, STEPS))
    check(count_ok == STEPS, "the daemon runs at least the target's containers on every step")

    st, body, _ = s.post("/env/reset", body={"pods": 2, "seed": 1})
    check(st == 200 and "observation" in body, "/env/reset on docker: %s %s" % (st, str(body)[:200]))
    st, body, _ = s.post("/env/step", body={"action": "out"})
    check(st == 200 and isinstance(body.get("reward"), float), "/env/step on docker: %s %s" % (st, str(body)[:200]))
    check(dt.until(lambda: len(dt.containers(d)) == 3, 30), "the step scaled the containers to 3")
done()
