---@meta json
-- json: one encoder (json.encode, in C: lua-cjson 2.1's bytes, in one pass;
-- also the encoder of every route's JSON body) and lua-cjson's decoder.
-- Arrays are marked, as OpenResty's cjson.array_mt: an empty table is {}.
-- Decoding is strict: hexadecimal numbers, leading zeros, NaN, Infinity,
-- numbers out of a double's range and any byte after the document but
-- white space (a NUL too) are errors. Strings are written as valid UTF-8:
-- an ill-formed sequence becomes U+FFFD.
-- Source: bindings/modules/lb_json.c, bindings/modules/json_fpconv.c, lua-cjson.

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

---Encode a value: numbers as %.14g (NaN and infinities are an error), a
---table whose keys are all positive integers as an array, any other as an
---object, nil and json.null as null; nesting deeper than 1000 is an error.
---@param value any
---@return string
function json.encode(value) end

---Decode JSON text; malformed text raises (req:json() makes that a 400).
---Arrays come back marked with json.array_mt, so [] encodes as [] again.
---@param text string
---@return any
function json.decode(text) end

---Mark t as a list that stays a JSON array even when empty; returns t.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

return json
