"""An agent that learns is the proof the environment carries a signal:
examples/python/train_dqn.py trains a small DQN (Debian's python3-torch) on
a vector of simulated clusters for a bounded budget of env-steps, and its
greedy policy, played on fresh episodes from every pod count, must hold the
reward-optimal count, which this test finds by trying every count (a reset
at n pods, then "stay" steps, the mean reward). Seeded throughout, so it is
the same run every time. An untrained network (the same seed, no training)
must fail the same check: the check can fail."""
import os
import statistics
import sys

from pgtest import SRC, Server, check, done, skip

try:
    import torch  # noqa: F401
except ImportError:
    skip("python3-torch is not installed (make deps installs it)")

sys.path.insert(0, os.path.join(SRC, "examples", "python"))
import train_dqn  # noqa: E402
from podgym_env import PodgymEnv  # noqa: E402

STEPS = int(os.environ.get("DQN_STEPS", "6400"))     # env-steps of training
HOLD = 5                                               # the last steps of a play that must sit at the optimum

s = Server(config="sim: {seed: 3, speed: 0, workload: {kind: constant, rps: 60}}\n"
                  "load: {rate: 0, threads: 1, loops: 6}\n")
try:
    url = "http://127.0.0.1:%d" % s.port
    env = PodgymEnv(url)
    top = train_dqn.max_pods(env.spec_body)
    means = {}
    for n in range(1, top + 1):
        env.reset(seed=77, options={"pods": n})
        rewards = [env.step("stay")[1] for _ in range(10)]
        means[n] = statistics.mean(rewards)
    env.close()
    best = max(means, key=means.get)
    print("# mean reward by pod count: %s; optimum %d" % ({k: round(v, 4) for k, v in means.items()}, best))
    check(1 < best < top, "the optimum (%d) lies inside the bounds, so no constant action holds it" % best)

    def holds(agent, what):
        plays = {p: train_dqn.play(url, agent, p, steps=15) for p in range(1, top + 1)}
        for p, counts in plays.items():
            print("# %s, greedy from %d pods: %s" % (what, p, counts))
        ok = all(c[-HOLD:] == [best] * HOLD for c in plays.values())
        return ok, {p: c[-1] for p, c in plays.items()}

    torch.manual_seed(1)
    untrained = train_dqn.Agent(env.spec_body)
    ok, last = holds(untrained, "untrained")
    check(not ok, "an untrained network does not hold the optimum (ends at %s)" % last)

    agent = train_dqn.train(url, steps=STEPS, envs=8, seed=1, log=None)
    ok, last = holds(agent, "trained %d env-steps" % STEPS)
    print("# learned pod count from every start: %s; optimum %d" % (last, best))
    check(ok, "after %d env-steps the greedy policy holds the optimum %d from every start (%s)" % (STEPS, best, last))
finally:
    s.stop()
done()
