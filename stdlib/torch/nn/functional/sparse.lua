-- nn.functional's lookups and distances, as PyTorch's: one_hot,
-- embedding, embedding_bag, cosine_similarity, pairwise_distance, pdist.
-- Indices (and padding_idx) are values in tensors: 0-based as PyTorch's.
local A = require "torch.nn.functional.args"

local aten, call, define = A.aten, A.call, A.define
local E, torch = A.E, A.torch
local F = {}

-- one_hot(tensor, num_classes = -1): int64 0/1, classes 0-based
F.one_hot = define("one_hot", { { "tensor", A.tensor() }, { "num_classes", A.int(-1, -1) } }, function(api, a)
  return call(api, aten.one_hot, a.tensor, a.num_classes)
end)

-- padding_idx within the table's rows, negative from the end; -1 for none
local function padding_index(api, weight, p)
  if p == nil then return nil end
  local n = weight:size(1)
  if p >= n or p < -n then E.raise(api, "padding_idx must be within num_embeddings (%d), got %d", n, p) end
  return p < 0 and p + n or p
end

-- rows of weight looked up by indices rescaled in place to norm <= max_norm, as PyTorch does
local function renorm(indices, weight, max_norm, norm_type)
  if max_norm == nil then return end
  torch.no_grad(function() aten.embedding_renorm_(weight:detach(), aten.contiguous(indices), max_norm, norm_type) end)
end

local LOOKUP = { { "max_norm", A.number(nil, 0) }, { "norm_type", A.number(2.0) },
  { "scale_grad_by_freq", A.bool(false) } }

-- embedding(input, weight, padding_idx = nil, max_norm = nil, norm_type = 2,
-- scale_grad_by_freq = false, sparse = false)
F.embedding = define("embedding", { A.INPUT, { "weight", A.tensor() }, { "padding_idx", A.int() }, LOOKUP[1],
  LOOKUP[2], LOOKUP[3], { "sparse", A.bool(false) } }, function(api, a)
  if a.sparse then E.raise(api, "sparse gradients are not supported") end
  local padding_idx = padding_index(api, a.weight, a.padding_idx) or -1
  renorm(a.input, a.weight, a.max_norm, a.norm_type)
  return call(api, aten.embedding, a.weight, a.input, padding_idx, a.scale_grad_by_freq, false)
end)

local BAG_MODES = { sum = 0, mean = 1, max = 2 }

-- the 1-d indices and offsets embedding_bag's kernel takes, from a 2-d
-- input (bags of equal length) or a 1-d input with offsets
local function bags(api, a)
  local input, offsets, weights = a.input, a.offsets, a.per_sample_weights
  if weights and table.concat(weights:size(), ",") ~= table.concat(input:size(), ",") then
    E.raise(api, "per_sample_weights (size (%s)) must have the input's size (%s)",
      table.concat(weights:size(), ", "), table.concat(input:size(), ", "))
  end
  local rank = A.rank(api, input, 1, 2)
  if rank == 2 then
    if offsets then E.raise(api, "offsets must be nil for a 2D input (each row is one bag)") end
    offsets = torch.arange(0, input:numel(), input:size(2), { dtype = input.dtype })
    return input:reshape(-1), offsets, weights and weights:reshape(-1)
  end
  if offsets == nil then E.raise(api, "offsets is required for a 1D input") end
  if offsets:dim() ~= 1 then E.raise(api, "offsets must be 1D, got %dD", offsets:dim()) end
  return input, offsets, weights
end

-- embedding_bag(input, weight, offsets = nil, {max_norm, norm_type = 2,
-- scale_grad_by_freq = false, mode = "mean", sparse = false,
-- per_sample_weights, include_last_offset = false, padding_idx})
F.embedding_bag = define("embedding_bag", { A.INPUT, { "weight", A.tensor() }, { "offsets", A.optional_tensor() },
  LOOKUP[1], LOOKUP[2], LOOKUP[3], { "mode", A.enum("mean", { "sum", "mean", "max" }) }, { "sparse", A.bool(false) },
  { "per_sample_weights", A.optional_tensor() }, { "include_last_offset", A.bool(false) }, { "padding_idx", A.int() } },
  function(api, a)
    if a.sparse then E.raise(api, "sparse gradients are not supported") end
    if a.mode == "max" and a.scale_grad_by_freq then
      E.raise(api, "mode 'max' does not support scale_grad_by_freq")
    end
    if a.per_sample_weights and a.mode ~= "sum" then
      E.raise(api, "per_sample_weights is only for mode 'sum', got mode '%s'", a.mode)
    end
    local input, offsets, weights = bags(api, a)
    renorm(input, a.weight, a.max_norm, a.norm_type)
    return (call(api, aten["embedding_bag.padding_idx"], a.weight, input, offsets, a.scale_grad_by_freq,
      BAG_MODES[a.mode], false, weights, a.include_last_offset, padding_index(api, a.weight, a.padding_idx)))
  end)

-- cosine_similarity(x1, x2, dim = 2, eps = 1e-8): dim 1-based (PyTorch's dim=1)
F.cosine_similarity = define("cosine_similarity", { { "x1", A.tensor() }, { "x2", A.tensor() }, { "dim", A.int(2) },
  { "eps", A.number(1e-8, 0) } }, function(api, a)
  return call(api, aten.cosine_similarity, a.x1, a.x2, A.dim0(api, "dim", a.dim), a.eps)
end)

-- pairwise_distance(x1, x2, p = 2, eps = 1e-6, keepdim = false): the p-norm of x1 - x2 + eps
F.pairwise_distance = define("pairwise_distance", { { "x1", A.tensor() }, { "x2", A.tensor() },
  { "p", A.number(2.0) }, { "eps", A.number(1e-6, 0) }, { "keepdim", A.bool(false) } }, function(api, a)
  return call(api, aten.pairwise_distance, a.x1, a.x2, a.p, a.eps, a.keepdim)
end)

-- pdist(input, p = 2): the p-norm distances between the rows of an
-- (N, M) input, the upper triangle of the distance matrix row by row
F.pdist = define("pdist", { A.INPUT, { "p", A.number(2.0, 0) } }, function(api, a)
  A.rank(api, a.input, 2)
  return call(api, aten.pdist, a.input, a.p)
end)

return F
