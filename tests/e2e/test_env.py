"""The gym routes as an RL library uses them: episode files that never mix
runs (a header with run id, seed, version and config hash; a restarted
server writes new files), gymnasium's terminated/truncated and a 409 past
the end, the action set of policies/env.lua everywhere (indices, the 400,
the OpenAPI enum, GET /env/spec), and the bodies /env/reset takes."""
import json
import os
import re
import time

from pgtest import Server, check, done, is_error, write

SIM = "sim: {seed: 4, speed: 0, replicas: 2}\n"
JSON = {"Content-Type": "application/json"}


def status(s):
    return s.get("/_engine/status")[1]


def read(path):
    with open(path) as f:
        return f.read()


def reload(s, path, text):
    """Write a policy and reload: -> the new generation's status."""
    write(path, text)
    st, body, _ = s.post("/_engine/reload")
    assert st == 200, (st, body)
    return status(s)


# 1. A file never mixes runs. The first run's episode 1 ...
a = Server(config=SIM)
b = None
try:
    sa = status(a)
    st, r, _ = a.post("/env/reset", body={"pods": 2, "seed": 42})
    path_a = r.get("file", "")
    text = read(path_a) if os.path.isabs(path_a) and os.path.exists(path_a) else ""
    check(st == 200 and os.path.isabs(path_a) and text, "reset answers the episode file, absolute, and it exists (%s)"
          % path_a)
    lines = text.splitlines()
    want = "# podgym %s run %s seed 42 config %s" % (sa["version"], sa["run_id"], sa["config_hash"])
    check(lines[:1] == [want], "its first line records version, run id, seed and config hash (%s)" % lines[:1])
    check(len(lines) == 2 and lines[1].startswith("episode,step,time,"), "then the CSV header, before any step")
    check(r.get("run_id") == sa["run_id"] and sa["run_id"] in path_a, "the file carries the run id (%s)" % path_a)
    for act in ("out", "stay", "in"):
        a.post("/env/step", body={"action": act})
    first_run = read(path_a)
    a.stop()

    # ... and a restarted server, on the same data folder: its episode 1 is
    # a new file, and the first run's file is left as it was.
    b = Server(config=SIM + "repl: {attach: false}\n", scripts=a.scripts, policies=a.policies)   # no socket in b.data
    if os.path.isdir(b.data):
        os.rmdir(b.data)
    os.symlink(a.data, b.data)
    sb = status(b)
    st, r, _ = b.post("/env/reset", body={"pods": 2, "seed": 42})
    path_b = r.get("file", "")
    check(st == 200 and r["episode"] == 1 and path_b != path_a and sb["run_id"] in path_b,
          "a restarted server numbers its episodes from 1 again, in files of its own run (%s)" % path_b)
    for act in ("out", "stay", "in"):
        b.post("/env/step", body={"action": act})
    check(read(path_a) == first_run, "the earlier run's episode file is unchanged")
    rows_b = read(path_b).splitlines()
    check(rows_b[0] == "# podgym %s run %s seed 42 config %s" % (sb["version"], sb["run_id"], sb["config_hash"])
          and len(rows_b) == 5 and [row.split(",")[1] for row in rows_b[2:]] == ["1", "2", "3"],
          "the new run's file: its own header line, the columns, its steps 1, 2, 3")
    try:
        import pandas  # noqa: F401 - the documented way to read an episode file
        frame = pandas.read_csv(path_b, comment="#")
        check(list(frame["step"]) == [1, 2, 3], "pandas.read_csv(comment='#') reads the episode file")
    except ImportError:
        print("# pandas is not installed: the episode file is read with the csv rules only")
finally:
    a.cleanup()
    if b:
        b.cleanup()

