"""The command line: run (exit status, args, full library), check, repl
(multi-line input, printed expressions, pretty tables, Ctrl-C), --version."""
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import BIN, SRC, check, done  # noqa: E402

d = tempfile.mkdtemp()
cfg = os.path.join(d, "podgym.yaml")
with open(cfg, "w") as f:
    f.write("data_dir: %s/data\n" % d)

p = subprocess.run([BIN, "--version"], capture_output=True, text=True)
check(p.returncode == 0 and p.stdout.startswith("podgym "), "--version")
p = subprocess.run([BIN, "--help"], capture_output=True, text=True)
check(p.returncode == 0 and "podgym serve" in p.stdout and "podgym repl" in p.stdout, "--help shows usage")
p = subprocess.run([BIN], capture_output=True, text=True)
check(p.returncode == 2, "no command: exit 2")

script = os.path.join(d, "s.lua")
with open(script, "w") as f:
    f.write("""
local a, b = ...
assert(arg[0]:match("s.lua$") and arg[1] == a)
assert(io and io.open and os.execute, "run gets the full standard library")
assert(k8s and json and jmeter and sampler and log and clock and shared, "every module is loaded")
print("args", a, b, json.encode({x = 1}))
return tonumber(b)
""")
p = subprocess.run([BIN, "run", script, "hello", "3", "-c", cfg], capture_output=True, text=True, timeout=30)
check(p.returncode == 3 and "args\thello\t3" in p.stdout, "run: script arguments, modules, exit status from return (%d, %r)"
      % (p.returncode, p.stderr[-300:]))
with open(script, "w") as f:
    f.write("local x = nil\nreturn x.y\n")
p = subprocess.run([BIN, "run", script, "-c", cfg], capture_output=True, text=True, timeout=30)
check(p.returncode == 1 and "s.lua:2:" in p.stderr and "traceback" in p.stderr, "run: an error prints a traceback, exit 1")
p = subprocess.run([BIN, "run", os.path.join(d, "nope.lua")], capture_output=True, text=True, timeout=30)
check(p.returncode == 1 and "nope.lua" in p.stderr, "run: a missing file is an error")

# Lua is linked into the binary, and its API is exported: a C module built
# for Debian's Lua 5.4 (not linked against liblua) loads in run and repl.
cmod = "/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so"
if not os.path.exists(cmod):
    print("skipped: no C module to load (%s is not installed)" % cmod)
else:
    with open(script, "w") as f:
        f.write("""
local open = assert(package.loadlib(%r, "luaopen_cjson"))
local cj = open()
print("cmod", cj.decode('{"x":[3]}').x[1] == 3, cj.null == json.null)
""" % cmod)
    p = subprocess.run([BIN, "run", script, "-c", cfg], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and "cmod\ttrue\ttrue" in p.stdout,
          "run: a Lua C module loads with package.loadlib and works (%r)" % (p.stdout + p.stderr)[-300:])

p = subprocess.run([BIN, "check", "-c", cfg], capture_output=True, text=True, timeout=30)
check(p.returncode == 0 and "routes compiled" in p.stdout, "check: the shipped scripts and policies compile")
bad_scripts = os.path.join(d, "scripts")
os.makedirs(bad_scripts)
with open(os.path.join(bad_scripts, "x.lua"), "w") as f:
    f.write("return {method='GET', path='/x' handler=nil}\n")
with open(cfg + ".bad", "w") as f:
    f.write("scripts: %s\n" % bad_scripts)
p = subprocess.run([BIN, "check", "-c", cfg + ".bad"], capture_output=True, text=True, timeout=30)
check(p.returncode == 1 and "x.lua:1:" in p.stderr, "check: a broken script exits 1 naming file:line (%s)" % p.stderr.strip())

# a configured scripts folder that is not there: a config error naming the file and the folder
with open(cfg + ".missing", "w") as f:
    f.write("scripts: %s/no-such-folder\n" % os.path.dirname(cfg))
p = subprocess.run([BIN, "check", "-c", cfg + ".missing"], capture_output=True, text=True, timeout=30)
check(p.returncode == 2 and "no-such-folder" in p.stderr and cfg + ".missing" in p.stderr,
      "check: a scripts folder that does not exist exits 2 naming the config and the folder (%s)" % p.stderr.strip())

# The repl, on a pseudo-terminal as a person uses it.
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = d
    os.execv(BIN, [BIN, "repl", "-c", cfg])
out = b""
seen = 0                                         # out[:seen] holds the tokens matched so far


def read_until(token, timeout=10):
    """Read the repl's output until token appears past the last match (it may
    already have arrived with an earlier read); True when it did."""
    global out, seen
    end = time.time() + timeout
    while True:
        at = out.find(token.encode(), seen)
        if at >= 0:
            seen = at + len(token)
            return True
        left = end - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], min(left, 0.1))
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return out.find(token.encode(), seen) >= 0


def send(line):
    os.write(fd, line.encode() + b"\r")


check(read_until("podgym> "), "repl shows a prompt")
send("1 + 2")
check(read_until("3\r\n"), "an expression prints its value")
send("t = {b = 2, a = 'x', 10, 20}")
send("t")
check(read_until('a = "x"') and b"10" in out, "tables are pretty-printed")
send("function f(x)")
check(read_until(">> "), "an incomplete statement asks for more")
send("  return x * 2")
send("end")
send("f(21)")
check(read_until("42"), "multi-line definitions work")
send("while true do end")
read_until("podgym> while true do end\r\n")    # libedit has the line: the statement starts now
time.sleep(0.5)
os.kill(pid, signal.SIGINT)
check(read_until("interrupted"), "Ctrl-C interrupts a running statement")
send("'still alive'")
check(read_until('still alive\r\n'), "the repl survives Ctrl-C")
send("json.encode({ok = true})")
check(read_until('{"ok":true}'), "modules are loaded in the repl")
# Ctrl-D only once libedit reads keys in raw mode: typed ahead while the terminal is still
# in cooked mode (the prompt is printed before the switch), the tty turns it into a NUL.
check(read_until("podgym> "), "the prompt follows the result")
end = time.time() + 10
while termios.tcgetattr(fd)[3] & termios.ICANON and time.time() < end:
    time.sleep(0.01)
os.write(fd, b"\x04")
end = time.time() + 30                           # bounded: a stuck repl fails instead of hanging ctest
while True:
    w, status = os.waitpid(pid, os.WNOHANG)
    if w or time.time() > end:
        break
    read_until("\0never\0", 0.1)                 # keep draining the pty so the repl never blocks on output
if not w:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "Ctrl-D leaves the repl with status 0")
check(os.path.exists(os.path.join(d, ".podgym_history")), "history is saved")
# --kubeconfig is kube.kubeconfig: that file only (a missing one is an error naming it)
p = subprocess.run([BIN, "check", "--backend", "kube", "--kubeconfig", "/nonexistent/podgym-kc"],
                   capture_output=True, text=True, timeout=30)
check(p.returncode != 0 and "kubeconfig /nonexistent/podgym-kc: cannot open" in p.stderr,
      "--kubeconfig names the file kube reads (%s)" % p.stderr.strip())
p = subprocess.run([BIN, "check", "--kubeconfig"], capture_output=True, text=True, timeout=30)
check(p.returncode == 2 and "needs a value" in p.stderr, "--kubeconfig without a file: exit 2")

done()
