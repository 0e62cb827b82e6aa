-- GET /ui: one page to look at (scripts/lib/ui/page.lua, no external
-- network: the charts are hand-written SVG), and the two small JSON routes
-- it reads besides GET /pod:
--   GET /ui/series   recent rows of the running sampler job (cpu %, mem %,
--                    pods) and of the current episode (cpu %, mem %, pods,
--                    latency, reward), read from their files under data_dir
--   GET /ui/rewards  the reward of each of this run's last episodes
local data = require "data"
local engine = require "engine"
local json = require "json"
local sampler = require "sampler"
local shared = require "shared"
local page = require "ui.page"

local MAX_POINTS = 600          -- rows of a series sent to the page
local MAX_EPISODES = 50         -- episodes in /ui/rewards
local null = json.null

-- One CSV line as a list of strings (quoted fields as data.append writes them).
local function fields(line)
  local out, i, n = {}, 1, #line
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while j <= n do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
          else j = j + 1; break end
        else buf[#buf + 1] = c; j = j + 1 end
      end
      out[#out + 1] = table.concat(buf)
      i = j + 1
    else
      local j = line:find(",", i, true) or n + 1
      out[#out + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return out
end

-- The rows of a CSV file's tail as tables by column name; the header is
-- the first line that is not a # comment (given when the tail lost it).
local function rows(file, header)
  local text = data.tail(file, 1 << 20)
  if not text then return nil end
  local cols, out = header, {}
  for line in text:gmatch("[^\n]+") do
    if line:sub(1, 1) ~= "#" then
      local f = fields(line)
      if not cols or (f[1] == cols[1] and f[2] == cols[2]) then
        cols = cols or f
      else
        local r = {}
        for k, name in ipairs(cols) do r[name] = f[k] end
        out[#out + 1] = r
      end
    end
  end
  return out, cols
end

local function num(v)
  local n = tonumber(v)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return null end
  return n
end

-- The last n of list[from..].
local function last(list, n, from)
  local out = {}
  for i = math.max(from or 1, #list - n + 1), #list do out[#out + 1] = list[i] end
  return out
end

local SAMPLER_COLS = { "timestamp", "cpu_pct", "mem_pct", "online_pods", "total_pods", "epoch_s", "probe_ms", "missed" }

-- The running sampler job (the newest), or the newest job that wrote a CSV.
local function sampler_series()
  local jobs = sampler.status() or {}
  local pick
  for _, j in ipairs(jobs) do
    if j.format == "csv" and (not pick or (j.running and not pick.running) or
                              (j.running == pick.running and j.job > pick.job)) then
      pick = j
    end
  end
  if not pick then return null end
  local list = rows(pick.file, SAMPLER_COLS) or {}
  -- a reset of the backend's clock (a new episode on sim) starts the rows' time again: the rows since the last one
  local from = 1
  for i = 2, #list do
    local a, b = tonumber(list[i - 1].epoch_s), tonumber(list[i].epoch_s)
    if a and b and b < a then from = i end
  end
  local pts = {}
  for _, r in ipairs(last(list, MAX_POINTS, from)) do
    pts[#pts + 1] = { t = num(r.epoch_s), cpu = num(r.cpu_pct), mem = num(r.mem_pct),
                      pods = num(r.online_pods), total = num(r.total_pods) }
  end
  return { job = pick.job, running = pick.running, file = pick.file, points = json.array(pts) }
end

local function episode_file(n)
  local ok, env = pcall(require, "env")
  local dir = ok and type(env) == "table" and type(env.episodes_dir) == "string" and env.episodes_dir or "episodes"
  return string.format("%s/%s/episode-%d.csv", dir, engine.status().run_id or "unknown", n)
end

local function current_episode()
  local n = shared.get("env.episode")
  return math.tointeger(tonumber(n))
end

local function episode_series()
  local n = current_episode()
  if not n then return null end
  local list = rows(episode_file(n))
  if not list then return null end
  local pts = {}
  for _, r in ipairs(last(list, MAX_POINTS)) do
    pts[#pts + 1] = { step = num(r.step), t = num(r.time), cpu = num(r.next_cpu_percent),
                      mem = num(r.next_mem_percent), pods = num(r.next_pods),
                      latency = num(r.avg_latency), reward = num(r.reward), action = r.action or null }
  end
  return { episode = n, file = episode_file(n), points = json.array(pts) }
end

-- An episode's total reward, its steps and whether it is done; a done
-- episode's answer is kept in the shared dict (its file no longer changes).
local function episode_reward(n)
  local key = "ui.reward." .. (engine.status().run_id or "") .. "." .. n
  local kept = shared.get(key)
  if kept then return json.decode(kept) end
  local list = rows(episode_file(n))
  if not list then return nil end
  local sum, done = 0, false
  for _, r in ipairs(list) do
    sum = sum + (tonumber(r.reward) or 0)
    if r.done == "1" or r.done == "true" then done = true end
  end
  local e = { episode = n, steps = #list, reward = sum, done = done }
  if done then shared.set(key, json.encode(e)) end
  return e
end

return {
  {
    method = "GET", path = "/ui",
    summary = "A page to look at: the pods, time series of CPU %, memory %, pods and latency, reward per episode",
    handler = function()
      return 200, page, { ["Content-Type"] = "text/html; charset=utf-8", ["Cache-Control"] = "no-store" }
    end,
  },
  {
    method = "GET", path = "/ui/series",
    summary = "Recent rows of the running sampler job and of the current episode, for /ui",
    handler = function()
      return { sampler = sampler_series(), episode = episode_series(), now = os.time() }
    end,
  },
  {
    method = "GET", path = "/ui/rewards",
    summary = "The reward of each of this run's last 50 episodes, for /ui",
    handler = function()
      local n, out = current_episode(), {}
      if n then
        for i = math.max(1, n - MAX_EPISODES + 1), n do
          local e = episode_reward(i)
          if e then out[#out + 1] = e end
        end
      end
      return { run_id = engine.status().run_id, episodes = json.array(out) }
    end,
  },
}
