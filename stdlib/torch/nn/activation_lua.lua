-- Activations written in Lua over nn.functional (libtorch's own modules
-- are in activation.lua): PReLU (a parameter), Softplus, Hardtanh, ReLU6,
-- Mish, Hardswish, Hardsigmoid, SELU, CELU, Softsign, Softmin, GLU,
-- Threshold, Softshrink, Hardshrink, Tanhshrink, LogSigmoid, RReLU,
-- Softmax2d; with PyTorch's arguments, printing and train/eval (RReLU
-- samples in training).
local torch = require "torch"
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"
local Parameter = require("torch.nn.module").Parameter

local A, pyrepr, run = L.A, L.pyrepr, L.run
local INPLACE = A.INPLACE
local M = {}

-- a class calling F[fn](x, <the attributes named in args>...)
local function activation(name, fn, params, args, extra_repr)
  local class = L.class(name, params)
  function class:forward(x)
    local values = {}
    for i, k in ipairs(args) do values[i] = self[k] end
    return run(self, 1, F[fn], x, table.unpack(values, 1, #args))
  end
  class.extra_repr = extra_repr
  return class
end

local function inplace_only(self) return L.inplace(self, "") end
local function nothing() return "" end

M.ReLU6 = activation("ReLU6", "hardtanh", { INPLACE }, {}, inplace_only)
function M.ReLU6:forward(x) return run(self, 1, F.hardtanh, x, 0.0, 6.0, self.inplace) end
M.SELU = activation("SELU", "selu", { INPLACE }, { "inplace" }, inplace_only)
M.Mish = activation("Mish", "mish", { INPLACE }, { "inplace" }, inplace_only)
M.Hardswish = activation("Hardswish", "hardswish", { INPLACE }, { "inplace" }, nothing)
M.Hardsigmoid = activation("Hardsigmoid", "hardsigmoid", { INPLACE }, { "inplace" }, nothing)
M.Softsign = activation("Softsign", "softsign", {}, {}, nothing)
M.Tanhshrink = activation("Tanhshrink", "tanhshrink", {}, {}, nothing)
M.LogSigmoid = activation("LogSigmoid", "logsigmoid", {}, {}, nothing)

M.CELU = activation("CELU", "celu", { { "alpha", A.number(1.0) }, INPLACE }, { "alpha", "inplace" }, function(self)
  return "alpha=" .. pyrepr(self.alpha) .. L.inplace(self)
end)
M.Softplus = activation("Softplus", "softplus", { { "beta", A.number(1) }, { "threshold", A.number(20) } },
  { "beta", "threshold" }, function(self)
    return ("beta=%s, threshold=%s"):format(pyrepr(self.beta), pyrepr(self.threshold))
  end)
M.Hardtanh = activation("Hardtanh", "hardtanh", { { "min_val", A.number(-1.0) }, { "max_val", A.number(1.0) }, INPLACE },
  { "min_val", "max_val", "inplace" }, function(self)
    return ("min_val=%s, max_val=%s"):format(pyrepr(self.min_val), pyrepr(self.max_val)) .. L.inplace(self)
  end)
M.Threshold = activation("Threshold", "threshold", { { "threshold", A.required("number") },
  { "value", A.required("number") }, INPLACE }, { "threshold", "value", "inplace" }, function(self)
  return ("threshold=%s, value=%s"):format(pyrepr(self.threshold), pyrepr(self.value)) .. L.inplace(self)
end)
for _, name in ipairs { "Softshrink", "Hardshrink" } do
  M[name] = activation(name, name:lower(), { { "lambd", A.number(0.5, 0) } }, { "lambd" }, function(self)
    return pyrepr(self.lambd)
  end)
end

-- RReLU(lower = 1/8, upper = 1/3, inplace = false): a random slope in training
M.RReLU = L.class("RReLU", { { "lower", A.number(1 / 8) }, { "upper", A.number(1 / 3) }, INPLACE })
function M.RReLU:forward(x) return run(self, 1, F.rrelu, x, self.lower, self.upper, self.training, self.inplace) end
function M.RReLU:extra_repr()
  return ("lower=%s, upper=%s"):format(pyrepr(self.lower), pyrepr(self.upper)) .. L.inplace(self)
end

-- Softmin(dim), GLU(dim = -1): dims 1-based
M.Softmin = activation("Softmin", "softmin", { { "dim", A.int() } }, { "dim" }, function(self)
  return "dim=" .. pyrepr(self.dim)
end)
-- without a dim, PyTorch's legacy choice: the first dim of a 0, 1 or 3-d
-- input, the second otherwise
function M.Softmin:forward(x)
  local dim = self.dim
  if dim == nil and torch.is_tensor(x) then dim = (x:dim() <= 1 or x:dim() == 3) and 1 or 2 end
  return run(self, 1, F.softmin, x, dim)
end
M.GLU = activation("GLU", "glu", { { "dim", A.int(-1) } }, { "dim" }, function(self) return "dim=" .. self.dim end)

-- Softmax2d(): a softmax over the channels of each position (dim -3)
M.Softmax2d = L.class("Softmax2d", {})
function M.Softmax2d:forward(x)
  L.rank(self, x, 3, 4)
  return run(self, 1, F.softmax, x, -3)
end

-- PReLU(num_parameters = 1, init = 0.25): one learned slope, or one per channel
M.PReLU = L.class("PReLU", { { "num_parameters", A.int(1, 1) }, { "init", A.number(0.25) } }, function(self)
  self.weight = Parameter(torch.full({ self.num_parameters }, self.init))
end)
function M.PReLU:forward(x) return run(self, 1, F.prelu, x, self.weight) end
function M.PReLU:extra_repr() return "num_parameters=" .. self.num_parameters end

return M
