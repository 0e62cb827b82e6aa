"""A real Docker daemon for the e2e tests, never a mock.

    from dockerd import DockerDaemon, skip_unless_docker
    with skip_unless_docker(mode="host") as d:    # or mode="bridge"
        d.ensure_demo_image()                     # podgym-demo:latest on that daemon
        st, body = d.api("GET", "/containers/json")
        subprocess.run([...], env=d.env())        # DOCKER_HOST=unix://<d.socket>

If DOCKER_HOST names a daemon that answers (and reuse is allowed), it is used
as it is and only the containers this harness created are removed at the end.
Otherwise a private dockerd starts with every path of its own (data root, exec
root, pidfile, socket, config file, cgroup parent, containerd namespace) under
one short directory of the build dir:

  host mode    --bridge=none --iptables=false: containers use NetworkMode host.
  bridge mode  a bridge of its own (pgbr<hex>, created here with a /24 that no
               address or route of the machine overlaps, picked under a lock
               so suites running in parallel never share one), --iptables=false
               and --ip-forward=false: published ports on 127.0.0.1 go through
               docker-proxy, and the daemon writes no iptables rule and no
               sysctl, so parallel daemons cannot fight over chains.

At the end (with, atexit, SIGTERM/SIGINT/SIGHUP): every container it created is
removed, dockerd is stopped by its pid (SIGTERM, bounded wait, SIGKILL), its
containerd and shims (found by the private paths in their command lines) too,
whatever is still mounted under the directory is unmounted, the cgroups, the
bridge and any iptables rule that names the bridge or its subnet are removed,
and the directory goes.  A run killed with SIGKILL leaves a state file that the
next harness in the same build dir sweeps (its owner pid is gone).

From a shell: `python3 tests/e2e/dockerd.py --mode bridge --demo-image -- CMD ...` runs CMD
against a private daemon and cleans up after it.  Standard library only."""
import atexit
import contextlib
import fcntl
import http.client
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import free_port  # noqa: E402,F401  (the harness's users call dockerd.free_port)

SRC = os.environ.get("PODGYM_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PODGYM_BUILD") or os.path.join(SRC, "build")
DEMO_IMAGE = "podgym-demo:latest"
BUILD_IMAGE = os.path.join(SRC, "examples", "workload", "build-image.sh")
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOCK = "/tmp/podgym-dockerd.lock"       # serialises the choice of bridge subnets between suites
CGROUP_ROOT = "/sys/fs/cgroup"
STATE = "state.json"
# Paths dockerd 20.10 and its containerd write outside their roots (the trust key, the shim sockets'
# folder, the plugin sockets' folder): removed at the end if they were not there before and no other
# daemon is running.
SYSTEM_PATHS = ["/etc/docker/key.json", "/run/containerd/s", "/run/containerd", "/run/docker/plugins",
                "/run/docker"]
DAEMON_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy")


class Unavailable(Exception):
    """dockerd cannot run here (not installed, not root, no cgroups, ...)."""


def skip(reason):
    print("skipped: " + reason)
    sys.stdout.flush()
    sys.exit(77)


@contextlib.contextmanager
def skip_unless_docker(**kw):
    """DockerDaemon(**kw) as a context; exits 77 with "skipped: <reason>" if it cannot start."""
    d = DockerDaemon(**kw)
    try:
        d.start()
    except Unavailable as e:
        d.stop()
        skip(str(e))
    try:
        yield d
    finally:
        d.stop()


# ---------------------------------------------------------------- HTTP over AF_UNIX

class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def unix_request(sock_path, method, path, body=None, timeout=30, headers=None):
    """One HTTP request over a unix socket: (status, parsed JSON | text | None, headers)."""
    conn = _UnixConnection(sock_path, timeout)
    try:
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        text = raw.decode("utf-8", "replace")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = text
        return resp.status, data, dict(resp.getheaders())
    finally:
        conn.close()


# ---------------------------------------------------------------- small system helpers

