-- Normalization (BatchNorm1d/2d/3d, LayerNorm, GroupNorm) and Dropout:
-- libtorch's own modules, whose behaviour depends on train() / eval().
local core = require "torch.nn.core"
local native = require "torch.nn.native"

local int, bool, opts, pyrepr, number = native.int, native.bool, native.opts, native.pyrepr, native.number
local M = {}

-- nn.BatchNorm2d(num_features, {eps = 1e-5, momentum = 0.1, affine = true,
-- track_running_stats = true}); momentum = false means None (cumulative
-- average), since a nil in an options table is no value at all
local function batchnorm_class(name, dims)
  return native.class(name, function(self, num_features, o)
    o = opts(name, o, { "eps", "momentum", "affine", "track_running_stats" })
    self.num_features = int(name, "num_features", num_features, 1)
    native.weights(name, self.num_features, 4)
    self.eps = o.eps == nil and 1e-5 or number(name, "eps", o.eps, 0)
    if o.momentum ~= false then self.momentum = o.momentum == nil and 0.1 or number(name, "momentum", o.momentum, 0, 1) end
    self.affine = bool(name, "affine", o.affine, true)
    self.track_running_stats = bool(name, "track_running_stats", o.track_running_stats, true)
    return core.batchnorm(dims, self.num_features, self.eps, self.momentum, self.affine, self.track_running_stats)
  end)
end

local function batchnorm_repr(self)
  return ("%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s"):format(self.num_features,
    pyrepr(self.eps), pyrepr(self.momentum), pyrepr(self.affine), pyrepr(self.track_running_stats))
end

for d = 1, 3 do
  M["BatchNorm" .. d .. "d"] = batchnorm_class("BatchNorm" .. d .. "d", d)
  M["BatchNorm" .. d .. "d"].extra_repr = batchnorm_repr
end

-- nn.LayerNorm(normalized_shape, {eps = 1e-5, elementwise_affine = true})
M.LayerNorm = native.class("LayerNorm", function(self, shape, o)
  o = opts("LayerNorm", o, { "eps", "elementwise_affine" })
  local list = {}
  if type(shape) == "table" and #shape > 0 then
    for i, s in ipairs(shape) do list[i] = int("LayerNorm", "normalized_shape", s, 1) end
  else
    list[1] = int("LayerNorm", "normalized_shape", shape, 1)
  end
  self.normalized_shape = list
  self.eps = o.eps == nil and 1e-5 or number("LayerNorm", "eps", o.eps, 0)
  self.elementwise_affine = bool("LayerNorm", "elementwise_affine", o.elementwise_affine, true)
  return core.layernorm(list, self.eps, self.elementwise_affine)
end)
function M.LayerNorm:extra_repr()
  return ("%s, eps=%s, elementwise_affine=%s"):format(pyrepr(self.normalized_shape), pyrepr(self.eps),
    pyrepr(self.elementwise_affine))
end

-- nn.GroupNorm(num_groups, num_channels, {eps = 1e-5, affine = true})
M.GroupNorm = native.class("GroupNorm", function(self, groups, channels, o)
  o = opts("GroupNorm", o, { "eps", "affine" })
  self.num_groups = int("GroupNorm", "num_groups", groups, 1)
  self.num_channels = int("GroupNorm", "num_channels", channels, 1)
  if self.num_channels % self.num_groups ~= 0 then
    native.raise("GroupNorm", "num_channels (%d) must be divisible by num_groups (%d)",
      self.num_channels, self.num_groups)
  end
  self.eps = o.eps == nil and 1e-5 or number("GroupNorm", "eps", o.eps, 0)
  self.affine = bool("GroupNorm", "affine", o.affine, true)
  return core.groupnorm(self.num_groups, self.num_channels, self.eps, self.affine)
end)
function M.GroupNorm:extra_repr()
  return ("%d, %d, eps=%s, affine=%s"):format(self.num_groups, self.num_channels, pyrepr(self.eps),
    pyrepr(self.affine))
end

-- nn.Dropout(p = 0.5, {inplace = false}): zeroes with probability p and
-- scales by 1/(1-p) in training; the identity in eval mode
M.Dropout = native.class("Dropout", function(self, p, o)
  if type(p) == "table" and o == nil then p, o = p.p, p end -- nn.Dropout{p = 0.2}
  o = opts("Dropout", o, { "p", "inplace" })
  self.p = p == nil and 0.5 or number("Dropout", "p", p, 0, 1)
  self.inplace = bool("Dropout", "inplace", o.inplace, false)
  return core.dropout(self.p, self.inplace)
end)
function M.Dropout:extra_repr() return ("p=%s, inplace=%s"):format(pyrepr(self.p), pyrepr(self.inplace)) end

return M
