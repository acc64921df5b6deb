-- Loss modules: nn.CrossEntropyLoss and the rest, PyTorch's classes as thin
-- modules over clara.losses.  The options go to the constructor, checked
-- there with the loss's own schema; calling the module calls the loss:
--
--   local crit = nn.CrossEntropyLoss{label_smoothing = 0.1}
--   local loss = crit(logits, y)          -- clara.losses.cross_entropy(logits, y, opts)
--
-- A module takes its inputs as PyTorch's forward does (crit(x1, x2, y)) or
-- in clara's uniform form (crit({x1, x2}, y)), so it serves wherever a loss
-- function does: an experiment's objective, a term's loss, a metric through
-- clara.metrics.from_loss.  Tensor options (weight, pos_weight) are buffers,
-- as in PyTorch, so they are in state_dict and load_state_dict sets them.
local module = require "torch.nn.module"
local losses = require "clara.losses"
local check = require "clara.losses.check"

local raise = module.raise

-- { PyTorch's class, the clara loss, the inputs of PyTorch's forward,
--   per_call: the loss's options a constructor does not take (they vary per
--   call), counts: the numbers of inputs a call may give, if not any up to all }
local LOSSES = {
  { "CrossEntropyLoss", "cross_entropy", { "input", "target" } },
  { "NLLLoss", "nll", { "input", "target" } },
  { "CTCLoss", "ctc", { "log_probs", "targets", "input_lengths", "target_lengths" },
    per_call = { "input_lengths", "target_lengths" }, counts = { 2, 4 } },
  { "MultiMarginLoss", "multi_margin", { "input", "target" } },
  { "MultiLabelMarginLoss", "multilabel_margin", { "input", "target" } },
  { "BCELoss", "bce", { "input", "target" } },
  { "BCEWithLogitsLoss", "bce_with_logits", { "input", "target" } },
  { "SoftMarginLoss", "soft_margin", { "input", "target" } },
  { "MultiLabelSoftMarginLoss", "multilabel_soft_margin", { "input", "target" } },
  { "MSELoss", "mse", { "input", "target" } },
  { "L1Loss", "l1", { "input", "target" } },
  { "SmoothL1Loss", "smooth_l1", { "input", "target" } },
  { "HuberLoss", "huber", { "input", "target" } },
  { "KLDivLoss", "kl_div", { "input", "target" } },
  { "PoissonNLLLoss", "poisson_nll", { "log_input", "target" } },
  { "GaussianNLLLoss", "gaussian_nll", { "input", "target", "var" } },
  { "MarginRankingLoss", "margin_ranking", { "input1", "input2", "target" } },
  { "HingeEmbeddingLoss", "hinge_embedding", { "input", "target" } },
  { "CosineEmbeddingLoss", "cosine_embedding", { "input1", "input2", "target" } },
  { "TripletMarginLoss", "triplet_margin", { "anchor", "positive", "negative" } },
  { "TripletMarginWithDistanceLoss", "triplet_margin_with_distance", { "anchor", "positive", "negative" } },
}

-- the tensor options, registered as buffers in PyTorch's order
local BUFFERS = { "weight", "pos_weight" }

-- PyTorch's TripletMarginWithDistanceLoss holds its default distance as a
-- child module, nn.PairwiseDistance(), and prints it
local PairwiseDistance = require("torch.nn.distance").PairwiseDistance

-- the constructor's schema: the loss's, without the per-call options
local function constructor_spec(spec, per_call)
  local out = {}
  for k, v in pairs(spec) do out[k] = v end
  for _, k in ipairs(per_call or {}) do out[k] = nil end
  return out
end

-- the count of arguments up to the last one that is not nil (a metric or
-- an objective without a target passes trailing nils)
local function count(...)
  local n = select("#", ...)
  while n > 0 and select(n, ...) == nil do n = n - 1 end
  return n
end

-- raise unless n inputs fit the forward (at most all of them, or one of counts)
local function check_count(name, inputs, counts, n)
  local ok = n <= #inputs
  if ok and counts then
    ok = false
    for _, c in ipairs(counts) do ok = ok or n == c end
  end
  if not ok then
    raise(name, "takes %s inputs (%s), got %d%s",
      counts and table.concat(counts, " or ") or ("at most " .. #inputs), table.concat(inputs, ", "), n,
      n > #inputs and ("; options go to the constructor: nn." .. name .. "{...}") or "")
  end
end

local function loss_class(name, loss, inputs, l)
  local entry = losses.info[loss]
  local spec = constructor_spec(entry.spec, l.per_call)
  local class = module.Module:extend(name)

  function class:init(opts)
    opts = check.options("nn." .. name, opts, spec)
    for _, key in ipairs(BUFFERS) do
      if opts[key] ~= nil then self:register_buffer(key, opts[key]) end
      opts[key] = nil
    end
    if spec.distance_function then
      local d = opts.distance_function
      if d == nil or module.is_module(d) then
        self:add_module("distance_function", d or PairwiseDistance())
        opts.distance_function = nil
      end
    end
    rawset(self, "_options", opts)
    rawset(self, "_loss", loss)
  end

  function class:forward(...)
    local n = count(...)
    check_count(name, inputs, l.counts, n)
    local opts = {}
    for k, v in pairs(rawget(self, "_options")) do opts[k] = v end
    local buffers = rawget(self, "_buffers")
    for _, key in ipairs(BUFFERS) do
      if spec[key] then opts[key] = buffers[key] end
    end
    if spec.distance_function then
      opts.distance_function = opts.distance_function or rawget(self, "_modules").distance_function
    end
    local args = table.pack(...)
    args[n + 1] = opts
    return entry.fn(table.unpack(args, 1, n + 1))
  end

  return class
end

local classes = {}
for _, l in ipairs(LOSSES) do
  classes[l[1]] = loss_class(l[1], l[2], l[3], l)
end
return classes
