-- Losses on binary targets: one independent yes/no per element (binary or
-- multi-label classification).  The output is a probability (bce) or a raw
-- score (bce_with_logits, soft_margin); the target has the output's shape.
local check = require "clara.losses.check"
local reduce = require "clara.losses.reduce"

local fail, shape = check.fail, check.shape

local function check_pair(name, output, target)
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  if not target:is_floating_point() then
    fail(name, "target %s must be floating point (0/1 as float), got %s (convert with :float())",
      shape(target), target.dtype)
  end
  check.same_shape(name, output, "output", target, "target")
end

local function check_weight(name, what, w, output)
  if w then
    check.floating(name, what, w)
    check.broadcasts(name, what, w, output)
  end
end

local TINY = 1e-44 -- a float32 denormal, log(TINY) < -100
-- PyTorch's EPSILON of the bce gradient, 1e-12, is a C float even for doubles
local EPSILON = 9.999999960041972e-13

local BCE_OPTS = { weight = { "tensor" }, reduction = { "reduction", "mean" } }

-- bce: output probabilities in [0, 1];
--   loss = -w (y log x + (1 - y) log(1 - x)),  each log clamped at -100 as PyTorch
-- The gradient is PyTorch's, w (x - y) / max(x (1 - x), 1e-12), not that of
-- the clamped logs: within 1e-12 of 0 or 1 those give -inf, 0 or 1e13
-- where PyTorch gives a finite 1e12.  So the value comes from a detached
-- output and the gradient rides on (x - x:detach()), which is 0 forward.
local function bce(output, target, opts)
  local name = "binary_cross_entropy"
  opts = check.options(name, opts, BCE_OPTS)
  check_pair(name, output, target)
  check_weight(name, "weight", opts.weight, output)
  if output:numel() > 0 then
    local x = output:detach()
    local lo, hi = x:min():item(), x:max():item()
    if not (lo >= 0 and hi <= 1) then
      fail(name, "output must hold probabilities in [0, 1], got values in [%g, %g] (raw scores? use bce_with_logits)", lo, hi)
    end
  end
  local function log(x) return x:clamp(TINY):log():clamp(-100) end
  local x, y = output:detach(), target:detach()
  local loss = -(target * log(x) + (1 - target) * log(1 - x))
  if output.requires_grad then
    local slope = (x - y) / (x * (1 - x)):clamp(EPSILON)
    loss = loss + slope * (output - x)
  end
  if opts.weight then loss = loss * opts.weight end
  return reduce(loss, opts.reduction)
end

local LOGITS_OPTS = { weight = { "tensor" }, pos_weight = { "tensor" }, reduction = { "reduction", "mean" } }

-- bce_with_logits: output raw scores x, p = pos_weight (weights the positives);
--   loss = -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))
--        =  w ((1 - y) x + (1 + (p - 1) y) softplus(-x))   (stable for any x)
local function bce_with_logits(output, target, opts)
  local name = "binary_cross_entropy_with_logits"
  opts = check.options(name, opts, LOGITS_OPTS)
  check_pair(name, output, target)
  check_weight(name, "weight", opts.weight, output)
  check_weight(name, "pos_weight", opts.pos_weight, output)
  local log_weight = opts.pos_weight and (opts.pos_weight - 1) * target + 1 or 1
  local loss = (1 - target) * output + (-output):softplus() * log_weight
  if opts.weight then loss = loss * opts.weight end
  return reduce(loss, opts.reduction)
end

local SOFT_OPTS = { reduction = { "reduction", "mean" } }

-- soft_margin: output raw scores x, target y in {-1, 1};
--   loss = log(1 + exp(-y x)) = softplus(-y x)
local function soft_margin(output, target, opts)
  local name = "soft_margin_loss"
  opts = check.options(name, opts, SOFT_OPTS)
  check.floating(name, "output", output)
  check.tensor(name, "target", target)
  check.same_shape(name, output, "output", target, "target")
  return reduce((-target * output):softplus(), opts.reduction)
end

local MULTILABEL_OPTS = { weight = { "tensor" }, reduction = { "reduction", "mean" } }

-- multilabel_soft_margin: one yes/no per class (last dim), raw scores x,
-- averaged over the classes of a sample:
--   loss_i = -sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)) / C
local function multilabel_soft_margin(output, target, opts)
  local name = "multilabel_soft_margin_loss"
  opts = check.options(name, opts, MULTILABEL_OPTS)
  check_pair(name, output, target)
  if output:dim() == 0 then fail(name, "output must have a class dim, (N, C) or (C), got a 0-d tensor") end
  check_weight(name, "weight", opts.weight, output)
  local loss = -(target * output:log_sigmoid() + (1 - target) * (-output):log_sigmoid())
  if opts.weight then loss = loss * opts.weight end
  loss = loss:sum(-1) / output:size(-1)
  return reduce(loss, opts.reduction)
end

return {
  kind = "binary",
  about = "binary targets: output probabilities or raw scores, target 0/1 (float) shaped as the output",
  losses = {
    {
      name = "bce", torch_name = "binary_cross_entropy", fn = bce,
      output = "probabilities in [0, 1], any shape (e.g. after sigmoid)",
      target = "0/1 (or soft labels in [0, 1]), floating point, shaped as the output",
      formula = "-w (y log x + (1 - y) log(1 - x)), logs clamped at -100",
      options = "weight (broadcasts to the output), reduction = 'mean'",
      spec = BCE_OPTS,
    },
    {
      name = "bce_with_logits", torch_name = "binary_cross_entropy_with_logits", fn = bce_with_logits,
      output = "raw scores (logits), any shape",
      target = "0/1 (or soft labels in [0, 1]), floating point, shaped as the output",
      formula = "-w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), computed stably",
      options = "weight, pos_weight (per class, broadcasts along the last dim), reduction = 'mean'",
      spec = LOGITS_OPTS,
    },
    {
      name = "soft_margin", torch_name = "soft_margin_loss", fn = soft_margin,
      output = "raw scores, any shape",
      target = "-1 or 1, shaped as the output",
      formula = "log(1 + exp(-y x))",
      options = "reduction = 'mean'",
      spec = SOFT_OPTS,
    },
    {
      name = "multilabel_soft_margin", torch_name = "multilabel_soft_margin_loss", fn = multilabel_soft_margin,
      output = "raw scores (N, C) or (C), one per class",
      target = "0/1 per class, floating point, shaped as the output",
      formula = "-sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)) / C",
      options = "weight (C), reduction = 'mean' (over samples)",
      spec = MULTILABEL_OPTS,
    },
  },
}
