-- Padding layers, written in Lua over nn.functional.pad: ZeroPad2d,
-- ConstantPad1d/2d/3d, ReflectionPad1d/2d/3d, ReplicationPad1d/2d/3d.
-- padding is a number (every side) or a list of (before, after) pairs from
-- the last dim backwards, as PyTorch's.
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"

local A, pyrepr = L.A, L.pyrepr
local M = {}

-- a class for `dims` padded dims in `mode`; ConstantPad takes a value
local function pad_class(name, dims, mode)
  local params = { { "padding", { type = "integer|table", required = true, what = "a number or a list of sizes" } } }
  if name:find("^Constant") then params[2] = { "value", A.required("number") } end
  local class = L.class(name, params, function(self)
    local api = "nn." .. name
    if name == "ZeroPad2d" then self.value = 0.0 end
    local n = 2 * dims
    self.padding = A.list(api, "padding", self.padding, type(self.padding) == "table" and #self.padding or n)
    if #self.padding ~= n then
      A.E.raise(api, "padding must be a number or a list of %d sizes, got %d", n, #self.padding)
    end
  end)
  function class:forward(x) return L.run(self, 1, F.pad, x, self.padding, mode, self.value) end
  function class:extra_repr()
    if name:find("^Constant") then return ("padding=%s, value=%s"):format(pyrepr(self.padding), pyrepr(self.value)) end
    return pyrepr(self.padding)
  end
  return class
end

M.ZeroPad2d = pad_class("ZeroPad2d", 2, "constant")
for d = 1, 3 do
  M["ConstantPad" .. d .. "d"] = pad_class("ConstantPad" .. d .. "d", d, "constant")
  M["ReflectionPad" .. d .. "d"] = pad_class("ReflectionPad" .. d .. "d", d, "reflect")
  M["ReplicationPad" .. d .. "d"] = pad_class("ReplicationPad" .. d .. "d", d, "replicate")
end

return M
