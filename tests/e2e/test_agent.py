"""The mission on the simulated cluster: the thesis agent's own loop for 500
steps (after every scale the next /app/stat counts the target's pods, and
the server's reward is the agent's); a client that behaves exactly like the
thesis agent runs 200 steps; determinism; failure injection and pruning; bad
input; the scaling bound under concurrency; policy edits."""
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import SRC, Server, check, done, is_error, write, thesis_reward  # noqa: E402

SIM = "sim: {seed: %d, speed: 0, replicas: 2}\n"
DEFAULT_HEADER = ("episode,step,time,cpu_percent,mem_percent,pods,action,next_cpu_percent,next_mem_percent,"
                  "next_pods,avg_latency,drop_packet_percentage,total_packet_count,reward,done")
THESIS = {"Content-Type": "application/json"}   # the agent posts a JSON body of ""
# The test's own scaling policy: the bounds below are the test's, not the
# defaults of policies/scaling.lua that a researcher edits.
SCALING = "return { min = %d, max = %d, step = 1, timeout_s = 90 }\n"


def server(config, lo=1, hi=5):
    """A server on the tree's scripts and policies, but with bounds [lo, hi] from its own scaling.lua."""
    s = Server(config=config)
    write(os.path.join(s.policies, "scaling.lua"), SCALING % (lo, hi))
    st, body, _ = s.post("/_engine/reload")
    assert st == 200, (st, body)
    return s




def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def thesis_agent(seed, steps):
    """The thesis agent's loop: GET /app/stat -> state (cpu, mem, online_pods)
    -> scale in or out (a JSON body of "") -> GET /app/stat -> reward, from
    that answer. -> (scales whose next /app/stat counts the target's pods,
    steps whose server reward is the agent's, mismatches)."""
    s = server(SIM % seed)
    try:
        rng = random.Random(seed)
        st, stat, _ = s.get("/app/stat")
        assert st == 200, (st, stat)
        pods_ok = reward_ok = 0
        wrong = []
        for i in range(steps):
            state = stat["containers"]["system"]
            # a stand-in for the agent's policy: mostly follows the CPU, sometimes explores
            busy = state["cpu_percent"] is not None and state["cpu_percent"] > 60
            action = ("out" if busy else "in") if rng.random() < 0.5 else rng.choice(["in", "out"])
            st, sc, _ = s.post("/pod/scale/" + action, body='""', headers=THESIS)
            assert st == 200, (st, sc)
            st, stat, _ = s.get("/app/stat")
            assert st == 200, (st, stat)
            online = stat["containers"]["system"]["online_pods"]
            if online == sc["to"]:
                pods_ok += 1
            else:
                wrong.append(("pods", i, action, sc["from"], sc["to"], online))
            if online is not None and abs(stat["reward"] - thesis_reward(stat)) <= 1e-9:
                reward_ok += 1
            else:
                wrong.append(("reward", i, stat["reward"], online and thesis_reward(stat)))
        return pods_ok, reward_ok, wrong
    finally:
        s.cleanup()


