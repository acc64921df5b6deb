-- nn.functional's activations, as PyTorch's: F.elu(x, 0.5) or
-- F.elu(x, {alpha = 0.5, inplace = true}).  Each is one ATen operator
-- (its in-place twin for inplace = true) or a line of tensor arithmetic
-- where PyTorch's own Python is that line.
local A = require "torch.nn.functional.args"

local aten, call, define = A.aten, A.call, A.define
local INPUT, INPLACE = A.INPUT, A.INPLACE
local F = {}

-- the functions PyTorch's F also has in place, as F.elu_
local TWINS = { elu = true, selu = true, celu = true, hardtanh = true, leaky_relu = true, rrelu = true,
  threshold = true }

-- F[name](input, <op's arguments>..., {inplace}) over aten[op] (or
-- aten[op .. "_"]); F[name .. "_"](input, ...) too where PyTorch has it
local function pointwise(name, op, params, inplace)
  local list = { INPUT }
  for _, p in ipairs(params) do list[#list + 1] = p end
  local function run(api, a, in_place)
    local args = {}
    for i, p in ipairs(params) do args[i] = a[p[1]] end
    return call(api, in_place and aten[op .. "_"] or aten[op], a.input, table.unpack(args, 1, #params))
  end
  if TWINS[name] then F[name .. "_"] = define(name .. "_", list, function(api, a) return run(api, a, true) end) end
  if inplace then
    list = { table.unpack(list) }
    list[#list + 1] = INPLACE
  end
  F[name] = define(name, list, function(api, a) return run(api, a, a.inplace) end)
end

pointwise("relu6", "relu6", {}, false)
pointwise("elu", "elu", { { "alpha", A.number(1.0) } }, true)
pointwise("selu", "selu", {}, true)
pointwise("celu", "celu", { { "alpha", A.number(1.0) } }, true)
pointwise("gelu", "gelu", { { "approximate", A.enum("none", { "none", "tanh" }) } }, false)
pointwise("silu", "silu", {}, true)
pointwise("mish", "mish", {}, true)
pointwise("hardswish", "hardswish", {}, true)
pointwise("hardsigmoid", "hardsigmoid", {}, true)
pointwise("hardtanh", "hardtanh", { { "min_val", A.number(-1.0) }, { "max_val", A.number(1.0) } }, true)
pointwise("leaky_relu", "leaky_relu", { { "negative_slope", A.number(0.01) } }, true)
pointwise("prelu", "prelu", { { "weight", A.tensor() } }, false)
pointwise("rrelu", "rrelu", { { "lower", A.number(1 / 8) }, { "upper", A.number(1 / 3) },
  { "training", A.bool(false) } }, true)
pointwise("logsigmoid", "log_sigmoid", {}, false)
pointwise("softplus", "softplus", { { "beta", A.number(1) }, { "threshold", A.number(20) } }, false)
pointwise("softshrink", "softshrink", { { "lambd", A.number(0.5, 0) } }, false)
pointwise("hardshrink", "hardshrink", { { "lambd", A.number(0.5) } }, false)
pointwise("threshold", "threshold", { { "threshold", A.required("number") },
  { "value", A.required("number") } }, true)

-- relu keeps its one-call path: it sits in every model's forward
local relu = define("relu", { INPUT, INPLACE }, function(api, a)
  return call(api, a.inplace and aten.relu_ or aten.relu, a.input)
end)
function F.relu(x, ...)
  if select("#", ...) == 0 and A.torch.is_tensor(x) then return x:relu() end
  return relu(x, ...)
end
F.relu_ = define("relu_", { INPUT }, function(api, a) return call(api, aten.relu_, a.input) end)

function F.sigmoid(x) return x:sigmoid() end
function F.tanh(x) return x:tanh() end

-- as PyTorch's: input / (input.abs() + 1), input - input.tanh()
F.softsign = define("softsign", { INPUT }, function(_, a) return a.input / (a.input:abs() + 1) end)
F.tanhshrink = define("tanhshrink", { INPUT }, function(_, a) return a.input - a.input:tanh() end)

-- glu(input, dim = -1): dim 1-based
F.glu = define("glu", { INPUT, { "dim", A.int(-1) } }, function(api, a)
  local d, x = A.dim0(api, "dim", a.dim), a.input
  local n = x:dim()
  local size = d >= -n and d < n and x:size(d < 0 and d + n + 1 or d + 1)
  if size and size % 2 ~= 0 then -- checked here: ATen would name the dim 0-based
    A.E.raise(api, "dim %d has size %d, which glu cannot halve", a.dim, size)
  end
  return call(api, aten.glu, x, d)
end)

-- softmax(input, dim = -1, {dtype = "float64"}): dim 1-based; dtype a
-- clara dtype name, the input cast to it first as PyTorch does
local SOFTMAX = { INPUT, { "dim", A.int(-1) }, { "dtype", { type = "string" } } }
local function softmax(name, negate, method)
  F[name] = define(name, SOFTMAX, function(api, a)
    A.dim0(api, "dim", a.dim)
    local x = negate and -a.input or a.input
    local ok, y = pcall(x[method], x, a.dim, a.dtype and { dtype = a.dtype } or nil)
    if not ok then A.E.raise(api, "%s", (tostring(y):gsub("^[^\n]-%.lua:%d+: ", ""))) end
    return y
  end)
end
softmax("softmax", false, "softmax")
softmax("log_softmax", false, "log_softmax")
softmax("softmin", true, "softmax")

return F
