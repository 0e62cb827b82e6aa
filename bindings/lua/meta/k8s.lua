---@meta k8s
-- k8s: the target Deployment, the same on every backend (sim, docker, kube).
-- Source: bindings/modules/lb_k8s.c. Expected failures return nil and a
-- podgym.err; misuse raises.

---@class k8s.requests
---@field cpu number requested CPU, in cores
---@field memory number requested memory, in bytes

---@class k8s.pod
---@field name string
---@field phase string Pending, Running, Succeeded, Failed, Unknown
---@field status string kubectl-style: Running, Pending, ContainerCreating, CrashLoopBackOff, ImagePullBackOff, ErrImagePull, Error, Terminating, ...
---@field ready boolean
---@field deleting boolean being deleted (Terminating)
---@field restarts integer
---@field created number creation time, epoch seconds on the backend's clock
---@field age_s number seconds since created
---@field requests k8s.requests
---@field ip? string the pod's address, when it has one
---@field port? integer the port it serves on, with ip

---@class k8s.metric
---@field name string the pod's name
---@field cpu number CPU use, in cores
---@field memory number memory use, in bytes
---@field timestamp number when it was measured, epoch seconds
---@field window number the seconds it averages over

---Counts and sums of k8s.usage(): no table per pod.
---@class k8s.usage
---@field total integer pods of the Deployment, in every state
---@field ready integer pods that are Ready
---@field online integer pods that report metrics
---@field desired integer the Deployment's replicas
---@field cpu number CPU use of the pods that report metrics, in cores
---@field mem number memory use of those pods, in bytes
---@field req_cpu number their CPU requests, in cores
---@field req_mem number their memory requests, in bytes
---@field oldest? number timestamp of the oldest metric; nil while online == 0
---@field now number the backend's clock

---@class k8s.snapshot
---@field pods k8s.pod[]
---@field metrics k8s.metric[]
---@field desired integer the Deployment's replicas
---@field now number the backend's clock

