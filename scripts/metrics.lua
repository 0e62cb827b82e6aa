-- /metrics: background sampling of the GET /pod system summary to a CSV (or
-- JSON Lines) file in the data directory, on a drift-free 0.2 s grid.
-- The seed blocked POST /metrics for 25 minutes; here it starts a job and
-- answers 202 at once. The probe is policies/probe.lua.
local sampler = require "sampler"
local json = require "json"

local function fail(status, code, message)
  error({ status = status, code = code, message = message }, 0)
end

local function raise(err)
  fail(err.status or 500, err.code or "internal", err.message or "sampler failed")
end

-- A number of seconds from the query (a string) or the body (a number).
local function seconds(name, v, code)
  if v == nil then return nil end
  local n = v
  if type(v) == "string" then n = tonumber(v) end
  if type(n) ~= "number" or n ~= n or n == math.huge or n == -math.huge then
    fail(400, code, name .. " must be a finite number of seconds, got " ..
         (type(v) == "string" and string.format("%q", v) or type(v)))
  end
  return n
end

-- Options from the JSON body (if any) overridden by the query string.
local function options(req)
  local body = {}
  if req.body and req.body:match("%S") then
    local v = req:json()
    if type(v) == "table" then body = v end     -- the agent posts "" as its body: nothing to read
  end
  local q = req.query or {}
  local function pick(k)
    if q[k] ~= nil then return q[k] end
    return body[k]
  end
  local file, format, mode = pick("file"), pick("format"), pick("mode")
  if file ~= nil and type(file) ~= "string" then fail(400, "bad_file", "file must be a string") end
  if mode ~= nil and mode ~= "new" and mode ~= "append" then fail(400, "bad_mode", "mode must be new or append") end
  if format ~= nil and type(format) ~= "string" then fail(400, "bad_format", "format must be csv or jsonl") end
  return {
    interval = seconds("interval", pick("interval"), "bad_interval"),
    duration = seconds("duration", pick("duration"), "bad_duration"),
    file = file,
    format = format,
    mode = mode,
  }
end

local function job_id(req)
  local id = tonumber(req.params.job)
  if not id or math.type(id) ~= "integer" or id < 1 then
    fail(404, "not_found", "no sampling job '" .. tostring(req.params.job) .. "'")
  end
  return id
end

local function listing(jobs)
  local running = 0
  for _, j in ipairs(jobs) do
    if j.running then running = running + 1 end
  end
  return { jobs = json.array(jobs), running = running, max_jobs = sampler.max_jobs }
end

local seconds_schema = { type = "number" }

return {
  {
    method = "POST", path = "/metrics",
    summary = "Start sampling cpu_pct, mem_pct, online_pods, total_pods every interval s to a file (202 at once)",
    query = {
      interval = { description = "seconds between samples (0.01 to 3600, default 0.2)", schema = seconds_schema },
      duration = { description = "seconds to sample (default 1500 = 25 min, at most 7 days)", schema = seconds_schema },
      file = { description = "file name inside the data directory (default metrics.csv)" },
      format = { description = "csv (default) or jsonl" },
      mode = { description = "new (default: a file that exists is 409) or append" },
    },
    body = { type = "object", properties = { interval = seconds_schema, duration = seconds_schema,
                                             file = { type = "string" }, format = { type = "string" },
                                             mode = { type = "string", enum = { "new", "append" } } } },
    responses = { ["202"] = { description = "{job, file, format, interval_s, duration_s}" },
                  ["400"] = { description = "bad interval, duration, file or format" },
                  ["409"] = { description = "the file exists (mode=append adds to it), or another running job writes it" },
                  ["429"] = { description = "too many sampling jobs running" } },
    handler = function(req)
      local started, err = sampler.start(options(req))
      if not started then raise(err) end
      return 202, started, { Location = "/metrics/" .. started.job }
    end,
  },
  {
    method = "GET", path = "/metrics",
    summary = "Every sampling job: running, samples, missed ticks, period error, jitter p50/p99/max, last row",
    handler = function() return listing(sampler.status()) end,
  },
  {
    method = "GET", path = "/metrics/{job}",
    summary = "One sampling job's status",
    handler = function(req)
      local st, err = sampler.status(job_id(req))
      if not st then raise(err) end
      return st
    end,
  },
  {
    method = "DELETE", path = "/metrics",
    summary = "Stop every sampling job; files flushed and fsync'ed before the answer",
    handler = function() return listing(sampler.stop()) end,
  },
  {
    method = "DELETE", path = "/metrics/{job}",
    summary = "Stop one sampling job; its file is flushed and fsync'ed before the answer",
    handler = function(req)
      local st, err = sampler.stop(job_id(req))
      if not st then raise(err) end
      return st
    end,
  },
}
