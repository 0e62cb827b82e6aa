---@meta sampler
-- sampler: drift-free background sampling jobs (POST /metrics). Each job
-- runs on its own thread on an absolute schedule and calls a probe, a
-- function of a policy module, in a state of the current script generation.
-- Source: bindings/modules/lb_sampler.c.

---@class sampler.start_opts
---@field interval? number seconds between samples (default sampler.interval_s, 0.2)
---@field duration? number seconds the job runs (default sampler.duration_s, 1500)
---@field file? string under data_dir (default sampler.file, metrics.csv); an existing file is 409
---@field format? "csv"|"jsonl" default: from the extension (.jsonl, .ndjson), else sampler.format
---@field probe? string "module.function" (default "probe.sample"), returning {cpu_pct, mem_pct, online_pods, total_pods} or the GET /pod shape

---@class sampler.started
---@field job integer
---@field file string the absolute path
---@field format "csv"|"jsonl"
---@field interval_s number
---@field duration_s number

---The last row written; a value is json.null when unknown.
---@class sampler.row
---@field timestamp string
---@field epoch_s number
---@field probe_ms number
---@field missed integer
---@field cpu_pct number|lightuserdata
---@field mem_pct number|lightuserdata
---@field online_pods number|lightuserdata
---@field total_pods number|lightuserdata

---@class sampler.status
---@field job integer
---@field running boolean
---@field state string
---@field file string
---@field format string
---@field interval_s number
---@field duration_s number
---@field started number epoch seconds
---@field finished? number epoch seconds
---@field elapsed_s number
---@field ticks integer
---@field samples integer
---@field missed integer ticks the probe overran
---@field probe_errors integer
---@field bytes integer
---@field jitter_p50_ms number
---@field jitter_p99_ms number
---@field jitter_max_ms number
---@field probe_ms_mean number
---@field probe_ms_max number
---@field mean_period_s? number
---@field period_error_pct? number
---@field error? string
---@field last? sampler.row

sampler = {}

---sampler.max_jobs of the config: jobs that may run at once.
---@type integer
sampler.max_jobs = 4

---data_dir of the config, where the files go.
---@type string
sampler.data_dir = ""

---Start a job (a probe that does not resolve is a 400 now, not an empty row later).
---@param opts? sampler.start_opts
---@return sampler.started|nil job
---@return podgym.err? err
function sampler.start(opts) end

---One job's status (404 when there is none), or every job's (running first).
---@param job? integer
---@return sampler.status|sampler.status[]|nil status
---@return podgym.err? err
function sampler.status(job) end

---Stop one job (its file flushed and synced) and return its final status, or stop every job.
---@param job? integer
---@return sampler.status|sampler.status[]|nil status
---@return podgym.err? err
function sampler.stop(job) end

return sampler
