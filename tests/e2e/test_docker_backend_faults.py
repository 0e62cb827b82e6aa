"""The docker backend when the Engine API misbehaves: a real private dockerd
behind a fault-injecting unix-socket proxy (every byte of the real daemon's
answers passes through it, until a fault is switched on for new
connections): answers that are not JSON, answers slower than
docker.timeout_s, a flapping socket (every other connection closed at once)
and every connection closed at once (the daemon stopped outright is
test_docker_restart's). Each fault is answered with a clear 5xx JSON
error (502/503/504, never 500) or ridden out, GET / keeps answering, the
container count never passes the bounds, and once the proxy passes again
the next scale works and the daemon runs exactly what it says."""
# ctest-labels: docker
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import Server, check, done, is_error, write  # noqa: E402

JUNK = b"{\"Id\": <html>502 Bad Gateway"
GARBAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
           b"Api-Version: 1.41\r\n\r\n%s" % (len(JUNK), JUNK))


class Proxy(threading.Thread):
    """A unix socket at path forwarding to the daemon's; mode applies to new connections."""

    def __init__(self, path, upstream):
        super().__init__(daemon=True)
        self.path, self.upstream, self.mode, self.n = path, upstream, "pass", 0
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(64)

    def run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.n += 1
            threading.Thread(target=self.serve, args=(c, self.mode, self.n), daemon=True).start()

    def serve(self, c, mode, n):
        try:
            if mode == "refuse" or (mode == "flap" and n % 2):
                c.close()
                return
            if mode == "garbage":
                c.recv(65536)
                c.sendall(GARBAGE)
                c.close()
                return
            u = socket.socket(socket.AF_UNIX)
            u.connect(self.upstream)
            delay = 3.0 if mode == "slow" else 0
            threading.Thread(target=pipe, args=(c, u, 0), daemon=True).start()
            pipe(u, c, delay)
        except OSError:
            pass

    def close(self):
        self.srv.close()
        os.unlink(self.path)


def pipe(a, b, delay):
    try:
        first = True
        while True:
            d = a.recv(65536)
            if not d:
                break
            if first and delay:
                time.sleep(delay)
            first = False
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


SCALING = "return { min = 1, max = 3, step = 1, timeout_s = 60 }\n"

with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    tmp = tempfile.mkdtemp(prefix="pgf-", dir="/tmp")
    proxy = Proxy(os.path.join(tmp, "s"), d.socket)
    proxy.start()
    cfg = dt.config(d, extra_docker="  timeout_s: 1.5\n").replace("socket: %s\n" % d.socket,
                                                                   "socket: %s\n" % proxy.path)
    s = Server(config=cfg)
    write(os.path.join(s.policies, "scaling.lua"), SCALING)
    st, _, _ = s.post("/_engine/reload")
    check(st == 200 and dt.settled(s, 1) is not None, "through the proxy: one ready replica")

    def fault(mode, what, action):
        """Switch mode on, run action (status, body), switch it off; the answer must be a clear error or 200."""
        proxy.mode = mode
        st, body, _ = action()
        clear = st == 200 or (st in (502, 503, 504) and is_error(body) and body["error"]["message"])
        check(clear, "%s: a clear answer (%s %s)" % (what, st, str(body)[:200]))
        st2, body2, _ = s.get("/")
        check(st2 == 200, "%s: GET / still answers" % what)
        n = len(dt.containers(d))
        check(n <= 3, "%s: the daemon runs %d pod containers, within the bounds" % (what, n))
        proxy.mode = "pass"
        return st, body

    def scale_to(n):
        return lambda: s.post("/pod/set-pod-count/%d" % n, body='""', headers=dt.THESIS)

    st, body = fault("garbage", "answers that are not JSON", scale_to(2))
    check(st == 502 and "not JSON" in body["error"]["message"], "garbage is named as such (%s)" % str(body)[:200])
    fault("slow", "answers slower than docker.timeout_s", scale_to(3))
    fault("flap", "every other connection closed", scale_to(1))
    fault("refuse", "every connection closed at once", scale_to(2))

    # the proxy passes again: the backend recovers, and does what it says
    ok = dt.until(lambda: s.post("/pod/set-pod-count/2", body='""', headers=dt.THESIS)[0] == 200, 90, 1)
    check(ok, "once the daemon answers again, set-pod-count/2 works")
    check(dt.until(lambda: len(dt.containers(d, running_only=True)) == 2, 60)
          and dt.settled(s, 2) is not None, "the daemon runs exactly 2 pod containers, both ready")
    s.cleanup()
    proxy.close()
    os.rmdir(tmp)
done()
