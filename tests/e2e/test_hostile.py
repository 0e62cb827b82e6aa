"""Hostile requests in raw bytes over a socket to the real binary: control
bytes in the path, bad framing (Content-Length, Transfer-Encoding, Host),
too many query parameters. Each gets one answer, and no route runs. Then the
connections: idle and slowloris clients are cut after
limits.connection_timeout_s, a running route is not, and a client over
limits.connections gets a fast 503."""
import ctypes
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import SRC, Server, check, done, raw_exchange, write  # noqa: E402

srv = Server()
tried = 0


def raw(data, timeout=5):
    """Send data, half-close, read everything the server writes back."""
    global tried
    tried += 1
    return raw_exchange(srv.port, data, timeout)


def parse(out):
    """(statuses, body of the first response as JSON or None)."""
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", out)
    head, _, rest = out.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: (\d+)", head, re.I)
    body = rest[:int(m.group(1))] if m else rest
    try:
        js = json.loads(body)
    except ValueError:
        js = None
    return [int(s) for s in statuses], js


def desired():
    st, body, _ = srv.get("/pod")
    return body["system"]["desired_pods"]


def req(line, headers=b"Host: t\r\n", body=b""):
    return line + b"\r\n" + headers + b"\r\n" + body


# 1. NUL and control bytes in the path, raw or percent-encoded: 400, no route runs.
before = desired()
PATHS = [b"/pod/scale/out%00", b"/pod/set-pod-count/3%00junk", b"/pod/scale/out\x00", b"/pod/scale/out%0a",
         b"/pod/scale/out%7f", b"/pod/scale/out%1F", b"/pod/scale/%09out", b"/pod/scale/out\x01",
         b"/pod/scale/out\x7f", b"/pod/set-pod-count/4%0d%0aX: y"]
for p in PATHS:
    statuses, js = parse(raw(req(b"POST " + p + b" HTTP/1.1", b"Host: t\r\nContent-Length: 0\r\n")))
    check(statuses == [400] and js and js["error"]["code"] == "bad_request",
          "POST %r: one 400 bad_request (%s)" % (p, statuses))
for p in (b"/pod%00.json", b"/pod\x00.json", b"/pod%0a", b"/%7f"):
    statuses, js = parse(raw(req(b"GET " + p + b" HTTP/1.1")))
    check(statuses == [400] and js and js["error"]["code"] == "bad_request", "GET %r: 400 (%s)" % (p, statuses))
check(desired() == before, "no scale happened: desired_pods still %d" % before)
statuses, js = parse(raw(req(b"GET /pod?name=a%0ab HTTP/1.1")))
check(statuses == [200], "a control byte encoded in a query value is the route's to judge (%s)" % statuses)

# 2. Framing: one answer each, never a second status line inside the body.
mhd = ctypes.CDLL("libmicrohttpd.so.12")
mhd.MHD_get_version.restype = ctypes.c_char_p
mhd_version = mhd.MHD_get_version().decode()
mhd_doubles = tuple(int(x) for x in mhd_version.split(".")[:2]) < (1, 0)
for cl in (b"abc", b"-1", b"1 2", b"0x10", b"99999999999999999999"):
    out = raw(req(b"POST /pod/scale/out HTTP/1.1", b"Host: t\r\nContent-Length: " + cl + b"\r\n"))
    statuses, js = parse(out)
    check(statuses and statuses[0] in (400, 413) and 200 not in statuses,
          "Content-Length %r refused (%s)" % (cl, statuses))
    if mhd_doubles:     # libmicrohttpd answers these itself, before podgym sees the request
        print("known: libmicrohttpd %s writes its status line %d times for Content-Length %r"
              % (mhd_version, len(statuses), cl))
    else:
        check(len(statuses) == 1, "Content-Length %r: one status line" % cl)
check(desired() == before, "no malformed Content-Length scaled")
statuses, js = parse(raw(req(b"GET / HTTP/1.1", b"Host: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n", b"ab")))
check(statuses == [400] and js and js["error"]["code"] == "bad_request", "two Content-Length headers: one 400")
smuggle = req(b"POST /pod/scale/out HTTP/1.1", b"Host: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n",
              b"0\r\n\r\n" + req(b"POST /pod/scale/out HTTP/1.1", b"Host: t\r\nContent-Length: 0\r\n"))
statuses, js = parse(raw(smuggle))
check(statuses == [400] and js and js["error"]["code"] == "bad_request",
      "Content-Length with chunked: one 400, the trailing bytes not served (%s)" % statuses)
