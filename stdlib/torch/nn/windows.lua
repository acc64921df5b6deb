-- Modules over sliding windows, written in Lua over nn.functional, as
-- PyTorch's: MaxUnpool1d/2d/3d (MaxPool's values back in place, from its
-- 0-based indices), LPPool1d/2d (power-average pooling), Unfold and Fold
-- (blocks to columns and back).  Sizes print as given, as PyTorch prints them.
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"

local A, pyrepr = L.A, L.pyrepr
local M = {}

-- MaxUnpool2d(kernel_size, stride = kernel_size, padding = 0);
-- m(input, indices, output_size): the max pool's values back in place
local function unpool(d)
  local name = "MaxUnpool" .. d .. "d"
  local class = L.class(name, { { "kernel_size", A.sizes() }, { "stride", A.sizes() }, { "padding", A.sizes(0) } },
    function(self)
      local api = "nn." .. name
      self.kernel_size = A.list(api, "kernel_size", self.kernel_size, d, 1)
      self.stride = A.list(api, "stride", self.stride or self.kernel_size, d, 1)
      self.padding = A.list(api, "padding", self.padding, d, 0)
    end)
  local fn = F["max_unpool" .. d .. "d"]
  function class:forward(input, indices, output_size)
    return L.run(self, 2, fn, input, indices, self.kernel_size, self.stride, self.padding, output_size)
  end
  class.extra_repr = require("torch.nn.conv").AvgPool1d.extra_repr -- the same three sizes
  return class
end

for d = 1, 3 do M["MaxUnpool" .. d .. "d"] = unpool(d) end

-- LPPool2d(norm_type, kernel_size, stride = kernel_size, ceil_mode = false)
for d = 1, 2 do
  local name = "LPPool" .. d .. "d"
  M[name] = L.class(name, { { "norm_type", A.required("number") }, { "kernel_size", A.sizes() },
    { "stride", A.sizes() }, { "ceil_mode", A.bool(false) } }, function(self)
    A.list("nn." .. name, "kernel_size", self.kernel_size, d, 1)
    if self.stride ~= nil then A.list("nn." .. name, "stride", self.stride, d, 1) end
  end)
  local fn = F["lp_pool" .. d .. "d"]
  M[name].forward = function(self, x)
    return L.run(self, 1, fn, x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)
  end
  M[name].extra_repr = function(self)
    return ("norm_type=%s, kernel_size=%s, stride=%s, ceil_mode=%s"):format(pyrepr(self.norm_type),
      pyrepr(self.kernel_size), pyrepr(self.stride), pyrepr(self.ceil_mode))
  end
end

-- Unfold(kernel_size, dilation = 1, padding = 0, stride = 1); Fold(output_size, <the same>)
local WINDOW = { { "kernel_size", A.sizes() }, { "dilation", A.sizes(1) }, { "padding", A.sizes(0) },
  { "stride", A.sizes(1) } }
local function window_repr(self)
  return ("kernel_size=%s, dilation=%s, padding=%s, stride=%s"):format(pyrepr(self.kernel_size),
    pyrepr(self.dilation), pyrepr(self.padding), pyrepr(self.stride))
end

M.Unfold = L.class("Unfold", WINDOW, function(self) A.list("nn.Unfold", "kernel_size", self.kernel_size, 2, 1) end)
function M.Unfold:forward(x)
  return L.run(self, 1, F.unfold, x, self.kernel_size, self.dilation, self.padding, self.stride)
end
M.Unfold.extra_repr = window_repr

M.Fold = L.class("Fold", { { "output_size", A.sizes() }, table.unpack(WINDOW) }, function(self)
  A.list("nn.Fold", "output_size", self.output_size, 2, 1)
  A.list("nn.Fold", "kernel_size", self.kernel_size, 2, 1)
end)
function M.Fold:forward(x)
  return L.run(self, 1, F.fold, x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)
end
function M.Fold:extra_repr() return "output_size=" .. pyrepr(self.output_size) .. ", " .. window_repr(self) end

return M
