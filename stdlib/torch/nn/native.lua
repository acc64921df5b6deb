-- What every libtorch-backed module shares: making the class, checking
-- constructor arguments, forward through the handle, printing values as
-- Python prints them (for extra_repr).
--
-- A native module holds a handle (torch.nn.core) to libtorch's own module.
-- Its parameters and buffers are fetched once, at construction, as tensors
-- aliasing the module's: optimizers update them in place and
-- load_state_dict copies into them, so the C++ module sees every change.
local torch = require "torch"
local core = require "torch.nn.core"
local Module = require("torch.nn.module").Module
local E = require "clara.error"

local native = {}

-- {======================================================
-- Python's way of printing values
-- =======================================================

-- repr(float): the shortest digits that read back the same number, in
-- decimal between 1e-4 and 1e16, in scientific notation elsewhere
local function pyfloat(x)
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" end
  if x == -math.huge then return "-inf" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local s
  for p = 1, 17 do
    s = ("%." .. (p - 1) .. "e"):format(x)
    if tonumber(s) == x then break end
  end
  local sign, int, frac, exp = s:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits, e = (int .. frac):gsub("0+$", ""), tonumber(exp)
  if digits == "" then digits = "0" end
  if e < -4 or e >= 16 then
    local m = digits:sub(1, 1) .. (#digits > 1 and "." .. digits:sub(2) or "")
    return ("%s%se%s%02d"):format(sign, m, e < 0 and "-" or "+", math.abs(e))
  end
  local point = e + 1 -- digits before the decimal point
  if point <= 0 then return sign .. "0." .. string.rep("0", -point) .. digits end
  if point >= #digits then return sign .. digits .. string.rep("0", point - #digits) .. ".0" end
  return sign .. digits:sub(1, point) .. "." .. digits:sub(point + 1)
end
native.pyfloat = pyfloat

-- a Lua value as Python would print the same value (tables are tuples)
local function pyrepr(v)
  if v == nil then return "None" end
  if v == true then return "True" end
  if v == false then return "False" end
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return pyfloat(v) end
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = pyrepr(v[i]) end
    if #v == 1 then return "(" .. parts[1] .. ",)" end
    return "(" .. table.concat(parts, ", ") .. ")"
  end
  return tostring(v)
end
native.pyrepr = pyrepr

-- }======================================================

-- {======================================================
-- Constructor arguments
-- =======================================================

-- native.raise(who, fmt, ...) raises "nn.<who>: ..." at the user's line
local raise = require("torch.nn.module").raise
native.raise = raise

-- One schema per constructor, declared once by the list of its option
-- names: E.options rejects unknown names (with the closest one); each
-- value is then checked, as the builder reads it, by int/number/bool/sizes.
local schemas = setmetatable({}, { __mode = "k" })
local ANY = { type = "any" }

-- opts(who, t, {"bias", ...}) -> t or {}; an unknown key is an error
function native.opts(who, t, known)
  if t == nil then return {} end
  local schema = schemas[known]
  if not schema then
    schema = {}
    for _, k in ipairs(known) do schema[k] = ANY end
    schemas[known] = schema
  end
  return E.options("nn." .. who, t, schema)
end

local function fail(who, what, v)
  local got = type(v) == "string" and ("'" .. v .. "'") or type(v) == "table" and ("a list of " .. #v)
    or type(v) == "number" and v ~= v and "nan" or tostring(v)
  raise(who, "%s, got %s", what, got)
end

-- an integer >= min
function native.int(who, name, v, min)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and v == v) then
    fail(who, ("%s must be an integer"):format(name), v)
  end
  v = math.tointeger(v)
  if min and v < min then fail(who, ("%s must be >= %d"):format(name, min), v) end
  return v
end

function native.number(who, name, v, min, max)
  if type(v) ~= "number" or v ~= v then fail(who, ("%s must be a number"):format(name), v) end
  if (min and v < min) or (max and v > max) then
    fail(who, ("%s must be in [%s, %s]"):format(name, min or "-inf", max or "inf"), v)
  end
  return v
end

function native.bool(who, name, v, default)
  if v == nil then return default end
  if type(v) ~= "boolean" then fail(who, ("%s must be a boolean"):format(name), v) end
  return v
end

-- The bytes of float32 weights of these counts, checked against
-- clara.limits.tensor_bytes before libtorch allocates (counted in floats,
-- so 1 << 40 features cannot wrap around)
function native.weights(who, ...)
  local n = 4.0
  for i = 1, select("#", ...) do n = n * select(i, ...) end
  if n > (1 << 20) then
    E.limit("nn." .. who, "the weights' size in bytes", n == math.floor(n) and n < 2^63
      and math.tointeger(n) or n, "tensor_bytes")
  end
end

-- a size for `dims` dimensions, as a number or a list: the list of dims
-- integers (>= min); the value as given stays for printing
function native.sizes(who, name, v, dims, min)
  local list = {}
  if type(v) == "number" then
    for i = 1, dims do list[i] = native.int(who, name, v, min) end
  elseif type(v) == "table" and #v == dims then
    for i = 1, dims do list[i] = native.int(who, name, v[i], min) end
  else
    fail(who, ("%s must be a number or a list of %d numbers"):format(name, dims), v)
  end
  return list
end

-- }======================================================

-- {======================================================
-- Classes
-- =======================================================

local function shape(t) return "(" .. table.concat(t:size(), ", ") .. ")" end

-- the module's one-line description and the input shapes, then libtorch's words
local function forward_error(self, msg, ...)
  local shapes = {}
  for i = 1, select("#", ...) do
    local t = select(i, ...)
    shapes[i] = not torch.is_tensor(t) and type(t)
      or t.dtype == "float32" and shape(t) or shape(t) .. " " .. t.dtype
  end
  local what = #shapes == 1 and "input of shape " or "inputs of shapes "
  raise(tostring(self), "%s%s: %s", what, table.concat(shapes, ", "), msg)
end
native.forward_error = forward_error

local function check_input(self, x, i)
  if not torch.is_tensor(x) then
    raise(tostring(self), "input %d must be a tensor, got %s", i, type(x))
  end
end

-- one tensor in, one out: most modules
local forward = require("torch.nn.module").guard_shared("forward", function(self, x)
  check_input(self, x, 1)
  local y, err = core.forward(rawget(self, "_handle"), x)
  if y == nil then forward_error(self, err, x) end
  return y
end)

local function set_training(self, mode) core.train(rawget(self, "_handle"), mode) end

-- registers what the handle holds under libtorch's names (PyTorch's too)
function native.attach(self, handle)
  rawset(self, "_handle", handle)
  local names, tensors = core.tensors(handle, false)
  for i, name in ipairs(names) do self:register_parameter(name, tensors[i]) end
  names, tensors = core.tensors(handle, true)
  for i, name in ipairs(names) do self:register_buffer(name, tensors[i]) end
  if not self.training then core.train(handle, false) end
end

-- native.class("Linear", function(self, ...) ... return handle end)
-- the builder checks arguments, sets PyTorch's attributes and makes the handle
function native.class(name, build)
  local class = Module:extend(name)
  function class:init(...)
    rawset(self, "_args", table.pack(...)) -- for clone(): libtorch's module is rebuilt
    native.attach(self, build(self, ...))
  end
  class.forward = forward
  class._set_training = set_training
  return class
end

function native.check_inputs(self, ...)
  for i = 1, select("#", ...) do check_input(self, (select(i, ...)), i) end
end

-- }======================================================

return native
