---@meta jmeter
-- jmeter: load tests. The native open- or closed-loop generator (or the sim
-- backend's model of it), JMeter .jmx plans run natively or by the JMeter
-- CLI, and JTL files. Source: bindings/modules/lb_jmeter.c.
--
-- Bad input (rate <= 0, threads < 1, a bad URL, a duration over
-- load.max_duration_s, a plan that does not exist or is not XML) returns nil
-- and a podgym.err with status 400 (404 for a missing plan); a wrong type or
-- an option name the function does not know raises, naming the closest one.
-- Files written (jtl=, JMeter's results and logs) go under data_dir.

---A request body read from a file, sent as multipart/form-data.
---@class jmeter.file
---@field path string
---@field param? string the form field (default "file")
---@field mime? string

---jmeter.load's options. When none of rate, profile, threads, loops and
---duration is given they all come from the config's load section; duration,
---timeout, method, body and url default to it one by one. Open loop when rate
---(or profile) is given and loops is not; closed loop otherwise.
---@class jmeter.load_opts
---@field driver? "native"|"sim" native generator (default), or the backend's own model ("sim")
---@field url? string one target
---@field urls? string[] several targets, in turn
---@field service? boolean the backend's ready pods, as a Service spreads them
---@field path? string with service: the path on each pod (default "/")
---@field method? string GET, POST, ...
---@field headers? table<string, string>
---@field body? string
---@field file? jmeter.file
---@field rate? number requests/s, open loop
---@field profile? {[1]: number, [2]: number}[] a rate profile: {{t_s, rps}, ...}
---@field duration? number seconds
---@field connections? integer 1..1000: at most this many requests in flight (0: no limit)
---@field threads? integer 1..10000, closed loop
---@field loops? integer per thread (0: for the duration)
---@field ramp? number seconds to start every thread
---@field think? number milliseconds between a thread's requests
---@field timeout? number seconds per request
---@field keepalive? boolean default true
---@field follow? boolean follow redirects (default false)
---@field label? string the samples' label
---@field jtl? string write the samples to this JTL file under data_dir
---@field samples? boolean return every sample (default: their count)
---@field client? "auto"|"h1"|"curl" the HTTP client: auto picks h1 for plain http://

---A statistic over the samples, in milliseconds; nil when there is no value.
---@class jmeter.stats
---@field mean? number
---@field min? number
---@field max? number
---@field p50? number
---@field p90? number
---@field p95? number
---@field p99? number

---@class jmeter.summary
---@field count integer samples
---@field errors integer samples with success = false
---@field drop_pct? number errors / count x 100
---@field duration_s? number
---@field throughput_rps? number
---@field bytes integer
---@field elapsed jmeter.stats full response time (JMeter "elapsed")
---@field latency jmeter.stats time to the first byte (JMeter "Latency")

---@class jmeter.sample
---@field ts number when it was sent (intended send time in open loop), epoch seconds
---@field elapsed? number ms
---@field latency? number ms
---@field connect? number ms
---@field code integer HTTP status (0: none)
---@field success boolean
---@field message string
---@field bytes? integer
---@field sent_bytes? integer
---@field thread integer
---@field label? string
---@field url? string

---@class jmeter.result
---@field summary jmeter.summary
---@field count integer samples
---@field samples integer|jmeter.sample[] their count, or (samples = true) the samples
---@field jtl? string the JTL file written or read
---@field driver "native"|"sim"|"jmeter"|"jtl"
---@field client? "h1"|"curl" native: which HTTP client carried the requests
---@field warnings? string[] what a .jmx asked for that the native generator cannot honour
---@field log? string jmeter.run: JMeter's log file

---@class jmeter.plan_opts
---@field plan? string the .jmx (default: load.plan of the config)
---@field props? table<string, string|number> -J properties, for ${__P(name,default)}
---@field jtl? string
---@field samples? boolean
---@field timeout? number seconds (load_plan: per request; run: for the whole JMeter run)

---A .jmx plan as the native generator reads it.
---@class jmeter.import
---@field name string
---@field thread_group string
---@field label string
---@field mode "open"|"closed"
---@field threads integer
---@field loops integer
---@field ramp number
---@field rate number
---@field duration number
---@field think number
---@field timeout? number
---@field throughput_per_min number
---@field calc_mode integer
---@field planned_samples integer
---@field planned_s number
---@field url string
---@field urls string[]
---@field method string
---@field headers string[]
---@field body? string
---@field file? jmeter.file
---@field keepalive boolean
---@field follow_redirects boolean
---@field warnings string[]

---@class jmeter.read_opts
---@field samples? boolean return every sample

jmeter = {}

---A load test with the native generator (or the backend's model with driver = "sim").
---@param opts jmeter.load_opts
---@return jmeter.result|nil result
---@return podgym.err? err
function jmeter.load(opts) end

---A .jmx plan's Thread Group, Loop Controller, Constant Throughput Timer and
---HTTP sampler, run natively (no Java).
---@param opts jmeter.plan_opts
---@return jmeter.result|nil result
---@return podgym.err? err
function jmeter.load_plan(opts) end

---The JMeter CLI (load.jmeter of the config) on a plan, then its JTL read back.
---@param opts jmeter.plan_opts
---@return jmeter.result|nil result
---@return podgym.err? err
function jmeter.run(opts) end

---What the native generator reads of a .jmx plan.
---@param plan string
---@param props? table<string, string|number>
---@return jmeter.import|nil plan
---@return podgym.err? err
function jmeter.import(plan, props) end

---A JTL file (JMeter CSV, read by header name).
---@param path string
---@param opts? jmeter.read_opts
---@return jmeter.result|nil result
---@return podgym.err? err
function jmeter.read_jtl(path, opts) end

---The summary of samples as jmeter.load{samples = true} returns them.
---@param samples jmeter.sample[]
---@return jmeter.summary
function jmeter.summarize(samples) end

return jmeter
