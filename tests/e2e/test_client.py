"""examples/python/podgym_env.py against a real server: spaces from GET
/env/spec, gymnasium's reset/step shapes for PodgymEnv and PodgymVectorEnv
(next-step autoreset flagged in info), one keep-alive connection, and
PodgymError with the server's status, code and message."""
import os
import re
import sys

from pgtest import SRC, Server, check, done, write

sys.path.insert(0, os.path.join(SRC, "examples", "python"))
import podgym_env  # noqa: E402
from podgym_env import PodgymEnv, PodgymError, PodgymVectorEnv  # noqa: E402

s = Server(config="sim: {seed: 2, speed: 0, replicas: 2}\n")
try:
    env_lua = os.path.join(s.policies, "env.lua")
    with open(env_lua) as f:
        write(env_lua, re.sub(r"max_steps = \d+", "max_steps = 3", f.read()))
    check(s.post("/_engine/reload")[0] == 200, "reload with max_steps = 3")
    url = "http://127.0.0.1:%d" % s.port

    env = PodgymEnv(url)
    check(env.action_space.n == 3 and tuple(env.observation_space.shape) == (3,),
          "spaces from /env/spec: Discrete(3), Box of shape (3,)")
    check(env.obs_names == ["cpu_percent", "mem_percent", "pods"], "observation names in order: %s" % env.obs_names)
    obs, info = env.reset(seed=5, options={"pods": 2})
    check(len(obs) == 3 and obs[2] == 2 and info["seed"] == 5 and os.path.exists(info["file"]),
          "reset(seed, options) -> (obs, info): %s" % list(obs))
    conn = env.client.conn
    out = [env.step(a) for a in (2, "stay", env.action_space.sample())]
    obs, reward, terminated, truncated, info = out[0]
    check(obs[2] == 3 and isinstance(reward, float) and terminated is False and truncated is False
          and info["action"] == "out" and "avg_latency" in info["kpis"], "step(2) scales out: %s" % list(obs))
    check(out[-1][3] is True, "the third step is truncated (max_steps 3)")
    check(env.client.conn is conn, "every request went over the same keep-alive connection")
    try:
        env.step(1)
        check(False, "a step after the end raises")
    except PodgymError as e:
        check(e.status == 409 and e.code == "episode_done" and "reset" in e.message,
              "a step after the end raises PodgymError 409 episode_done: %s" % e)
    try:
        env.step(7)
    except PodgymError as e:
        check(e.status == 400 and e.code == "bad_action", "an unknown action raises PodgymError 400 bad_action")
    env.close()
    check(env.client.conn is None, "close() closes the connection")

    vec = PodgymVectorEnv(url, n=4, seed=10, pods=2)
    obs, info = vec.reset()
    check(len(obs) == 4 and all(len(o) == 3 for o in obs), "vector reset -> obs of shape (4, 3)")
    check([i["seed"] for i in info["raw"]] == [10, 11, 12, 13], "env i seeded 10 + i")
    flags = []
    for k in range(4):
        obs, rewards, terms, truncs, info = vec.step([1, 2, 0, 1])
        flags.append(list(info["autoreset"]))
    check(list(truncs) == [False] * 4 and flags[3] == [True] * 4 and flags[2] == [False] * 4,
          "the step after the last one autoresets every env (info['autoreset']): %s" % flags)
    check(list(rewards) == [0, 0, 0, 0], "an autoreset step's reward is 0")
    obs, info = vec.reset(options={"ids": [1]})
    check(info["env"] == [1] and len(obs) == 1, "reset(options={'ids': [1]}) resets env 1 only")
    try:
        vec.step([1, 1])
    except PodgymError as e:
        check(e.status == 400 and e.code == "bad_actions", "a short action array raises 400 bad_actions")
    vec.close()
    print("# gymnasium: %s, numpy: %s" % (podgym_env.gymnasium is not None, podgym_env.np is not None))
finally:
    s.stop()
done()
