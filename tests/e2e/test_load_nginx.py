"""The native load generator against a real nginx on loopback, through
`podgym run` scripts calling the `jmeter` module (jmeter.load is
loadgen.run, checked once): closed and open loop with
exact counts (seen by nginx too), drops from a location that fails, timeouts
against a socket nobody reads, refused connections, keep-alive on/off,
methods/headers/bodies/multipart, the JTL round trip, the thesis' .jmx plan
imported and run, bad input, and the live progress line on a terminal only.
"""
import csv
import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import BIN, SRC, check, done, free_port, skip  # noqa: E402

TMP = tempfile.mkdtemp(prefix="podgym-load-")


def start_nginx():
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(exe):
        skip("nginx is not installed")
    d = os.path.join(TMP, "nginx")
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(d, sub))
    port, port2 = free_port(), free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log;
events { worker_connections 1024; }
http {
  log_format t '$msec $request_method $request_uri $status $connection_requests "$http_x_test" "$content_type" $content_length';
  access_log %(d)s/logs/access.log t;
  client_body_temp_path %(d)s/tmp; proxy_temp_path %(d)s/tmp; fastcgi_temp_path %(d)s/tmp;
  uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
  client_max_body_size 20m;
  server {
    listen 127.0.0.1:%(port)d;
    location /ok { default_type text/plain; return 200 "ok\\n"; }
    location /fail { return 500; }
    location /api/ { default_type text/plain; return 200 "classified\\n"; }
  }
  server {
    listen 127.0.0.1:%(port2)d;
    keepalive_requests 3;
    location / { default_type text/plain; return 200 "three per connection\\n"; }
  }
}
""" % {"d": d, "port": port, "port2": port2})
    proc = subprocess.Popen([exe, "-p", d, "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            skip("nginx cannot start: " + proc.stderr.read().decode(errors="replace").strip()[:200])
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port, port2, os.path.join(d, "logs", "access.log")
        except OSError:
            time.sleep(0.02)
    proc.kill()
    skip("nginx did not listen within 10 s")


nginx, PORT, PORT3, ACCESS = start_nginx()
BASE = "http://127.0.0.1:%d" % PORT
DATA = os.path.join(TMP, "data")
CFG = os.path.join(TMP, "podgym.yaml")
with open(CFG, "w") as f:
    f.write("data_dir: %s\nload:\n  max_duration_s: 120\n  timeout_s: 5\n" % DATA)

# A listening socket nobody reads: requests to it never get an answer.
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(128)
SILENT = silent.getsockname()[1]
REFUSED = free_port()


def odd_server():
    """A server answering in framings nginx does not use: /chunked (chunked
    body, keep-alive), /eof (no length, the body ends with the connection),
    /split (the status line and headers in separate writes), /garbage (not
    HTTP at all)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve(c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                path = head.split(b" ")[1]
                if path.startswith(b"/chunked"):
                    c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"6\r\nchunk \r\n5;x=y\r\nbody!\r\n0\r\n\r\n")
                elif path.startswith(b"/split"):
                    c.sendall(b"HTTP/1.1 200 O")
                    time.sleep(0.02)
                    c.sendall(b"K\r\nContent-Le")
                    time.sleep(0.02)
                    c.sendall(b"ngth: 4\r\n\r\nbo")
                    time.sleep(0.02)
                    c.sendall(b"dy")
                elif path.startswith(b"/eof"):
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until the end")
                    return
                else:
                    c.sendall(b"SSH-2.0-nope\r\n\r\n")
                    return
        except OSError:
            pass
        finally:
            c.close()

    def accept():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls


odd = odd_server()
ODD = "http://127.0.0.1:%d" % odd.getsockname()[1]


CLIENT = "auto"
MARK = [0]      # access() reads nginx's log from this offset on


def script(name, code):
    path = os.path.join(TMP, name + ".lua")
    with open(path, "w") as f:
        f.write("local json = require 'json'\nlocal BASE = %s\n" % json.dumps(BASE))
        if CLIENT != "auto":     # every jmeter.load of the script through one client
            f.write("do local load = jmeter.load\n"
                    "  jmeter.load = function(o) if not o.file then o.client = o.client or %s end\n"
                    "    return load(o) end end\n"
                    % json.dumps(CLIENT))
        f.write(code + "\n")
    return path


