---@meta data
-- data: whole-line appends to files under data_dir (episode logs), their
-- tails, and process-wide critical sections. Source: bindings/modules/lb_data.c.

data = {}

---Append one line to file (under data_dir; folders are created). A list of
---fields is formatted as one CSV row: numbers as JSON prints them, booleans
---1/0, nil and json.null empty, strings quoted when they hold a comma, quote
---or newline. header (one line or several, e.g. a # comment line and the
---column names) is written first when the file is new or empty. The
---row goes out with one write(2) on an O_APPEND descriptor: concurrent
---appends never interleave and a row is never half-written.
---@param file string a path under data_dir
---@param row string|(string|number|boolean|lightuserdata)[] a line without a newline, or the fields of a CSV row
---@param header? string
---@return string|nil path the absolute path
---@return podgym.err? err
function data.append(file, row, header) end

---The end of a file under data_dir (an episode's CSV, a sampler's file): at
---most max_bytes, from the start of a line (a longer file loses its first
---lines, never half of one). A file that does not exist is err.status 404.
---@param file string a path under data_dir
---@param max_bytes? integer 1 .. 4 MiB, default 256 KiB
---@return string|nil text
---@return podgym.err? err
function data.tail(file, max_bytes) end

---Run fn(...) while holding the process-wide lock called name: one thread
---at a time, in every state; an error releases the lock and propagates.
---@generic R
---@param name string
---@param fn fun(...): R
---@param ... any
---@return R ...
function data.locked(name, fn, ...) end

return data
