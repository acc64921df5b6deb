-- What every nn.functional function shares: PyTorch's calling convention
-- (positional arguments in PyTorch's order, then an options table for the
-- rest), checked by clara.error; ATen calls whose libtorch errors name the
-- clara function; 1-based dims turned into ATen's 0-based ones.
local torch = require "torch"
local E = require "clara.error"

local A = {}
A.aten = require("torch.ops").aten

-- {====================== parameter specs ======================

function A.tensor() return { type = "tensor", required = true, what = "a tensor" } end
-- a required value of one type ("number", "integer", "table")
function A.required(type, min)
  local what = (type == "integer" and "an " or "a ") .. type .. (min and (" >= " .. min) or "")
  return { type = type, required = true, min = min, what = what }
end
function A.optional_tensor() return { type = "tensor" } end
function A.number(default, min, max) return { type = "number", default = default, min = min, max = max } end
function A.int(default, min) return { type = "integer", default = default, min = min } end
function A.bool(default) return { type = "boolean", default = default } end
function A.enum(default, list) return { type = "string", default = default, enum = list } end
-- a size per spatial dim: a number or a list of numbers
function A.sizes(default) return { type = "integer|table", default = default } end
A.INPUT = { "input", A.tensor() }
A.INPLACE = { "inplace", A.bool(false) }

-- }======================================================

-- {====================== calling convention ======================

-- an options table, not a list argument ({2, 2}) nor a module
local function is_options(v)
  return type(v) == "table" and getmetatable(v) == nil and v[1] == nil
end

-- A.parser(api, {{"input", spec}, {"alpha", spec}, ...}, first) -> a
-- function that takes the parameters positionally in PyTorch's order, the
-- ones after the first `first` also (or instead) as a trailing options
-- table, and returns them by name, every value checked and the defaults
-- filled in (clara.error's options check)
function A.parser(api, params, first)
  local schema = {}
  for _, p in ipairs(params) do schema[p[1]] = p[2] end
  return function(...)
    local count = select("#", ...)
    local named = count > first and is_options((select(count, ...))) and select(count, ...) or nil
    if named then count = count - 1 end
    if count > #params then E.raise(api, "takes at most %d arguments, got %d", #params, count) end
    local given = {}
    if named then for k, v in pairs(named) do given[k] = v end end
    for i = 1, count do
      local v, key = select(i, ...), params[i][1]
      if v ~= nil then
        if given[key] ~= nil then E.raise(api, "%s given twice (argument %d and option)", key, i) end
        given[key] = v
      end
    end
    return E.options(api, given, schema)
  end
end

-- F[name] = A.define(name, params, body): the function of those
-- parameters (the input positional), calling body(api, args)
function A.define(name, params, body)
  local api = "nn.functional." .. name
  local parse = A.parser(api, params, 1)
  return function(...) return body(api, parse(...)) end
end

-- an ATen operator's results, or its error as "api: libtorch's message"
-- at the user's line
function A.call(api, op, ...)
  local r = table.pack(pcall(op, ...))
  if not r[1] then
    local msg = tostring(r[2]):gsub("^[^\n]-%.lua:%d+: ", ""):gsub("^aten::[%w_.]+: ", "")
    E.raise(api, "%s", msg)
  end
  return table.unpack(r, 2, r.n)
end

-- }======================================================

-- {====================== dims and sizes ======================

-- a 1-based dim (negative from the end) as ATen's 0-based one
function A.dim0(api, name, d)
  if math.type(d) ~= "integer" and not (type(d) == "number" and d == math.floor(d)) then
    E.raise(api, "%s must be an integer, got %s", name, E.show(d))
  end
  d = math.tointeger(d)
  if d == 0 then E.raise(api, "%s must not be 0 (dims are 1-based)", name) end
  return d > 0 and d - 1 or d
end

-- a number or a list of n integers >= min, as a list of n
function A.list(api, name, v, n, min)
  local list = {}
  if type(v) == "number" then
    for i = 1, n do list[i] = v end
  elseif type(v) == "table" and #v == n then
    for i = 1, n do list[i] = v[i] end
  else
    E.raise(api, "%s must be a number or a list of %d numbers, got %s", name, n, E.show(v))
  end
  for i = 1, n do
    local x = list[i]
    if type(x) ~= "number" or x ~= math.floor(x) or (min and x < min) then
      E.raise(api, "%s must hold integers%s, got %s", name, min and (" >= " .. min) or "", E.show(x))
    end
    list[i] = math.tointeger(x)
  end
  return list
end

-- the input must have one of these ranks
function A.rank(api, x, ...)
  local d = x:dim()
  for i = 1, select("#", ...) do if d == select(i, ...) then return d end end
  local ranks = table.concat({ ... }, "D or ") .. "D"
  E.raise(api, "expected a %s input, got a %dD input of size (%s)", ranks, d, table.concat(x:size(), ", "))
end

A.torch = torch
A.E = E

-- }======================================================

return A