# 2. Gymnasium's semantics, the bodies of /env/reset, the action set from
# policies/env.lua.
s = Server(config=SIM)
try:
    for body in (None, "{}", '""', '{"pods": 3}'):
        st, r, _ = s.post("/env/reset", body=body, headers=JSON if body else {})
        check(st == 200 and "observation" in r, "reset with the body %r: 200" % (body,))
    for body in ("[]", "[1]", "3", '"x"', "null", "true"):
        st, r, _ = s.post("/env/reset", body=body, headers=JSON)
        check(st == 400 and is_error(r, "bad_body"), "reset with the body %s: 400 bad_body (%d)" % (body, st))

    st, spec, _ = s.get("/env/spec")
    check(st == 200 and [(f["name"], f["unit"], f["low"], f["high"]) for f in spec["observation"]]
          == [("cpu_percent", "%", 0, None), ("mem_percent", "%", 0, None), ("pods", "pods", 0, 5)],
          "GET /env/spec: the observation's names, units and bounds (null: none) (%s)" % spec.get("observation"))
    check([(a["index"], a["name"], a["steps"]) for a in spec["actions"]] == [(0, "in", -1), (1, "stay", 0), (2, "out", 1)]
          and spec["max_steps"] == 200, "GET /env/spec: the actions in index order, and the episode length")
    check(spec["spaces"] == {"observation": {"type": "Box", "shape": [3], "low": [0, 0, 0], "high": [None, None, 5]},
                             "action": {"type": "Discrete", "n": 3}},
          "GET /env/spec: gymnasium's Box and Discrete (%s)" % spec.get("spaces"))

    s.post("/env/reset", body={"pods": 2})
    st, r, _ = s.post("/env/step", body={"action": 2})
    check(st == 200 and r["info"]["action"] == "out" and r["info"]["to"] == 3, "action 2 (Discrete) is out: 2 -> 3 pods")
    st, r, _ = s.post("/env/step", body={"action": 0})
    check(st == 200 and r["info"]["action"] == "in" and r["info"]["to"] == 2, "action 0 is in: 3 -> 2 pods")
    check(r["terminated"] is False and r["truncated"] is False and r["done"] is False,
          "a step inside the episode: terminated, truncated and done false")
    st, r, _ = s.post("/env/step", body={"action": 3})
    check(st == 400 and is_error(r, "bad_action") and '"in", "stay", "out" (or an index 0..2)' in r["error"]["message"],
          "action 3 of 3: 400 listing the actions (%s)" % r)

    # An action added to env.lua is all it takes: name, index, message,
    # OpenAPI enum and spec follow.
    env_lua = os.path.join(s.policies, "env.lua")
    original = read(env_lua)
    reload(s, env_lua, original.replace("out = 1 }", "out = 1, out2 = 2 }"))
    st, spec, _ = s.get("/env/spec")
    check([a["name"] for a in spec["actions"]] == ["in", "stay", "out", "out2"] and spec["spaces"]["action"]["n"] == 4,
          "with out2 = 2 in env.lua, the spec has four actions")
    st, doc, _ = s.get("/openapi.json")
    action = doc["paths"]["/env/step"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["action"]
    kinds = {k["type"]: k for k in action["oneOf"]}
    check(kinds["string"]["enum"] == ["in", "stay", "out", "out2"] and kinds["integer"]["maximum"] == 3,
          "the OpenAPI document's action enum and index range follow env.lua (%s)" % json.dumps(action))
    s.post("/env/reset", body={"pods": 1})
    st, r, _ = s.post("/env/step", body={"action": 3})
    check(st == 200 and r["info"]["action"] == "out2" and r["info"]["to"] == 3, "action 3 is out2: 1 -> 3 pods")
    st, r, _ = s.post("/env/step", body={"action": "up"})
    check(st == 400 and '"out2" (or an index 0..3)' in r["error"]["message"], "the 400 lists out2")

    # The episode's length: the last step is truncated and done; past it,
    # 409 episode_done until a reset, and no row is written.
    reload(s, env_lua, original.replace("max_steps = 200", "max_steps = 3"))
    st, r0, _ = s.post("/env/reset", body={"pods": 2})
    got = [s.post("/env/step", body={"action": "stay"})[1] for _ in range(3)]
    check([(r["terminated"], r["truncated"], r["done"]) for r in got]
          == [(False, False, False), (False, False, False), (False, True, True)],
          "max_steps 3: step 3 is truncated and done, none terminated")
    st, r, _ = s.post("/env/step", body={"action": "stay"})
    check(st == 409 and is_error(r, "episode_done"), "a step after the episode is done: 409 episode_done (%d)" % st)
    rows = [row for row in read(r0["file"]).splitlines() if not row.startswith("#")]
    check(len(rows) == 4 and rows[-1].endswith(",1"), "the file holds the 3 steps, the last one done, none past it")
    st, r, _ = s.post("/env/reset", body='""', headers=JSON)
    st, r, _ = s.post("/env/step", body={"action": "stay"})
    check(st == 200 and r["info"]["step"] == 1, "after a reset the next step is step 1")
finally:
    s.cleanup()
done()