def episode(seed, steps, shape_checks):
    s = server(SIM % seed)     # the thesis agent's bounds, 1 to 5
    traj = []
    try:
        rng = random.Random(seed)
        for i in range(steps):
            st, conf, _ = s.post("/pod/confirm", body='""', headers=THESIS)
            assert st == 200, (st, conf)
            st, pod, _ = s.get("/pod")
            assert st == 200, (st, pod)
            sysd = pod["system"]
            if shape_checks:
                ok = all(k in sysd for k in ("cpu_percent", "mem_percent", "online_pods", "total_pods"))
                ok = ok and (sysd["cpu_percent"] is None or num(sysd["cpu_percent"]))
                ok = ok and isinstance(sysd["total_pods"], int) and 1 <= sysd["total_pods"] <= 5
                for c in pod.get("container", []):
                    ok = ok and all(num(c[k]) for k in ("cpu", "mem", "req_cpu", "req_mem", "cpu_percent", "mem_percent"))
                    ok = ok and isinstance(c["name"], str) and isinstance(c["status"], str)
                if not ok:
                    shape_checks.append(("pod", i, pod))
            action = rng.choice(["in", "out", "stay"])
            if action != "stay":
                st, sc, _ = s.post("/pod/scale/" + action, body='""', headers=THESIS)
                assert st == 200, (st, sc)
                if shape_checks is not None and not all(num(sc[k]) for k in ("start_time", "finish_time", "time_spent_sec")):
                    shape_checks.append(("scale", i, sc))
                if shape_checks is not None and sc["scaled"] is False and "reason" not in sc:
                    shape_checks.append(("reason", i, sc))
            st, stat, _ = s.get("/app/stat")
            assert st == 200, (st, stat)
            rs = stat["requests_stat"]
            if shape_checks is not None:
                if not all(num(rs[k]) for k in ("avg_latency", "drop_packet_percentage", "drop_packet_count", "total_packet_count")):
                    shape_checks.append(("stat", i, rs))
                if abs(stat["reward"] - thesis_reward(stat)) > 1e-9:
                    shape_checks.append(("reward", i, stat["reward"], thesis_reward(stat)))
            if i % 50 == 49:
                n = rng.randint(1, 5)
                st, sp, _ = s.post("/pod/set-pod-count/%d" % n, body='""', headers=THESIS)
                assert st == 200 and sp["to"] == n, (st, sp)
            pods = stat["containers"]["system"]["total_pods"]
            traj.append((action, pods, round(stat["reward"], 9), rs["total_packet_count"], rs["drop_packet_count"],
                         stat["containers"]["system"]["cpu_percent"]))
        return traj
    finally:
        s.cleanup()


t0 = time.time()
pods_ok, reward_ok, wrong = thesis_agent(12, 500)
print("# the thesis agent's loop, 500 steps of scale + GET /app/stat, took %.2f s" % (time.time() - t0))
print("# online_pods after a scale equals the target: %d/500" % pods_ok)
print("# the server's reward equals the agent's: %d/500" % reward_ok)
check(pods_ok == 500, "after every scale the next /app/stat's online_pods is the target (%d/500; %s)"
      % (pods_ok, wrong[:3]))
check(reward_ok == 500, "on every step the server's reward is the agent's formula on the same answer (%d/500)"
      % reward_ok)

# wait_for in scaling.lua: "metrics" (the default) answers a scale-out once
# the new pod reports metrics; "ready" as soon as it is Ready, before the
# metrics API lists it.
s = server(SIM % 9)
try:
    seen = {}
    for wait_for in ("metrics", "ready"):
        write(os.path.join(s.policies, "scaling.lua"),
              'return { min = 1, max = 5, step = 1, timeout_s = 90, wait_for = "%s" }\n' % wait_for)
        st, body, _ = s.post("/_engine/reload")
        assert st == 200, (st, body)
        s.post("/pod/set-pod-count/1", body='""', headers=THESIS)
        st, sc, _ = s.post("/pod/scale/out", body='""', headers=THESIS)
        sysd = s.get("/pod")[1]["system"]
        seen[wait_for] = (st, sc.get("to"), sysd["ready_pods"], sysd["online_pods"])
    check(seen["metrics"] == (200, 2, 2, 2), "wait_for metrics: after a scale-out to 2, 2 pods report metrics (%s)"
          % (seen["metrics"],))
    check(seen["ready"] == (200, 2, 2, 1), "wait_for ready: the scale-out answers with 2 pods Ready, the new one "
          "not yet in the metrics API (%s)" % (seen["ready"],))
finally:
    s.cleanup()

problems = []
t0 = time.time()
a = episode(7, 200, problems)
elapsed = time.time() - t0
check(not problems, "200 thesis-agent steps: every response has the seed's fields and types; "
      "the server's reward equals the agent's formula (%s)" % (problems[:2],))
check(all(1 <= p <= 5 for _, p, *_ in a), "pods stay within [1, 5] for 200 steps")
check(len({r for _, _, r, *_ in a}) > 3, "rewards vary with the state (the RL signal is real)")
b = episode(7, 200, None)
check(a == b, "two runs with the same seed give identical trajectories")
c = episode(8, 30, None)
check(a[:30] != c, "another seed gives another trajectory")
print("# 200 agent steps (5 requests each) took %.2f s" % elapsed)

