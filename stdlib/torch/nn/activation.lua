-- Activations: libtorch's own modules (ReLU, LeakyReLU, GELU, SiLU, ELU,
-- Tanh, Sigmoid, Softmax, LogSoftmax).  Softmax and LogSoftmax take a
-- 1-based dim (negative from the end), printed as given.
local core = require "torch.nn.core"
local native = require "torch.nn.native"
local dim0 = require("torch.nn.linear").dim0

local bool, opts, pyrepr, number = native.bool, native.opts, native.pyrepr, native.number
local M = {}

local function inplace_of(name, o)
  if type(o) == "boolean" then return o end -- nn.ReLU(true), as PyTorch's ReLU(True)
  return bool(name, "inplace", opts(name, o, { "inplace" }).inplace, false)
end

-- ReLU({inplace = false}); SiLU likewise
for _, name in ipairs { "ReLU", "SiLU" } do
  M[name] = native.class(name, function(self, o)
    self.inplace = inplace_of(name, o)
    if name == "SiLU" and self.inplace then native.raise("SiLU", "inplace is not supported") end
    return core.activation(name, 0, self.inplace)
  end)
  M[name].extra_repr = function(self) return self.inplace and "inplace=True" or "" end
end

for _, name in ipairs { "Tanh", "Sigmoid" } do
  M[name] = native.class(name, function(self) return core.activation(name) end)
end

-- LeakyReLU(negative_slope = 0.01, {inplace = false})
M.LeakyReLU = native.class("LeakyReLU", function(self, slope, o)
  self.negative_slope = slope == nil and 0.01 or number("LeakyReLU", "negative_slope", slope)
  self.inplace = inplace_of("LeakyReLU", o)
  return core.activation("LeakyReLU", self.negative_slope, self.inplace)
end)
function M.LeakyReLU:extra_repr()
  return "negative_slope=" .. pyrepr(self.negative_slope) .. (self.inplace and ", inplace=True" or "")
end

-- ELU(alpha = 1.0, {inplace = false})
M.ELU = native.class("ELU", function(self, alpha, o)
  self.alpha = alpha == nil and 1.0 or number("ELU", "alpha", alpha)
  self.inplace = inplace_of("ELU", o)
  return core.activation("ELU", self.alpha, self.inplace)
end)
function M.ELU:extra_repr()
  return "alpha=" .. pyrepr(self.alpha) .. (self.inplace and ", inplace=True" or "")
end

-- GELU({approximate = "none"}) or GELU("tanh")
M.GELU = native.class("GELU", function(self, o)
  if type(o) == "string" then o = { approximate = o } end
  o = opts("GELU", o, { "approximate" })
  self.approximate = o.approximate or "none"
  if self.approximate ~= "none" and self.approximate ~= "tanh" then
    native.raise("GELU", "approximate must be 'none' or 'tanh', got '%s'", tostring(self.approximate))
  end
  return core.activation(self.approximate == "tanh" and "GELU_tanh" or "GELU")
end)
function M.GELU:extra_repr() return ("approximate='%s'"):format(self.approximate) end

-- Softmax(dim), LogSoftmax(dim): dim 1-based
for _, name in ipairs { "Softmax", "LogSoftmax" } do
  M[name] = native.class(name, function(self, dim)
    if type(dim) == "table" then dim = dim.dim end
    if dim == nil then native.raise(name, "dim is required (1-based, e.g. %s(2))", name) end
    self.dim = dim
    return core.activation(name, dim0(name, "dim", dim))
  end)
  M[name].extra_repr = function(self) return "dim=" .. self.dim end
end

return M