---@class k8s.delete_opts
---@field grace? number seconds of grace (default: the backend's)

---@class k8s.wait_opts
---@field ready? integer wait until this many pods are Ready (default: the replicas)
---@field settled? boolean ... and no other pod exists, none starting or Terminating (default true)
---@field metrics? boolean ... and that many report metrics: the metrics API lists them (default false)
---@field timeout? number seconds on the backend's clock (default 90)

k8s = {}

---The pods of the Deployment, in every state.
---@return k8s.pod[]|nil pods
---@return podgym.err? err
function k8s.pods() end

---The pods' metrics, as metrics-server reports them (only pods that have run for a window).
---@return k8s.metric[]|nil metrics
---@return podgym.err? err
function k8s.metrics() end

---Counts and CPU/memory sums over the pods, without a table per pod. With t,
---the fields are set into t and t is returned.
---@param t? table
---@return k8s.usage|nil usage
---@return podgym.err? err
function k8s.usage(t) end

---Pods, metrics, the desired count and the time, read together.
---@return k8s.snapshot|nil snapshot
---@return podgym.err? err
function k8s.snapshot() end

---The Deployment's desired replicas.
---@return integer|nil replicas
---@return podgym.err? err
function k8s.replicas() end

---Set the Deployment's replicas (no waiting: see k8s.wait).
---@param n integer >= 0
---@return true|nil ok
---@return podgym.err? err
function k8s.scale(n) end

---Delete a pod; it is Terminating for its grace period. A pod that does not exist is err.status 404.
---@param name string
---@param opts? k8s.delete_opts
---@return true|nil ok
---@return podgym.err? err
function k8s.delete_pod(name, opts) end

---Wait until the pods are ready (a watch on kube, the events stream on docker,
---the virtual clock on sim). A timeout is err.status 504, err.code "timeout".
---@param opts? k8s.wait_opts
---@return number|nil waited_s
---@return podgym.err? err
function k8s.wait(opts) end

---A Kubernetes quantity as a number: "250m" -> 0.25, "512Mi" -> 536870912.
---@param q string
---@return number|nil value
---@return podgym.err? err
function k8s.quantity(q) end

---"http://ip:port" of every ready pod (what a Service spreads load over).
---@return string[]|nil urls
---@return podgym.err? err
function k8s.endpoints() end

---The backend's clock, epoch seconds (virtual on sim with speed 0).
---@return number
function k8s.now() end

---Sleep on the backend's clock (on sim with speed 0 it only advances the virtual clock).
---@param s number seconds >= 0
---@return true|nil ok
---@return podgym.err? err
function k8s.sleep(s) end

---Make sure n simulated clusters exist for vector envs (POST /envs): made from the
---config's sim settings, kept until the server stops. nil, err: 429 too_many_envs past
---limits.envs, 409 not_sim when the backend is not sim.
---@param n integer >= 1
---@return integer|nil n
---@return podgym.err? err
function k8s.envs(n) end

---Call fn(...) with every k8s call (and a load test's, and clock.backend_now) going to
---vector-env cluster i (1-based, made by k8s.envs) instead of the engine's; the binding
---before is back when fn returns or raises. Returns what fn returns.
---@generic R
---@param i integer
---@param fn fun(...): R
---@param ... any
---@return R ...
function k8s.on(i, fn, ...) end

---The backend's name.
---@return "sim"|"docker"|"kube"
function k8s.backend() end

---One call of the Kubernetes API that podgym does not wrap, on the kube backend only
---(elsewhere it raises). The call has the backend's timeout, retries and credentials.
---`body`: a table is sent as JSON (for PATCH as `application/merge-patch+json`), a string as is.
---Any answer the server gave is returned with its status (a 404 too); the body is decoded
---when it is JSON, else the text. No answer at all (unreachable, TLS, token refused, retries
---exhausted) is nil, err (502/503/504).
---  local st, pod = k8s.request("GET", "/api/v1/namespaces/default/pods/app-1")
---@param method string GET, POST, PUT, PATCH, DELETE
---@param path string from the server's root, with its query: "/apis/apps/v1/namespaces/default/deployments"
---@param body? table|string
---@return integer|nil status
---@return table|string|podgym.err body the decoded answer, or err
function k8s.request(method, path, body) end

---@class k8s.sim_reset_opts
---@field seed? integer default: sim.seed of the config
---@field pods? integer 0..1000, default: sim.replicas

---@class k8s.sim_inject_opts
---@field crash? number probability that a new pod goes CrashLoopBackOff
---@field image_pull? number probability of ImagePullBackOff
---@field slow? number probability of a slow start

---The simulated cluster's workload (what drives CPU, memory and the load model).
---@class k8s.workload
---@field kind? "constant"|"step"|"sine"|"trace"
---@field rps? number requests/s
---@field step_rps? number the rate after step_at_s (kind step)
---@field step_at_s? number
---@field amplitude_rps? number (kind sine)
---@field period_s? number (kind sine)
---@field trace? string a CSV file of t,rps rows (kind trace)

---Only on the sim backend (nil elsewhere).
---@class k8s.sim
k8s.sim = {}

---A fresh, deterministic cluster.
---@param opts? k8s.sim_reset_opts
---@return true|nil ok
---@return podgym.err? err
function k8s.sim.reset(opts) end

---Failure probabilities for pods created from now on; every key given is applied.
---@param opts k8s.sim_inject_opts
---@return true|nil ok
---@return podgym.err? err
function k8s.sim.inject(opts) end

---Put a pod in a status (CrashLoopBackOff, Error, ...).
---@param name string
---@param status string
---@return true|nil ok
---@return podgym.err? err
function k8s.sim.fail_pod(name, status) end

---The workload; with w, the fields it names are changed first (an unknown field raises).
---@param w? k8s.workload
---@return k8s.workload|nil workload
---@return podgym.err? err
function k8s.sim.workload(w) end

---Advance the virtual clock.
---@param s number seconds >= 0
---@return true|nil ok
---@return podgym.err? err
function k8s.sim.advance(s) end

---The virtual clock, epoch seconds.
---@return number
function k8s.sim.time() end

return k8s
