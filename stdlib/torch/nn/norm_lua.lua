-- Normalizations written in Lua over nn.functional, as PyTorch's:
-- InstanceNorm1d/2d/3d (each sample's channels normalized by their own
-- statistics; affine adds weight and bias, track_running_stats keeps
-- running statistics, used in eval) and LocalResponseNorm.
local torch = require "torch"
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"
local Parameter = require("torch.nn.module").Parameter

local A, pyrepr = L.A, L.pyrepr
local M = {}

-- InstanceNorm2d(num_features, {eps = 1e-5, momentum = 0.1, affine = false,
-- track_running_stats = false})
local function instance_norm(name, dims)
  local class = L.class(name, { { "num_features", A.required("integer", 1) },
    { "eps", A.number(1e-5, 0) }, { "momentum", A.number(0.1, 0, 1) }, { "affine", A.bool(false) },
    { "track_running_stats", A.bool(false) } }, function(self)
    local n = self.num_features
    if self.affine then
      self.weight = Parameter(torch.ones(n))
      self.bias = Parameter(torch.zeros(n))
    end
    if self.track_running_stats then
      self:register_buffer("running_mean", torch.zeros(n))
      self:register_buffer("running_var", torch.ones(n))
      self:register_buffer("num_batches_tracked", torch.tensor(0, { dtype = "int64" }))
    end
  end)
  -- an input without a batch dim is normalized as a batch of one
  function class:forward(x)
    local unbatched = L.rank(self, x, dims + 1, dims + 2) == dims + 1
    if unbatched then x = x:unsqueeze(1) end
    local y = L.run(self, 1, F.instance_norm, x, self.running_mean, self.running_var, self.weight, self.bias,
      self.training or not self.track_running_stats, self.momentum, self.eps)
    return unbatched and y:squeeze(1) or y
  end
  function class:extra_repr()
    return ("%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s"):format(self.num_features, pyrepr(self.eps),
      pyrepr(self.momentum), pyrepr(self.affine), pyrepr(self.track_running_stats))
  end
  return class
end

for d = 1, 3 do M["InstanceNorm" .. d .. "d"] = instance_norm("InstanceNorm" .. d .. "d", d) end

-- LocalResponseNorm(size, alpha = 1e-4, beta = 0.75, k = 1.0)
M.LocalResponseNorm = L.class("LocalResponseNorm", { { "size", A.required("integer", 1) }, { "alpha", A.number(1e-4) },
  { "beta", A.number(0.75) }, { "k", A.number(1.0) } })
function M.LocalResponseNorm:forward(x)
  return L.run(self, 1, F.local_response_norm, x, self.size, self.alpha, self.beta, self.k)
end
function M.LocalResponseNorm:extra_repr()
  return ("%d, alpha=%s, beta=%s, k=%s"):format(self.size, pyrepr(self.alpha), pyrepr(self.beta), pyrepr(self.k))
end

return M
