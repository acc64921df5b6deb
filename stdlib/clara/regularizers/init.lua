-- clara.regularizers: penalties added to the loss, `reg(output[, extras])`.
--
-- A regularizer returns a differentiable 0-d tensor, or nil when it declines
-- to act (the objective then adds nothing).  The weight relative to the loss
-- belongs to the objective, not here: these return the bare penalty.
-- extras (all optional, a table): model (with parameters() and, for
-- `filter`, named_parameters()), params (a list of tensors), target, loss
-- (a 0-d tensor or number, or one loss per sample (N)).
--
-- On parameters (need extras.model or extras.params, or the option params):
--   l2{}  sum of p² over the parameters
--   l1{}  sum of |p|
--   options: params = {...} (fixed list), exclude_bias = true (skip
--   one-dimensional parameters: biases, norm scales), filter = function(name,
--   p) -> keep? (names need extras.model)
--   SGD's weight_decay = λ adds λ p to the gradient, the gradient of
--   weight (λ / 2) times l2.
-- On the output (need nothing but the output):
--   activity_l2{reduction = "mean"}   mean (or sum) of output²
--   activity_l1{reduction = "mean"}   mean (or sum) of |output|
--   confidence_penalty{from = "logits"}  minus the mean entropy of the
--     predicted distribution (Pereyra et al. 2017: penalizes confidence)
--   entropy{from = "logits"}  the mean entropy (entropy minimization)
--   `from`: "logits" | "probs" | "log_probs" over dim 2 of (N, C) outputs;
--   (N) or (N, 1) outputs are one Bernoulli each.
-- Conditional: conditional{reg, skip_correct = true, below_loss = 0.1}, see
-- clara.regularizers.conditional.
-- Custom: wrap(fn, "Description(...)") gives a plain function a description.
-- Every regularizer prints as one line (tostring), as saved with runs.
local torch = require "torch"
local E = require "clara.error"

local R = {}

