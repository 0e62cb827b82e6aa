---@meta loadgen
-- loadgen: the native load generator as a module of its own, split out of
-- jmeter (not called `load`: every module is also a global, and Lua's own
-- load() stays). loadgen.run is jmeter.load and loadgen.summarize is
-- jmeter.summarize: the same options and results (jmeter.lua).

loadgen = {}

---A load test with the native generator (or the backend's model with
---driver = "sim"): jmeter.load under its own name.
---@param opts jmeter.load_opts
---@return jmeter.result|nil result
---@return podgym.err? err
function loadgen.run(opts) end

---The summary of samples as loadgen.run{samples = true} returns them.
---@param samples jmeter.sample[]
---@return jmeter.summary
function loadgen.summarize(samples) end

return loadgen
