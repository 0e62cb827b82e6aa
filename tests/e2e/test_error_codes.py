"""Error codes are a closed set: every code the C core, the bindings and the
shipped scripts can answer with is listed in the README's "Error codes"
table, and the table lists no code that nothing uses."""
import os
import re

from pgtest import SRC, check, done

C_PATTERNS = [
    re.compile(r'\b[1-5][0-9]{2},\s*"([a-z][a-z_]*)"'),        # pg_errf(e, 400, "bad_x", ...) and friends
    re.compile(r'\bbad\(L,\s*"([a-z][a-z_]*)"'),                # the load bindings' 400 helper
    re.compile(r'case [1-5][0-9]{2}: return "([a-z][a-z_]*)"'),  # the code a status gets by default
]
LUA_PATTERN = re.compile(r'\bcode\s*=\s*"([a-z][a-z_]*)"(?!\s*\.\.)')
DYNAMIC = re.compile(r'(\bcode\s*=\s*|\b[1-5][0-9]{2},\s*)"[a-z_]*"\s*\.\.')


def files(top, exts):
    for root, dirs, names in os.walk(os.path.join(SRC, top)):
        dirs[:] = [d for d in dirs if d != "meta"]
        for n in names:
            if n.endswith(exts):
                yield os.path.join(root, n)


used = {}
for path in list(files("core", (".c",))) + list(files("bindings", (".c",))):
    text = open(path, encoding="utf-8").read()
    for pat in C_PATTERNS:
        for m in pat.finditer(text):
            used.setdefault(m.group(1), set()).add(os.path.relpath(path, SRC))
dynamic = []
for top in ("scripts", "policies", "bindings/lua"):
    for path in files(top, (".lua",)):
        text = open(path, encoding="utf-8").read()
        for pat in (LUA_PATTERN, C_PATTERNS[0]):                 # code = "x", and fail(400, "x", ...)
            for m in pat.finditer(text):
                used.setdefault(m.group(1), set()).add(os.path.relpath(path, SRC))
        dynamic += [os.path.relpath(path, SRC)] * len(DYNAMIC.findall(text))
# Not answers: the config reader's exit-2 errors and the JSON encoder's own error markers.
for internal in ("config", "backend"):
    used.pop(internal, None)

readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
m = re.search(r"^## Error codes\n(.*?)(?=^## )", readme, re.S | re.M)
check(m is not None, "README has an 'Error codes' section")
table = {}
for row in re.finditer(r"^\| `([a-z_]+)` \| ([0-9, ]+) \| (.+?) \|$", m.group(1) if m else "", re.M):
    table[row.group(1)] = row.group(2)

check(not dynamic, "no code is built at run time (closed set): %s" % dynamic)
missing = sorted(set(used) - set(table))
check(not missing, "every code in use is in the README table (missing: %s)"
      % ", ".join("%s (%s)" % (c, ", ".join(sorted(used[c]))) for c in missing))
stale = sorted(set(table) - set(used))
check(not stale, "every code in the README table is in use (stale: %s)" % ", ".join(stale))
check(len(table) >= 20, "the table has the codes (%d)" % len(table))
print("%d codes in use, %d documented" % (len(used), len(table)))
done()
