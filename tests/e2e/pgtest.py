"""Helpers for the end-to-end tests: start the real podgym binary on a free
loopback port, talk HTTP to it, and clean up. Standard library only."""
import atexit
import http.client
import json
import math
import os
import pty
import re
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import termios
import time

BIN = os.environ.get("PODGYM_BIN") or os.path.join(os.getcwd(), "build", "podgym")
SRC = os.environ.get("PODGYM_SRC") or os.getcwd()

failures = []
_servers = []      # every Server started; stopped at exit, so a test that fails part-way leaves none behind


@atexit.register
def _stop_servers():
    for srv in _servers:
        try:
            srv.stop()
        except Exception:       # already stopped, or its log closed
            pass
        if not failures:        # a failing test keeps its servers' folders (logs, data) to look at
            shutil.rmtree(srv.dir, ignore_errors=True)

# What AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer and ThreadSanitizer print on a bug.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer")


def check(cond, what):
    """Record one assertion; the test exits non-zero at the end if any failed."""
    if cond:
        print("ok   - " + what)
    else:
        print("FAIL - " + what)
        failures.append(what)
    sys.stdout.flush()
    return cond


def done():
    passed = "%d failed" % len(failures)
    print(passed if failures else "all checks passed")
    sys.exit(1 if failures else 0)


def skip(reason):
    print("skipped: " + reason)
    sys.exit(77)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# Longer than any route's own bound (a scale waits up to 90 s, then a load test may run): on a
# loaded machine the test gets the server's answer, a 504 if it comes to that, never a client timeout.
TIMEOUT = 180


def thesis_reward(stat):
    """The thesis agent's reward formula on a GET /app/stat answer (SPEC 7)."""
    rs = stat["requests_stat"]
    pods = stat["containers"]["system"]["online_pods"]
    return -(0.33 * math.log2(1 + rs["avg_latency"] / 1000)
             + 0.33 * math.log2(1 + rs["drop_packet_percentage"])
             + 0.33 * math.log2(pods))


def raw_exchange(port, data, timeout=10):
    """Send data on a fresh connection, half-close, and read everything the
    server writes back (b"<timeout>" appended if it neither answers nor closes)."""
    import socket
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass                    # the server may refuse (and close) before the end of a long body
    out = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        out += b"<timeout>"
    except OSError:
        pass
    c.close()
    return out


