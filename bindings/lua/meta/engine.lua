---@meta engine
-- engine: the server itself: status, reload, routes, metrics and the
-- settings scripts may read. Source: bindings/modules/lb_engine.c.

---@class engine.route
---@field method string
---@field path string
---@field summary? string
---@field file string the script that declares it

---@class engine.status
---@field version string
---@field backend string
---@field uptime_s number
---@field run_id? string this process's run: UTC start time and 32 random bits
---@field config_hash? string 16 hex digits: the effective config (less paths, addresses, secrets) and every script and module file of this state's generation
---@field generation? integer the script generation serving now
---@field reloads? integer
---@field reload_failures? integer
---@field last_error? string the last refused reload's message (file:line: message)
---@field scripts? string the scripts folder
---@field policies? string the policies folder
---@field routes? engine.route[] the routes of this state's generation

---@class engine.load_config
---@field driver string auto, native, jmeter or sim
---@field url string "": the backend's ready pods
---@field method string
---@field rate number requests/s (0: closed loop)
---@field duration_s number
---@field threads integer
---@field loops integer
---@field timeout_s number
---@field max_duration_s number
---@field plan string the .jmx of driver jmeter
---@field jmeter string the JMeter CLI
---@field body string

---@class engine.sampler_config
---@field interval_s number
---@field duration_s number
---@field file string
---@field format string
---@field max_jobs integer

---@class engine.sim_config
---@field seed integer
---@field speed number 0: the virtual clock never waits
---@field replicas integer

---What podgym.yaml says (never the auth token).
---@class engine.config
---@field backend string
---@field data_dir string
---@field namespace string
---@field deployment string
---@field hpa_target_cpu_percent number
---@field listen_host string
---@field listen_port integer
---@field load engine.load_config
---@field sampler engine.sampler_config
---@field sim engine.sim_config

engine = {}

---@return engine.status
function engine.status() end

---Reload scripts and policies now (as SIGHUP); a script that does not compile keeps the running generation.
---@return integer|nil generation
---@return podgym.err? err
function engine.reload() end

---The route declarations of this state's generation, without their handlers.
---@return podgym.route[]
function engine.routes() end

---GET /_engine/metrics: Prometheus text.
---@return string
function engine.metrics() end

---@return engine.config
function engine.config() end

return engine
