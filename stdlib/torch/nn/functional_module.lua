-- What the modules written in Lua over nn.functional share: a class whose
-- constructor takes PyTorch's arguments (positionally or as options,
-- checked by clara.error) and keeps each as an attribute, and a forward
-- whose errors name the module and the input shapes, as native modules'.
local Module = require("torch.nn.module").Module
local native = require "torch.nn.native"
local A = require "torch.nn.functional.args"

local M = {}

-- M.class("Softplus", {{"beta", spec}, ...}, after): after(self) finishes
-- the instance (parameters, buffers) once the attributes are set
function M.class(name, params, after)
  local parse = A.parser("nn." .. name, params, 0)
  local class = Module:extend(name)
  function class:init(...)
    local a = parse(...)
    for _, p in ipairs(params) do self[p[1]] = a[p[1]] end
    if after then after(self) end
  end
  return class
end

-- fn(...)'s results; its error raised as the module's, with the shapes of
-- the first n arguments (the inputs, which must be tensors)
function M.run(self, n, fn, ...)
  native.check_inputs(self, table.unpack({ ... }, 1, n))
  local r = table.pack(pcall(fn, ...))
  if not r[1] then
    local msg = tostring(r[2]):gsub("^[^\n]-:%d+: ", ""):gsub("^nn%.functional%.[%w_]+: ", "")
    native.forward_error(self, msg, table.unpack({ ... }, 1, n))
  end
  return table.unpack(r, 2, r.n)
end

-- x must be a tensor of one of these ranks
function M.rank(self, x, ...)
  native.check_inputs(self, x)
  local d = x:dim()
  for i = 1, select("#", ...) do if d == select(i, ...) then return d end end
  native.forward_error(self, ("expected a %sD input, got %dD"):format(table.concat({ ... }, "D or "), d), x)
end

-- ", inplace=True" or "", as PyTorch's extra_repr adds it
function M.inplace(self, sep) return self.inplace and ((sep or ", ") .. "inplace=True") or "" end

M.pyrepr = native.pyrepr
M.A = A

return M