def lua(name, code, timeout=120):
    """Run a script with podgym run; its last stdout line is JSON."""
    p = subprocess.run([BIN, "run", "-c", CFG, script(name, code)], capture_output=True, text=True,
                       timeout=timeout, cwd=TMP)
    out = p.stdout.strip().splitlines()
    if p.returncode != 0 or not out:
        print("script %s failed (%d):\n%s\n%s" % (name, p.returncode, p.stdout, p.stderr))
        return None, p
    return json.loads(out[-1]), p


def access(marker, want=0):
    """nginx's log lines whose URI contains marker. nginx writes a line once
    the response is out, so a client can be done before it: with want, wait
    up to 5 s for that many."""
    deadline = time.time() + 5
    while True:
        with open(ACCESS) as f:
            f.seek(MARK[0])
            lines = [line.split(" ") for line in f if marker in line]
        if len(lines) >= want or time.time() > deadline:
            return lines
        time.sleep(0.02)


# The thesis' plan, pointed at this nginx and a local image, runs ~50 s
# (6 samples at 6/min): start it first, check it last.
with open(os.path.join(SRC, "tests", "fixtures", "Thread-Reward-Test.jmx")) as f:
    plan_text = f.read()
image = os.path.join(TMP, "eagle.jpg")
with open(image, "wb") as f:
    f.write(b"\xff\xd8\xff\xe0" + os.urandom(40000) + b"\xff\xd9")
win_path = ("C:\\Users\\natni\\source\\repos\\master-thesis-image-recognition\\dataset\\"
            "haliaeetus-leucocephalus\\haliaeetus-leucocephalus_21_95718ff5.jpg")
check(plan_text.count(win_path) == 2 and "<stringProp name=\"HTTPSampler.port\">30030<" in plan_text,
      "the seed plan has the thesis' host, port and image path")
seed = os.path.join(TMP, "Thread-Reward-Test.jmx")
with open(seed, "w") as f:
    f.write(plan_text.replace(win_path, image)
            .replace("<stringProp name=\"HTTPSampler.port\">30030<",
                     "<stringProp name=\"HTTPSampler.port\">%d<" % PORT))
seed_proc = subprocess.Popen(
    [BIN, "run", "-c", CFG, script("seed", """
local r, err = jmeter.load_plan{plan = %s, samples = true, jtl = "seed.jtl"}
print(json.encode(r or {error = err}))""" % json.dumps(seed))],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TMP)