# Failure injection: crash-looping and image-pull failures get pruned.
s = server("sim: {seed: 3, speed: 0, replicas: 1, p_crash: 0.5, p_image_pull: 0.3}\n")
try:
    seen = set()
    for _ in range(6):
        s.post("/pod/set-pod-count/5", body='""', headers=THESIS)
        _, pod, _ = s.get("/pod")
        everyone = pod.get("container", []) + pod["no_metrics"]
        check(len(everyone) == pod["system"]["total_pods"], "container + no_metrics list every pod")
        bad = [p for p in everyone if p["status"] in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Error")]
        st, conf, _ = s.post("/pod/confirm", body='""', headers=THESIS)
        # The pods it keeps are the healthy ones: the cluster converges, 200.
        check(st == 200, "confirm keeps the healthy pods and converges: 200 (%d %s)" % (st, conf))
        if st != 200:
            continue
        names = {p["name"] for p in conf["pruned"]}
        seen |= {p["status"] for p in conf["pruned"]}
        left = {p["name"] for p in conf.get("container", []) + conf["no_metrics"]}
        check(not bad or names & {p["name"] for p in bad},
              "confirm pruned the failing pods %s" % [p["name"] for p in bad])
        check(not (names & left), "pruned pods are gone after confirm")
        check(conf["system"]["total_pods"] >= 1, "confirm never goes below the minimum")
    check(seen & {"CrashLoopBackOff", "Error", "ImagePullBackOff", "ErrImagePull"},
          "with failure injection, /pod/confirm prunes failing pods (%s)" % sorted(seen))
finally:
    s.cleanup()

# Bad input changes nothing. Not an integer: 400; an integer outside the
# policy's bounds (here [2, 3]), however many digits: 422 with the bounds.
s = server(SIM % 1, lo=2, hi=3)
try:
    before = s.get("/pod")[1]["system"]["desired_pods"]
    for bad, want in (("abc", 400), ("-1", 422), ("3.5", 400), ("99999999999999999999", 422),
                      ("0", 422), ("1", 422), ("4", 422), ("%20", 400), ("1e3", 400)):
        st, body, _ = s.post("/pod/set-pod-count/" + bad, body='""', headers=THESIS)
        check(st == want and is_error(body), "set-pod-count/%s -> %d JSON error (%d)" % (bad, want, st))
        if want == 422:
            check(body.get("min") == 2 and body.get("max") == 3, "the 422 carries the policy's min 2 and max 3")
    check(s.get("/pod")[1]["system"]["desired_pods"] == before, "nothing was scaled by bad input")
    st, body, _ = s.post("/env/step", body={"action": "out"})
    check(st == 409 and is_error(body, "no_episode"), "step before reset: 409")
    st, body, _ = s.post("/env/reset", body={"pods": 2, "seed": 5})
    check(st == 200 and body["observation"]["pods"] == 2, "reset starts an episode with 2 pods")
    for bad in ({}, {"action": "up"}, {"action": 3}, {"action": -1}, {"action": 1.5}, {"action": None},
                {"action": ["out"]}, "[1,2]", '""'):
        st, body, _ = s.post("/env/step", body=bad if not isinstance(bad, str) else bad,
                             headers={"Content-Type": "application/json"})
        check(st == 400 and is_error(body), "env/step with %r -> 400" % (bad,))
    st, body, _ = s.post("/env/step", body="{not json", headers={"Content-Type": "application/json"})
    check(st == 400 and is_error(body, "bad_json"), "env/step with a body that is not JSON -> 400")
    st, body, _ = s.post("/env/reset", body={"pods": 9})
    check(st == 422, "env/reset beyond the bounds -> 422")
    st, body, _ = s.post("/env/reset", body={"pods": "two"})
    check(st == 400, "env/reset with a non-integer pod count -> 400")
    for target in ("abc", "0", "-5", "nan", "inf", "1e400", "1e-320"):
        st, body, _ = s.get("/hpa/recommend?target=" + target)
        check(st == 400 and is_error(body, "bad_target"),
              "hpa/recommend?target=%s -> 400 bad_target (got %s %s)" % (target, st, body))
finally:
    s.cleanup()

# The gym routes: one request per step, every step in the episode CSV.
s = server(SIM % 2)
try:
    st, r0, _ = s.post("/env/reset", body={"pods": 1, "seed": 11})
    rewards, wrong = [], []
    for act in ["out", "out", "stay", "in", "out"] * 4:
        st, r, _ = s.post("/env/step", body={"action": act})
        if not (st == 200 and num(r["reward"]) and isinstance(r["done"], bool) and "kpis" in r
                and "observation" in r):
            wrong.append((act, st, r))
        rewards.append(r.get("reward") if isinstance(r, dict) else None)
    check(not wrong, "every env/step -> observation, reward, kpis, done (%s)" % wrong[:2])
    check(len(rewards) == 20 and all(num(x) for x in rewards), "20 steps answered with rewards")
    path = r0["file"]
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if not line.startswith("#")]
    check(lines[0] == DEFAULT_HEADER and len(lines) == 21, "the episode CSV has the default header and 20 rows")
    check(sorted(r0["observation"]) == ["cpu_percent", "mem_percent", "pods"]
          and sorted(r["observation"]) == ["cpu_percent", "mem_percent", "pods"],
          "the default observation is the thesis agent's: cpu_percent, mem_percent, pods")
    check(all(len(l.split(",")) == len(lines[0].split(",")) for l in lines), "every CSV row is complete")
    # A row that cannot be written (the CSV's path is now a folder) fails
    # the step, and the episode stays where it was.
    os.remove(path)
    os.mkdir(path)
    st, body, _ = s.post("/env/step", body={"action": "stay"})
    check(st == 500 and is_error(body, "io") and body.get("file") == path and path in body["error"]["message"],
          "env/step whose CSV row cannot be written -> 500 io naming the file (%s)" % (body,))
    os.rmdir(path)
    st, r, _ = s.post("/env/step", body={"action": "stay"})
    with open(path) as f:
        again = f.read().splitlines()
    check(st == 200 and r["info"]["step"] == 21 and len(again) == 3 and again[0].startswith("# podgym ")
          and again[1] == DEFAULT_HEADER and again[2].split(",")[1] == "21",
          "the failed step did not count: the next one is step 21, in a new CSV with its header")
    st, h, _ = s.get("/hpa/recommend")
    check(st == 200 and h["action"] in ("in", "stay", "out") and 1 <= h["desired_replicas"] <= 5,
          "hpa/recommend returns a bounded recommendation")
