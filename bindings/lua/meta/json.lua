---@meta json
-- json: one encoder (json.encode, in C: lua-cjson 2.1's bytes, in one pass;
-- also the encoder of every route's JSON body) and lua-cjson's decoder.
-- Arrays are marked, as OpenResty's cjson.array_mt: an empty table is {}.
-- Source: bindings/modules/json_enc.c, bindings/lua/prelude.lua, lua-cjson.

json = {}

---JSON's null: what json.decode gives for null, and what json.encode writes as null.
---@type lightuserdata
json.null = nil

---The metatable that marks a table as an array (OpenResty's cjson.array_mt).
---@type table
json.array_mt = {}

---A value that is always encoded as [] (OpenResty's cjson.empty_array).
---@type any
json.empty_array = nil

---@type string
json._NAME = "cjson"

---@type string
json._VERSION = ""

---Encode a value: numbers as %.14g (NaN and infinities are an error), a
---table whose keys are all positive integers as an array, any other as an
---object, nil and json.null as null; nesting deeper than 1000 is an error.
---@param value any
---@return string
function json.encode(value) end

---Decode JSON text; malformed text raises (req:json() makes that a 400).
---@param text string
---@return any
function json.decode(text) end

---Mark t as a list that stays a JSON array even when empty; returns t.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---A new lua-cjson instance with its own settings (lua-cjson's own encoder).
---@return table
function json.new() end

---lua-cjson's setting for sparse arrays (lua-cjson's own encoder only: json.encode ignores it).
---@param convert? boolean
---@param ratio? integer
---@param safe? integer
---@return boolean convert, integer ratio, integer safe
function json.encode_sparse_array(convert, ratio, safe) end

---lua-cjson's nesting limit for its own encoder (json.encode's is 1000).
---@param depth? integer
---@return integer
function json.encode_max_depth(depth) end

---lua-cjson's nesting limit for json.decode.
---@param depth? integer
---@return integer
function json.decode_max_depth(depth) end

---lua-cjson's number precision for its own encoder (json.encode writes 14 digits).
---@param precision? integer
---@return integer
function json.encode_number_precision(precision) end

---lua-cjson's buffer setting for its own encoder.
---@param keep? boolean
---@return boolean
function json.encode_keep_buffer(keep) end

---lua-cjson's setting for NaN and infinities in its own encoder.
---@param setting? boolean|"null"
---@return boolean|"null"
function json.encode_invalid_numbers(setting) end

---Whether json.decode accepts NaN, Infinity and hexadecimal numbers.
---@param setting? boolean
---@return boolean
function json.decode_invalid_numbers(setting) end

return json
