-- clara.metrics: streaming metrics.  Metrics are not losses: they never
-- train, never need gradients, and read whatever the model outputs.
--
--   local m = clara.metrics.accuracy()
--   for output, target in batches do m:update(output, target) end
--   print(m.name, m:compute())   --> accuracy  0.91
--   m:reset()
--
-- Every metric has update(output, target) (runs under torch.no_grad, returns
-- the metric), compute() (a number, or a Lua table where said; nil and a
-- message before any sample), reset(), a field `name` (option `name`
-- renames it) and a one-line tostring.  Streaming gives the same value as
-- one update with all the data: counts are exact Lua integers, sums doubles.
--
-- Classification (clara.metrics.classification explains the accepted inputs):
--   accuracy{threshold=, logits=, top_k=}, top_k_accuracy{k = 5},
--   precision / recall / f1{average = "macro" | "micro" | "weighted" |
--     "none" (a list, entry c + 1 for class c) | "binary", num_classes=, top_k=},
--   balanced_accuracy{adjusted=, top_k=}, matthews_corrcoef(),
--   confusion_matrix{num_classes=} (m[t + 1][p + 1]: true t predicted p)
-- Regression: mae(), mse(), rmse(), r2{multioutput=}
-- Ranking (binary, multiclass, multilabel; clara.metrics.scores explains
--   the inputs): roc_auc{multi_class = "ovr" | "ovo", average=, logits=},
--   average_precision{average=, logits=}
-- Probabilistic: log_loss{eps = "auto", logits=}
-- Any loss: from_loss(loss_fn, {name=, reduction = "mean" | "sum"})
local torch = require "torch"
local base = require "clara.metrics.base"
local E = require "clara.error"

local metrics = {}

for _, part in ipairs { "classification", "regression", "ranking", "probabilistic" } do
  local mod = require("clara.metrics." .. part)
  metrics[part] = mod
  for k, v in pairs(mod) do
    if k ~= "classes" then metrics[k] = v end
  end
end

-- {====================== any loss as a metric ======================

local function describe_loss(fn)
  local mt = getmetatable(fn)
  if type(fn) == "table" and mt and mt.__tostring then return tostring(fn) end
  return nil
end

-- the number of samples in a batch: the first dim of the target, or of the
-- output when the target is not a tensor
local function batch_size(fname, output, target)
  local t = torch.is_tensor(target) and target or torch.is_tensor(output) and output
  if not t or t:dim() == 0 then
    base.fail(("%s: cannot tell the batch size: target or output must be a tensor with a batch dim")
      :format(fname))
  end
  return t:size(1)
end

local LossMetric = base.class("Loss", {
  check = function(self, output, target, extras)
    if torch.is_tensor(output) and torch.is_tensor(target) and output:dim() > 0
        and target:dim() > 0 and output:size(1) ~= target:size(1) then
      base.check_pair(self.name, output, target)
    end
    return { n = batch_size(self.name, output, target), extras = extras }
  end,
  init = function(self) self.sum = 0.0 end,
  accumulate = function(self, output, target, checked)
    local value = self.loss_fn(output, target, checked.extras)
    if torch.is_tensor(value) then
      if value:numel() ~= 1 then
        base.fail(("%s: the loss must return one number (reduction 'mean' or 'sum'), got shape %s")
          :format(self.name, base.shape_str(value)))
      end
      value = value:item()
    elseif type(value) ~= "number" then
      base.fail(("%s: the loss must return a tensor or a number, got %s"):format(self.name, type(value)))
    end
    -- a mean over the batch counts once per sample, so uneven batches
    -- average as the whole data would
    self.sum = self.sum + (self.reduction == "mean" and value * checked.n or value)
    self.count = self.count + checked.n
  end,
  result = function(self) return self.sum / self.count end,
  describe = function(self)
    return self.description or self.name
  end,
}, function(self, opts)
  self.reduction = opts.reduction
end, "clara.metrics.from_loss", { reduction = { type = "string", enum = { "mean", "sum" }, default = "mean",
                                                doc = "what the loss returns: a batch mean or sum" } })

-- clara.metrics.from_loss(loss_fn[, {name = "loss", reduction = "mean"}]):
-- loss_fn(output, target[, extras]) returns the loss of a batch, averaged
-- over its samples (reduction "mean") or summed ("sum"); compute() gives the
-- mean per sample over everything seen.  update(output, target[, extras]).
function metrics.from_loss(loss_fn, opts)
  local mt = getmetatable(loss_fn)
  if type(loss_fn) ~= "function" and not (mt and mt.__call) then
    base.fail(("from_loss: loss_fn must be a function or a callable object, got %s"):format(type(loss_fn)))
  end
  local m = LossMetric(opts)
  m.loss_fn = loss_fn
  m.name = opts and opts.name or "loss"
  m.description = describe_loss(loss_fn)
  return m
end

-- }==================================================================

-- clara.metrics.resolve(name): the metric factory of that name
-- ("accuracy", "f1", ...), for code that takes metrics by name; an unknown
-- name raises naming the closest, not a namespace error
local NOT_METRICS = { resolve = true, from_loss = true }

function metrics.resolve(name)
  local f = type(name) == "string" and not NOT_METRICS[name] and rawget(metrics, name)
  if type(f) == "function" then return f end
  local names = {}
  for k, v in pairs(metrics) do
    if type(v) == "function" and not NOT_METRICS[k] then names[#names + 1] = k end
  end
  local near = type(name) == "string" and E.closest(name, names, 3)
  E.raise("clara.metrics.resolve", "unknown metric %s%s", E.show(name),
    near and (" (did you mean '" .. near .. "'?)") or (" (one of: " .. table.concat(E.sorted(names), ", ") .. ")"))
end

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(metrics, "clara.metrics")
