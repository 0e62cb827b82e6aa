---@meta podgym
-- podgym's Lua API, for lua-language-server: the shapes every module shares,
-- route scripts (scripts/*.lua) and the research policies (policies/*.lua).
-- These files are documentation only: they are not embedded in the binary
-- and never run. The modules themselves are k8s.lua, jmeter.lua, load.lua,
-- sampler.lua, data.lua, shared.lua, json.lua, log.lua, clock.lua and
-- engine.lua beside this file; each is a global in every state and
-- `require`-able by its name.

---An expected failure (pod not found, backend down): the second result of a
---function that returned nil. Misuse (a wrong type, an unknown option)
---raises instead.
---@class podgym.err
---@field code string machine-readable, e.g. "not_found", "timeout", "backend"
---@field message string one line for a human
---@field status integer the HTTP status a route answers with it (400, 404, 502, 503, 504, ...)

---What a route script returns: one of these, or a list of them.
---@class podgym.route
---@field method "GET"|"POST"|"PUT"|"PATCH"|"DELETE"|string
---@field path string e.g. "/pod/set-pod-count/{n}": `{name}` is a path parameter
---@field summary? string one line, for GET /openapi.json and GET /_engine/status
---@field description? string
---@field params? table<string, {description?: string, schema?: table}> path parameters, for the OpenAPI document
---@field query? table<string, {description?: string, required?: boolean, schema?: table}> query parameters
---@field body? table the JSON Schema of the request body, for the OpenAPI document
---@field responses? table OpenAPI responses (default: 200 OK)
---@field handler fun(req: podgym.request): (integer|table|string), (table|string)?, table<string, string>?

---The request a handler gets. It returns `status, body[, headers]` or just a
---body (200): a table body is sent as JSON, a string as text.
---`error({status = 422, code = "...", message = "...", extra = ...})` answers
---`{"error": {"code", "message"}, "extra": ...}` with that status; any other
---error is a 500 whose traceback goes to the log only.
---@class podgym.request
---@field method string
---@field path string
---@field params table<string, string> path parameters by name
---@field query table<string, string> query parameters
---@field headers table<string, string> request headers, names in lower case
---@field body string the raw body ("" when none)
local request = {}

---The body decoded as JSON; a missing or malformed body raises a 400 `bad_json`.
---@return any
function request:json() end

---One field of policies/observation.lua: what the agent observes.
---@class podgym.observation_field
---@field name string letters, digits and _: the observation's key and the CSV column (and next_<name>)
---@field unit string "%", "pods", "ms", ...
---@field low number the lower bound (for an agent's observation space)
---@field high number the upper bound; math.huge: none
---@field value fun(s: podgym.measured): number? the value, or nil/json.null while unknown

---What a step measured, for podgym.observation_field.value.
---@class podgym.measured
---@field system podview.system the GET /pod system block
---@field kpis table<string, number> the step's KPIs (policies/reward.lua's kpis()); empty at reset

---The GET /pod system block (scripts/lib/podview.lua).
---@class podview.system
---@field cpu_percent number|lightuserdata CPU use in % of the requests (2 decimals); json.null while no pod reports metrics
---@field mem_percent number|lightuserdata memory use in % of the requests; json.null while no pod reports metrics
---@field online_pods integer|lightuserdata pods that report metrics; json.null when none does
---@field total_pods integer pods of the Deployment, in every state
---@field ready_pods integer pods that are Ready
---@field desired_pods integer the Deployment's replicas
---@field metrics_age_s number|lightuserdata age of the oldest metric; json.null without metrics

---policies/scaling.lua: the bounds and step of every scaling route, and what a scale waits for.
---@class podgym.scaling_policy
---@field min integer never fewer pods
---@field max integer never more pods
---@field step? integer pods added or removed by scale/in and scale/out (default 1)
---@field timeout_s? number how long a scale waits, then 504 (default 90)
---@field wait_for? "metrics"|"ready" "metrics" (default): the target count of pods Ready and reporting metrics, as the thesis's service waited; "ready": Ready only

---policies/reward.lua: the KPIs of a load test and the reward of a step.
---@class podgym.reward_policy
---@field weights table<string, number>
---@field kpis fun(summary: table): table<string, number> the KPIs of a load-test summary (avg_latency, drop_packet_percentage, ...)
---@field pods fun(system: podview.system): number the pod count of the reward (default: online_pods, 0 while null)
---@field reward fun(kpis: table<string, number>, pods: number): number a finite number

---policies/env.lua: the environment of /env/reset, /env/step and GET /env/spec.
---@class podgym.env_policy
---@field max_steps integer an episode is truncated (and done) after this many steps
---@field actions table<string, integer> name = scaling steps; ordered by steps (then name), the 0-based indices of a Discrete(n)
---@field episodes_dir? string under data_dir: each run writes <episodes_dir>/<run id>/episode-<n>.csv
