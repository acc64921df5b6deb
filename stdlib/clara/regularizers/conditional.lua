-- clara.regularizers.conditional{reg, skip_correct = true, below_loss = 0.1,
-- threshold = 0.5, logits = false}: reg, applied only where it is wanted.
--
--   skip_correct  samples the model already classifies right contribute
--                 nothing (needs extras.target: class indices for (N, C)
--                 outputs, 0/1 for (N) binary outputs, which are
--                 probabilities compared with `threshold`, or logits
--                 passed through a sigmoid first with `logits = true`);
--   below_loss    with a scalar extras.loss: decline (nil) when the loss is
--                 below it; with one loss per sample (N): skip the samples
--                 whose loss is below it.
--
-- How the skipped samples leave the penalty depends on reg:
--   output regularizers (activity_*, entropy, confidence_penalty): each
--     skipped sample contributes 0, the batch mean still divides by N;
--   parameter regularizers (l1, l2): applied whole unless every sample is
--     skipped;
--   wrapped or plain functions: called with the kept samples only (output,
--     extras.target and a per-sample extras.loss narrowed to them).
-- Returns nil when nothing is left to penalize.
local torch = require "torch"

local E = require "clara.error"

local function fail(msg) E.raise(nil, msg) end

-- 1 where the sample is classified right, as a bool (N) tensor
local function correct_mask(self, output, target)
  if not torch.is_tensor(target) then
    fail("Conditional: skip_correct needs extras.target (a tensor), got " .. type(target))
  end
  if target:dim() == 2 and target:size(2) == 1 then target = target:reshape(-1) end
  if target:dim() ~= 1 or target:size(1) ~= output:size(1) then
    fail(("Conditional: target must be (N) with N = %d samples as the output, got shape (%s)")
      :format(output:size(1), table.concat(target.shape, ", ")))
  end
  if output:dim() >= 2 and output:size(2) > 1 then
    if target:is_floating_point() then
      fail("Conditional: target must hold class indices (an integer tensor) for (N, C) outputs, got "
        .. target.dtype)
    end
    return output:argmax(2):eq(target:long())
  end
  local p = output:reshape(-1)
  if self.logits then p = p:sigmoid() end
  return p:ge(self.threshold):eq(target:double():ge(0.5))
end

-- the samples to keep as a bool (N) tensor, or nil to decline altogether
local function keep_mask(self, output, extras)
  local n = output:size(1)
  local keep = torch.ones(n, { dtype = "bool", device = output.device })
  if self.below_loss then
    local loss = extras.loss
    if loss == nil then fail("Conditional: below_loss needs extras.loss") end
    if type(loss) == "number" or (torch.is_tensor(loss) and loss:numel() == 1) then
      local v = type(loss) == "number" and loss or loss:item()
      if v < self.below_loss then return nil end
    elseif torch.is_tensor(loss) and loss:dim() == 1 and loss:size(1) == n then
      keep = keep:logical_and(loss:ge(self.below_loss))
    else
      fail(("Conditional: extras.loss must be a number, a 0-d tensor or (N) with N = %d, got %s")
        :format(n, torch.is_tensor(loss) and "shape (" .. table.concat(loss.shape, ", ") .. ")" or type(loss)))
    end
  end
  if self.skip_correct then
    keep = keep:logical_and(correct_mask(self, output, extras.target):logical_not())
  end
  if not keep:any():item() then return nil end
  return keep
end

-- extras with the per-sample entries narrowed to the samples at `idx`
local function narrow_extras(extras, idx, n)
  local out = {}
  for k, v in pairs(extras) do out[k] = v end
  for _, k in ipairs { "target", "loss" } do
    local v = extras[k]
    if torch.is_tensor(v) and v:dim() > 0 and v:size(1) == n then out[k] = v:index_select(1, idx) end
  end
  return out
end

local function apply(self, output, extras)
  if not torch.is_tensor(output) or output:dim() == 0 then
    fail("Conditional: output must be a (N, ...) tensor, got "
      .. (torch.is_tensor(output) and "a 0-d tensor" or type(output)))
  end
  local keep = torch.no_grad(keep_mask, self, output, extras)
  if not keep then return nil end
  local reg = self.reg
  if reg.on == "params" then return reg:apply(output, extras) end
  if reg.per_sample then
    local v = reg:per_sample(output, extras) * keep:to(output.dtype)
    return reg.reduction == "sum" and v:sum() or v:sum() / output:size(1)
  end
  local idx = keep:nonzero():reshape(-1)
  return reg(output:index_select(1, idx), narrow_extras(extras, idx, output:size(1)))
end

local API = "clara.regularizers.conditional"

local SCHEMA = {
  reg = { type = "any", doc = "the regularizer (or the first entry)" },
  skip_correct = { type = "boolean", doc = "samples classified right contribute nothing" },
  below_loss = { type = "number", doc = "decline (or skip samples) where the loss is below it" },
  threshold = { type = "number", min = 0, max = 1, default = 0.5, doc = "binary outputs: class 1 where p >= it" },
  logits = { type = "boolean", doc = "binary outputs are logits" },
}

return function(R, opts)
  if type(opts) ~= "table" then
    fail(API .. ": expected a table {reg, skip_correct =, below_loss =}, got " .. E.show(opts))
  end
  local named = {}
  for k, v in pairs(opts) do if k ~= 1 then named[k] = v end end
  named = E.options(API, named, SCHEMA)
  local reg = opts[1] or named.reg
  opts = named
  if type(reg) == "function" then
    reg = R.wrap(reg, "function")
  elseif not R.is_regularizer(reg) then
    fail(API .. ": the first entry must be a regularizer or a function, got " .. E.show(reg))
  end
  if not opts.skip_correct and opts.below_loss == nil then
    fail(API .. ": give skip_correct = true or below_loss = <number> (else use the regularizer itself)")
  end
  local parts = { tostring(reg) }
  if opts.skip_correct then parts[#parts + 1] = "skip_correct" end
  if opts.below_loss then parts[#parts + 1] = "below_loss=" .. tostring(opts.below_loss) end
  return setmetatable(R.guard {
    kind = "Conditional", reg = reg, on = reg.on,
    skip_correct = opts.skip_correct, below_loss = opts.below_loss,
    threshold = opts.threshold, logits = opts.logits,
    description = ("Conditional(%s)"):format(table.concat(parts, ", ")),
    apply = apply,
  }, getmetatable(reg))
end
