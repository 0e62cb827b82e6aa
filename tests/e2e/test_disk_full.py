"""A full disk: data.append and a sampler job write whole rows or none.
A small tmpfs is the disk; once it is full the append answers 507
insufficient_storage, the file ends on its last whole row, and after space is
freed the next row is whole and follows the last one directly."""
import os
import subprocess
import tempfile

from pgtest import BIN, check, done, skip

root = tempfile.mkdtemp(prefix="podgym-diskfull-")
disk = os.path.join(root, "disk")
os.makedirs(disk)
if os.geteuid() != 0:
    skip("mounting a small tmpfs needs root")
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "podgym-test", disk],
                   capture_output=True, text=True)
if r.returncode != 0:
    skip("cannot mount a tmpfs: " + (r.stderr.strip() or "mount failed"))

try:
    data = os.path.join(disk, "data")
    config = os.path.join(root, "podgym.yaml")
    with open(config, "w") as f:
        f.write("data_dir: %s\n" % data)
    script = os.path.join(root, "fill.lua")
    # Rows of 101 bytes until the disk refuses one; then free the filler and
    # append once more. Prints what the test checks.
    with open(script, "w") as f:
        f.write(r'''
local filler = ...
local row = string.rep("x", 90)
local n, err = 0, nil
while true do
  local ok, e = data.append("rows.csv", { n, row }, "i,payload")
  if not ok then err = e break end
  n = n + 1
  if n > 100000 then break end
end
print("rows", n)
print("status", err and err.status, err and err.code)
print("message", err and err.message)
os.remove(filler)
print("after", data.append("rows.csv", { "last", "row" }, "i,payload") and "ok" or "failed")
''')
    os.makedirs(data)
    filler = os.path.join(disk, "filler")
    with open(filler, "wb") as f:      # leave room for some rows, not a whole number of them
        f.write(b"\0" * 16 * 1024)
    out = subprocess.run([BIN, "run", script, filler, "-c", config], capture_output=True, text=True, timeout=60)
    lines = dict(l.split("\t", 1) for l in out.stdout.splitlines() if "\t" in l)
    check(out.returncode == 0, "the script ran (%s)" % out.stderr.strip()[-200:])
    rows = int(lines.get("rows", "0"))
    check(rows > 10, "rows were written before the disk filled (%d)" % rows)
    check(lines.get("status") == "507\tinsufficient_storage",
          "the failing append is 507 insufficient_storage (%s)" % lines.get("status"))
    check("rows.csv" in lines.get("message", "") and "No space left" in lines.get("message", ""),
          "the message names the file and the cause (%s)" % lines.get("message"))
    check(lines.get("after") == "ok", "after space is freed, the next append works")
    with open(os.path.join(data, "rows.csv"), "rb") as f:
        text = f.read()
    body = text.split(b"\n")
    check(text.endswith(b"\n"), "the file ends with a whole row")
    check(body[0] == b"i,payload", "the header is written once, first")
    want = [b"%d,%s" % (i, b"x" * 90) for i in range(rows)] + [b"last,row", b""]
    check(body[1:] == want, "every row is whole, none partial, the last one right after them (%d lines)" % len(body))

    # A sampler job on the full disk: its rows are whole too, and its status says why it stopped.
    with open(filler, "wb") as f:      # tmpfs counts 4 KiB pages: leave two or three free
        f.write(b"\0" * (64 * 1024 - 4096 * (len(text) // 4096 + 1) - 12 * 1024))
    script2 = os.path.join(root, "sample.lua")
    with open(script2, "w") as f:
        f.write(r'''
local job = assert(sampler.start { interval = 0.01, duration = 4, file = "samples.csv" })
local st
repeat k8s.sleep(0.05); st = sampler.status(job.job) until st.state ~= "running"  -- the sim's clock
print("state", st.state)
print("error", st.error or "")
''')
    out = subprocess.run([BIN, "run", script2, "-c", config], capture_output=True, text=True, timeout=60)
    lines = dict(l.split("\t", 1) for l in out.stdout.splitlines() if "\t" in l)
    check(out.returncode == 0, "the sampler script ran (%s)" % out.stderr.strip()[-200:])
    check("insufficient_storage" in lines.get("error", ""),
          "the sampler job stopped with insufficient_storage (%s / %s)" % (lines.get("state"), lines.get("error")))
    with open(os.path.join(data, "samples.csv"), "rb") as f:
        s = f.read()
    srows = s.split(b"\n")
    check(s.endswith(b"\n") and len(srows) > 2, "the sample file ends with a whole row (%d rows)" % (len(srows) - 1))
    ncols = srows[0].count(b",")
    check(all(r.count(b",") == ncols for r in srows[:-1]), "every sample row has the header's columns")
finally:
    subprocess.run(["umount", disk])
    subprocess.run(["rm", "-rf", root])
done()
