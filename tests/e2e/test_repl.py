"""The repl at a terminal (a real pty, keys as a person types them): Ctrl-C
interrupts k8s.wait, clock.sleep and a load test at once and the repl lives
on; Ctrl-C at the prompt drops the line; the load test's live progress line;
help() and help(k8s.scale) from the ---@meta stubs; the history file written
with every statement, whatever the exit."""
import http.server
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import BIN, Pty, check, done  # noqa: E402

d = tempfile.mkdtemp(prefix="podgym-repl-")
cfg = os.path.join(d, "podgym.yaml")
with open(cfg, "w") as f:
    # real time, pods that take long to start: a wait would run for minutes
    f.write("sim: {seed: 1, speed: 1, replicas: 1, start_delay_s: 600, start_jitter_s: 0}\n"
            "data_dir: %s/data\n" % d)


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=target.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d/" % target.server_address[1]


r = Pty(["repl", "-c", cfg], d)
check(r.read_until("podgym> "), "repl shows a prompt")
check(b"help()" in r.out, "the banner points at help()")


def interrupt(stmt, what, started):
    """Run stmt, wait for `started` in its output (or a moment), Ctrl-C, and
    expect the interrupt and a prompt well before stmt could end by itself."""
    mark = len(r.out)
    r.send(stmt)
    r.read_until(stmt + "\r\n")              # echoed: it runs now
    if started:
        check(r.read_until(started), "%s: shows %r while it runs" % (what, started))
    else:
        time.sleep(0.5)
    r.ctrl_c()
    ok = r.read_until("interrupted", 20) and r.read_until("podgym> ", 20)
    check(ok, "Ctrl-C interrupts %s and returns to the prompt (%s)" % (what, r.since(mark)[-300:]))
    r.send("'alive after %s'" % what)
    check(r.read_until("\r\nalive after %s\r\n" % what), "the repl lives on after interrupting %s" % what)


r.send("k8s.scale(3)")
check(r.read_until("true"), "k8s.scale works")
interrupt("k8s.wait{timeout = 3000}", "k8s.wait", "waiting: ")
interrupt("clock.sleep(3000)", "clock.sleep", None)
interrupt("k8s.sleep(3000)", "k8s.sleep", None)
interrupt("loadgen.run{url = '%s', rate = 50, duration = 500}" % url, "a load test", " p99 ")
m = len(r.out)
check("load " in r.since(0) and " req/s" in r.since(0) and "/500.0 s" in r.since(0),
      "the load test's progress line shows elapsed/total, requests, errors, rate and p99")
# the sim's own model of a load test (the default driver on sim) waits in real time at speed 1
interrupt("loadgen.run{duration = 500}", "a load test of the sim driver", None)
# a second Ctrl-C in a row, during the same kind of statement, does not kill the repl either
interrupt("clock.sleep(3000)", "a second sleep", None)

# Ctrl-C at the prompt drops the line being typed, as python does
r.type("this is not lua")
r.read_until("not lua")
r.ctrl_c()
check(r.read_until("^C") and r.read_until("podgym> "), "Ctrl-C at the prompt gives a fresh prompt")
r.send("40 + 2")
check(r.read_until("42\r\n"), "the dropped line is gone: the next one runs alone")
# ... and in the middle of a multi-line statement
r.send("function g()")
r.read_until(">> ")
r.ctrl_c()
check(r.read_until("podgym> "), "Ctrl-C drops an unfinished multi-line statement")
r.send("g == nil")
check(r.read_until("true\r\n"), "the dropped statement defined nothing")

# help
r.send("help()")
check(r.read_until("modules:") and r.read_until("k8s") and r.read_until("loadgen"), "help() lists the modules")
r.send("help(k8s.scale)")
check(r.read_until("k8s.scale(n)") and r.read_until("Set the Deployment's replicas") and r.read_until("parameters:"),
      "help(k8s.scale) shows its documentation from the stubs")
r.send("help(clock)")
check(r.read_until("clock.now") and r.read_until("clock.sleep"), "help(clock) lists the module's functions")
r.send("help(print)")
check(r.read_until("no documentation for"), "help of something undocumented says so")

# history: written with every statement, even when the repl ends by os.exit
r.send("marker_before_exit = 7")
r.read_until("podgym> ")
r.send("os.exit(3)")
status = r.wait_exit()
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3, "os.exit(3) leaves the repl with status 3")
hist = os.path.join(d, ".podgym_history")


def history():
    """The history file, its libedit escapes (\\040 for a space) undone."""
    if not os.path.exists(hist):
        return ""
    return open(hist, errors="replace").read().replace("\\040", " ").replace("\\011", "\t")


text = history()
check("marker_before_exit = 7" in text and "os.exit(3)" in text and "help(k8s.scale)" in text,
      "the history file holds the statements of a session that ended by os.exit")

# the history is read back by the next session; Ctrl-D writes it too
r = Pty(["repl", "-c", cfg], d)
check(r.read_until("podgym> "), "a second repl starts")
r.send("second_session = 1")
r.read_until("podgym> ")
r.raw()
os.write(r.fd, b"\x04")
status = r.wait_exit()
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "Ctrl-D leaves with status 0")
text = history()
check("second_session = 1" in text and "marker_before_exit = 7" in text, "the history keeps both sessions")
target.shutdown()
shutil.rmtree(d, ignore_errors=True)
done()
