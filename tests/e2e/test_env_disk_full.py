"""A full disk under /env/step: the step answers 507 insufficient_storage
naming the episode file, the file ends on its last whole row, the episode
does not advance, and once space is freed the next step writes one whole
row. A reset that cannot write its file answers 507 and leaves no episode.
A small tmpfs, mounted by the test (as root), is the data folder."""
import errno
import os
import subprocess
import tempfile

from pgtest import Server, check, done, skip

root = tempfile.mkdtemp(prefix="podgym-env-diskfull-")
disk = os.path.join(root, "disk")
os.makedirs(disk)
if os.geteuid() != 0:
    skip("mounting a small tmpfs needs root")
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "podgym-test", disk], capture_output=True, text=True)
if r.returncode != 0:
    skip("cannot mount a tmpfs: " + (r.stderr.strip() or "mount failed"))

filler = os.path.join(disk, "filler")


def fill(leave_pages):
    """Fill the disk to the last page, then give back leave_pages pages of 4 KiB."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while os.write(fd, b"\0" * 4096) == 4096:
            pass
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    size = os.fstat(fd).st_size
    os.ftruncate(fd, max(0, size - size % 4096 - 4096 * leave_pages))
    os.close(fd)


s = None
try:
    # no repl socket: the data folder is swapped for the small disk after the start
    s = Server(config="sim: {seed: 5, speed: 0, replicas: 2}\nrepl: {attach: false}\n")
    if os.path.isdir(s.data):
        os.rmdir(s.data)
    os.symlink(disk, s.data)          # the server's data folder is the small disk
    st, r0, _ = s.post("/env/reset", body={"pods": 2, "seed": 5})
    check(st == 200, "reset on the small disk (%d %s)" % (st, r0))
    path = r0["file"]
    fill(1)
    answers, last = [], None
    for i in range(2000):
        st, r, _ = s.post("/env/step", body={"action": ("out", "stay", "in")[i % 3]})
        answers.append(st)
        if st != 200:
            last = r
            break
    ok_steps = answers.count(200)
    check(ok_steps > 5 and answers[-1] == 507, "steps run until the disk is full, then 507 (%d steps, %s)"
          % (ok_steps, answers[-1:]))
    err = (last or {}).get("error", {})
    check(err.get("code") == "insufficient_storage" and path in err.get("message", "") and last.get("file") == path,
          "the 507 is insufficient_storage and names the episode file (%s)" % last)
    st, r, _ = s.post("/env/step", body={"action": "stay"})
    check(st == 507, "while the disk stays full, every step is 507 (%d)" % st)
    with open(path, "rb") as f:
        text = f.read()
    lines = text.split(b"\n")
    check(text.endswith(b"\n"), "the episode file ends with a whole row")
    rows = [line for line in lines[2:-1]]
    ncols = lines[1].count(b",")
    check(len(rows) == ok_steps and all(row.count(b",") == ncols for row in rows)
          and [int(row.split(b",")[1]) for row in rows] == list(range(1, ok_steps + 1)),
          "it holds exactly the answered steps, each row whole (%d rows)" % len(rows))

    os.remove(filler)
    st, r, _ = s.post("/env/step", body={"action": "stay"})
    check(st == 200 and r["info"]["step"] == ok_steps + 1,
          "with space again, the next step is step %d: the failed ones did not count (%s)" % (ok_steps + 1, st))
    with open(path, "rb") as f:
        after = f.read()
    check(after.startswith(text) and after[len(text):].count(b"\n") == 1
          and after[len(text):].split(b",")[1] == b"%d" % (ok_steps + 1) and after[len(text):].count(b",") == ncols,
          "and it wrote one whole row, right after the last one")

    # A reset whose file cannot be written: 507, and no episode to step.
    fill(0)
    st, r, _ = s.post("/env/reset", body={"pods": 2})
    check(st == 507 and r["error"]["code"] == "insufficient_storage", "a reset on a full disk: 507 (%d %s)" % (st, r))
    st, r, _ = s.post("/env/step", body={"action": "stay"})
    check(st == 409 and r["error"]["code"] == "no_episode", "after it, a step is 409 no_episode (%d)" % st)
    os.remove(filler)
    st, r, _ = s.post("/env/reset", body={"pods": 2})
    check(st == 200 and os.path.getsize(r["file"]) > 0, "with space again, a reset writes its file's header")
finally:
    if s:
        s.cleanup()
    subprocess.run(["umount", disk])
    subprocess.run(["rm", "-rf", root])
done()
