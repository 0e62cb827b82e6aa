---@meta shared
-- shared: the process's key/value dict, the same for every Lua state and
-- worker (as OpenResty's ngx.shared.DICT). Values are nil, booleans,
-- numbers and strings; anything else, an empty key or a negative ttl
-- raises. A full dict is nil, {code = "no_memory"}.
-- Source: bindings/modules/lb_shared.c.

---@alias shared.value boolean|number|string

shared = {}

---@param key string
---@return shared.value|nil value nil when absent or expired
function shared.get(key) end

---Set key (value nil deletes it).
---@param key string
---@param value shared.value|nil
---@param ttl? number seconds (0: none)
---@return true|nil ok
---@return podgym.err? err
function shared.set(key, value, ttl) end

---Set key only when absent (else err.code "exists").
---@param key string
---@param value shared.value
---@param ttl? number seconds (0: none)
---@return true|nil ok
---@return podgym.err? err
function shared.add(key, value, ttl) end

---Set key only when present (else err.code "not_found").
---@param key string
---@param value shared.value
---@param ttl? number seconds (0: none)
---@return true|nil ok
---@return podgym.err? err
function shared.replace(key, value, ttl) end

---Add by to the number at key, atomically; an absent key starts at init (without init: err.code "not_found").
---@param key string
---@param by number
---@param init? number
---@return number|nil value the new value
---@return podgym.err? err
function shared.incr(key, by, init) end

---@param key string
---@return true|nil ok
---@return podgym.err? err
function shared.delete(key) end

---The keys, at most max of them (default 1024; 0: all).
---@param max? integer
---@return string[]|nil keys
---@return podgym.err? err
function shared.keys(max) end

---Remove every key.
function shared.flush_all() end

---@return integer count the keys in the dict
function shared.count() end

return shared
