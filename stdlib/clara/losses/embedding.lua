-- Losses on embeddings and rankings: the output is a pair or triple of
-- tensors (scores to rank, vectors to bring together or push apart) and the
-- target says which way (1 or -1).  Each takes the uniform form
-- f({x1, x2}, target[, opts]) (a model returning a list) or PyTorch's
-- f(x1, x2, target[, opts]); triplet_margin has no target:
-- f({anchor, positive, negative}[, opts]) or f(anchor, positive, negative[, opts]).
local torch = require "torch"
local check = require "clara.losses.check"
local reduce = require "clara.losses.reduce"

local fail, shape = check.fail, check.shape

local MARGIN_OPTS = { margin = { "number", 0.0 }, reduction = { "reduction", "mean" } }

-- margin_ranking: x1 should rank above x2 where y = 1, below where y = -1;
--   loss = max(0, -y (x1 - x2) + margin)
local function margin_ranking(...)
  local name = "margin_ranking_loss"
  local xs, target, opts = check.several(name, { "x1", "x2" }, true, ...)
  opts = check.options(name, opts, MARGIN_OPTS)
  local x1, x2 = check.floating(name, "x1", xs[1]), check.floating(name, "x2", xs[2])
  check.tensor(name, "target", target)
  check.same_shape(name, x1, "x1", x2, "x2")
  check.same_shape(name, x1, "x1", target, "target")
  return reduce((-target * (x1 - x2) + opts.margin):clamp(0), opts.reduction)
end

local HINGE_OPTS = { margin = { "number", 1.0 }, reduction = { "reduction", "mean" } }

-- hinge_embedding: output distances x (small for similar pairs);
--   loss = x where y = 1,  max(0, margin - x) where y = -1
local function hinge_embedding(output, target, opts)
  local name = "hinge_embedding_loss"
  opts = check.options(name, opts, HINGE_OPTS)
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  check.same_shape(name, output, "output", target, "target")
  local far = (opts.margin - output):clamp(0)
  return reduce(target:ne(1):where(far, 0) + target:ne(-1):where(output, 0), opts.reduction)
end

local COSINE_OPTS = { margin = { "number", 0.0 }, reduction = { "reduction", "mean" } }

-- cosine_embedding: pairs of vectors (N, D) (or one pair (D)) with y = 1 for
-- similar, -1 for dissimilar;  cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))
--   loss = 1 - cos where y = 1,  max(0, cos - margin) where y = -1
local function cosine_embedding(...)
  local name = "cosine_embedding_loss"
  local xs, target, opts = check.several(name, { "x1", "x2" }, true, ...)
  opts = check.options(name, opts, COSINE_OPTS)
  local x1, x2 = check.floating(name, "x1", xs[1]), check.floating(name, "x2", xs[2])
  check.tensor(name, "target", target)
  check.same_shape(name, x1, "x1", x2, "x2")
  local td = target:dim()
  local d = td + 1 -- the vector dim
  if not ((td == 0 and x1:dim() == 1) or (td == 1 and x1:dim() == 2 and x1:size(1) == target:size(1))) then
    fail(name, "x1 and x2 must be (N, D) with target (N), or (D) with target (), got x1 %s and target %s",
      shape(x1), shape(target))
  end
  local eps = 1e-12
  local cos = (x1 * x2):sum(d) / (((x1 * x1):sum(d) + eps) * ((x2 * x2):sum(d) + eps)):sqrt()
  local loss = target:eq(1):where(1 - cos, 0) + target:eq(-1):where((cos - opts.margin):clamp(0), 0)
  return reduce(loss, opts.reduction)
end

local TRIPLET_OPTS = {
  margin = { "number", 1.0 }, p = { "number", 2.0, { gt = 0 } }, eps = { "number", 1e-6 }, swap = { "boolean", false },
  reduction = { "reduction", "mean" },
}

