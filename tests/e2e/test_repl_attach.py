"""podgym repl --attach: statements run inside a running podgym serve,
against the cluster it serves (scaled over HTTP, seen from the attached
repl, and the other way round), with the repl's printing, multi-line input
and Ctrl-C; the socket is <data_dir>/repl.sock with mode 0600; sessions
have their own Lua states; a client that vanishes mid-statement, many
sessions, and a stop with sessions open; repl.attach: false gives a clear
error."""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import BIN, Pty, Server, check, done  # noqa: E402

home = tempfile.mkdtemp(prefix="podgym-attach-")
s = Server(config="sim: {seed: 2, speed: 0, replicas: 2}\n")
sock = os.path.join(s.data, "repl.sock")
end = time.time() + 10
while not os.path.exists(sock) and time.time() < end:
    time.sleep(0.02)
check(os.path.exists(sock) and stat.S_ISSOCK(os.stat(sock).st_mode), "serve listens on <data_dir>/repl.sock")
check(stat.S_IMODE(os.stat(sock).st_mode) == 0o600, "the socket's mode is 0600 (%o)" % stat.S_IMODE(os.stat(sock).st_mode))


def attach_run(code, *args, timeout=60):
    """Statements piped into an attached repl: (exit status, stdout, stderr)."""
    p = subprocess.run([BIN, "repl", "--attach"] + list(args), input=code, capture_output=True, text=True,
                       timeout=timeout, cwd=s.dir, env=dict(os.environ, HOME=home))
    return p.returncode, p.stdout, p.stderr


# with no SOCKET, the config's data_dir names it (run from the server's folder)
rc, out, err = attach_run("k8s.replicas()\n", "-c", s.config)
check(rc == 0 and out.strip() == "2", "attach by the config's data_dir sees the server's replicas (%r %r)" % (out, err))

# the server's cluster, both ways
st, _, _ = s.post("/pod/set-pod-count/4")
check(st == 200, "POST /pod/set-pod-count/4 over HTTP")
r = Pty(["repl", "--attach", sock], home)
check(r.read_until("podgym> "), "the attached repl shows a prompt")
check(b"attached to" in r.out and b"sim backend" in r.out, "the banner names the server and its backend")
r.send("k8s.replicas()")
check(r.read_until("\r\n4\r\n"), "the attached repl sees the scale made over HTTP")
r.send("k8s.scale(3)")
check(r.read_until("true"), "k8s.scale(3) in the attached repl")
r.send("k8s.wait()")
r.read_until("podgym> ")
st, body, _ = s.get("/pod")
check(st == 200 and len(body["container"]) == 3,
      "GET /pod over HTTP sees the 3 pods scaled from the attached repl (%s)" % str(body)[:200])
# the same printing and multi-line input
r.send("t = {b = 2, a = 'x', 10}")
r.send("t")
check(r.read_until('a = "x"'), "tables are pretty-printed as in the repl")
r.send("function twice(x)")
check(r.read_until(">> "), "an incomplete statement asks for more")
r.send("  return 2 * x")
r.send("end")
r.send("twice(21)")
check(r.read_until("42\r\n"), "a multi-line function defined in the session")
r.send("print('from', 'print')")
check(r.read_until("from\tprint\r\n"), "print() in a session goes to the attached terminal")
r.send("error('boom')")
check(r.read_until("boom") and r.read_until("podgym> "), "an error is shown and the session goes on")
r.send("help(k8s.scale)")
check(r.read_until("Set the Deployment's replicas"), "help() in the attached repl")
r.send("type(io) == 'table' and type(os.getenv) == 'function'")
check(r.read_until("true\r\n"), "a session has the full library, not the routes' sandbox")
r.send("os.exit(1)")
check(r.read_until("would stop the server") and r.read_until("podgym> "), "os.exit in a session is refused")
# Ctrl-C interrupts the statement running in the server
r.send("clock.sleep(3000)")
r.read_until("clock.sleep(3000)\r\n")
time.sleep(0.5)
r.ctrl_c()
check(r.read_until("interrupted", 20) and r.read_until("podgym> ", 20),
      "Ctrl-C interrupts the statement running in the server")
r.send("'still attached'")
check(r.read_until("still attached\r\n"), "the session lives on after Ctrl-C")
r.send("while true do end")
r.read_until("while true do end\r\n")
time.sleep(0.3)
r.ctrl_c()
check(r.read_until("interrupted", 20) and r.read_until("podgym> ", 20), "Ctrl-C stops a busy loop in the server")

# a load test in the server, against the server itself: its live progress line on the client, then Ctrl-C
stmt = "loadgen.run{url = 'http://127.0.0.1:%d/', rate = 20, duration = 500}" % s.port
r.send(stmt)
r.read_until(stmt + "\r\n")
check(r.read_until("/500.0 s", 30) and r.read_until(" req/s", 10), "the load test's progress line reaches the attached terminal")
r.ctrl_c()
check(r.read_until("interrupted", 20) and r.read_until("podgym> ", 20), "Ctrl-C stops the load test running in the server")

# sessions are separate Lua states
codes = ["mine = %d\nmine\n" % i for i in range(6)]
procs = [subprocess.Popen([BIN, "repl", "--attach", sock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=dict(os.environ, HOME=home)) for _ in codes]
outs = [p.communicate(c, timeout=60) for p, c in zip(procs, codes)]
check(all(p.returncode == 0 for p in procs) and [o.strip() for o, _ in outs] == [str(i) for i in range(6)],
      "six sessions at once, each with its own globals (%s)" % [o for o, _ in outs])
r.send("mine == nil")
check(r.read_until("true\r\n"), "the other sessions' globals are not in this one")

# a client that vanishes mid-statement: its statement is interrupted, the server goes on
p = subprocess.Popen([BIN, "repl", "--attach", sock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, env=dict(os.environ, HOME=home))
p.stdin.write(b"shared.set('vanished', 'started')\nclock.sleep(3000)\n")
p.stdin.flush()
end = time.time() + 20
while time.time() < end:
    rc, out, _ = attach_run("shared.get('vanished')\n", sock)
    if "started" in out:
        break
    time.sleep(0.1)
p.kill()
p.wait()
rc, out, _ = attach_run("1 + 1\n", sock)
check(rc == 0 and out.strip() == "2", "the server serves new sessions after a client vanished mid-statement")
st, _, _ = s.get("/pod")
check(st == 200, "and HTTP still answers")

# a stop with a session open, running a statement: the server still stops, the client says so
r.send("clock.sleep(3000)")
r.read_until("clock.sleep(3000)\r\n")
time.sleep(0.3)
s.signal(signal.SIGTERM)
try:
    code = s.proc.wait(10)
except subprocess.TimeoutExpired:
    code = None
check(code == 0, "SIGTERM stops the server with a session running a statement (exit %s)" % code)
check(r.read_until("closed the session", 20), "the attached repl says the server closed the session")
status = r.wait_exit()
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1, "and exits with status 1")
check(not os.path.exists(sock), "the socket is removed at the stop")
s.stop()

# repl.attach: false: no socket, and a clear error
s = Server(config="sim: {seed: 2, speed: 0, replicas: 1}\nrepl: {attach: false}\n")
st, _, _ = s.get("/pod")
check(not os.path.exists(os.path.join(s.data, "repl.sock")), "repl.attach: false: no socket")
rc, out, err = attach_run("1\n", "-c", s.config)
check(rc == 1 and "cannot attach" in err and "repl.attach" in err, "attaching then is a clear error (%s)" % err.strip())
s.stop()
shutil.rmtree(home, ignore_errors=True)
done()
