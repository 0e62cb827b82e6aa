"""`cmake --install` gives a podgym that runs on its own: the binary in
PREFIX/bin, the default scripts (with scripts/lib) and policies under
PREFIX/share/podgym, found by the installed binary from any folder with no
config, while the source tree and the build tree stay out of reach."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import SANITIZER_MARKS, SRC, check, done, skip  # noqa: E402

BUILD = os.environ.get("PODGYM_BUILD")
CMAKE = os.environ.get("PODGYM_CMAKE") or shutil.which("cmake")
if not BUILD or not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
    skip("PODGYM_BUILD names no configured build tree")
if not CMAKE:
    skip("no cmake to install with")

top = tempfile.mkdtemp(prefix="podgym-install-")
prefix = os.path.join(top, "prefix")
cwd = os.path.join(top, "elsewhere")           # an unrelated folder: no scripts/, no podgym.yaml
os.mkdir(cwd)
proc = None
try:
    p = subprocess.run([CMAKE, "--install", BUILD, "--prefix", prefix], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "cmake --install %s --prefix P (%s)" % (BUILD, p.stderr.strip()[-300:]))
    exe = os.path.join(prefix, "bin", "podgym")
    share = os.path.join(prefix, "share", "podgym")
    check(os.access(exe, os.X_OK), "P/bin/podgym is installed")
    want = [os.path.join("scripts", f) for f in os.listdir(os.path.join(SRC, "scripts")) if f.endswith(".lua")]
    for top_, _, files in os.walk(os.path.join(SRC, "scripts", "lib")):   # with lib/ui/ (the /ui page)
        want += [os.path.relpath(os.path.join(top_, f), SRC) for f in files]
    want += [os.path.join("policies", f) for f in os.listdir(os.path.join(SRC, "policies"))]
    missing = [f for f in want if not os.path.isfile(os.path.join(share, f))]
    check(want and not missing, "every default script, route helper and policy is under P/share/podgym (missing %s)"
          % missing)
    check(not os.path.exists(os.path.join(prefix, "bin", "podgym-source-dir")),
          "the installed binary has no way back to the source tree")

    # The installed copy's own files are the ones used: a route added to
    # P/share/podgym/scripts is served, bounds edited in P's scaling.lua apply.
    with open(os.path.join(share, "scripts", "where.lua"), "w") as f:
        f.write('return { method = "GET", path = "/where", handler = function() return { installed = true } end }\n')
    with open(os.path.join(share, "policies", "scaling.lua"), "w") as f:
        f.write("return { min = 2, max = 3, step = 1, timeout_s = 90 }\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith("PODGYM_")}
    p = subprocess.run([exe, "check"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    m = re.search(r"(\d+) routes compiled", p.stdout + p.stderr)
    check(p.returncode == 0 and m and int(m.group(1)) > 5,
          "podgym check from an unrelated folder exits 0 and compiles the installed routes (%d: %s)"
          % (p.returncode, (p.stdout + p.stderr).strip()))

    p = subprocess.run([exe, "repl"], cwd=cwd, env=env, input="help(k8s.scale)\n", capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0 and "Set the Deployment's replicas" in p.stdout,
          "the installed repl's help() has the API documentation built in (%s)" % (p.stdout + p.stderr).strip()[-200:])

    log = open(os.path.join(top, "serve.log"), "w+")
    proc = subprocess.Popen([exe, "serve", "--listen", "127.0.0.1:0"], cwd=cwd, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    port, deadline = None, time.time() + 10
    while not port and time.time() < deadline and proc.poll() is None:
        with open(log.name) as f:
            m = re.search(r"listening on http://[^:]+:(\d+)", f.read())
        port = m and int(m.group(1))
        time.sleep(0.02)
    if not port:
        with open(log.name) as f:
            print(f.read())
    check(port, "podgym serve from the installed copy starts with no config")

    def req(method, path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body='""' if method == "POST" else None)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body

    if port:
        st, body = req("GET", "/")
        check(st == 200 and body == "Hello, World!", "GET / -> 200 Hello, World! (%d)" % st)
        st, body = req("GET", "/pod")
        check(st == 200 and "system" in json.loads(body), "GET /pod -> 200 with the pods (%d)" % st)
        st, body = req("GET", "/ui")
        check(st == 200 and "<table id=\"pods\"" in body, "GET /ui serves the installed page (%d)" % st)
        st, body = req("GET", "/where")
        check(st == 200 and json.loads(body) == {"installed": True}, "a route added under P/share/podgym is served")
        st, body = req("POST", "/pod/set-pod-count/4")
        err = json.loads(body)
        check(st == 422 and err.get("min") == 2 and err.get("max") == 3,
              "the bounds come from P/share/podgym/policies/scaling.lua (%d %s)" % (st, body))
finally:
    if proc:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        with open(log.name, errors="replace") as f:
            text = f.read()
        found = [m for m in SANITIZER_MARKS if m in text]
        check(not found, "no sanitizer report in the server log (%s)" % (text[-3000:] if found else "clean"))
    shutil.rmtree(top, ignore_errors=True)
done()