-- the p-norm of a - b + eps along the last dim (PyTorch's pairwise_distance)
-- A root of a sum that is 0 (a == b, eps = 0) has an infinite slope and
-- its gradient would be NaN; PyTorch's norm gives 0 there, and so does this.
local function root(sum, p)
  local nz = sum:gt(0)
  local safe = nz:where(sum, 1)
  return nz:where(p == 2 and safe:sqrt() or safe:pow(1 / p), 0)
end

local function distance(a, b, p, eps)
  local v = a - b + eps
  if p == 2 then return root(v:square():sum(-1), 2) end
  if p == 1 then return v:abs():sum(-1) end
  if p == math.huge then return v:abs():amax(-1) end
  return root(v:abs():pow(p):sum(-1), p)
end

-- the anchor, positive and negative of a triplet loss (checked by check,
-- of one shape) and its options, from either form of the call
local function triplet_inputs(name, spec, check_tensor, ...)
  local xs, _, opts = check.several(name, { "anchor", "positive", "negative" }, false, ...)
  opts = check.options(name, opts, spec)
  local a = check_tensor(name, "anchor", xs[1])
  local pos = check_tensor(name, "positive", xs[2])
  local neg = check_tensor(name, "negative", xs[3])
  check.same_shape(name, a, "anchor", pos, "positive")
  check.same_shape(name, a, "anchor", neg, "negative")
  return a, pos, neg, opts
end

-- max(0, d(a, p) - d(a, n) + margin); swap uses min(d(a, n), d(p, n)) for
-- d(a, n).  d(x, y, names) gets the names of x and y, for its messages.
local function triplet(d, a, pos, neg, opts)
  local d_pos = d(a, pos, "anchor, positive")
  local d_neg = d(a, neg, "anchor, negative")
  if opts.swap then d_neg = d_neg:minimum(d(pos, neg, "positive, negative")) end
  return reduce((d_pos - d_neg + opts.margin):clamp(0), opts.reduction)
end

-- triplet_margin: the anchor should be nearer the positive than the negative
-- by a margin;  loss = max(0, d(a, p) - d(a, n) + margin),  d the p-norm
-- distance; swap uses min(d(a, n), d(p, n)) for d(a, n)
local function triplet_margin(...)
  local name = "triplet_margin_loss"
  local a, pos, neg, opts = triplet_inputs(name, TRIPLET_OPTS, check.floating, ...)
  check.dims(name, "anchor", a, 1, 2)
  return triplet(function(x, y) return distance(x, y, opts.p, opts.eps) end, a, pos, neg, opts)
end

local WITH_DISTANCE_OPTS = {
  distance_function = { "callable" }, margin = { "number", 1.0 }, swap = { "boolean", false },
  reduction = { "reduction", "mean" },
}

-- PyTorch's default distance, pairwise_distance(a, b): |a - b + 1e-6|_2
local function pairwise(a, b) return distance(a, b, 2, 1e-6) end

-- triplet_margin_with_distance: triplet_margin with any distance d(x, y)
-- (a Lua function or callable of two tensors returning one distance per
-- sample), by default pairwise_distance
local function triplet_margin_with_distance(...)
  local name = "triplet_margin_with_distance_loss"
  local a, pos, neg, opts = triplet_inputs(name, WITH_DISTANCE_OPTS, check.tensor, ...)
  local fn = opts.distance_function or pairwise
  local function d(x, y, names)
    local v = fn(x, y)
    if not torch.is_tensor(v) then fail(name, "distance_function(%s) must return a tensor, got %s", names, type(v)) end
    return v
  end
  return triplet(d, a, pos, neg, opts)
end

return {
  pairwise_distance = pairwise, -- the default distance, for nn.TripletMarginWithDistanceLoss
  kind = "embedding",
  about = "embeddings and rankings: output a pair or triple of tensors, target 1 or -1 per pair",
  losses = {
    {
      name = "margin_ranking", torch_name = "margin_ranking_loss", fn = margin_ranking,
      output = "{x1, x2}: two scores of the same shape",
      target = "1 where x1 should rank higher, -1 where x2 should, shaped as x1",
      formula = "max(0, -y (x1 - x2) + margin)",
      options = "margin = 0, reduction = 'mean'",
      spec = MARGIN_OPTS,
    },
    {
      name = "hinge_embedding", torch_name = "hinge_embedding_loss", fn = hinge_embedding,
      output = "distances (e.g. |x1 - x2|), any shape",
      target = "1 for similar, -1 for dissimilar, shaped as the output",
      formula = "x if y = 1, max(0, margin - x) if y = -1",
      options = "margin = 1, reduction = 'mean'",
      spec = HINGE_OPTS,
    },
    {
      name = "cosine_embedding", torch_name = "cosine_embedding_loss", fn = cosine_embedding,
      output = "{x1, x2}: two batches of vectors (N, D) (or two vectors (D))",
      target = "1 for similar, -1 for dissimilar pairs, (N) (or ())",
      formula = "1 - cos(x1, x2) if y = 1, max(0, cos(x1, x2) - margin) if y = -1",
      options = "margin = 0, reduction = 'mean'",
      spec = COSINE_OPTS,
    },
    {
      name = "triplet_margin", torch_name = "triplet_margin_loss", fn = triplet_margin,
      output = "{anchor, positive, negative}: three batches of vectors (N, D) (or vectors (D)); no target",
      target = "none (nil)",
      formula = "max(0, |a - p|_p - |a - n|_p + margin)",
      options = "margin = 1, p = 2, eps = 1e-6, swap = false, reduction = 'mean'",
      spec = TRIPLET_OPTS,
    },
    {
      name = "triplet_margin_with_distance", torch_name = "triplet_margin_with_distance_loss",
      fn = triplet_margin_with_distance,
      output = "{anchor, positive, negative}: three tensors of one shape, what the distance takes; no target",
      target = "none (nil)",
      formula = "max(0, d(a, p) - d(a, n) + margin), d any function (default: pairwise_distance)",
      options = "distance_function = pairwise_distance, margin = 1, swap = false, reduction = 'mean'",
      spec = WITH_DISTANCE_OPTS,
    },
  },
}
