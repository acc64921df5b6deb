-- Losses on class indices.  The output holds one score per class along
-- dim 2 ((N, C), or (N, C, d1, ...) for per-pixel classes; dim 1 for a
-- single unbatched sample (C)); the target holds 0-based class indices
-- shaped as the output without its class dim, as in PyTorch.
local torch = require "torch"
local check = require "clara.losses.check"
local core = require "clara.losses.core"

local fail, shape = check.fail, check.shape

-- the target shape an output needs: its sizes without the class dim
local function without(sizes, cdim)
  local out = {}
  for i, s in ipairs(sizes) do if i ~= cdim then out[#out + 1] = s end end
  return out
end

-- 1. output and target shapes agree; 2. the target holds integers;
-- 3. every target not ignored is a class of the output; 4. the weights
-- are one per class.  Returns the class dim, the class count, the target as
-- int64 and the mask of targets not ignored (nil without opts.ignore_index).
local function check_indices(name, output, target, opts)
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  if output:dim() == 0 then fail(name, "output must have a class dim, got a 0-d tensor") end
  local cdim = output:dim() == 1 and 1 or 2
  local nclass = output:size(cdim)
  local want = without(output:size(), cdim)
  if target:is_floating_point() then
    fail(name, "target %s holds %s values; class indices need an integer tensor (target:long())%s",
      shape(target), target.dtype,
      name == "cross_entropy" and (", class probabilities a target shaped as the output " .. shape(output)) or "")
  end
  if target.dtype == "bool" then fail(name, "target %s is bool; class indices need an integer tensor", shape(target)) end
  if not check.same_size(target, want) then
    fail(name, "output %s needs target %s (the output without its class dim %d), got target %s",
      shape(output), shape(want), cdim, shape(target))
  end
  target = target:long()
  local valid = opts.ignore_index and target:ne(opts.ignore_index)
  local kept = valid and target:masked_select(valid) or target
  if kept:numel() > 0 then
    local lo, hi = kept:min():item(), kept:max():item()
    if lo < 0 or hi >= nclass then
      fail(name, "target holds class %d, outside [0, %d) for output %s with %d classes",
        lo < 0 and lo or hi, nclass, shape(output), nclass)
    end
  end
  local w = opts.weight
  if w then
    check.floating(name, "weight", w)
    if w:dim() ~= 1 or w:size(1) ~= nclass then
      fail(name, "weight must be a 1-d tensor of %d class weights (one per class of output %s), got %s",
        nclass, shape(output), shape(w))
    end
  end
  return cdim, nclass, target, valid
end

-- weight viewed to broadcast along the class dim of an output of ndim dims
local function along_classes(weight, ndim, cdim)
  local sizes = {}
  for i = 1, ndim do sizes[i] = i == cdim and weight:size(1) or 1 end
  return weight:view(table.unpack(sizes))
end

local NLL_OPTS = {
  weight = { "tensor" }, ignore_index = { "integer", -100 }, reduction = { "reduction", "mean" },
}

-- nll_loss: output log-probabilities; loss_i = -w[t_i] * output[i, t_i],
-- 'mean' divided by the sum of the weights of the targets not ignored (a
-- weighted mean, as PyTorch); libtorch's kernel, after clara's checks
local function nll_loss(output, target, opts)
  opts = check.options("nll_loss", opts, NLL_OPTS)
  local _, _, t = check_indices("nll_loss", output, target, opts)
  return core.nll(output, t, opts.weight, opts.reduction, opts.ignore_index)
end

local CE_OPTS = {
  weight = { "tensor" }, ignore_index = { "integer", -100 }, reduction = { "reduction", "mean" },
  label_smoothing = { "number", 0.0, { min = 0, max = 1 } },
}

-- probability targets q (shaped as the output), smoothed to
-- q (1 - e) + e / C:  loss_i = -sum_c w_c q_ic log softmax(x_i)_c;
-- 'mean' divides by the number of samples (numel / C), whatever the weights
local function cross_entropy_probs(output, target, opts)
  local name = "cross_entropy"
  if opts.ignore_index >= 0 then fail(name, "ignore_index is not supported with probability targets") end
  local cdim = output:dim() == 1 and 1 or 2
  local nclass = output:size(cdim)
  local logp = output:log_softmax(cdim)
  local e = opts.label_smoothing
  local q = e > 0 and target * (1 - e) + e / nclass or target
  local terms = logp * q
  if opts.weight then
    local w = check.floating(name, "weight", opts.weight)
    if w:dim() ~= 1 or w:size(1) ~= nclass then
      fail(name, "weight must be a 1-d tensor of %d class weights (one per class of output %s), got %s",
        nclass, shape(output), shape(w))
    end
    terms = terms * along_classes(w, output:dim(), cdim)
  end
  if opts.reduction == "none" then return -terms:sum(cdim) end
  if opts.reduction == "sum" then return -terms:sum() end
  return -terms:sum() / (output:numel() / nclass)
end

-- cross_entropy: output raw scores (logits).
--   loss_i = -w[t_i] log softmax(x_i)[t_i]                       (nll of log_softmax)
-- with label smoothing e:
--   (1 - e) * nll + e / C * smooth,  smooth_i = -sum_c w_c log softmax(x_i)_c
-- each reduced on its own ('mean': divided by the sum of w[t_i], or the
-- count of targets not ignored).  Index targets go to libtorch's kernel
-- (F.cross_entropy's) after clara's checks: one operation, not a dozen
local function cross_entropy(output, target, opts)
  local name = "cross_entropy"
  opts = check.options(name, opts, CE_OPTS)
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  if target:is_floating_point() and check.same_size(output, target) and output:dim() > 0 then
    return cross_entropy_probs(output, target, opts)
  end
  local _, _, t = check_indices(name, output, target, opts)
  return core.cross_entropy(output, t, opts.weight, opts.reduction, opts.ignore_index,
    opts.label_smoothing)
end

-- lengths as an int64 tensor of n: a tensor, a Lua list or one number
local function lengths(name, what, v, n)
  if type(v) == "number" then v = { v } end
  if type(v) == "table" and not torch.is_tensor(v) then
    for _, x in ipairs(v) do
      if math.type(x) ~= "integer" then fail(name, "%s must hold integers, got %s", what, tostring(x)) end
    end
    v = torch.tensor(v, { dtype = "int64" })
  end
  check.tensor(name, what, v)
  if v:is_floating_point() then fail(name, "%s %s must hold integers, got %s", what, shape(v), v.dtype) end
  v = v:long():flatten()
  if v:size(1) ~= n then fail(name, "%s %s must hold one length per sample (%d)", what, shape(v), n) end
  return v
end

local CTC_OPTS = {
  input_lengths = { "any" }, target_lengths = { "any" }, blank = { "integer", 0 },
  zero_infinity = { "boolean", false }, reduction = { "reduction", "mean" },
}

-- ctc: output log-probabilities (T, N, C) over time, target class sequences
-- (N, S) (or all N concatenated, with target_lengths);  loss_n = -log of the
-- total probability of the alignments of target n with input n, summed by
-- libtorch's dynamic programming.  'mean' divides each loss by its target
-- length (at least 1), then averages, as PyTorch.
-- Called as ctc(output, target[, opts]) with the lengths in opts (by default
-- every input and target at full length), or as PyTorch, ctc(log_probs,
-- targets, input_lengths, target_lengths[, opts]).
local function ctc(output, target, a, b, c)
  local name = "ctc_loss"
  local opts = a
  if b ~= nil or torch.is_tensor(a) or (type(a) == "table" and a[1] ~= nil) then
    opts = check.options(name, c, CTC_OPTS)
    opts.input_lengths, opts.target_lengths = a, b
  else
    opts = check.options(name, opts, CTC_OPTS)
  end
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  check.dims(name, "output (T, N, C) or (T, C)", output, 2, 3)
  local unbatched = output:dim() == 2
  if unbatched then
    output, target = output:unsqueeze(2), target:view(1, -1)
  end
  local T, N, C = table.unpack(output:size())
  if target:is_floating_point() or target.dtype == "bool" then
    fail(name, "target %s must hold class indices (an integer tensor), got %s", shape(target), target.dtype)
  end
  if not (target:dim() == 1 or (target:dim() == 2 and target:size(1) == N)) then
    fail(name, "target must be (N, S) with N = %d (as output %s), or 1-d (concatenated), got %s",
      N, shape(output), shape(target))
  end
  if opts.blank < 0 or opts.blank >= C then
    fail(name, "blank %d is not a class of output %s (%d classes)", opts.blank, shape(output), C)
  end
  local il = lengths(name, "input_lengths", opts.input_lengths or torch.full({ N }, T, { dtype = "int64" }), N)
  if il:max():item() > T or il:min():item() < 0 then
    fail(name, "input_lengths must be in [0, %d] (the time steps of output %s)", T, shape(output))
  end
  local tl = opts.target_lengths
  if tl == nil then
    if target:dim() == 1 and N > 1 then fail(name, "concatenated targets need target_lengths") end
    tl = torch.full({ N }, target:size(target:dim()), { dtype = "int64" })
  end
  tl = lengths(name, "target_lengths", tl, N)
  if target:dim() == 2 and tl:max():item() > target:size(2) then
    fail(name, "target_lengths must be at most %d (the width of target %s)", target:size(2), shape(target))
  end
  if target:dim() == 1 and tl:sum():item() ~= target:size(1) then
    fail(name, "target_lengths sum to %d, but the concatenated target %s holds %d", tl:sum():item(),
      shape(target), target:size(1))
  end
  -- libtorch reads the classes of the targets unchecked: out of range is out of bounds
  local used = target
  if target:dim() == 2 then
    used = target:masked_select(torch.arange(target:size(2)):view(1, -1):lt(tl:view(-1, 1)))
  end
  if used:numel() > 0 and (used:min():item() < 0 or used:max():item() >= C) then
    fail(name, "target holds class %d, outside [0, %d) for output %s with %d classes",
      used:min():item() < 0 and used:min():item() or used:max():item(), C, shape(output), C)
  end
  local loss = core.ctc(output, target:long(), il, tl, opts.blank, opts.zero_infinity)
  if unbatched then loss = loss:squeeze(1) end
  if opts.reduction == "none" then return loss end
  if opts.reduction == "sum" then return loss:sum() end
  return (loss / tl:clamp(1):to(loss.dtype)):mean()
end

-- ATen's reduction argument
local REDUCTION = { none = 0, mean = 1, sum = 2 }

local MULTI_MARGIN_OPTS = {
  p = { "integer", 1, { enum = { 1, 2 } } }, margin = { "number", 1.0 }, weight = { "tensor" },
  reduction = { "reduction", "mean" },
}

-- multi_margin: a multi-class hinge; the score of the target class should
-- beat every other class's by a margin:
--   loss_i = sum_{j ~= y} w[y] max(0, margin - x[y] + x[j])^p / C
-- libtorch's kernel (F.multi_margin_loss's), after clara's checks
local function multi_margin(output, target, opts)
  local name = "multi_margin_loss"
  opts = check.options(name, opts, MULTI_MARGIN_OPTS)
  check.floating(name, "output", output)
  check.dims(name, "output (N, C) or (C)", output, 1, 2)
  local _, _, t = check_indices(name, output, target, opts)
  local w = opts.weight and opts.weight:to(output.dtype)
  return torch.ops.aten.multi_margin_loss(output, t, opts.p, opts.margin, w, REDUCTION[opts.reduction])
end

local PLAIN_OPTS = { reduction = { "reduction", "mean" } }

-- multilabel_margin: several target classes per sample, listed first in
-- the target row and ended by -1 (what follows is ignored); every target
-- class's score should beat every other class's by 1:
--   loss_i = sum_{j in y_i} sum_{k not in y_i} max(0, 1 - (x[j] - x[k])) / C
-- libtorch's kernel (F.multilabel_margin_loss's), after clara's checks
local function multilabel_margin(output, target, opts)
  local name = "multilabel_margin_loss"
  opts = check.options(name, opts, PLAIN_OPTS)
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  check.dims(name, "output (N, C) or (C)", output, 1, 2)
  if target:is_floating_point() or target.dtype == "bool" then
    fail(name, "target %s must hold class indices (an integer tensor, -1 ends a row), got %s", shape(target),
      target.dtype)
  end
  check.same_shape(name, output, "output", target, "target")
  local nclass = output:size(output:dim())
  if target:numel() > 0 then
    local lo, hi = target:min():item(), target:max():item()
    if lo < -1 or hi >= nclass then
      fail(name, "target holds %d, outside [-1, %d) for output %s with %d classes (-1 ends a row)",
        lo < -1 and lo or hi, nclass, shape(output), nclass)
    end
  end
  return torch.ops.aten.multilabel_margin_loss(output, target:long(), REDUCTION[opts.reduction])
