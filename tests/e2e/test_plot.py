"""examples/python/plot_episodes.py renders reward per episode, pods against
offered load and latency from the episode files of a short run (a vector of
envs and the single env) to a PNG that is a real image: the PNG signature,
its declared size, and pixels of more than one colour."""
import os
import re
import struct
import subprocess
import sys
import zlib

from pgtest import SRC, Server, check, done, skip, write

for mod in ("matplotlib", "pandas"):
    try:
        __import__(mod)
    except ImportError:
        skip("%s is not installed for %s (make deps installs python3-%s)" % (mod, sys.executable, mod))


def png_pixels(path):
    """(width, height, colour type, the decompressed scanlines) of a PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
    at, idat, ihdr = 8, b"", None
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        chunk = data[at + 8:at + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        at += 12 + n
    w, h, depth, ctype = ihdr[0], ihdr[1], ihdr[2], ihdr[3]
    return w, h, depth, ctype, zlib.decompress(idat)


def colours(w, h, ctype, raw):
    """The distinct pixels of an 8-bit RGB or RGBA image (filters undone)."""
    bpp = {2: 3, 6: 4}[ctype]
    stride = w * bpp
    prev = bytearray(stride)
    seen = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            for x in range(0, stride, bpp * 2):
                seen.add(bytes(line[x:x + bpp]))
        prev = line
    return seen


s = Server(config="sim: {seed: 5, speed: 0, replicas: 2}\n")
try:
    env_lua = os.path.join(s.policies, "env.lua")
    with open(env_lua) as f:
        write(env_lua, re.sub(r"max_steps = \d+", "max_steps = 12", f.read()))
    check(s.post("/_engine/reload")[0] == 200, "reload with max_steps = 12")
    st, r, _ = s.post("/envs", {"n": 2, "seed": 1, "pods": 1})
    check(st == 200, "a vector of 2 envs")
    plan = ["out", "out", "stay", "out", "in", "stay", "in", "out", "stay", "stay", "in", "out"]
    for k in range(30):                             # two episodes each and a bit, through autoresets
        st, _, _ = s.post("/envs/step", {"actions": [plan[k % len(plan)], plan[(k + 5) % len(plan)]]})
    check(st == 200, "30 vector steps")
    s.post("/env/reset", {"pods": 3, "seed": 2})
    for k in range(12):
        s.post("/env/step", {"action": plan[(k + 3) % len(plan)]})
    out = os.path.join(s.dir, "episodes.png")
    p = subprocess.run([sys.executable, os.path.join(SRC, "examples", "python", "plot_episodes.py"),
                        os.path.join(s.data, "episodes"), "-o", out, "--title", "test_plot"],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "plot_episodes.py ran (%d): %s" % (p.returncode, p.stderr[-500:]))
    check(os.path.exists(out) and os.path.getsize(out) > 20000, "the PNG is written and not tiny (%d bytes)"
          % (os.path.getsize(out) if os.path.exists(out) else 0))
    w, h, depth, ctype, raw = png_pixels(out)
    check(w >= 600 and h >= 600 and depth == 8 and ctype in (2, 6), "a %dx%d 8-bit colour PNG" % (w, h))
    seen = colours(w, h, ctype, raw)
    check(len(seen) > 20, "more than one colour: %d distinct pixels sampled" % len(seen))
    print("# %s: %dx%d, %d bytes, %d colours sampled" % (out, w, h, os.path.getsize(out), len(seen)))
    import shutil
    build = os.path.join(os.getcwd(), "build")
    if os.path.isdir(build):
        shutil.copy(out, os.path.join(build, "test_plot.png"))      # to look at
finally:
    s.stop()
done()
