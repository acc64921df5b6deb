-- Distances between two batches, written in Lua over nn.functional:
-- CosineSimilarity(dim = 2, eps = 1e-8) (dim 1-based: PyTorch's dim=1)
-- and PairwiseDistance(p = 2, eps = 1e-6, keepdim = false); m(x1, x2).
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"

local A = L.A
local M = {}

M.CosineSimilarity = L.class("CosineSimilarity", { { "dim", A.int(2) }, { "eps", A.number(1e-8, 0) } })
function M.CosineSimilarity:forward(x1, x2) return L.run(self, 2, F.cosine_similarity, x1, x2, self.dim, self.eps) end

M.PairwiseDistance = L.class("PairwiseDistance", { { "p", A.number(2.0) }, { "eps", A.number(1e-6, 0) },
  { "keepdim", A.bool(false) } })
function M.PairwiseDistance:forward(x1, x2)
  return L.run(self, 2, F.pairwise_distance, x1, x2, self.p, self.eps, self.keepdim)
end

return M