def _run(args, check=False, **kw):
    env = dict(os.environ, PATH=SYS_PATH + ":" + os.environ.get("PATH", ""))
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          check=check, **kw)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:            # a zombie is gone for our purposes
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes():
    """{pid: (ppid, name, command line, start time)} of every live process now (zombies left out)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                comm, rest = f.read()[:-1].split(" (", 1)[1].rsplit(") ", 1)
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue
        fields = rest.split()
        if fields[0] != "Z":
            out[int(name)] = (int(fields[1]), comm, cmd, int(fields[19]))
    return out


def _comm(pid):
    p = processes().get(pid)
    return p[1] if p else "?"


def descendants(pid):
    """[(pid, start time, name)] of every process below pid now (the start time tells a pid
    from its reuse)."""
    procs = processes()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for child, (ppid, name, _, start) in procs.items():
            if ppid == p:
                out.append((child, start, name))
                todo.append(child)
    return out


def pids_mentioning(text):
    """Pids whose command line contains text (the private paths of one daemon)."""
    return [pid for pid, (_, _, cmd, _) in processes().items() if text in cmd and pid != os.getpid()]


def mounts_under(path):
    """Mount points at or under path, deepest first (from /proc/self/mountinfo)."""
    path = os.path.realpath(path)
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].encode().decode("unicode_escape")
                if mp == path or mp.startswith(path + "/"):
                    out.append(mp)
    except OSError:
        pass
    return sorted(set(out), key=lambda p: -p.count("/"))


def iptables_save():
    """`iptables-save` of every table without counters and comments; None if there is no iptables."""
    if not shutil.which("iptables-save", path=SYS_PATH):
        return None
    r = _run(["iptables-save"])
    if r.returncode != 0:
        return None
    return [ln for ln in r.stdout.splitlines() if ln and not ln.startswith("#")]


def _iptables_rules(lines):
    """(table, rule) pairs of `-A` lines: iptables-save prints rules without counters."""
    table, out = None, []
    for ln in lines or []:
        if ln.startswith("*"):
            table = ln[1:]
        elif ln.startswith("-A "):
            out.append((table, ln))
    return out


def bridges():
    """Names of the bridges that exist now."""
    try:
        return sorted(n for n in os.listdir("/sys/class/net") if os.path.isdir("/sys/class/net/%s/bridge" % n))
    except OSError:
        return []


def _networks_in_use():
    nets = []
    for args in (["ip", "-4", "-o", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        r = _run(args)
        for ln in r.stdout.splitlines():
            for tok in ln.split():
                if "/" in tok or tok[:1].isdigit():
                    try:
                        net = ipaddress.ip_network(tok, strict=False)
                    except ValueError:
                        continue
                    if net.prefixlen > 0:
                        nets.append(net)
    return nets


def http_request(method, port, path="/", body=None, timeout=10, host="127.0.0.1"):
    """One request to host:port: (status, body bytes) or (None, error text)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def wait_http(port, path="/", timeout=15, host="127.0.0.1"):
    """Polls GET path until it answers 200 (bounded); True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, _ = http_request("GET", port, path, timeout=2, host=host)
        if st == 200:
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- the daemon

_live = []
_handlers_installed = False


def _stop_all():
    for d in list(_live):
        try:
            d.stop()
        except Exception as e:  # keep cleaning the others
            print("dockerd: cleanup failed: %s" % e, file=sys.stderr)


def _on_signal(sig, frame):
    _stop_all()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_stop_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _on_signal)


def _state_dirs():
    return [os.path.join(BUILD, "dockerd"), "/tmp"]


class DockerDaemon:
    """A Docker daemon for one test: a private dockerd, or the one DOCKER_HOST names."""

    def __init__(self, mode="host", reuse=True, start_timeout=30, log=None):
        if mode not in ("host", "bridge"):
            raise ValueError("mode is host or bridge")
        self.mode = mode
        self.reuse = reuse
        self.start_timeout = start_timeout
        self.id = "%08x" % random.getrandbits(32)
        self.private = False
        self.dir = None
        self.socket = None
        self.proc = None
        self.pid = None
        self.bridge = None
        self.subnet = None
        self.cgroup_parent = None
        self.version = None
        self.created = []           # container ids this harness created
        self.children = []          # [(pid, name)] of the daemon's children seen at stop (containerd)
        self.iptables_before = None
        self.stopped = False
        self.log = log or (lambda msg: print("dockerd: " + msg, flush=True))

    # ---- lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        _install_handlers()
        host = os.environ.get("DOCKER_HOST", "")
        if self.reuse and host.startswith("unix://") and self._ping(host[len("unix://"):]):
            self.socket = host[len("unix://"):]
            self.log("using the daemon at %s (API %s)" % (host, self.version))
            _live.append(self)
            return self
        self._check_can_run()
        sweep_stale()
        self._make_dir()
        _live.append(self)
        self.iptables_before = iptables_save()
        self.system_before = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
        if self.mode == "bridge":
            self._make_bridge()
        self._launch()
        return self

    def _check_can_run(self):
        if os.geteuid() != 0:
            raise Unavailable("dockerd needs root")
        if not shutil.which("dockerd", path=SYS_PATH):
            raise Unavailable("dockerd is not installed (apt-get install docker.io)")
        if not (os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")) or
                os.path.isdir(os.path.join(CGROUP_ROOT, "cpu")) or
                os.path.isdir(os.path.join(CGROUP_ROOT, "cpu,cpuacct"))):
            raise Unavailable("no cgroup hierarchy mounted at %s (mount cgroup2 or the v1 controllers there)"
                              % CGROUP_ROOT)
        if self.mode == "bridge" and not shutil.which("ip", path=SYS_PATH):
            raise Unavailable("bridge mode needs ip (iproute2)")

    def _make_dir(self):
        # The unix socket path of containerd is the longest one: <dir>/e/containerd/containerd.sock.ttrpc
        parent = os.path.join(BUILD, "dockerd")
        if len(parent) + 48 > 100:
            parent = "/tmp"
        os.makedirs(parent, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="pgd-", dir=parent)
        os.chmod(self.dir, 0o711)
        for sub in ("d", "e"):
            os.mkdir(os.path.join(self.dir, sub))
        self.socket = os.path.join(self.dir, "s")
        self.cgroup_parent = "/pgd-" + self.id
        self._write_state()     # before anything else is made, so a SIGKILL from here on is swept

    def _write_state(self):
        with open(os.path.join(self.dir, STATE + ".tmp"), "w") as f:
            json.dump({"owner": os.getpid(), "bridge": self.bridge, "subnet": self.subnet,
                       "cgroup_parent": self.cgroup_parent, "pid": self.pid}, f)
        os.replace(os.path.join(self.dir, STATE + ".tmp"), os.path.join(self.dir, STATE))

    def _make_bridge(self):
        with open(LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = _networks_in_use()
            rng = random.Random()
            for _ in range(200):
                net = ipaddress.ip_network("10.%d.%d.0/24" % (rng.randrange(200, 250), rng.randrange(0, 256)))
                if not any(net.overlaps(u) for u in used):
                    break
            else:
                raise Unavailable("no free 10.200-249.x.0/24 subnet for a bridge")
            name = "pgbr" + self.id[:8]
            self.bridge = name          # from here on, stop() (or a sweep) deletes it if it exists
            self.subnet = str(net)
            self._write_state()
            r = _run(["ip", "link", "add", "name", name, "type", "bridge"])
            if r.returncode != 0:
                self.bridge = None      # a bridge of that name is not ours
                raise Unavailable("cannot create bridge %s: %s" % (name, r.stderr.strip()))
            gw = "%s/24" % (net.network_address + 1)
            for args in (["ip", "addr", "add", gw, "dev", name], ["ip", "link", "set", name, "up"]):
                r = _run(args)
                if r.returncode != 0:
                    raise Unavailable("cannot set up bridge %s: %s" % (name, r.stderr.strip()))
            self.log("bridge %s on %s" % (name, self.subnet))

    def _launch(self):
        conf = os.path.join(self.dir, "daemon.json")
        with open(conf, "w") as f:
            f.write("{}\n")
        args = ["dockerd", "--config-file", conf,
                "--data-root", os.path.join(self.dir, "d"), "--exec-root", os.path.join(self.dir, "e"),
                "--pidfile", os.path.join(self.dir, "p"), "-H", "unix://" + self.socket,
                "--storage-driver=vfs", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
                "--cgroup-parent", self.cgroup_parent,
                "--containerd-namespace", "pgd-" + self.id, "--containerd-plugins-namespace", "pgd-p-" + self.id]
        if self.mode == "host":
            args.append("--bridge=none")
        else:
            args += ["--bridge=" + self.bridge, "--userland-proxy=true"]
        env = dict(os.environ, PATH=SYS_PATH)
        env.pop("DOCKER_HOST", None)
        self.args, self.daemon_env = args, env
        self.logfile = os.path.join(self.dir, "dockerd.log")
        self._spawn()

    def _spawn(self):
        with open(self.logfile, "a") as logf:
            args, env = self.args, self.daemon_env
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                                         start_new_session=True)
        self.pid = self.proc.pid
        self.private = True
        self._write_state()
        t0 = time.monotonic()
        deadline = t0 + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable("dockerd exited with %s: %s" % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.socket) and self._ping(self.socket):
                self.log("dockerd %d (%s mode) answers _ping after %.2f s, API %s, in %s"
                         % (self.pid, self.mode, time.monotonic() - t0, self.version, self.dir))
                return
            time.sleep(0.05)
        raise Unavailable("dockerd did not answer _ping within %d s: %s" % (self.start_timeout, self.log_tail()))

    def stop_daemon(self):
        """Stops dockerd (SIGTERM, as a machine's shutdown does) and keeps everything else: the
        socket is gone until restart_daemon().  Containers without a restart policy stay exited."""
        if not self.private:
            raise RuntimeError("stop_daemon needs a private daemon (reuse=False)")
        self._stop_daemon()

    def restart_daemon(self):
        """Starts dockerd again on the same roots and socket; containers with a restart policy come back."""
        if not self.private:
            raise RuntimeError("restart_daemon needs a private daemon (reuse=False)")
        if self.proc is not None and self.proc.poll() is None:
            return
        self._spawn()

    def log_tail(self, n=5):
        try:
            with open(self.logfile) as f:
                return " | ".join(ln.strip() for ln in f.readlines()[-n:])
        except (OSError, AttributeError):
            return ""

    def _ping(self, sock):
        try:
            st, body, hdrs = unix_request(sock, "GET", "/_ping", timeout=2)
        except OSError:
            return False
        if st != 200:
            return False
        self.version = hdrs.get("Api-Version") or hdrs.get("API-Version")
        if not self.version:
            st, body, _ = unix_request(sock, "GET", "/version", timeout=5)
            self.version = body.get("ApiVersion") if isinstance(body, dict) else None
        return True

    # ---- the API

    def api(self, method, path, body=None, timeout=60, headers=None):
        """(status, JSON | text | None) of one Engine API call; path without the /vX.Y prefix."""
        if self.version and not path.startswith("/v1.") and path != "/_ping":
            path = "/v%s%s" % (self.version, path)
        st, data, _ = unix_request(self.socket, method, path, body, timeout=timeout, headers=headers)
        return st, data

    def env(self, base=None):
        """An environment for a subprocess (podgym, docker CLI) that talks to this daemon."""
        e = dict(os.environ if base is None else base)
        e["DOCKER_HOST"] = "unix://" + self.socket
        return e

    def ensure_demo_image(self, image=DEMO_IMAGE):
        """Builds podgym-demo:latest on this daemon with build-image.sh (a no-op when it is up to date)."""
        r = subprocess.run(["bash", BUILD_IMAGE, "--out", os.path.join(BUILD, "demo-image"), "--image", image],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=dict(self.env(), PATH=os.environ.get("PATH", "") + ":" + SYS_PATH))
        if r.returncode != 0:
            raise RuntimeError("build-image.sh failed: " + r.stdout.strip())
        self.log(r.stdout.strip().splitlines()[-1])
        return image

    def run(self, image=DEMO_IMAGE, cmd=None, env=None, name=None, host_config=None, labels=None,
            exposed=None):
        """Creates and starts a container; it is removed at the end.  Returns its id."""
        spec = {"Image": image, "Labels": dict(labels or {}, **{"podgym.harness": self.id})}
        if cmd is not None:
            spec["Cmd"] = cmd
        if env:
            spec["Env"] = ["%s=%s" % kv for kv in env.items()]
        if exposed:
            spec["ExposedPorts"] = {p: {} for p in exposed}
        spec["HostConfig"] = host_config or {}
        q = "?name=" + urllib.parse.quote(name) if name else ""
        st, body = self.api("POST", "/containers/create" + q, spec)
        if st != 201:
            raise RuntimeError("create: %s %s" % (st, body))
        cid = body["Id"]
        self.created.append(cid)
        st, body = self.api("POST", "/containers/%s/start" % cid)
        if st not in (204, 304):
            raise RuntimeError("start: %s %s" % (st, body))
        return cid

    def inspect(self, cid):
        st, body = self.api("GET", "/containers/%s/json" % cid)
        return body if st == 200 else None

    # ---- teardown

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        if self in _live:
            _live.remove(self)
        if self.socket and (self.private and self.proc and self.proc.poll() is None or not self.private):
            self._remove_containers()
        if not self.private:
            return
        if self.proc is not None:
            self._stop_daemon()
        if self.dir:
            cleanup_dir(self.dir, self.bridge, self.subnet, self.cgroup_parent, self.iptables_before)
            remove_system_leftovers(self.system_before)

    def _remove_containers(self):
        if self.private:
            st, body = self.api("GET", "/containers/json?all=1", timeout=30)
            ids = [c["Id"] for c in body] if st == 200 else []
        else:
            ids = list(self.created)
        for cid in ids:
            try:
                self.api("DELETE", "/containers/%s?force=1&v=1" % cid, timeout=30)
            except OSError as e:
                self.log("cannot remove %s: %s" % (cid[:12], e))

    def _stop_daemon(self):
        # Its children (containerd, docker-proxy) are also killed by pid if they outlive it.
        kids = descendants(self.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.log("dockerd %d did not stop in 20 s: SIGKILL" % self.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while True:
            procs = processes()
            left = [pid for pid, t, _ in kids if pid in procs and procs[pid][3] == t]
            if not left:
                break
            late = time.monotonic() > deadline
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL if late else signal.SIGTERM)
            time.sleep(0.1)
        self.children = [(pid, name) for pid, _, name in kids]


def cleanup_dir(d, bridge=None, subnet=None, cgroup_parent=None, iptables_before=None):
    """Removes whatever one private daemon left: its processes (found by its path), mounts under d,
    cgroups, bridge, the iptables rules naming the bridge or subnet, and d itself."""
    deadline = time.monotonic() + 10
    while True:
        pids = pids_mentioning(d + "/")
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if time.monotonic() + 5 < deadline else signal.SIGKILL)
        time.sleep(0.1)
    if subnet:      # docker-proxy of a SIGKILLed daemon: it names a container address of our subnet
        prefix = "-container-ip " + subnet.rsplit(".", 1)[0] + "."
        for pid in pids_mentioning(prefix):
            if _comm(pid) == "docker-proxy":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    for mp in mounts_under(d):
        if _run(["umount", mp]).returncode != 0:
            _run(["umount", "-l", mp])
    if cgroup_parent:
        _remove_cgroups(cgroup_parent)
    if bridge and os.path.exists("/sys/class/net/" + bridge):
        _run(["ip", "link", "set", bridge, "down"])
        _run(["ip", "link", "del", bridge])
    if bridge or subnet:
        _remove_iptables_rules(iptables_before, [x for x in (bridge, subnet) if x])
    if not mounts_under(d):
        shutil.rmtree(d, ignore_errors=True)


def daemons_running():
    """Pids of any dockerd, containerd, shim or docker-proxy on the machine (ours or another's)."""
    return [pid for pid, (_, comm, _, _) in processes().items() if comm in DAEMON_COMMS]


def remove_system_leftovers(existed_before):
    """Removes the SYSTEM_PATHS that appeared during the run, when no daemon at all is running:
    folders only when empty, so nothing of another daemon is ever removed."""
    if existed_before is None or daemons_running():
        return
    for p in SYSTEM_PATHS:
        if p in existed_before or not os.path.lexists(p):
            continue
        with contextlib.suppress(OSError):
            if os.path.isdir(p) and not os.path.islink(p):
                os.rmdir(p)
            else:
                os.unlink(p)


def cgroup_pids(top):
    """Pids in the cgroup folder top and below."""
    pids = set()
    for root, _, files in os.walk(top):
        if "cgroup.procs" in files:
            with contextlib.suppress(OSError, ValueError):
                with open(os.path.join(root, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
    return sorted(p for p in pids if _alive(p))


def _remove_cgroups(parent):
    parent = parent.strip("/")
    try:
        ctrls = os.listdir(CGROUP_ROOT)
    except OSError:
        return
    for c in ctrls + [""]:
        top = os.path.join(CGROUP_ROOT, c, parent)
        if not os.path.isdir(top):
            continue
        # A container whose daemon and shim were killed still runs in its cgroup: end it first.
        for _ in range(50):
            pids = cgroup_pids(top)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for root, dirs, _ in os.walk(top, topdown=False):
            for x in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, x))
        with contextlib.suppress(OSError):
            os.rmdir(top)


def _remove_iptables_rules(before, marks):
    """Deletes the rules added since `before` that name one of marks (our bridge, our subnet)."""
    after = iptables_save()
    if after is None:
        return
    old = set(_iptables_rules(before))
    for table, rule in _iptables_rules(after):
        if (table, rule) in old or not any(m in rule for m in marks):
            continue
        _run(["iptables", "-t", table] + ["-D"] + rule.split()[1:])


def sweep_stale():
    """Cleans the directories of harnesses whose owner process is gone (a SIGKILLed test)."""
    for parent in _state_dirs():
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for n in names:
            d = os.path.join(parent, n)
            if not n.startswith("pgd-"):
                continue
            try:
                with open(os.path.join(d, STATE)) as f:
                    st = json.load(f)
            except (OSError, ValueError):
                # The state is written right after the folder is made: a folder without one that is
                # a minute old was left by a cleanup that could not finish; nothing in it is running.
                with contextlib.suppress(OSError):
                    if (parent != "/tmp" and time.time() - os.stat(d).st_mtime > 60 and
                            not pids_mentioning(d + "/")):
                        print("dockerd: removing the stateless leftover %s" % d, flush=True)
                        cleanup_dir(d)
                continue
            if not isinstance(st, dict) or "owner" not in st or _alive(st["owner"]):
                continue
            print("dockerd: sweeping the leftovers of a killed run in %s" % d, flush=True)
            cleanup_dir(d, st.get("bridge"), st.get("subnet"), st.get("cgroup_parent"))


def main(argv):
    """python3 tests/e2e/dockerd.py [--mode host|bridge] [--demo-image] [--sweep] [-- CMD ...]:
    a private daemon for a command (DOCKER_HOST set for it), cleaned up after; without CMD it
    prints DOCKER_HOST and waits for Ctrl-C.  --sweep only removes what killed runs left."""
    import argparse
    ap = argparse.ArgumentParser(prog="dockerd.py", description=main.__doc__)
    ap.add_argument("--mode", choices=("host", "bridge"), default="host")
    ap.add_argument("--demo-image", action="store_true", help="build podgym-demo:latest on it first")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("cmd", nargs="*")
    a = ap.parse_args(argv)
    if a.sweep:
        sweep_stale()
        return 0
    d = DockerDaemon(mode=a.mode, reuse=False)
    try:
        d.start()
        if a.demo_image:
            d.ensure_demo_image()
        if a.cmd:
            return subprocess.call(a.cmd, env=d.env())
        print("DOCKER_HOST=unix://%s   (Ctrl-C stops and cleans up)" % d.socket, flush=True)
        signal.pause()
    except Unavailable as e:
        print("dockerd.py: cannot start dockerd: %s" % e, file=sys.stderr)
        return 77
    except KeyboardInterrupt:
        pass
    finally:
        d.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
