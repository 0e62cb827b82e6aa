"""A route can never hold a worker forever, even stuck inside one C call
where no hook reaches (a backtracking pattern match, an endless string.rep
or table.move): it answers 504 deadline soon after its deadline, the server
keeps answering, and its CPU goes back to idle. SIGTERM stops the server
within 2 s whatever the requests are doing, the sampler's rows whole."""
import os
import re
import shutil
import signal
import tempfile
import threading
import time

from pgtest import SRC, Server, check, done, is_error, write

HELLO = 'return {method="GET", path="/", handler=function() return "Hello, World!" end}\n'
BOMBS = {
    "find": '("a"):rep(5000):find(".-.-.-.-.-.-b")',
    "match": '("a"):rep(5000):match("(.-)(.-)(.-)(.-)(.-)(.-)b")',
    "gsub": '("a"):rep(5000):gsub(".-.-.-.-.-.-b", "x")',
    "gmatch": 'for _ in ("a"):rep(5000):gmatch(".-.-.-.-.-.-b") do end',
    "rep": '(""):rep(1e15)',
    "move": "table.move({}, 1, 1e15, 2)",
    "coroutine": 'coroutine.wrap(function() return ("a"):rep(5000):find(".-.-.-.-.-.-b") end)()',
    "pcall": 'while true do pcall(string.find, ("a"):rep(5000), ".-.-.-.-.-.-b") end',
    "big": 'local held = {} for i = 1, 40 do held[i] = ("x"):rep(1 << 20) .. i end'
           ' (""):rep(1e15)',
}
ROUTES = "return {\n" + "".join(
    '  {method="GET", path="/bomb/%s", handler=function() log.info("in flight: /bomb/%s"); %s return {} end},\n'
    % (k, k, v) for k, v in BOMBS.items()) + """
  {method="GET", path="/sort", handler=function()
      local t = {} for i = 1, 20000 do t[i] = i % 7 end
      table.sort(t, function() return true end) return {} end},
  {method="GET", path="/locked/{what}", handler=function(req)
      return data.locked("section", function()
        if req.params.what == "bomb" then ("a"):rep(5000):find(".-.-.-.-.-.-b") end
        return {ok = true} end) end},
  {method="GET", path="/wait", handler=function() log.info("in flight: /wait"); k8s.sleep(60) return {} end},
  {method="GET", path="/sample", handler=function()
      return assert(sampler.start { interval = 0.02, duration = 100, file = "run.csv" }) end},
}
"""
DEADLINE = 0.3
SLACK = 4.0     # the deadline is CPU time: on a busy machine the wall clock runs ahead of it


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")     # utime + stime


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def timed_get(s, path, out, key):
    t0 = time.time()
    try:
        st, body, _ = s.get(path, timeout=60)
    except Exception as exc:   # noqa: BLE001: an unanswered request is what the test reports
        st, body = None, str(exc)
    out[key] = (st, body, time.time() - t0)


def serve(config):
    """A server with these routes only (and the route helpers the sampler's probe needs)."""
    scripts = tempfile.mkdtemp(prefix="podgym-runaway-")
    shutil.copytree(os.path.join(SRC, "scripts", "lib"), os.path.join(scripts, "lib"))
    write(os.path.join(scripts, "hello.lua"), HELLO)
    write(os.path.join(scripts, "bombs.lua"), ROUTES)
    return Server(config=config, scripts=scripts)


def cleanup(s):
    s.cleanup()
    shutil.rmtree(s.scripts, ignore_errors=True)


