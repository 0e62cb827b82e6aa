---@meta log
-- log: one line per call in the server's log, starting with the caller's
-- "chunk:line:". With more than one argument the first is a string.format
-- format; a lone argument goes through tostring. Control characters are
-- escaped (\n, \xNN): a value from a request cannot forge a log line.
-- Source: bindings/modules/lb_log.c.

log = {}

---@param fmt any a format, or the value to log
---@param ... any
function log.debug(fmt, ...) end

---@param fmt any a format, or the value to log
---@param ... any
function log.info(fmt, ...) end

---@param fmt any a format, or the value to log
---@param ... any
function log.warn(fmt, ...) end

---@param fmt any a format, or the value to log
---@param ... any
function log.error(fmt, ...) end

return log