end

return {
  kind = "classification",
  about = "class indices: output (N, C[, d1, ...]) scores, target (N[, d1, ...]) 0-based int64 classes",
  losses = {
    {
      name = "cross_entropy", fn = cross_entropy,
      output = "raw scores (logits) (N, C), (C) or (N, C, d1, ...)",
      target = "class indices (N), () or (N, d1, ...) in [0, C); or class probabilities shaped as the output",
      formula = "-w[y] log softmax(x)[y]; with label_smoothing e: (1-e) nll + e/C sum_c -w_c log softmax(x)_c",
      options = "weight (C), ignore_index = -100, label_smoothing = 0, reduction = 'mean' (weighted: / sum w[y])",
      spec = CE_OPTS,
    },
    {
      name = "nll", torch_name = "nll_loss", fn = nll_loss,
      output = "log-probabilities (N, C), (C) or (N, C, d1, ...), e.g. from log_softmax(2)",
      target = "class indices (N), () or (N, d1, ...) in [0, C)",
      formula = "-w[y] x[y]",
      options = "weight (C), ignore_index = -100, reduction = 'mean' (weighted: / sum w[y])",
      spec = NLL_OPTS,
    },
    {
      name = "ctc", torch_name = "ctc_loss", fn = ctc,
      output = "log-probabilities over time (T, N, C) or (T, C), e.g. from log_softmax(3)",
      target = "class sequences (N, S), or concatenated (sum of target_lengths); no blanks",
      formula = "-log sum over the alignments of y with x of prod_t x[t, a_t] (connectionist temporal classification)",
      options = "input_lengths (N), target_lengths (N) (default: full), blank = 0, zero_infinity = false, "
        .. "reduction = 'mean' (each / its target length)",
      spec = CTC_OPTS,
    },
    {
      name = "multi_margin", torch_name = "multi_margin_loss", fn = multi_margin,
      output = "raw scores (N, C) or (C)",
      target = "class indices (N) or () in [0, C)",
      formula = "sum_{j ~= y} w[y] max(0, margin - x[y] + x[j])^p / C",
      options = "p = 1 (or 2), margin = 1, weight (C), reduction = 'mean'",
      spec = MULTI_MARGIN_OPTS,
    },
    {
      name = "multilabel_margin", torch_name = "multilabel_margin_loss", fn = multilabel_margin,
      output = "raw scores (N, C) or (C)",
      target = "the target classes of each sample first, then -1 (the rest ignored), int64 shaped as the output",
      formula = "sum_{j in y} sum_{k not in y} max(0, 1 - (x[j] - x[k])) / C",
      options = "reduction = 'mean'",
      spec = PLAIN_OPTS,
    },
  },
}
