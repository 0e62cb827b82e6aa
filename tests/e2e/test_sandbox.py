"""The route sandbox end to end: what a route script cannot reach, what it
can, the read-only globals, warn() in the log, and the per-state memory cap
(limits.lua_memory_mb) with the process's memory given back afterwards."""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import Server, check, done, is_error, write  # noqa: E402

# Each of these raises inside its route: a 500 whose body names no traceback.
FORBIDDEN = {
    "io": 'return io.open("/etc/passwd")',
    "os_execute": 'return os.execute("true")',
    "os_exit": "os.exit(3)",
    "os_remove": 'return os.remove("/tmp/x")',
    "os_rename": 'return os.rename("/tmp/x", "/tmp/y")',
    "os_tmpname": "return os.tmpname()",
    "os_getenv": 'return os.getenv("HOME")',
    "require_os": 'return require("os").execute("true")',
    "require_io": 'return require("io")',
    "dofile": 'return dofile("/etc/passwd")',
    "loadfile": 'return loadfile("/etc/passwd")',
    "string_dump": "return string.dump(function() end)",
    "method_dump": 'return ("x").dump(function() end)',
    "binary_chunk": 'return assert(load("\\27Lua\\84\\0"))()',
    "binary_chunk_mode": 'return assert(load("\\27Lua\\84\\0", "x", "b"))()',
    "package": 'return package.loadlib("libc.so.6", "system")',
    "require_package": 'return require("package").loadlib("libc.so.6", "system")',
    "debug_getinfo": "return debug.getinfo(1)",
    "debug_sethook": "return debug.sethook()",
    "require_debug": "return require('debug').getupvalue(print, 1)",
    "gc_collect": 'return collectgarbage("collect")',
    "gc_default": "return collectgarbage()",
    "gc_stop": 'return collectgarbage("stop")',
    "gc_mode": 'return collectgarbage("incremental")',
    "gc_big_step": 'return collectgarbage("step", 1000000)',
    "rawset_G": 'rawset(_G, "x", 1) return {x = x}',
    "rawset_ENV": 'rawset(_ENV, "json", 1) return {}',
    "setmetatable_G": "setmetatable(_G, nil) return {}",
    "new_global": "fresh_global = 1 return {}",
    "existing_global": "json = nil return {}",
    "field_of_G": "_G.k8s = nil return {}",
    "table_insert_G": "table.insert(_G, 1) return {}",
    "loaded_chunk_global": 'load("leaked = 1")() return {}',
    "unknown_global": "return {v = no_such_thing}",
    "gc_metatable": "setmetatable({}, {__gc = function() end}) return {}",
}

# Each of these works inside its route and returns this body.
ALLOWED = {
    "os_getenv_is_nil": ("return {nil_getenv = os.getenv == nil and require('os').getenv == nil}",
                         {"nil_getenv": True}),
    "os_clock_date": ("return {ok = type(os.time()) == 'number' and type(os.clock()) == 'number'"
                      " and os.date('!%Y', 0) == '1970' and os.difftime(2, 1) == 1}", {"ok": True}),
    "libs": ("return {utf8 = utf8.char(72, 105), co = coroutine.wrap(function() coroutine.yield(7) end)(),"
             " tb = type(debug.traceback()), m = math.max(1, 2), t = table.concat({'a', 'b'})}",
             {"utf8": "Hi", "co": 7, "tb": "string", "m": 2, "t": "ab"}),
    "gc_reading": ("return {count = type(collectgarbage('count')), step = type(collectgarbage('step')),"
                   " small = type(collectgarbage('step', 64)), running = collectgarbage('isrunning')}",
                   {"count": "number", "step": "boolean", "small": "boolean", "running": True}),
    "text_load": ("return {v = load('return 1 + 1')(), env = load('return x', 'c', 't', {x = 3})()}",
                  {"v": 2, "env": 3}),
    "globals_view": ("local n = 0 for k in pairs(_G) do if k == 'json' then n = n + 1 end end"
                     " return {pairs = n, rawget = rawget(_G, 'json') == json, mt = getmetatable(_G),"
                     " raw = next(_G) == nil}", {"pairs": 1, "rawget": True, "mt": False, "raw": True}),
    "own_env": ("local _ENV = setmetatable({}, {__index = _G}) y = 5 return {y = y}", {"y": 5}),
    "modules": ("return {json = require('json') == json, k8s = type(require('k8s').pods)}",
                {"json": True, "k8s": "function"}),
    "warn": ("warn('sandbox-warning-', 'one piece') warn('@off') warn('hidden-warning') warn('@on')"
             " warn('@unknown-control') return {}", {}),
}

MEMORY = r'''
local marked = false
return {
  {method="GET", path="/mem/rep", handler=function() return string.rep("x", 1 << 30) end},
  {method="GET", path="/mem/table", handler=function()
      local t = {}
      for i = 1, math.huge do t[i] = i end
    end},
  {method="GET", path="/mem/strings", handler=function()
      local t = {}
      for i = 1, math.huge do t[i] = ("x"):rep(1000) .. i end
    end},
  {method="GET", path="/mem/swallowed", handler=function()
      local ok = pcall(string.rep, "x", 1 << 30)
      return {caught = not ok}
    end},
  {method="GET", path="/mem/mark", handler=function() marked = true; return {} end},
  {method="GET", path="/mem/marked", handler=function() return {marked = marked} end},
  {method="GET", path="/mem/small", handler=function() return {n = #string.rep("y", 1 << 20)} end},
}
'''