try:
    # Every run below goes once through each HTTP client of the generator:
    # h1 (plain http://, the default there) and libcurl (client = "curl").
    for CLIENT in ("h1", "curl"):
        MARK[0] = os.path.getsize(ACCESS)
        # ---- closed loop: threads x loops, exact, seen by nginx ----
        r, _ = lua("closed", """
    local r = assert(jmeter.load{url = BASE .. "/ok?c=closed", threads = 4, loops = 25, samples = true})
    local per = {}
    for _, s in ipairs(r.samples) do per[s.thread] = (per[s.thread] or 0) + 1 end
    print(json.encode({count = r.count, summary = r.summary, per = per, code = r.samples[1].code,
                       msg = r.samples[1].message, label = r.samples[1].label, client = r.client}))""")
        check(r and r["client"] == CLIENT, "the run went through the %s client" % CLIENT)
        check(r and r["count"] == 100 and r["summary"]["count"] == 100, "closed loop 4 x 25: 100 samples")
        check(r and r["summary"]["errors"] == 0 and r["summary"]["drop_pct"] == 0, "closed loop: no errors")
        check(r and r["per"] == [25, 25, 25, 25], "closed loop: 25 samples per thread (threads 1..4)")
        check(r and r["code"] == 200 and r["msg"] == "OK" and r["label"] == "HTTP Request", "sample code/message/label")
        check(len(access("c=closed", 100)) == 100, "nginx saw exactly 100 closed-loop requests")
        lat = r and r["summary"]["latency"]
        check(lat and 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"] and lat["mean"] > 0,
              "latency statistics are ordered")

        # ---- open loop: arrivals at a rate, intended send times ----
        r, _ = lua("open", """
    local r = assert(jmeter.load{url = BASE .. "/ok?c=open", rate = 50, duration = 2, samples = true})
    local ts = {}
    for i, s in ipairs(r.samples) do ts[i] = s.ts end
    table.sort(ts)
    print(json.encode({count = r.count, errors = r.summary.errors, first = ts[1], last = ts[#ts],
                       thr = r.summary.throughput_rps}))""")
        check(r and r["count"] == 100 and r["errors"] == 0, "open loop 50/s for 2 s: 100 samples, no errors")
        check(r and abs((r["last"] - r["first"]) - 1.98) < 0.0025, "open loop: intended send times 20 ms apart")
        check(len(access("c=open", 100)) == 100, "nginx saw exactly 100 open-loop requests")

        # ---- a rate profile; ramp-up and think time in closed loop ----
        r, _ = lua("profile", """
    local p = assert(jmeter.load{url = BASE .. "/ok?c=profile", profile = {{0, 20}, {0.5, 60}}, duration = 1})
    local t_before = clock.now()
    local c = assert(jmeter.load{url = BASE .. "/ok?c=think", threads = 2, loops = 3, ramp = 1, think = 100,
                                 samples = true})
    local first, gaps = {}, {}
    local last = {}
    table.sort(c.samples, function(a, b) return a.ts < b.ts end)
    for _, s in ipairs(c.samples) do
      if last[s.thread] then gaps[#gaps + 1] = s.ts - last[s.thread] end
      first[s.thread] = first[s.thread] or s.ts
      last[s.thread] = s.ts
    end
    local mingap = math.huge
    for _, g in ipairs(gaps) do mingap = math.min(mingap, g) end
    print(json.encode({pcount = p.count, perrors = p.summary.errors, ccount = c.count,
                       ramp = first[2] - first[1], offset2 = first[2] - t_before, mingap = mingap}))""")
        check(r and r["pcount"] == 40 and r["perrors"] == 0, "rate profile 20/s then 60/s over 1 s: 10 + 30 samples")
        check(len(access("c=profile", 40)) == 40, "nginx saw the 40 profile requests")
        # measured send times: a busy machine wakes either thread late, so what holds whatever the
        # load is that the 2nd thread never starts before half the ramp, and after the 1st
        check(r and r["ccount"] == 6 and r["offset2"] >= 0.495 and r["ramp"] > 0,
              "ramp-up: the 2nd of 2 threads starts half the ramp in, after the 1st (%s s in, %s s after)"
              % (r and r["offset2"], r and r["ramp"]))
        check(r and r["mingap"] >= 0.099, "think time: a thread waits 100 ms between its samples")

        # ---- drops: a quarter of the requests go to a location that fails ----
        r, _ = lua("drops", """
    local u = BASE .. "/ok?c=drops"
    local r = assert(jmeter.load{urls = {u, u, u, BASE .. "/fail?c=drops"}, rate = 40, duration = 1,
                                 samples = true})
    local c500 = 0
    for _, s in ipairs(r.samples) do if s.code == 500 and not s.success then c500 = c500 + 1 end end
    print(json.encode({count = r.count, errors = r.summary.errors, drop = r.summary.drop_pct, c500 = c500}))""")
        check(r and r["count"] == 40 and r["errors"] == 10 and r["c500"] == 10, "40 requests, 10 answered 500")
        check(r and r["drop"] == 25, "drop_pct is 25 %% (%s)" % (r and r["drop"]))
        check(len(access("c=drops", 40)) == 40 and sum(1 for x in access("c=drops") if x[3] == "500") == 10,
              "nginx answered 10 of 40 with 500")

        # ---- timeouts: a listening socket nobody reads ----
        r, _ = lua("timeouts", """
    local r = assert(jmeter.load{url = "http://127.0.0.1:%d/never", rate = 10, duration = 1, timeout = 0.5,
                                 samples = true})
    local min_el, msgs = math.huge, {}
    for _, s in ipairs(r.samples) do min_el = math.min(min_el, s.elapsed); msgs[s.message] = true end
    print(json.encode({count = r.count, errors = r.summary.errors, drop = r.summary.drop_pct, min_el = min_el,
                       msgs = msgs, code = r.samples[1].code}))""" % SILENT)
        check(r and r["count"] == 10 and r["errors"] == 10 and r["drop"] == 100,
              "a server that never answers: 10 of 10 samples failed, none missing")
        check(r and list(r["msgs"]) == ["timeout"] and r["code"] == 0, "their message is 'timeout', code 0")
        check(r and r["min_el"] >= 499, "a timed-out sample's elapsed is the timeout (%s ms)" % (r and r["min_el"]))

        # ---- refused: nothing listens ----
        r, _ = lua("refused", """
    local r = assert(jmeter.load{url = "http://127.0.0.1:%d/", rate = 20, duration = 1})
    local c = assert(jmeter.load{url = "http://127.0.0.1:%d/", threads = 3, loops = 4})
    print(json.encode({count = r.count, errors = r.summary.errors, drop = r.summary.drop_pct,
                       ccount = c.count, cdrop = c.summary.drop_pct}))""" % (REFUSED, REFUSED))
        check(r and r["count"] == 20 and r["errors"] == 20 and r["drop"] == 100,
              "refused connections: 100 %% drops with the right count (open loop)")
        check(r and r["ccount"] == 12 and r["cdrop"] == 100, "refused connections: 12 of 12 dropped (closed loop)")

        # ---- methods, headers, bodies, multipart, keep-alive ----
        r, _ = lua("requests", """
    local a = assert(jmeter.load{url = BASE .. "/ok?c=post", method = "POST", body = '{"a":1}', threads = 1,
                                 loops = 5, headers = {["X-Test"] = "yes", ["Content-Type"] = "application/json"}})
    local b = assert(jmeter.load{url = BASE .. "/ok?c=put", method = "PUT", body = "xyz", threads = 1, loops = 2})
    local c = assert(jmeter.load{url = BASE .. "/ok?c=del", method = "DELETE", threads = 1, loops = 2})
    local d = assert(jmeter.load{url = BASE .. "/api/v1/ml/classify?c=upload", method = "POST", threads = 1,
                                 loops = 3, file = {path = %s, param = "file", mime = "image/jpeg"}, samples = true})
    local e = assert(jmeter.load{url = BASE .. "/ok?c=noka", threads = 2, loops = 5, keepalive = false})
    local f = assert(jmeter.load{url = BASE .. "/ok?c=ka", threads = 1, loops = 5})
    print(json.encode({a = a.summary.errors, b = b.summary.errors, c = c.summary.errors, d = d.summary.errors,
                       e = e.summary.errors, f = f.summary.errors, sent = d.samples[1].sent_bytes}))""" % json.dumps(image))
        check(r and all(r[k] == 0 for k in "abcdef"), "POST/PUT/DELETE/upload/keep-alive runs answered")
        post = access("c=post", 5)
        check(len(post) == 5 and all(x[1] == "POST" and x[5] == '"yes"' and x[6] == '"application/json"'
                                     and x[7].strip() == "7" for x in post),
              "POST with a raw body and headers reached nginx as sent")
        check([x[1] for x in access("c=put")] == ["PUT"] * 2 and [x[1] for x in access("c=del")] == ["DELETE"] * 2,
              "PUT and DELETE")
        up = access("c=upload", 3)
        check(len(up) == 3 and all(x[1] == "POST" and x[6] == '"multipart/form-data;' and x[7].startswith("boundary=")
                                   and int(x[-1]) > 40006 for x in up),
              "multipart upload of the image file")
        check(r and r["sent"] > 40006, "sent_bytes counts the uploaded file (%s)" % (r and r["sent"]))
        check(len(access("c=noka", 10)) == 10 and all(x[4] == "1" for x in access("c=noka")),
              "keepalive=false: a new connection per request")
        check(max(int(x[4]) for x in access("c=ka")) == 5, "keep-alive: one connection for 5 requests")

        # ---- framings nginx does not use, and a server that closes every 3rd request ----
        r, _ = lua("framing", """
    local function run(path, n)
      local r = assert(jmeter.load{url = %s .. path, threads = 2, loops = n, samples = true})
      local codes, bytes = {}, {}
      for _, s in ipairs(r.samples) do codes[#codes + 1] = s.code; bytes[tostring(s.bytes)] = true end
      return {count = r.count, errors = r.summary.errors, codes = codes, msg = r.samples[1].message,
              bytes = bytes}
    end
    local rot = assert(jmeter.load{url = "http://127.0.0.1:%d/", threads = 2, loops = 10})
    print(json.encode({chunked = run("/chunked", 5), eof = run("/eof", 3), split = run("/split", 2),
                       garbage = run("/garbage", 2), rot = {count = rot.count, errors = rot.summary.errors}}))
    """ % (json.dumps(ODD), PORT3))
        ok = lambda k, n: r and r[k]["count"] == n and r[k]["errors"] == 0 and set(r[k]["codes"]) == {200}
        check(ok("chunked", 10), "a chunked body: 10 samples answered 200")
        check(r and list(r["chunked"]["bytes"]) == [str(47 + 11)], "bytes: headers + decoded chunks (%s)"
              % (r and r["chunked"]["bytes"]))
        check(ok("eof", 6), "a body delimited by the connection's end: 6 samples answered 200")
        check(ok("split", 4), "a response arriving in pieces: 4 samples answered 200")
        check(r and r["garbage"]["count"] == 4 and r["garbage"]["errors"] == 4
              and set(r["garbage"]["codes"]) == {0}, "an answer that is not HTTP: 4 failed samples, code 0 (%s)"
              % (r and r["garbage"]["msg"]))
        check(CLIENT != "h1" or (r and r["garbage"]["msg"] == "malformed status line"),
              "h1: the failed sample says why (%s)" % (r and r["garbage"]["msg"]))
        check(r and r["rot"]["count"] == 20 and r["rot"]["errors"] == 0,
              "a server that closes the connection every 3 requests: 20 samples, no errors")

        # ---- JTL written and read back ----
        r, _ = lua("jtl", """
    local a = assert(jmeter.load{urls = {BASE .. "/ok?c=jtl", BASE .. "/fail?c=jtl"}, threads = 2, loops = 10,
                                 jtl = "roundtrip.jtl", samples = true, label = "round, \\"trip\\""})
    local b = assert(jmeter.read_jtl(a.jtl, {samples = true}))
    print(json.encode({a = a, b = b}))""")
        a, b = (r["a"], r["b"]) if r else ({}, {})
        check(r and a["jtl"].startswith(DATA + "/") and os.path.exists(a["jtl"]), "the JTL is written under data_dir")
        same = bool(r) and a["count"] == b["count"] == 20
        for x, y in zip(a.get("samples", []), b.get("samples", [])):
            same = same and abs(x["ts"] - y["ts"]) < 1e-6 and round(x["elapsed"]) == y["elapsed"] \
                and round(x["latency"]) == y["latency"] and x["code"] == y["code"] and x["success"] == y["success"] \
                and x["message"] == y["message"] and x["url"] == y["url"] and x["thread"] == y["thread"] \
                and x["label"] == y["label"] == 'round, "trip"' and x["bytes"] == y["bytes"] \
                and x["sent_bytes"] == y["sent_bytes"]
        check(same, "every sample read back from the JTL as written (times in whole ms, as JMeter)")
        check(r and b["summary"]["errors"] == a["summary"]["errors"] == 10, "read back: 10 errors of 20")
        if r:
            with open(a["jtl"], newline="") as f:
                rows = list(csv.reader(f))
            check(",".join(rows[0]) == "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,"
                  "success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect",
                  "JMeter 5.x default header")
            body = rows[1:]
            check(len(body) == 20 and sum(1 for x in body if x[7] == "false") == 10
                  and all(x[2] == 'round, "trip"' for x in body), "an independent CSV reader agrees")
            mean_lat = sum(int(x[14]) for x in body) / len(body)
            check(abs(b["summary"]["latency"]["mean"] - mean_lat) < 1e-9, "mean Latency equals the file's")

    CLIENT = "auto"
    MARK[0] = 0

    # ---- bad input: clear errors, no crash ----
    notxml = os.path.join(TMP, "notxml.jmx")
    with open(notxml, "w") as f:
        f.write("this is not a plan\n")
    badjtl = os.path.join(TMP, "bad.jtl")
    with open(badjtl, "w") as f:
        f.write("timeStamp,elapsed,success\n1700000000000,12,true\n1700000000001,abc,true\n")
    nocol = os.path.join(TMP, "nocol.jtl")
    with open(nocol, "w") as f:
        f.write("timeStamp,success\n1700000000000,true\n")
    # ---- the generator's own module; jmeter.load and jmeter.summarize are its functions ----
    mark, MARK[0] = MARK[0], os.path.getsize(ACCESS)
    r, _ = lua("loadgen", """
local r = assert(loadgen.run{url = BASE .. "/ok?c=loadgen", threads = 2, loops = 5, samples = true})
local a, b = loadgen.summarize(r.samples), jmeter.summarize(r.samples)
print(json.encode({count = r.count, driver = r.driver, same = a.count == b.count and a.elapsed.p99 == b.elapsed.p99,
                   lua_load = load("return 41 + 1")(), required = require("loadgen") == loadgen,
                   typo = select(2, pcall(loadgen.run, {url = BASE, thread = 2}))}))""")
    check(r and r["count"] == 10 and r["driver"] == "native" and len(access("c=loadgen", 10)) == 10,
          "loadgen.run: 2 threads x 5 loops, 10 samples, seen by nginx")
    check(r and r["same"] and r["required"], "jmeter.summarize is loadgen.summarize; require 'loadgen' is the global")
    check(r and r["lua_load"] == 42, "Lua's own load() is still there beside the loadgen module")
    check(r and "loadgen.run: unknown option 'thread'" in r["typo"], "loadgen.run names itself in errors (%s)"
          % (r and r["typo"]))
    MARK[0] = mark

    r, _ = lua("bad", """
local function e(f, ...) local ok, err = f(...); return err or {code = "NO ERROR"} end
print(json.encode({
  rate0 = e(jmeter.load, {url = BASE .. "/ok", rate = 0}),
  rateneg = e(jmeter.load, {url = BASE .. "/ok", rate = -5}),
  long = e(jmeter.load, {url = BASE .. "/ok", rate = 1, duration = 1000}),
  url = e(jmeter.load, {url = "http//nope", rate = 1}),
  threads = e(jmeter.load, {url = BASE .. "/ok", threads = 0, loops = 1}),
  notxml = e(jmeter.load_plan, {plan = %s}),
  missing = e(jmeter.load_plan, {plan = %s}),
  importmissing = e(jmeter.import, %s),
  jtl = e(jmeter.read_jtl, %s),
  nocol = e(jmeter.read_jtl, %s),
  nojtl = e(jmeter.read_jtl, %s),
  typo = {message = select(2, pcall(jmeter.load, {url = BASE .. "/ok", thread = 2, loops = 1}))},
  h1tls = e(jmeter.load, {url = "https://127.0.0.1:1/", client = "h1", threads = 1, loops = 1}),
  noclient = {message = select(2, pcall(jmeter.load, {url = BASE .. "/ok", client = "quic", loops = 1}))},
  simlong = e(jmeter.load, {driver = "sim", rate = 1, duration = 1000}),
  simthreads = e(jmeter.load, {driver = "sim", threads = 20000, loops = 1}),
  paced = e(jmeter.load, {url = BASE .. "/ok", rate = 0.01, threads = 1, loops = 3}),
  conns = e(jmeter.load, {url = BASE .. "/ok", rate = 1, connections = 5000}),
  plantimeout = e(jmeter.load_plan, {plan = %s, timeout = -1}),
}))""" % (json.dumps(notxml), json.dumps(notxml + ".nope"), json.dumps(notxml + ".nope"), json.dumps(badjtl),
          json.dumps(nocol), json.dumps(badjtl + ".nope"), json.dumps(seed)))
    want = {"rate0": (400, "bad_rate"), "rateneg": (400, "bad_rate"), "long": (400, "too_long"),
            "url": (400, "bad_url"), "threads": (400, "bad_threads"), "notxml": (400, "bad_plan"),
            "missing": (404, "not_found"), "importmissing": (404, "not_found"), "jtl": (400, "bad_jtl"),
            "nocol": (400, "bad_jtl"), "nojtl": (404, "not_found"), "h1tls": (400, "bad_client"),
            # one plan check for every driver and entry point
            "simlong": (400, "too_long"), "simthreads": (400, "bad_threads"), "paced": (400, "too_long"),
            "conns": (400, "bad_connections"), "plantimeout": (400, "bad_timeout")}
    for k, (status, code) in want.items():
        got = r and r.get(k)
        check(got and got.get("status") == status and got.get("code") == code,
              "bad input %s -> %d %s (%s)" % (k, status, code, got and got.get("message")))
    check(r and "bad.jtl:3: column 'elapsed': not a number: 'abc'" in r["jtl"]["message"],
          "a malformed JTL line is named by file:line and column")
    check(r and "missing column 'elapsed'" in r["nocol"]["message"], "a missing JTL column is named")
    check(r and "unknown option 'thread' (did you mean 'threads'?)" in r["typo"]["message"],
          "a misspelt jmeter.load option is an error naming the right one (%s)" % (r and r["typo"]["message"]))
    check(r and "client must be 'auto', 'h1' or 'curl'" in r["noclient"]["message"],
          "an unknown client is misuse (%s)" % (r and r["noclient"]["message"]))

    # ---- live progress: on a terminal only ----
    prog = script("progress", """
local r = assert(jmeter.load{url = BASE .. "/ok?c=progress", rate = 20, duration = 1.2})
print(r.count)""")
    p = subprocess.run([BIN, "run", "-c", CFG, prog], capture_output=True, text=True, timeout=60, cwd=TMP)
    check(p.returncode == 0 and p.stdout.strip() == "24" and p.stderr == "",
          "no progress output when stderr is not a terminal")
    master, slave = pty.openpty()
    pp = subprocess.Popen([BIN, "run", "-c", CFG, prog], stdout=subprocess.PIPE, stderr=slave, cwd=TMP)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    pp.wait(60)
    os.close(master)
    text = tty.decode(errors="replace")
    check("req/s" in text and "/1.2 s" in text and "err" in text and "p99" in text,
          "a live progress line on a terminal: %r" % text[-120:])

    # ---- the seed plan, imported and run natively ----
    r, _ = lua("import", "print(json.encode(assert(jmeter.import(%s))))" % json.dumps(seed))
    check(r and r["threads"] == 1 and r["loops"] == 6 and abs(r["rate"] - 0.1) < 1e-12
          and r["method"] == "POST" and r["file"]["path"] == image and r["planned_samples"] == 6,
          "seed plan imported: 1 thread x 6 loops at 6/min, POST of the image")
    check(r and any("View Results Tree" in w for w in r["warnings"]), "its listener's CSV is named in a warning")
    out, err = seed_proc.communicate(timeout=120)
    res = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err}
    check("error" not in res, "seed plan ran: %s" % res.get("error"))
    if "error" not in res:
        ts = sorted(s["ts"] for s in res["samples"])
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        check(res["count"] == 6 and res["summary"]["errors"] == 0, "seed plan: 6 samples, no errors")
        check(all(abs(g - 10.0) < 0.5 for g in gaps), "seed plan: one sample every 10 s (6/min): %s" % gaps)
        check(all(s["label"] == "Image Classification" and s["thread"] == 1 for s in res["samples"]),
              "seed plan: labels and thread as in the plan")
        check(any("upload file" in w for w in res.get("warnings", [])) is False,
              "no warning about the upload file once it points at a local one")
        up = access("/api/v1/ml/classify ", 6)
        check(len(up) == 6 and all(x[6].startswith('"multipart/form-data') for x in up),
              "nginx received 6 multipart POSTs from the plan (%d)" % len(up))
finally:
    if seed_proc.poll() is None:
        seed_proc.kill()
    nginx.terminate()
    nginx.wait()
    silent.close()
    odd.close()
    shutil.rmtree(TMP, ignore_errors=True)
done()
