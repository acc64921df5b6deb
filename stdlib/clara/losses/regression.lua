-- Losses on regression values: the output predicts the target's numbers
-- element by element, so both have the same shape (clara refuses to
-- broadcast them: an (N, 1) output against an (N) target would otherwise
-- silently give an (N, N) loss).
local check = require "clara.losses.check"
local reduce = require "clara.losses.reduce"

local function difference(name, output, target)
  check.floating(name, "output", output)
  check.floating(name, "target", target)
  check.same_shape(name, output, "output", target, "target")
  return output - target
end

local PLAIN_OPTS = { reduction = { "reduction", "mean" } }

-- mse: loss = (x - y)^2
local function mse(output, target, opts)
  opts = check.options("mse_loss", opts, PLAIN_OPTS)
  return reduce(difference("mse_loss", output, target):square(), opts.reduction)
end

-- l1: loss = |x - y|
local function l1(output, target, opts)
  opts = check.options("l1_loss", opts, PLAIN_OPTS)
  return reduce(difference("l1_loss", output, target):abs(), opts.reduction)
end

local SMOOTH_OPTS = { beta = { "number", 1.0, { min = 0 } }, reduction = { "reduction", "mean" } }

-- smooth_l1: d = |x - y|;  loss = 0.5 d^2 / beta  if d < beta,  d - 0.5 beta  otherwise
-- (beta = 0 is l1)
local function smooth_l1(output, target, opts)
  local name = "smooth_l1_loss"
  opts = check.options(name, opts, SMOOTH_OPTS)
  local beta = opts.beta
  local d = difference(name, output, target):abs()
  if beta == 0 then return reduce(d, opts.reduction) end
  local loss = d:lt(beta):where(d:square() * (0.5 / beta), d - 0.5 * beta)
  return reduce(loss, opts.reduction)
end

local HUBER_OPTS = { delta = { "number", 1.0, { gt = 0 } }, reduction = { "reduction", "mean" } }

-- huber: d = |x - y|;  loss = 0.5 d^2  if d < delta,  delta (d - 0.5 delta)  otherwise
-- (smooth_l1 with beta = delta, times delta)
local function huber(output, target, opts)
  local name = "huber_loss"
  opts = check.options(name, opts, HUBER_OPTS)
  local delta = opts.delta
  local d = difference(name, output, target):abs()
  local loss = d:lt(delta):where(d:square() * 0.5, (d - 0.5 * delta) * delta)
  return reduce(loss, opts.reduction)
end

return {
  kind = "regression",
  about = "regression values: output and target floating point, the same shape",
  losses = {
    {
      name = "mse", torch_name = "mse_loss", fn = mse,
      output = "predicted values, any shape", target = "true values, shaped as the output",
      formula = "(x - y)^2", options = "reduction = 'mean'", spec = PLAIN_OPTS,
    },
    {
      name = "l1", torch_name = "l1_loss", fn = l1,
      output = "predicted values, any shape", target = "true values, shaped as the output",
      formula = "|x - y|", options = "reduction = 'mean'", spec = PLAIN_OPTS,
    },
    {
      name = "smooth_l1", torch_name = "smooth_l1_loss", fn = smooth_l1,
      output = "predicted values, any shape", target = "true values, shaped as the output",
      formula = "0.5 d^2 / beta if d < beta else d - 0.5 beta, d = |x - y|",
      options = "beta = 1, reduction = 'mean'",
      spec = SMOOTH_OPTS,
    },
    {
      name = "huber", torch_name = "huber_loss", fn = huber,
      output = "predicted values, any shape", target = "true values, shaped as the output",
      formula = "0.5 d^2 if d < delta else delta (d - 0.5 delta), d = |x - y|",
      options = "delta = 1, reduction = 'mean'",
      spec = HUBER_OPTS,
    },
  },
}