def routes(cases):
    out = ["return {"]
    for name, code in cases.items():
        out.append('  {method="GET", path="/s/%s", handler=function(req)\n    %s\n  end},' % (name, code))
    out.append("}")
    return "\n".join(out) + "\n"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def asan(pid):
    """AddressSanitizer's allocator keeps freed memory in its quarantine: RSS says nothing there."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


HELLO = 'return {method="GET", path="/", handler=function() return "Hello, World!" end}\n'

s = Server(copy_scripts=False)
try:
    write(os.path.join(s.scripts, "hello.lua"), HELLO)
    write(os.path.join(s.scripts, "forbidden.lua"), routes(FORBIDDEN))
    write(os.path.join(s.scripts, "allowed.lua"), routes({k: v[0] for k, v in ALLOWED.items()}))
    write(os.path.join(s.scripts, "memory.lua"), MEMORY)
    st, body, _ = s.post("/_engine/reload")
    check(st == 200, "the sandbox routes load (%s %s)" % (st, body))

    for name in FORBIDDEN:
        st, body, _ = s.get("/s/" + name)
        msg = body["error"]["message"] if is_error(body) else str(body)
        check(st == 500 and is_error(body) and "traceback" not in msg and "\n" not in msg,
              "sandbox: %s raises: 500, one line (%s %s)" % (name, st, msg[:140]))
    for name, (_, want) in ALLOWED.items():
        st, body, _ = s.get("/s/" + name)
        check(st == 200 and body == want, "sandbox: %s works (%s %s)" % (name, st, body))
    check(s.get("/")[0] == 200, "the server still answers after every forbidden call")

    log = s.logtext()
    check("lua warning: sandbox-warning-one piece" in log, "warn() with two pieces is one WARN log line")
    check("hidden-warning" not in log and "unknown-control" not in log,
          "warn('@off') silences warnings and other '@' controls are not logged")

    # The memory cap: each bomb is a 503 lua_memory for its own request, its
    # state is closed, and the memory goes back to the system.
    s.get("/")
    start = rss_kb(s.proc.pid)
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)

    def get(path):
        conn.request("GET", path)
        r = conn.getresponse()
        data = r.read()
        return r.status, json.loads(data) if "json" in (r.getheader("Content-Type") or "") else data

    bombs = {"/mem/rep": 0, "/mem/table": 0, "/mem/strings": 0, "/mem/swallowed": 0}
    peak = start
    for _ in range(20):
        for path in bombs:
            st, body = get(path)
            if st == 503 and is_error(body, "lua_memory") and "64 MB" in body["error"]["message"]:
                bombs[path] += 1
            peak = max(peak, rss_kb(s.proc.pid))
    for path, n in bombs.items():
        check(n == 20, "%s: 503 lua_memory, 20 times of 20 (%d)" % (path, n))
    st, body = get("/")
    check(st == 200, "GET / answers after the bombs")
    end = rss_kb(s.proc.pid)
    if asan(s.proc.pid):
        print("# RSS not checked: AddressSanitizer's quarantine holds the freed memory")
    else:
        check(end < start + 64 * 1024, "RSS back below start + 64 MB: start %d KB, after %d KB (peak seen %d KB)"
              % (start, end, peak))
    st, body = get("/mem/small")
    check(st == 200 and body == {"n": 1 << 20}, "an ordinary route still works (a 1 MB string)")
    # One keep-alive connection and no concurrency: one state serves every
    # request, so a mark set in it is seen until that state is replaced.
    get("/mem/mark")
    st, body = get("/mem/marked")
    check(body == {"marked": True}, "the same state serves the next request")
    get("/mem/rep")
    st, body = get("/mem/marked")
    check(st == 200 and body == {"marked": False}, "after a bomb the request runs on a fresh state")
    conn.close()
    check("Lua memory limit of 64 MB exceeded" in s.logtext(), "the memory cap is logged")
    print("# RSS: start %d KB, peak %d KB, after 80 bombs %d KB" % (start, peak, end))
finally:
    s.cleanup()

# limits.lua_memory_mb: 0 is no cap; a smaller one is that cap.
s = Server(config="limits: {lua_memory_mb: 8}\n", copy_scripts=False)
try:
    write(os.path.join(s.scripts, "memory.lua"), MEMORY)
    s.post("/_engine/reload")
    st, body, _ = s.get("/mem/small")
    check(st == 200, "8 MB cap: a 1 MB string is fine")
    st, body, _ = s.get("/mem/strings")
    check(st == 503 and is_error(body, "lua_memory") and "8 MB" in body["error"]["message"],
          "8 MB cap: the string loop is a 503 naming 8 MB (%s)" % body)
finally:
    s.cleanup()
done()
