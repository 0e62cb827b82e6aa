-- help.lua: the repl's help(), from the ---@meta stubs of bindings/lua/meta
-- (embedded in the binary). Called with { [file] = stub text }; returns help.
--   help()            the modules, with their one-line description
--   help(k8s)         a module's functions, one line each
--   help(k8s.scale)   a function's documentation (also help("k8s.scale"))
local stubs = ...

local modules = {}      -- name -> { about = "...", fns = { name -> { sig=, lines= } }, order = { names } }
local by_name = {}      -- "k8s.scale" -> fn doc
local classes = {}      -- "k8s.wait_opts" -> { "field type description", ... }

-- The first sentence of a module's header comment, without its "name: ".
local function first_sentence(text, keep_name)
  if not keep_name then text = text:gsub("^[%w_]+: ", "") end
  text = text:gsub("%s+", " ")
  local s = text:match("^(.-%.)%s") or text:match("^(.-%.)$") or text
  if #s > 90 then s = s:sub(1, 87) .. "..." end
  return s
end

local function parse(text)
  local mod, doc, header, class = nil, {}, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local m = line:match("^%-%-%-@meta%s+([%w_]+)")
    local cname = line:match("^%-%-%-@class%s+([%w_.]+)")
    local field = line:match("^%-%-%-@field%s+(.*)")
    if m then
      mod = { name = m, about = nil, fns = {}, order = {} }
      modules[m] = mod
      header = {}
    elseif header and line:match("^%-%- ") then
      header[#header + 1] = line:sub(4)
    elseif header then
      mod.about = first_sentence(table.concat(header, " "))
      header = nil
    end
    if cname then
      class = {}
      classes[cname] = class
    elseif field and class then
      class[#class + 1] = field
    elseif not line:match("^%-%-%-") then
      class = nil
    end
    if m or header then
      -- the header comment
    elseif line:match("^%-%-%-") then
      doc[#doc + 1] = line:sub(4)
    else
      local owner, fname, args = line:match("^function ([%w_]+)[.:]([%w_]+)(%b())")
      if owner and modules[owner] then
        local f = { name = owner .. "." .. fname, sig = owner .. "." .. fname .. args, lines = doc }
        local m2 = modules[owner]
        if not m2.fns[fname] then m2.order[#m2.order + 1] = fname end
        m2.fns[fname] = f
        by_name[f.name] = f
      end
      doc = {}
    end
  end
end

local files = {}
for name in pairs(stubs) do files[#files + 1] = name end
table.sort(files)
for _, name in ipairs(files) do parse(stubs[name]) end

local function summary(f)
  local text = {}
  for _, l in ipairs(f.lines) do
    if not l:match("^@") then text[#text + 1] = l end
  end
  return first_sentence(table.concat(text, " "), true)
end

local function describe(f)
  local out, params, returns = { f.sig }, {}, {}
  for _, l in ipairs(f.lines) do
    local p = l:match("^@param%s+(.*)")
    local r = l:match("^@return%s+(.*)")
    if p then params[#params + 1] = "  " .. p
    elseif r then returns[#returns + 1] = "  " .. r
    elseif not l:match("^@") then out[#out + 1] = "  " .. l end
  end
  -- a parameter's or result's type that is a documented class: its fields too
  local function with_fields(list, l)
    list[#list + 1] = l
    local t = l:match("^%s*[%w_.]+%??%s+([%w_.]+)")
    for _, f in ipairs(t and classes[t] or {}) do list[#list + 1] = "      ." .. f end
  end
  local p2, r2 = {}, {}
  for _, l in ipairs(params) do with_fields(p2, l) end
  for _, l in ipairs(returns) do with_fields(r2, l) end
  params, returns = p2, r2
  if #params > 0 then out[#out + 1] = "parameters:"; for _, l in ipairs(params) do out[#out + 1] = l end end
  if #returns > 0 then out[#out + 1] = "returns:"; for _, l in ipairs(returns) do out[#out + 1] = l end end
  return table.concat(out, "\n")
end

-- the documented functions by value: help(k8s.scale)
local function find_value(v)
  for mname, m in pairs(modules) do
    local t = rawget(_G, mname)
    if type(t) == "table" then
      if t == v then return m end
      for fname, f in pairs(m.fns) do
        if rawget(t, fname) == v then return f end
      end
    end
  end
end

local function module_text(m)
  local out = { m.name .. ": " .. (m.about or "") }
  local names = {}
  for _, n in ipairs(m.order) do names[#names + 1] = n end
  table.sort(names)
  for _, n in ipairs(names) do
    out[#out + 1] = string.format("  %-22s %s", m.name .. "." .. n, summary(m.fns[n]))
  end
  out[#out + 1] = "help(" .. m.name .. ".NAME) for one function"
  return table.concat(out, "\n")
end

local function help_text(v)
  if v == nil then
    local names = {}
    for n, m in pairs(modules) do
      if type(rawget(_G, n)) == "table" and #m.order > 0 then names[#names + 1] = n end
    end
    table.sort(names)
    local out = { "modules:" }
    for _, n in ipairs(names) do out[#out + 1] = string.format("  %-10s %s", n, modules[n].about or "") end
    out[#out + 1] = "help(k8s) lists a module's functions, help(k8s.scale) shows one."
    out[#out + 1] = "Ctrl-C stops a running statement (a wait, a sleep, a load test); Ctrl-D quits."
    return table.concat(out, "\n")
  end
  local d
  if type(v) == "string" then d = by_name[v] or modules[v] else d = find_value(v) end
  if not d then
    return "no documentation for " .. tostring(v) .. " (help() lists the modules)"
  end
  if d.fns then return module_text(d) end
  return describe(d)
end

return function(v)
  print(help_text(v))
end
