"""The ---@meta stubs (bindings/lua/meta/) document the whole Lua API: every
function a C binding registers (its luaL_Reg tables), every module the
runtime preloads, and every function and field the real binary's modules
have. The stubs compile, and the binary holds them as text only, for the
repl's help() (never run: they would replace the modules with empty tables)."""
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import BIN, SRC, check, done  # noqa: E402

META = os.path.join(SRC, "bindings", "lua", "meta")
stubs = {os.path.splitext(os.path.basename(p))[0]: open(p).read() for p in glob.glob(os.path.join(META, "*.lua"))}
check(stubs, "bindings/lua/meta/ has stub files")
check(all(text.startswith("---@meta") for text in stubs.values()), "every stub file starts with ---@meta")

# What the stubs declare: `function mod.a.b(` and `mod.a.b = ...`, at the start of a line.
declared = set()
for text in stubs.values():
    declared |= set(re.findall(r"^function ([\w.]+)\s*\(", text, re.M))
    declared |= set(re.findall(r"^([\w]+(?:\.[\w]+)+)\s*=", text, re.M))


def documented(module, name):
    """module.name, or module.<sub>.name (a table of functions such as k8s.sim)."""
    if "%s.%s" % (module, name) in declared:
        return True
    return any(d.startswith(module + ".") and d.endswith("." + name) and d.count(".") == 2 for d in declared)


# 1. every function in a luaL_Reg table of bindings/modules/*.c
registered = []
for path in sorted(glob.glob(os.path.join(SRC, "bindings", "modules", "*.c"))):
    text = open(path).read()
    openers = set(re.findall(r"^int\s+(?:luaopen_(\w+)|lb_(\w+)_open)\s*\(", text, re.M))
    names = {a or b for a, b in openers}
    module = names.pop() if len(names) == 1 else re.sub(r"^lb_", "", os.path.splitext(os.path.basename(path))[0])
    for body in re.findall(r"luaL_Reg\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\};", text, re.S):
        for fn in re.findall(r'\{\s*"(\w+)"\s*,\s*\w+\s*\}', body):
            registered.append((module, fn, os.path.basename(path)))
check(len(registered) > 40, "the luaL_Reg tables of bindings/modules/*.c are read (%d functions)" % len(registered))
missing = ["%s.%s (%s)" % r for r in registered if not documented(r[0], r[1])]
check(not missing, "every function a binding registers has a stub: missing %s" % missing)

# 2. every module the runtime preloads has a stub file
runtime = open(os.path.join(SRC, "bindings", "runtime", "runtime.c")).read()
table = re.search(r"luaL_Reg\s+modules\s*\[\s*\]\s*=\s*\{(.*?)\};", runtime, re.S).group(1)
modules = re.findall(r'\{\s*"(\w+)"\s*,\s*\w+\s*\}', table)
check(len(modules) >= 9, "the runtime's preloaded modules are read (%s)" % ", ".join(modules))
check(all(m in stubs for m in modules), "every preloaded module has a stub file: missing %s"
      % [m for m in modules if m not in stubs])

# 3. every function and field of the binary's own modules (a table of
# functions one level down too, as k8s.sim)
dump = """
for _, m in ipairs { %s } do
  for k, v in pairs(require(m)) do
    print(m .. "." .. k)
    if type(v) == "table" and getmetatable(v) == nil then
      local funcs = true
      for _, f in pairs(v) do funcs = funcs and type(f) == "function" end
      if funcs then for sub in pairs(v) do print(m .. "." .. k .. "." .. sub) end end
    end
  end
end
""" % ", ".join('"%s"' % m for m in modules)
d = tempfile.mkdtemp(prefix="podgym-meta-")
script = os.path.join(d, "dump.lua")
with open(script, "w") as f:
    f.write(dump)
out = subprocess.run([BIN, "run", script], capture_output=True, text=True, cwd=d, timeout=60)
live = out.stdout.split()
check(out.returncode == 0 and len(live) > 60, "the binary lists its modules' functions and fields (%d, %s)"
      % (len(live), out.stderr.strip()[-200:]))
undocumented = [x for x in live if x not in declared and not documented(*x.rsplit(".", 1))]
check(not undocumented, "every function and field of the modules has a stub: missing %s" % undocumented)

# The stubs are Lua that compiles (never run), and not in the binary.
compile_all = "for _, p in ipairs(arg) do assert(loadfile(p)) end print('compiled')"
with open(script, "w") as f:
    f.write(compile_all)
out = subprocess.run([BIN, "run", script] + sorted(glob.glob(os.path.join(META, "*.lua"))),
                     capture_output=True, text=True, cwd=d, timeout=60)
check(out.returncode == 0 and "compiled" in out.stdout, "every stub compiles (%s)" % out.stderr.strip()[-300:])
with open(BIN, "rb") as f:
    image = f.read()
stubs = sorted(glob.glob(os.path.join(META, "*.lua")))
check(all(open(p, "rb").read() in image for p in stubs), "the binary holds every stub, as help()'s text")
out = subprocess.run([BIN, "repl"], input="type(k8s.scale) == 'function' and k8s.replicas() ~= nil\n",
                     capture_output=True, text=True, cwd=d, timeout=60)
check(out.stdout.strip() == "true", "with the stubs embedded, the modules are still the real ones (%s)"
      % (out.stdout + out.stderr).strip()[-200:])
os.remove(script)
os.rmdir(d)
done()