-- {====================== the regularizer object ======================

-- raise msg (which starts with the regularizer's kind) at the user's line
function R.fail(msg) E.raise(nil, msg) end
local fail = R.fail

local Reg = {}
Reg.__index = Reg
Reg.__tostring = function(self) return self.description end
Reg.__call = function(self, output, extras)
  if extras ~= nil and type(extras) ~= "table" then
    fail(("%s: extras must be a table, got %s"):format(self.kind, type(extras)))
  end
  return self:apply(output, extras or {})
end

R.is_regularizer = function(x) return getmetatable(x) == Reg end

-- a regularizer's methods (apply, per_sample) say so when called with '.'
function R.guard(fields)
  for _, name in ipairs { "apply", "per_sample" } do
    local f = fields[name]
    if f then
      local check = E.method_check(fields.kind, name, R.is_regularizer)
      fields[name] = function(self, ...) check(self); return f(self, ...) end
    end
  end
  return fields
end

local function new(kind, fields)
  fields.kind = kind
  return setmetatable(R.guard(fields), Reg)
end

local REDUCTION = { type = "string", enum = { "mean", "sum" }, default = "mean",
                    doc = "the batch's penalty: the mean or the sum over samples" }

-- }====================================================================

-- {====================== on parameters ======================

-- the parameters a regularizer acts on, with their names when known
local function gather_params(self, extras)
  local list, names = self.params or extras.params, nil
  local model = extras.model
  if not list and model then
    if self.filter and model.named_parameters then
      list, names = {}, {}
      for name, p in model:named_parameters() do
        list[#list + 1], names[#list + 1] = p, name
      end
    elseif model.parameters then
      list = model:parameters()
    end
  end
  if type(list) ~= "table" then
    fail(("%s: needs the parameters: pass extras.model or extras.params, or the option params")
      :format(self.kind))
  end
  local kept = {}
  for i, p in ipairs(list) do
    if not torch.is_tensor(p) then
      fail(("%s: parameter %d is a %s, not a tensor"):format(self.kind, i, type(p)))
    end
    local keep = not (self.exclude_bias and p:dim() <= 1)
    if keep and self.filter then keep = self.filter(names and names[i], p) end
    if keep then kept[#kept + 1] = p end
  end
  return kept
end

local function param_reg(kind, penalty)
  local schema = {
    params = { type = "table", doc = "a fixed list of tensors (else extras.model's or extras.params)" },
    exclude_bias = { type = "boolean", doc = "skip one-dimensional parameters (biases, norm scales)" },
    filter = { type = "function", doc = "filter(name, p) -> keep?" },
  }
  return function(opts)
    opts = E.options("clara.regularizers." .. kind:lower(), opts, schema)
    local what = opts.exclude_bias and "params, exclude_bias" or "params"
    if opts.filter then what = what .. ", filtered" end
    return new(kind, {
      params = opts.params, exclude_bias = opts.exclude_bias, filter = opts.filter,
      on = "params", description = ("%s(%s)"):format(kind, what),
      apply = function(self, _, extras)
        local total
        for _, p in ipairs(gather_params(self, extras)) do
          local term = penalty(p)
          total = total and total + term or term
        end
        return total
      end,
    })
  end
end

R.l2 = param_reg("L2", function(p) return (p * p):sum() end)
R.l1 = param_reg("L1", function(p) return p:abs():sum() end)

-- }===========================================================

-- {====================== on the output ======================

local function check_output(kind, output)
  if not torch.is_tensor(output) or not output:is_floating_point() or output:dim() == 0 then
    fail(("%s: output must be a floating (N, ...) tensor, got %s"):format(kind,
      torch.is_tensor(output) and output.dtype .. " " .. output:dim() .. "-d" or type(output)))
  end
end

-- An output regularizer has per_sample(output, extras) -> (N): what each
-- sample contributes, so conditional can drop samples; the penalty is their
-- mean over the batch (reduction "mean") or their sum ("sum").
local function output_reg(kind, describe, per_sample, reduction)
  return new(kind, {
    on = "output", reduction = reduction, description = describe,
    per_sample = function(self, output, extras)
      check_output(self.kind, output)
      return per_sample(output, extras)
    end,
    apply = function(self, output, extras)
      local v = self:per_sample(output, extras)
      return self.reduction == "sum" and v:sum() or v:mean()
    end,
  })
end

local function activity(kind, api, elementwise)
  return function(opts)
    opts = E.options("clara.regularizers." .. api, opts, { reduction = REDUCTION })
    local reduction = opts.reduction
    -- per sample: the mean (or sum) of its elements, so "mean" over samples
    -- is the mean over every element, as PyTorch's reduction
    local function per_sample(output)
      local e = elementwise(output):reshape(output:size(1), -1)
      return reduction == "sum" and e:sum(2) or e:mean(2)
    end
    return output_reg(kind, ("%s(output, %s)"):format(kind, reduction), per_sample, reduction)
  end
end

R.activity_l2 = activity("ActivityL2", "activity_l2", function(x) return x * x end)
R.activity_l1 = activity("ActivityL1", "activity_l1", function(x) return x:abs() end)

-- entropy of each sample's predicted distribution
local function entropy_of(output, from)
  if output:dim() == 1 or (output:dim() == 2 and output:size(2) == 1) then
    -- one Bernoulli per sample
    local x = output:reshape(-1)
    local logp, log1mp
    if from == "logits" then
      logp, log1mp = x:log_sigmoid(), (-x):log_sigmoid()
    elseif from == "probs" then
      logp, log1mp = x:log(), (1 - x):log()
    else
      logp, log1mp = x, (1 - x:exp()):log()
    end
    return -(logp:exp() * logp + log1mp:exp() * log1mp)
  end
  -- (N, C, ...): classes along dim 2, the entropy averaged over positions
  local flat = output:reshape(output:size(1), output:size(2), -1)
  local plogp
  if from == "logits" then
    plogp = flat:softmax(2) * flat:log_softmax(2)
  else
    local p = from == "probs" and flat or flat:exp()
    plogp = p:xlogy(p) -- 0 log 0 = 0 where a class has probability 0
  end
  return -plogp:sum(2):mean(2)
end

local ENTROPY_OPTS = {
  from = { type = "string", enum = { "logits", "probs", "log_probs" }, default = "logits",
           doc = "what the output holds" },
  reduction = REDUCTION,
}

local function entropy_reg(kind, api, sign)
  return function(opts)
    opts = E.options("clara.regularizers." .. api, opts, ENTROPY_OPTS)
    local from, reduction = opts.from, opts.reduction
    local function per_sample(output)
      local h = entropy_of(output, from)
      return sign < 0 and -h or h
    end
    return output_reg(kind, ("%s(from=%s, %s)"):format(kind, from, reduction), per_sample, reduction)
  end
end

R.confidence_penalty = entropy_reg("ConfidencePenalty", "confidence_penalty", -1)
R.entropy = entropy_reg("Entropy", "entropy", 1)

-- }===========================================================

-- clara.regularizers.wrap(fn, description): fn(output, extras) as a
-- regularizer that prints as `description`
function R.wrap(fn, description)
  if type(fn) ~= "function" then
    fail(("wrap: fn must be a function, got %s"):format(type(fn)))
  end
  if type(description) ~= "string" then
    fail(("wrap: a one-line description (string) is required, got %s"):format(type(description)))
  end
  return new("Custom", {
    on = "any", description = description,
    apply = function(_, output, extras) return fn(output, extras) end,
  })
end

R.conditional = function(opts) return require("clara.regularizers.conditional")(R, opts) end

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(R, "clara.regularizers")