def free_port():
    """A loopback port free now (for a server that cannot bind port 0 and report it)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, headers=None, timeout=TIMEOUT, context=None, host="127.0.0.1"):
    """(status, parsed JSON or text, response) of one request on its own
    connection; HTTPS when context (an ssl.SSLContext) is given."""
    if context:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    ctype = r.getheader("Content-Type") or ""
    parsed = None
    if "json" in ctype and data:
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
    return r.status, parsed if parsed is not None else data.decode("utf-8", "replace"), r


class Server:
    """podgym serve on 127.0.0.1:0 with its own config, scripts and data dir.
    tls=(cert, key) serves HTTPS with those PEM files; tls_ca is the CA file
    request() verifies the server against (an ssl.SSLContext works too)."""

    def __init__(self, config="", scripts=None, policies=None, args=(), env=None, copy_scripts=True,
                 tls=None, tls_ca=None):
        self.dir = tempfile.mkdtemp(prefix="podgym-e2e-")
        self.scripts = scripts or os.path.join(self.dir, "scripts")
        self.policies = policies or os.path.join(self.dir, "policies")
        if scripts is None:
            if copy_scripts:
                shutil.copytree(os.path.join(SRC, "scripts"), self.scripts)
            else:   # no routes of the tree, but its route helpers (policies/probe.lua needs them)
                shutil.copytree(os.path.join(SRC, "scripts", "lib"), os.path.join(self.scripts, "lib"))
        if policies is None:
            shutil.copytree(os.path.join(SRC, "policies"), self.policies)
        self.data = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "podgym.yaml")
        with open(self.config, "w") as f:
            f.write("scripts: %s\npolicies: %s\ndata_dir: %s\n" % (self.scripts, self.policies, self.data))
            if tls:
                f.write("tls:\n  cert: %s\n  key: %s\n" % tls)
            f.write(config)
        self.ssl = None
        if tls:
            self.ssl = tls_ca if isinstance(tls_ca, ssl.SSLContext) else ssl.create_default_context(cafile=tls_ca)
        self.scheme = "https" if tls else "http"
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        cmd = [BIN, "serve", "-c", self.config, "--listen", "127.0.0.1:0"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir,
                                     env=dict(os.environ, **(env or {})))
        _servers.append(self)
        self.port = None
        self.checked_log = False
        deadline = time.time() + 10
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"listening on (https?)://[^:]+:(\d+)", self.logtext())
            if m:
                self.port = int(m.group(2))
                self.listened_scheme = m.group(1)
                break
            time.sleep(0.02)
        if not self.port:
            raise RuntimeError("podgym did not start:\n" + self.logtext())

    def logtext(self):
        with open(self.log.name, errors="replace") as f:   # the access log echoes raw request bytes
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=TIMEOUT, context=None, host="127.0.0.1"):
        """context: an ssl.SSLContext for this request (default: the server's
        own when it serves HTTPS)."""
        return request(self.port, method, path, body, headers, timeout, context or self.ssl, host)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.log.closed and self.proc.poll() is not None:
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if not self.checked_log:
            self.checked_log = True
            self.check_sanitizers()
        return self.proc.returncode

    def check_sanitizers(self):
        """A sanitizer build reports server-side errors only in the log: make them fail the test."""
        text = self.logtext()
        found = [m for m in SANITIZER_MARKS if m in text]
        if found:
            at = min(text.find(m) for m in found)
            print(text[max(0, text.rfind("\n", 0, at) + 1):][:6000])
        check(not found, "no sanitizer report in the server log (%s)" % ", ".join(found or ["clean"]))

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def is_error(body, code=None):
    """The spec's error shape: {"error": {"code": ..., "message": ...}}."""
    ok = isinstance(body, dict) and isinstance(body.get("error"), dict) \
        and isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str)
    return ok and (code is None or body["error"]["code"] == code)


class Pty:
    """A podgym command on a pseudo-terminal (the repl as a person uses it):
    keys go in as typed, Ctrl-C as the tty's own SIGINT."""

    def __init__(self, args, home, cwd=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["HOME"] = home
            if cwd:
                os.chdir(cwd)
            os.execv(BIN, [BIN] + args)
        self.out, self.seen = b"", 0
        atexit.register(self._kill)        # a test that fails part-way leaves no repl behind

    def _kill(self):
        try:
            if os.waitpid(self.pid, os.WNOHANG)[0] == 0:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass

    def read_until(self, token, timeout=20):
        """Output until token appears past the last match; True when it did."""
        end = time.time() + timeout
        while True:
            at = self.out.find(token.encode(), self.seen)
            if at >= 0:
                self.seen = at + len(token)
                return True
            left = end - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([self.fd], [], [], min(left, 0.1))
            if r:
                try:
                    self.out += os.read(self.fd, 4096)
                except OSError:
                    return self.out.find(token.encode(), self.seen) >= 0

    def since(self, mark):
        return self.out[mark:].decode(errors="replace")

    def raw(self):
        """Wait until libedit reads keys (raw mode): keys typed before that are cooked."""
        end = time.time() + 10
        while termios.tcgetattr(self.fd)[3] & termios.ICANON and time.time() < end:
            self.read_until("\0never\0", 0.01)

    def type(self, text):
        self.raw()
        os.write(self.fd, text.encode())

    def send(self, line):
        self.type(line + "\r")

    def ctrl_c(self):
        os.write(self.fd, b"\x03")           # the tty sends SIGINT to the foreground group

    def wait_exit(self, timeout=30):
        end = time.time() + timeout
        while True:
            w, status = os.waitpid(self.pid, os.WNOHANG)
            if w:
                return status
            if time.time() > end:
                os.kill(self.pid, signal.SIGKILL)
                return os.waitpid(self.pid, 0)[1]
            self.read_until("\0never\0", 0.1)
