"""Vector envs (POST /envs, /envs/step, /envs/reset): shapes, next-step
autoreset, env i of a vector seeded s byte for byte the single env seeded
s + i (then s + i + n after an autoreset), limits.envs (429), bad action
arrays (400, and no env advances), resets of some ids, an episode file per
env and episode."""
import json
import os
import re
import shutil

from pgtest import SRC, Server, check, done, is_error, write

N, SEED, PODS, MAX_STEPS = 3, 10, 2, 5
SIM = "sim: {seed: 4, speed: 0, replicas: 2}\nlimits: {envs: 4}\n"


def rows(path):
    """The episode file's lines: the comment, the columns, the rows."""
    with open(path) as f:
        return f.read().splitlines()


def without_episode(lines):
    """The lines with a row's first field (the episode number) left out."""
    return [l if l.startswith("#") or l.startswith("episode,") else l.split(",", 1)[1] for l in lines]


def canon(x):
    return json.dumps(x, sort_keys=True)


s = Server(config=SIM)
try:
    env_lua = os.path.join(s.policies, "env.lua")
    with open(env_lua) as f:
        text = f.read()
    write(env_lua, re.sub(r"max_steps = \d+", "max_steps = %d" % MAX_STEPS, text))
    st, body, _ = s.post("/_engine/reload")
    check(st == 200, "reload with max_steps = %d" % MAX_STEPS)

    st, body, _ = s.post("/envs/step", {"actions": ["stay"] * N})
    check(st == 409 and is_error(body, "no_envs"), "a step before POST /envs is 409 no_envs (%s)" % st)

    # limits.envs (4 here): 5 is a 429, bad n a 400
    st, body, _ = s.post("/envs", {"n": 5})
    check(st == 429 and is_error(body, "too_many_envs"), "n over limits.envs is 429 too_many_envs (%s %s)" % (st, body))
    for bad in (0, -1, 1.5, "3", None):
        st, body, _ = s.post("/envs", {"n": bad} if bad is not None else {})
        check(st == 400 and is_error(body, "bad_envs"), "n = %r is 400 bad_envs (%s)" % (bad, st))

    # shapes
    st, r, _ = s.post("/envs", {"n": N, "seed": SEED, "pods": PODS})
    check(st == 200, "POST /envs n=%d (%s)" % (N, st))
    check(r["envs"] == list(range(N)), "ids 0..n-1: %s" % r["envs"])
    check(len(r["observation"]) == N and len(r["info"]) == N, "an observation and an info per env")
    check([i["seed"] for i in r["info"]] == [SEED + i for i in range(N)], "env i is seeded seed + i")
    check(r["autoreset_mode"] == "next_step", "autoreset mode next_step")
    check(r["spec"]["spaces"]["action"] == {"type": "Discrete", "n": 3}, "the spec comes along")
    files0 = [i["file"] for i in r["info"]]
    check(len(set(files0)) == N and all(os.path.isabs(f) and os.path.exists(f) for f in files0),
          "each env has its own episode file, absolute, created at the reset")
    check(all(rows(f)[0].startswith("# podgym ") and " seed %d " % (SEED + i) in rows(f)[0]
              for i, f in enumerate(files0)), "each file's header records the env's seed")
    first_obs = r["observation"]

    # bad action arrays: 400, and no env advances
    before = [len(rows(f)) for f in files0]
    bads = [({"actions": ["stay"] * (N - 1)}, "bad_actions", "one action short"),
            ({"actions": ["stay"] * (N + 1)}, "bad_actions", "one action too many"),
            ({"actions": "stay"}, "bad_actions", "not an array"),
            ({"actions": {"0": "stay"}}, "bad_actions", "an object"),
            ({}, "bad_actions", "no actions"),
            ({"actions": ["stay", "bogus", "stay"]}, "bad_action", "an unknown name"),
            ({"actions": ["stay", "stay", 3]}, "bad_action", "an index out of range"),
            ({"actions": ["stay", True, "stay"]}, "bad_action", "a boolean"),
            ({"actions": [1.5, "stay", "stay"]}, "bad_action", "a fraction"),
            ({"actions": [None, "stay", "stay"]}, "bad_action", "a null")]
    for b, code, what in bads:
        st, body, _ = s.post("/envs/step", b)
        check(st == 400 and is_error(body, code), "%s: 400 %s (%s %s)" % (what, code, st, body))
    check([len(rows(f)) for f in files0] == before, "after the bad steps no file has a row more")

    # a run of steps: names and indices, through an autoreset (max_steps 5)
    plan = [["out", 1, "in"], [2, "stay", 0], ["in", "out", "stay"], ["stay", 2, "out"], [1, "in", "in"],
            ["out", "out", "out"], ["in", 1, 2], ["stay", "stay", "stay"]]
    answers = []
    for acts in plan:
        st, a, _ = s.post("/envs/step", {"actions": acts})
        check(st == 200, "step %s (%s)" % (acts, st))
        answers.append(a)
    a0 = answers[0]
    keys = ("observation", "reward", "terminated", "truncated", "done", "kpis", "info")
    check(all(len(a0[k]) == N for k in keys), "every field is an array of n")
    check([i["step"] for i in a0["info"]] == [1] * N and answers[1]["info"][2]["step"] == 2,
          "the first good step is step 1 (nothing advanced on the 400s)")
    last = answers[MAX_STEPS - 1]
    check(all(last["truncated"]) and all(last["done"]) and not any(last["terminated"]),
          "step %d of every env is truncated" % MAX_STEPS)
    ar = answers[MAX_STEPS]
    check(all(i.get("autoreset") for i in ar["info"]), "the next step autoresets every env: %s" % ar["info"])
    check(ar["reward"] == [0] * N and not any(ar["truncated"]) and not any(ar["terminated"]),
          "an autoreset step answers reward 0, not terminated, not truncated")
    check([i["seed"] for i in ar["info"]] == [SEED + i + N for i in range(N)],
          "an autoreset seeds the env's previous seed + n")
    check([i["episode"] for i in ar["info"]] == [2] * N, "and starts each env's episode 2")
    files1 = [i["file"] for i in ar["info"]]
    check(all(f.endswith("/env-%d/episode-2.csv" % i) and os.path.exists(f) for i, f in enumerate(files1)),
          "episode 2's files exist: %s" % files1)
    check(all(len(rows(f)) == 2 + MAX_STEPS for f in files0), "episode 1's files hold %d rows each" % MAX_STEPS)
    check(all(len(rows(f)) == 2 + len(plan) - MAX_STEPS - 1 for f in files1),
          "episode 2's files hold the steps after the autoreset")

    # byte for byte: env i is the single env reset with seed + i (and seed + i + n
    # at the autoreset), stepped with the same actions, on the same server
    names = [a["name"] for a in r["spec"]["actions"]]
    for i in range(N):
        st, r1, _ = s.post("/env/reset", {"seed": SEED + i, "pods": PODS})
        same = canon(r1["observation"]) == canon(first_obs[i])
        if not same:
            print("# env %d reset: single %s, vector %s" % (i, canon(r1["observation"]), canon(first_obs[i])))
        single_files = [r1["file"]]
        for k, acts in enumerate(plan):
            a = answers[k]
            if k == MAX_STEPS:
                st, r1, _ = s.post("/env/reset", {"seed": SEED + i + N, "pods": PODS})
                same = same and canon(r1["observation"]) == canon(a["observation"][i])
                single_files.append(r1["file"])
                continue
            act = acts[i] if isinstance(acts[i], str) else names[acts[i]]
            st, one, _ = s.post("/env/step", {"action": act})
            for key in ("observation", "reward", "terminated", "truncated", "done", "kpis"):
                if same and canon(one[key]) != canon(a[key][i]):
                    print("# env %d step %d %s: single %s, vector %s" % (i, k + 1, key, canon(one[key]), canon(a[key][i])))
                same = same and canon(one[key]) == canon(a[key][i])
            info, info1 = dict(a["info"][i]), dict(one["info"])
            info.pop("env")
            info.pop("episode"), info1.pop("episode")        # numbered per env, and by the server
            if same and canon(info1) != canon(info):
                print("# env %d step %d info: single %s, vector %s" % (i, k + 1, canon(info1), canon(info)))
            same = same and canon(info1) == canon(info)
        check(same, "env %d answers as the single env seeded %d, then %d" % (i, SEED + i, SEED + i + N))
        check(all(without_episode(rows(f)) == without_episode(rows(g))
                  for f, g in zip(single_files, (files0[i], files1[i]))),
              "env %d's episode files equal the single env's, byte for byte but the episode number" % i)

    # /envs/reset: some ids, a seed (env i gets seed + i), the others untouched
    st, rr, _ = s.post("/envs/reset", {"ids": [2, 0], "seed": 100})
    check(st == 200 and rr["envs"] == [2, 0], "reset ids [2, 0] (%s)" % st)
    check([i["seed"] for i in rr["info"]] == [102, 100] and [i["episode"] for i in rr["info"]] == [3, 3],
          "their seeds are 100 + i and their episode 3: %s" % rr["info"])
    st, a, _ = s.post("/envs/step", {"actions": ["stay"] * N})
    check([i["step"] for i in a["info"]] == [1, len(plan) - MAX_STEPS, 1] and a["info"][1]["episode"] == 2,
          "the next step is step 1 of the reset envs, and goes on for env 1: %s" % a["info"])
    for b, what in (({"ids": [3]}, "an id out of range"), ({"ids": [1, 1]}, "an id twice"),
                    ({"ids": "all"}, "ids not an array")):
        st, body, _ = s.post("/envs/reset", b)
        check(st == 400 and is_error(body, "bad_envs"), "/envs/reset with %s is 400 bad_envs (%s)" % (what, st))
    st, body, _ = s.post("/envs/reset", {"pods": 99})
    check(st == 422 and is_error(body, "out_of_bounds"), "pods outside the scaling bounds is 422 (%s)" % st)

    # a new vector gets new files; the single env still works beside it
    st, r2, _ = s.post("/envs", {"n": 4, "seed": 1})
    check(st == 200 and r2["vector"] == 2 and all("/envs-2/" in i["file"] for i in r2["info"]),
          "a second POST /envs makes vector 2 with its own files")
    st, a, _ = s.post("/envs/step", {"actions": [0, 1, 2, 1]})
    check(st == 200 and len(a["reward"]) == 4, "it steps 4 envs")
    st, one, _ = s.post("/env/step", {"action": "stay"})
    check(st in (200, 409), "the single env's routes still answer (%s)" % st)
    st, body, _ = s.get("/openapi.json")
    check(st == 200 and "/envs/step" in body["paths"], "the vector routes are in the OpenAPI document")
finally:
    s.stop()
done()
