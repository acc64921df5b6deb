-- Losses on distributions: the output parametrizes a distribution (log-
-- probabilities, a Poisson rate, a Gaussian mean and variance) and the loss
-- is a divergence from the target distribution or the negative
-- log-likelihood of the target values under it.
local check = require "clara.losses.check"
local reduce = require "clara.losses.reduce"

local fail, shape = check.fail, check.shape

local function check_pair(name, output, target)
  check.floating(name, "output", output)
  check.floating(name, "target", target)
  check.same_shape(name, output, "output", target, "target")
end

local KL_OPTS = { log_target = { "boolean", false }, reduction = { "kl_reduction", "mean" } }

-- kl_div: output log-probabilities log q, target probabilities p (or log p
-- with log_target):  loss = p (log p - log q), 0 where p = 0.
-- 'batchmean' divides the sum by the batch size (the true KL divergence per
-- sample); 'mean' divides by the number of elements, as PyTorch
local function kl_div(output, target, opts)
  local name = "kl_div"
  opts = check.options(name, opts, KL_OPTS)
  check_pair(name, output, target)
  local loss
  if opts.log_target then
    loss = target:exp() * (target - output)
  else
    loss = target:xlogy(target) - target * output
  end
  if opts.reduction == "batchmean" then
    return output:dim() == 0 and loss:sum() or loss:sum() / output:size(1)
  end
  return reduce(loss, opts.reduction)
end

local POISSON_OPTS = {
  log_input = { "boolean", true }, full = { "boolean", false }, eps = { "number", 1e-8, { min = 0 } },
  reduction = { "reduction", "mean" },
}

-- poisson_nll: target counts y under a Poisson of rate r;
--   log_input (output = log r):  loss = exp(x) - y x
--   otherwise (output = r):      loss = x - y log(x + eps)
-- full adds Stirling's log y! ~ y log y - y + 0.5 log(2 pi y), for y > 1
local function poisson_nll(output, target, opts)
  local name = "poisson_nll_loss"
  opts = check.options(name, opts, POISSON_OPTS)
  check_pair(name, output, target)
  local loss
  if opts.log_input then
    loss = output:exp() - target * output
  else
    loss = output - target * (output + opts.eps):log()
  end
  if opts.full then
    local stirling = target * target:log() - target + (target * (2 * math.pi)):log() * 0.5
    loss = loss + stirling:masked_fill(target:le(1), 0)
  end
  return reduce(loss, opts.reduction)
end

local GAUSS_OPTS = { full = { "boolean", false }, eps = { "number", 1e-6, { min = 0 } }, reduction = { "reduction", "mean" } }

-- var shaped as the mean, or without its last dim, or with a last dim of 1
-- (one variance for all of a sample's values); returned ready to broadcast
local function gaussian_var(name, mean, var)
  if check.same_size(mean, var) then return var end
  local m, v = mean:size(), var:size()
  local lead = { table.unpack(m, 1, #m - 1) }
  if #m > 0 and check.same_size(var, lead) then return var:unsqueeze(-1) end
  if #m > 0 and #v == #m and v[#v] == 1 and check.same_size(var:select(-1, 1), lead) then return var end
  fail(name, "var %s must be shaped as the mean %s, or as it without its last dim (or that dim 1)",
    shape(var), shape(mean))
end

-- gaussian_nll: target y under a Gaussian of mean x and variance v;
--   loss = 0.5 (log v + (x - y)^2 / v)   (+ 0.5 log(2 pi) with full)
-- v is clamped at eps for the value only: its gradient stays that of v, as PyTorch.
-- Called as gaussian_nll({mean, var}, target[, opts]) or, as PyTorch,
-- gaussian_nll(mean, target, var[, opts]).
local function gaussian_nll(a, b, c, d)
  local name = "gaussian_nll_loss"
  local mean, target, var, opts
  if check.tensor_or_list(name, a) then
    mean, target, var, opts = a, b, c, d
  else
    if #a ~= 2 then fail(name, "output must be a list {mean, var} of 2 tensors, got %d", #a) end
    mean, var, target, opts = a[1], a[2], b, c
  end
  opts = check.options(name, opts, GAUSS_OPTS)
  check_pair(name, mean, target)
  check.floating(name, "var", var)
  var = gaussian_var(name, mean, var)
  if var:numel() > 0 and var:detach():min():item() < 0 then fail(name, "var has negative entries") end
  local v = var + (var:detach():clamp(opts.eps) - var:detach())
  local loss = (v:log() + (mean - target):square() / v) * 0.5
  if opts.full then loss = loss + 0.5 * math.log(2 * math.pi) end
  return reduce(loss, opts.reduction)
end

return {
  kind = "distribution",
  about = "distributions: output log-probabilities or distribution parameters, target probabilities or samples",
  losses = {
    {
      name = "kl_div", fn = kl_div,
      output = "log-probabilities log q, any shape (e.g. log_softmax)",
      target = "probabilities p (log p with log_target), shaped as the output",
      formula = "p (log p - log q)",
      options = "log_target = false, reduction = 'mean' ('batchmean': sum / N, the true KL per sample)",
      spec = KL_OPTS,
    },
    {
      name = "poisson_nll", torch_name = "poisson_nll_loss", fn = poisson_nll,
      output = "log rate (rate with log_input = false), any shape",
      target = "counts, floating point, shaped as the output",
      formula = "exp(x) - y x (log_input), x - y log(x + eps) otherwise; + Stirling's log y! with full",
      options = "log_input = true, full = false, eps = 1e-8, reduction = 'mean'",
      spec = POISSON_OPTS,
    },
    {
      name = "gaussian_nll", torch_name = "gaussian_nll_loss", fn = gaussian_nll,
      output = "{mean, var}: the mean (any shape) and a variance shaped as it (or one per sample)",
      target = "samples, shaped as the mean",
      formula = "0.5 (log v + (x - y)^2 / v), v clamped at eps",
      options = "full = false, eps = 1e-6, reduction = 'mean'",
      spec = GAUSS_OPTS,
    },
  },
}
