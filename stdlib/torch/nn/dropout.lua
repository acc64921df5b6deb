-- The dropout modules beyond nn.Dropout (native, in norm.lua), written in
-- Lua over nn.functional: Dropout1d/2d/3d (whole channels), AlphaDropout
-- and FeatureAlphaDropout (SELU's mean and variance kept).  Random in
-- train(), the identity in eval(); torch.manual_seed gives PyTorch's masks.
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"

local A, pyrepr = L.A, L.pyrepr
local M = {}

for name, fn in pairs { Dropout1d = "dropout1d", Dropout2d = "dropout2d", Dropout3d = "dropout3d",
  AlphaDropout = "alpha_dropout", FeatureAlphaDropout = "feature_alpha_dropout" } do
  -- Dropout2d(p = 0.5, inplace = false)
  M[name] = L.class(name, { { "p", A.number(0.5, 0, 1) }, A.INPLACE })
  M[name].forward = function(self, x) return L.run(self, 1, F[fn], x, self.p, self.training, self.inplace) end
  M[name].extra_repr = function(self) return ("p=%s, inplace=%s"):format(pyrepr(self.p), pyrepr(self.inplace)) end
end

return M
