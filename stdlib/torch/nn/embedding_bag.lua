-- EmbeddingBag, written in Lua over nn.functional, as PyTorch's: a sum,
-- mean or max of embedding rows per bag.  Indices, offsets and
-- padding_idx are values in tensors: 0-based, as PyTorch's.
local torch = require "torch"
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"
local Parameter = require("torch.nn.module").Parameter

local A, pyrepr = L.A, L.pyrepr
local M = {}

-- EmbeddingBag(num_embeddings, embedding_dim, {max_norm, norm_type = 2,
-- scale_grad_by_freq = false, mode = "mean", include_last_offset = false,
-- padding_idx}); m(input, offsets, per_sample_weights): one row per bag
M.EmbeddingBag = L.class("EmbeddingBag", { { "num_embeddings", A.required("integer", 1) },
  { "embedding_dim", A.required("integer", 1) }, { "max_norm", A.number(nil, 0) },
  { "norm_type", A.number(2.0) }, { "scale_grad_by_freq", A.bool(false) }, { "mode", A.enum("mean", { "sum", "mean", "max" }) },
  { "include_last_offset", A.bool(false) }, { "padding_idx", A.int() } }, function(self)
  local n = self.num_embeddings
  require("torch.nn.native").weights("EmbeddingBag", n, self.embedding_dim)
  local p = self.padding_idx
  if p ~= nil then
    if p >= n or p < -n then A.E.raise("nn.EmbeddingBag", "padding_idx must be within num_embeddings (%d), got %d", n, p) end
    self.padding_idx = p < 0 and p + n or p
  end
  local weight = torch.randn(n, self.embedding_dim)
  if self.padding_idx then weight[self.padding_idx + 1]:zero_() end
  self.weight = Parameter(weight)
end)
function M.EmbeddingBag:forward(input, offsets, per_sample_weights)
  return L.run(self, 1, F.embedding_bag, input, self.weight, offsets, { max_norm = self.max_norm,
    norm_type = self.norm_type, scale_grad_by_freq = self.scale_grad_by_freq, mode = self.mode,
    per_sample_weights = per_sample_weights, include_last_offset = self.include_last_offset,
    padding_idx = self.padding_idx })
end
function M.EmbeddingBag:extra_repr()
  local s = ("%d, %d"):format(self.num_embeddings, self.embedding_dim)
  if self.max_norm then s = s .. ", max_norm=" .. pyrepr(self.max_norm) end
  if self.norm_type ~= 2 then s = s .. ", norm_type=" .. pyrepr(self.norm_type) end
  if self.scale_grad_by_freq then s = s .. ", scale_grad_by_freq=True" end
  s = s .. ", mode=" .. self.mode
  if self.padding_idx then s = s .. ", padding_idx=" .. self.padding_idx end
  return s
end

return M
