-- torch.ops: every ATen operator by its schema name, as PyTorch's
-- torch.ops.aten.NAME: torch.ops.aten.conv2d(x, w, nil, {1, 1}, {1, 1}).
--
-- This is libtorch's raw layer: arguments in the schema's order (trailing
-- ones take the schema's defaults), dimensions 0-based as ATen counts
-- them, several results returned as several values.  The overload goes
-- after a dot: torch.ops.aten["div.Tensor_mode"].  torch.ops.schema(name)
-- prints an operator's signature.  clara's own functions (torch.*,
-- nn.functional) are written over these calls with 1-based dimensions.
local core = require "torch.jit.core"
local E = require "clara.error"

local ops = {}

local function split(name)
  local base, overload = name:match("^([%w_]+)%.([%w_]+)$")
  return base or name, overload or ""
end

-- the callable of "namespace::name[.overload]", made once
local function operator(namespace, key)
  local base, overload = split(key)
  local qualified = namespace .. "::" .. base
  if not core.op_exists(qualified, overload) then
    E.raise("torch.ops", "no operator %s%s (see torch.ops.schema)", qualified,
      overload ~= "" and ("." .. overload) or "")
  end
  return core.op_function(qualified, overload)
end

local function namespace(name)
  return setmetatable({}, { __index = function(self, key)
    if type(key) ~= "string" then return nil end
    local fn = operator(name, key)
    rawset(self, key, fn)
    return fn
  end })
end

ops.aten = namespace("aten")

-- the signature of "aten::conv2d" (or "conv2d", or "div.Tensor_mode")
function ops.schema(name)
  if type(name) ~= "string" then E.raise("torch.ops.schema", "expected an operator name, got %s", type(name)) end
  local qualified = name:find("::", 1, true) and name or ("aten::" .. name)
  local ns, rest = qualified:match("^(.-)::(.*)$")
  local base, overload = split(rest)
  if not core.op_exists(ns .. "::" .. base, overload) then
    E.raise("torch.ops.schema", "no operator %s", qualified)
  end
  return core.op_schema(ns .. "::" .. base, overload)
end

return ops