finally:
    s.cleanup()

# One line in observation.lua adds p99 latency to what the agent observes, and
# the episode CSV follows: the server runs on its own copy of the policies.
policies = tempfile.mkdtemp(prefix="podgym-policies-")
shutil.rmtree(policies)
shutil.copytree(os.path.join(SRC, "policies"), policies)
obs_path = os.path.join(policies, "observation.lua")
obs_lines = open(obs_path).read().split("\n")
at = next(i for i, line in enumerate(obs_lines) if 'name = "pods"' in line) + 1
obs_lines.insert(at, '  { name = "p99_latency", unit = "ms", low = 0, high = math.huge, '
                     'value = function(s) return s.kpis.p99_latency end },')
write(obs_path, "\n".join(obs_lines))
s = Server(config=SIM % 6, policies=policies)
try:
    st, r0, _ = s.post("/env/reset", body={"pods": 2, "seed": 3})
    check(st == 200 and list(r0["observation"]).count("p99_latency") == 1 and r0["observation"]["p99_latency"] is None,
          "with p99_latency in observation.lua, reset observes it (null: no load test yet)")
    steps = []
    for act in ("out", "stay", "in"):
        st, r, _ = s.post("/env/step", body={"action": act})
        steps.append(r)
    check(all(sorted(r["observation"]) == ["cpu_percent", "mem_percent", "p99_latency", "pods"] for r in steps)
          and all(r["observation"]["p99_latency"] == r["kpis"]["p99_latency"] > 0 for r in steps),
          "each step's observation has p99_latency, the step's own p99 latency")
    with open(r0["file"]) as f:
        rows = [line.split(",") for line in f.read().splitlines() if not line.startswith("#")]
    want = DEFAULT_HEADER.replace(",pods,", ",pods,p99_latency,").replace(",next_pods,", ",next_pods,next_p99_latency,")
    check(",".join(rows[0]) == want, "the episode CSV header has p99_latency and next_p99_latency after pods")
    col = {name: i for i, name in enumerate(rows[0])}
    check(len(rows) == 4 and all(len(row) == len(rows[0]) for row in rows), "every row has the extra columns")
    check(rows[1][col["p99_latency"]] == "" and all(
          float(rows[i + 1][col["next_p99_latency"]]) == steps[i]["observation"]["p99_latency"]
          and float(rows[i + 1][col["next_pods"]]) == steps[i]["observation"]["pods"] for i in range(3))
          and all(rows[i + 1][col["p99_latency"]] == rows[i][col["next_p99_latency"]] for i in range(1, 3)),
          "the rows hold the p99 latency acted on and the one after each step")
    st, body, _ = s.get("/pod")
    check(st == 200, "the other routes are unaffected")