statuses, js = parse(raw(req(b"POST /pod/scale/out HTTP/1.1", b"Host: t\r\nTransfer-Encoding: gzip\r\n", b"x")))
check(statuses == [400], "a Transfer-Encoding other than chunked: 400 (%s)" % statuses)
check(desired() == before, "no smuggled request scaled")
statuses, js = parse(raw(b"GET / HTTP/1.1\r\n\r\n"))
check(statuses == [400] and js and js["error"]["code"] == "bad_request", "HTTP/1.1 without Host: 400 (%s)" % statuses)
statuses, js = parse(raw(req(b"GET / HTTP/1.1", b"Host: a\r\nHost: b\r\n")))
check(statuses == [400] and js, "two Host headers: 400 (%s)" % statuses)
statuses, js = parse(raw(b"GET / HTTP/1.0\r\n\r\n"))
check(statuses == [200], "HTTP/1.0 without Host is served (%s)" % statuses)

# 3. Too many query parameters: a status and a JSON error, never an empty reply.
for n in (230, 500):
    q = b"&".join(b"k%d=v" % i for i in range(n))
    statuses, js = parse(raw(req(b"GET /?" + q + b" HTTP/1.1")))
    check(statuses == [400] and js and js["error"]["code"] == "bad_query", "%d query parameters: 400 bad_query" % n)
q = b"&".join(b"k%d=v" % i for i in range(100))
statuses, js = parse(raw(req(b"GET /?" + q + b" HTTP/1.1")))
check(statuses == [200], "100 query parameters are served (%s)" % statuses)

st, body, _ = srv.get("/")
check(st == 200, "GET / answers normally afterwards")
log = srv.logtext()
check(not re.search(r"method=POST path=/pod/(scale|set-pod-count)\S* status=200", log),
      "the access log records no scale as served")
check(re.search(r"method=GET path=/ status=400", log) and "status=503" not in log,
      "the access log records the refusals with their status")
srv.cleanup()

# 4. Connections, on a server with a 1 s timeout and a limit of 8.
root = tempfile.mkdtemp(prefix="podgym-hostile-")
scripts = os.path.join(root, "scripts")
shutil.copytree(os.path.join(SRC, "scripts"), scripts)
write(os.path.join(scripts, "slow.lua"), """
return { method = "GET", path = "/slow", handler = function() clock.sleep(2) return { slept = 2 } end }
""")
LIMIT = 8
srv = Server(config="limits: {connection_timeout_s: 1, connections: %d}\n" % LIMIT, scripts=scripts)


def closed_after(sock, budget):
    """Seconds until the server closes sock (reading and dropping what it sends), or None."""
    t0 = time.time()
    sock.settimeout(0.2)
    while time.time() - t0 < budget:
        try:
            if not sock.recv(65536):
                return time.time() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.time() - t0
    return None


c = socket.create_connection(("127.0.0.1", srv.port))
t = closed_after(c, 5)
check(t is not None and t < 2.5, "an idle connection is closed by the server (after %s s)" % t)
c.close()

c = socket.create_connection(("127.0.0.1", srv.port))
c.sendall(req(b"GET / HTTP/1.1"))
t = closed_after(c, 5)
check(t is not None and t < 2.5, "a kept-alive connection is closed once idle (after %s s)" % t)
c.close()

c = socket.create_connection(("127.0.0.1", srv.port))
c.settimeout(0.1)
t0, cut, sent = time.time(), None, 0
for b in b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 40:       # one byte per 0.5 s: at most 26 s
    try:
        c.send(bytes([b]))
        sent += 1
        if c.recv(1) == b"":
            cut = time.time() - t0
            break
    except socket.timeout:
        pass
    except OSError:
        cut = time.time() - t0
        break
    time.sleep(0.5)
    if time.time() - t0 > 6:
        break
check(cut is not None and cut < 3, "a slowloris client is cut off (after %s s, %d bytes)" % (cut, sent))
c.close()

c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
c.sendall(req(b"GET /slow HTTP/1.1"))
out = b""
while b"slept" not in out:
    d = c.recv(65536)
    if not d:
        break
    out += d
check(b"slept" in out, "a route running longer than the timeout is not cut (%r)" % out[:40])
c.close()

flood = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(LIMIT + 4)]
time.sleep(0.1)
c = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
t0 = time.time()
c.sendall(req(b"GET / HTTP/1.1"))
statuses, js = parse(c.recv(65536))
t = time.time() - t0
check(statuses == [503] and js and js["error"]["code"] == "unavailable" and t < 0.5,
      "over limits.connections: a fast 503 JSON answer (%s in %.2f s)" % (statuses, t))
c.close()
for f in flood:
    f.close()
time.sleep(0.2)
st, body, _ = srv.get("/")
check(st == 200, "GET / works once the flood stops")
tried += 1 + len(flood) + 4
print("requests tried: %d" % tried)
srv.cleanup()
shutil.rmtree(root, ignore_errors=True)
done()
