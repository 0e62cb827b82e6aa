"""The repl on the docker backend (real containers on a private dockerd):
Ctrl-C interrupts a k8s.wait that real pods cannot satisfy, and the repl
lives on; then k8s.scale and k8s.wait do what they say on the daemon."""
# ctest-labels: docker
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd  # noqa: E402
import dockertest as dt  # noqa: E402
from pgtest import SRC, Pty, check, done  # noqa: E402

home = tempfile.mkdtemp(prefix="podgym-e2e-drepl-")
with dockerd.skip_unless_docker(mode="host") as d:
    d.ensure_demo_image()
    cfg = os.path.join(home, "podgym.yaml")
    with open(cfg, "w") as f:
        f.write("scripts: %s/scripts\npolicies: %s/policies\ndata_dir: %s/data\nrepl: {attach: false}\n%s"
                % (os.path.abspath(SRC), os.path.abspath(SRC), home, dt.config(d)))
    r = Pty(["repl", "-c", cfg], home, cwd=home)
    check(r.read_until("podgym> ", 60), "the repl starts on the docker backend")
    r.send("k8s.wait{ready = 1, timeout = 120}")
    check(r.read_until("\r\n", 10) and r.read_until("podgym> ", 120), "the first replica comes up")
    mark = len(r.out)
    r.send("k8s.wait{ready = 5, timeout = 3000}")       # one replica: it waits until told
    check(r.read_until("waiting: ", 30), "k8s.wait shows its progress line while it waits")
    r.ctrl_c()
    check(r.read_until("interrupted", 20) and r.read_until("podgym> ", 20),
          "Ctrl-C interrupts the wait on docker and returns to the prompt (%s)" % r.since(mark)[-300:])
    r.send("'alive'")
    check(r.read_until("\r\nalive\r\n"), "the repl lives on")
    r.send("k8s.scale(2)")
    r.send("k8s.wait{ready = 2, timeout = 120}")
    check(r.read_until("podgym> ", 150) and dt.until(lambda: len(dt.containers(d, running_only=True)) == 2, 60),
          "k8s.scale(2) and a wait: the daemon runs 2 containers")
    r.send("os.exit(0)")
    r._kill()
shutil.rmtree(home, ignore_errors=True)
done()
