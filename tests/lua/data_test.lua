-- data.append: whole CSV rows under data_dir, header once, survives a
-- deleted file or folder; paths outside data_dir are refused.
local failures, count = 0, 0
local function check(cond, what)
  count = count + 1
  if cond then print("ok   - " .. what) else failures = failures + 1; print("FAIL - " .. what) end
end
local function slurp(p) local f = io.open(p); if not f then return nil end; local s = f:read("a"); f:close(); return s end

local root = engine.config().data_dir
local sub = string.format("lua-data-test-%d", math.floor(clock.mono() * 1000) % 1000000)
local dir, rel = root .. "/" .. sub, sub .. "/rows.csv"

local p = assert(data.append(rel, { 1, "x,y", json.null, true, 'say "hi"' }, "a,b,c,d,e"))
assert(data.append(rel, { 2, "z", 1.5, false, "" }, "a,b,c,d,e"))
check(p:sub(-#rel) == rel and p:sub(1, 1) == "/", "append returns the absolute path")
check(slurp(dir .. "/rows.csv") == 'a,b,c,d,e\n1,"x,y",,1,"say ""hi"""\n2,z,1.5,0,\n',
      "header once, fields quoted as CSV, null empty, booleans 1/0")

os.remove(dir .. "/rows.csv")
assert(data.append(rel, "3,again", "h"))
check(slurp(dir .. "/rows.csv") == "h\n3,again\n", "a deleted file is created anew, with its header")

os.remove(dir .. "/rows.csv")
os.remove(dir)
assert(data.append(rel, "4,folder", "h"))
check(slurp(dir .. "/rows.csv") == "h\n4,folder\n", "a deleted folder is created anew")

local ok, err = data.append("../escape.csv", "no")
check(ok == nil and err.status == 400, "a path outside data_dir is refused with 400")
check(not pcall(data.append, rel, "two\nlines"), "a line with a newline is misuse")
check(not pcall(data.append, rel, { {} }), "a table field is misuse")

-- a row far longer than the row buffer's first block: quoted fields,
-- numbers, integers past 1e14 and booleans all land after it grows
os.remove(dir .. "/rows.csv")
local long, want = {}, {}
for i = 1, 300 do
  local k = i % 5
  if k == 0 then long[i], want[i] = "q,\"" .. i, '"q,""' .. i .. '"'
  elseif k == 1 then long[i] = i * 1.25; want[i] = string.format("%.14g", long[i])
  elseif k == 2 then long[i], want[i] = string.rep("v", 20), string.rep("v", 20)
  elseif k == 3 then long[i], want[i] = 123456789012345678 + i, tostring(123456789012345678 + i)
  else long[i], want[i] = i % 2 == 0, i % 2 == 0 and "1" or "0" end
end
assert(data.append(rel, long))
check(slurp(dir .. "/rows.csv") == table.concat(want, ",") .. "\n", "a 6 KB row of every kind of field, whole")
check(not pcall(data.append, rel, { 1, print }), "a function field is misuse")

local n = 0
local r = data.locked("t", function(a, b) n = n + 1; return a + b end, 2, 3)
check(r == 5 and n == 1, "data.locked runs the function and returns its results")
check(not pcall(data.locked, "t", function() error("boom") end), "an error inside data.locked propagates")
check(data.locked("t", function() return "free" end) == "free", "...and releases the lock")

os.remove(dir .. "/rows.csv")
os.remove(dir)
print(string.format("%d passed, %d failed", count - failures, failures))
return failures == 0 and 0 or 1
