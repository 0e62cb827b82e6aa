#!/usr/bin/env python3
"""podgym benchmarks: `make bench`. Every figure is a ratio against a
reference measured in the same run (see BENCH.md). Prints one table and
writes build/bench.json. Benchmarks never fail the build.

Each tests/bench/b*.py module exposes run(ctx) -> list of row dicts:
{"id", "what", "value", "reference", "ratio", "target", "ok", "raw"}."""
import argparse
import glob
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
from pgtest import free_port  # noqa: E402


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.01)
    return False


class Server:
    """podgym serve with a config; .port, .pid, .stop()."""

    def __init__(self, ctx, config="", quiet=True, scripts=None, policies=None):
        self.dir = tempfile.mkdtemp(prefix="podgym-bench-")
        self.scripts = scripts or os.path.join(self.dir, "scripts")
        self.policies = policies or os.path.join(self.dir, "policies")
        if not scripts:
            shutil.copytree(os.path.join(ctx.src, "scripts"), self.scripts)
        if not policies:
            shutil.copytree(os.path.join(ctx.src, "policies"), self.policies)
        cfg = os.path.join(self.dir, "podgym.yaml")
        with open(cfg, "w") as f:
            f.write("scripts: %s\npolicies: %s\ndata_dir: %s/data\n%s" % (self.scripts, self.policies, self.dir, config))
        self.log = open(os.path.join(self.dir, "log"), "w+")
        args = [ctx.podgym, "serve", "-c", cfg, "--listen", "127.0.0.1:0"] + (["--quiet"] if quiet else [])
        self.t_exec = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.pid = self.proc.pid
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline and self.proc.poll() is None:
            with open(self.log.name) as f:
                m = re.search(r"listening on http://[^:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.002)
        if not self.port:
            raise RuntimeError("podgym did not start: " + open(self.log.name).read())

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Ctx:
    def __init__(self, build):
        self.src = SRC
        self.build = os.path.abspath(build)
        self.podgym = os.path.join(self.build, "podgym")
        self.cores = os.cpu_count()
        self._nginx = None

    def server(self, config="", **kw):
        return Server(self, config, **kw)

    def run_lua(self, code, args=(), config="", timeout=600):
        """`podgym run` of code with args, on the tree's policies and scripts and the sim backend
        (config appended), in a temporary data_dir -> CompletedProcess (text)."""
        d = tempfile.mkdtemp(prefix="podgym-bench-run-")
        script = os.path.join(d, "bench.lua")
        with open(script, "w") as f:
            f.write(code)
        cfg = os.path.join(d, "podgym.yaml")
        with open(cfg, "w") as f:
            f.write("data_dir: %s\npolicies: %s/policies\nscripts: %s/scripts\n%s" % (d, self.src, self.src, config))
        try:
            return subprocess.run([self.podgym, "run", script] + [str(a) for a in args] + ["-c", cfg],
                                  capture_output=True, text=True, timeout=timeout, cwd=d)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def nginx(self, log=False):
        """A real nginx on loopback: / says Hello, World!, /fail is a 500.
        -> (port, stop); stop() returns the access log ("$msec $status" lines) when log is set."""
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(exe):
            raise RuntimeError("nginx is not installed")
        d = tempfile.mkdtemp(prefix="podgym-nginx-")
        port = free_port()
        for sub in ("logs", "tmp"):
            os.makedirs(os.path.join(d, sub))
        access = "log_format t '$msec $status';\n  access_log %s/logs/access.log t;" % d if log else "access_log off;"
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log;
events { worker_connections 4096; }
http {
  %(access)s
  client_body_temp_path %(d)s/tmp; proxy_temp_path %(d)s/tmp; fastcgi_temp_path %(d)s/tmp;
  uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%(port)d;
    location = / { default_type text/plain; return 200 "Hello, World!"; }
    location = /fail { return 500; }
    location / { default_type text/plain; return 200 "ok"; }
  }
}
""" % {"d": d, "port": port, "access": access})
        proc = subprocess.Popen([exe, "-p", d, "-c", conf, "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(port):
            proc.kill()
            raise RuntimeError("nginx did not start")

        def stop():
            proc.terminate()
            proc.wait()
            path = os.path.join(d, "logs", "access.log")
            text = open(path).read() if os.path.exists(path) else ""
            shutil.rmtree(d, ignore_errors=True)
            return text
        return port, stop

    def wrk(self, url, threads=2, conns=32, duration=5, script=None):
        """wrk's requests/s and total requests for url."""
        exe = shutil.which("wrk")
        if not exe:
            raise RuntimeError("wrk is not installed")
        args = [exe, "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration]
        if script:
            args += ["-s", script]
        out = subprocess.run(args + [url], capture_output=True, text=True, timeout=duration + 30).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        errors = 0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if m:
            errors += int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if m:
            errors += sum(int(x) for x in m.groups())
        return {"rps": rps, "requests": total, "errors": errors, "output": out}


def row(id, what, value, reference, target, ok, raw, ratio=None, unit=""):
    return {"id": id, "what": what, "value": value, "reference": reference, "ratio": ratio,
            "target": target, "ok": bool(ok), "unit": unit, "raw": raw}


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="", help="comma-separated module names (b1_engine,...)")
    a = ap.parse_args()
    ctx = Ctx(a.build)
    commit = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    rows = []
    sys.path.insert(0, HERE)
    for path in sorted(glob.glob(os.path.join(HERE, "b*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if a.only and name not in a.only.split(","):
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
            print("# running %s ..." % name, file=sys.stderr, flush=True)
            rows.extend(mod.run(ctx))
        except Exception as e:  # noqa: BLE001 - a benchmark that cannot run is reported, not fatal
            traceback.print_exc()
            rows.append(row(name, "could not run: %s" % e, None, None, None, False, {}))
    print("podgym benchmarks — commit %s, %d cores" % (commit, ctx.cores))
    hdr = "| id | what | value | reference | ratio | target | ok | raw |"
    print(hdr)
    print("|" + "---|" * 8)
    for r in rows:
        raw = ", ".join("%s=%s" % (k, fmt(v)) for k, v in r["raw"].items())
        print("| %s | %s | %s%s | %s | %s | %s | %s | %s |" % (
            r["id"], r["what"], fmt(r["value"]), r.get("unit", ""), fmt(r["reference"]), fmt(r["ratio"]),
            r["target"] or "-", "yes" if r["ok"] else "NO", raw))
    out = os.path.join(ctx.build, "bench.json")
    with open(out, "w") as f:
        json.dump({"commit": commit, "cores": ctx.cores, "rows": rows}, f, indent=2)
    print("wrote %s" % out)


if __name__ == "__main__":
    main()