finally:
    s.cleanup()
    shutil.rmtree(policies, ignore_errors=True)

# 50 concurrent scale-outs never pass the maximum.
s = server(SIM % 4)
try:
    s.post("/pod/set-pod-count/1", body='""', headers=THESIS)
    results = []

    def out():
        results.append(s.post("/pod/scale/out", body='""', headers=THESIS))

    ths = [threading.Thread(target=out) for _ in range(50)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    check(all(r[0] == 200 for r in results), "50 concurrent scale-outs all answer 200")
    check(sum(1 for r in results if r[1]["scaled"]) == 4, "exactly 4 of them scaled (1 -> 5)")
    check(s.get("/pod")[1]["system"]["desired_pods"] == 5, "the Deployment ends at the maximum, not past it")
finally:
    s.cleanup()

# Policies: a new bound is seen on the next request; garbage is a 500 naming the policy.
s = server(SIM % 5)
try:
    scaling = os.path.join(s.policies, "scaling.lua")
    write(scaling, SCALING % (1, 8))
    t0 = time.time()
    while time.time() - t0 < 5 and s.post("/pod/set-pod-count/7", body='""', headers=THESIS)[0] != 200:
        time.sleep(0.02)
    check(s.get("/pod")[1]["system"]["desired_pods"] == 7, "max = 8 in scaling.lua allows 7 pods without a restart")
    write(scaling, SCALING % (6, 5))
    time.sleep(0.5)
    before = s.get("/pod")[1]["system"]["desired_pods"]
    st, body, _ = s.post("/pod/scale/out", body='""', headers=THESIS)
    check(st == 500 and "scaling.lua" in body["error"]["message"], "min > max: 500 naming policies/scaling.lua")
    check(s.get("/pod")[1]["system"]["desired_pods"] == before, "...and the cluster is unchanged")
    write(scaling, SCALING % (1, 5))
    reward = os.path.join(s.policies, "reward.lua")
    rtext = open(reward).read()
    write(reward, rtext.replace("function M.reward(kpis, pods)", "function M.reward(kpis, pods)\n  do return \"high\" end"))
    time.sleep(0.5)
    st, body, _ = s.get("/app/stat")
    check(st == 500 and "reward.lua" in body["error"]["message"], "a reward that is a string: 500 naming reward.lua")
    observation = os.path.join(s.policies, "observation.lua")
    otext = open(observation).read()
    write(observation, otext.replace('unit = "pods", low = 0', 'unit = "pods", low = 99'))
    time.sleep(0.5)
    st, body, _ = s.post("/env/reset", body={"pods": 2})
    check(st == 500 and "observation.lua: field 3 (pods): low and high" in body["error"]["message"],
          "pods bounds low > high: /env/reset is a 500 naming observation.lua and the field (%s)" % (body,))
finally:
    s.cleanup()
done()