s = serve("limits: {lua_deadline_ms: %d}\n" % (DEADLINE * 1000))
try:
    st, body, _ = s.get("/")
    check(st == 200, "the server answers (%s)" % st)

    # The pattern twice in a row, GET / answered while it runs.
    for i in range(2):
        got = {}
        t = threading.Thread(target=timed_get, args=(s, "/bomb/find", got, "bomb"))
        t.start()
        time.sleep(0.1)
        timed_get(s, "/", got, "hello")
        t.join(60)
        st, body, took = got["bomb"]
        check(st == 504 and is_error(body, "deadline"),
              "a backtracking pattern (%d): 504 deadline (%s %s)" % (i + 1, st, body))
        check(took < DEADLINE + SLACK, "... in %.2f s (deadline %.1f s)" % (took, DEADLINE))
        print("  pattern %d: 504 in %.3f s" % (i + 1, took))
        check(got["hello"][0] == 200 and got["hello"][2] < SLACK,
              "GET / answers while it runs (%s in %.2f s)" % (got["hello"][0], got["hello"][2]))

    for name in BOMBS:
        got = {}
        timed_get(s, "/bomb/" + name, got, name)
        st, body, took = got[name]
        check(st == 504 and is_error(body, "deadline") and took < DEADLINE + SLACK,
              "%s: 504 deadline in %.2f s (%s %s)" % (name, took, st, body))
    got = {}
    timed_get(s, "/sort", got, "sort")
    st, body, took = got["sort"]
    check(st in (500, 504) and took < DEADLINE + SLACK,
          "a sort with a broken comparator ends, with an error (%s in %.2f s)" % (st, took))

    # A named lock held around the stuck call is released with it.
    got = {}
    timed_get(s, "/locked/bomb", got, "bomb")
    check(got["bomb"][0] == 504, "stuck inside data.locked: 504 (%s)" % got["bomb"][0])
    timed_get(s, "/locked/ok", got, "ok")
    check(got["ok"][0] == 200 and got["ok"][2] < SLACK,
          "the section is free again afterwards (%s in %.2f s)" % (got["ok"][0], got["ok"][2]))

    # A stuck state's memory goes back too: it is closed, not leaked.
    start = status_kb(s.proc.pid, "VmRSS")
    for _ in range(5):
        got = {}
        timed_get(s, "/bomb/big", got, "big")
        check(got["big"][0] == 504, "a stuck call holding 40 MB: 504 (%s)" % got["big"][0])
    end = status_kb(s.proc.pid, "VmRSS")
    with open("/proc/%d/maps" % s.proc.pid) as f:
        asan = "libasan" in f.read()     # its quarantine keeps freed memory: RSS says nothing there
    print("  RSS: %d KB before five stuck 40 MB states, %d KB after" % (start, end))
    check(asan or end < 64 * 1024, "RSS stays below 64 MB (%d KB before, %d KB after)" % (start, end))

    time.sleep(0.3)
    c0 = cpu_s(s.proc.pid)
    time.sleep(1.0)
    idle = cpu_s(s.proc.pid) - c0
    print("  CPU over 1 s afterwards: %.2f s" % idle)
    check(idle < 0.2, "the server's CPU is back to idle (%.2f s of CPU over 1 s)" % idle)
    st, body, _ = s.get("/")
    check(st == 200 and body == "Hello, World!", "GET / answers afterwards")
    check("its Lua state is dropped" in s.logtext(), "the log says the stuck state was dropped")
finally:
    cleanup(s)

# SIGTERM with two runaways in flight, one request waiting and a sampler job:
# the deadline is long, so only the stop ends them.
s = serve("sim: {speed: 1}\nlimits: {lua_deadline_ms: 60000}\n")
try:
    st, body, _ = s.get("/sample")
    check(st == 200, "a sampler job starts (%s %s)" % (st, body))
    got = {}
    threads = [threading.Thread(target=timed_get, args=(s, p, got, k), daemon=True)
               for k, p in (("a", "/bomb/find"), ("b", "/bomb/gsub"), ("w", "/wait"))]
    for t in threads:
        t.start()
    deadline = time.time() + 30        # a loaded machine may take a while to start all three
    while time.time() < deadline and not all("in flight: " + p in s.logtext()
                                             for p in ("/bomb/find", "/bomb/gsub", "/wait")):
        time.sleep(0.05)
    time.sleep(0.2)                     # into their C calls
    check(not got and all("in flight: " + p in s.logtext() for p in ("/bomb/find", "/bomb/gsub", "/wait")),
          "the runaways and the waiting request are in flight (%s)" % got)
    t0 = time.time()
    s.signal(signal.SIGTERM)
    try:
        rc = s.proc.wait(5)
    except Exception:   # noqa: BLE001
        rc = None
    took = time.time() - t0
    print("  SIGTERM to exit: %.3f s" % took)
    check(rc == 0 and took < 2.0, "SIGTERM stops the server in %.2f s (exit status %s)" % (took, rc))
    log = s.logtext()
    check(all(re.search(r"access method=GET path=%s status=504" % p, log) for p in ("/bomb/find", "/bomb/gsub")),
          "the stop ended both runaways with their 504, not only the process")
    with open(os.path.join(s.data, "run.csv"), "rb") as f:
        text = f.read()
    lines = text.split(b"\n")
    check(text.endswith(b"\n") and len(lines) > 3, "the sampler's file ends with a whole row (%d lines)" % len(lines))
    check(all(line.count(b",") == lines[0].count(b",") for line in lines[1:-1]),
          "every row has the header's columns")
finally:
    cleanup(s)
done()
