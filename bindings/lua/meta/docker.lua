---@meta docker
-- docker: the Docker Engine API, for researchers and the REPL. It talks to the
-- docker backend's daemon when that is the backend, else to docker.socket
-- ($DOCKER_HOST, then /var/run/docker.sock). Source: bindings/modules/lb_docker.c.
-- Expected failures (no such container, the daemon down: err.code
-- "backend_unavailable", status 503) return nil and a podgym.err; misuse raises.

---@class docker.containers_opts
---@field label? string|string[] "key=value" filters, all must match
---@field all? boolean stopped containers too (default true)

---@class docker.stats
---@field cpu number CPU use in cores, over the daemon's last interval
---@field cpu_percent number cpu x 100, as `docker stats` shows it
---@field memory number bytes, usage less inactive_file (as `docker stats`)
---@field memory_limit? number bytes
---@field memory_percent? number memory / memory_limit x 100

---@class docker.run_opts
---@field image string
---@field cmd? string[]|string the command, a list or a shell-like line (no shell runs it)
---@field env? string[] "KEY=value" entries
---@field labels? table<string, string>
---@field name? string
---@field host_config? table the Engine API's HostConfig, as it is

---@class docker.stop_opts
---@field timeout? number seconds before SIGKILL (default 10)

---@class docker.remove_opts
---@field force? boolean remove it even while it runs

---@class docker.logs_opts
---@field tail? integer only the last lines

---The docker backend's pod template: what new replicas are made from.
---@class docker.template
---@field image string
---@field command string a shell-like line, {port} replaced by the replica's port; "" = the image's own
---@field env string "K=V K2=V2", added to PORT

docker = {}

---Containers, as the daemon's /containers/json lists them (Id, Names, Image, State, Status, Labels, ...).
---@param opts? docker.containers_opts
---@return table[]|nil containers
---@return podgym.err? err
function docker.containers(opts) end

---The daemon's inspect document of a container (id or name).
---@param id string
---@return table|nil doc
---@return podgym.err? err
function docker.inspect(id) end

---One stats sample of a running container, with its CPU over the daemon's interval (takes 1-2 s).
---@param id string
---@return docker.stats|nil stats
---@return podgym.err? err
function docker.stats(id) end

---Create and start a container. A missing image is err.status 404 ("No such image").
---@param opts docker.run_opts
---@return string|nil id
---@return podgym.err? err
function docker.run(opts) end

---Stop a container (SIGTERM, then SIGKILL after the timeout).
---@param id string
---@param opts? docker.stop_opts
---@return true|nil ok
---@return podgym.err? err
function docker.stop(id, opts) end

---Remove a container.
---@param id string
---@param opts? docker.remove_opts
---@return true|nil ok
---@return podgym.err? err
function docker.remove(id, opts) end

---A container's stdout and stderr, as one string.
---@param id string
---@param opts? docker.logs_opts
---@return string|nil logs
---@return podgym.err? err
function docker.logs(id, opts) end

---Any Engine API call; the path goes after the negotiated /vX.Y prefix.
---@param method string "GET", "POST", ...
---@param path string "/containers/json?all=1"
---@param body? table encoded as JSON
---@return any|nil body the decoded answer (a string when it is not JSON)
---@return integer|podgym.err status_or_err the HTTP status, or the error
function docker.request(method, path, body) end

---The docker backend's pod template; with t, the given fields change first (as
---`kubectl set image`: replicas made from now on use it, until podgym exits).
---err.status 409 on another backend.
---@param t? docker.template
---@return docker.template|nil template
---@return podgym.err? err
function docker.template(t) end
