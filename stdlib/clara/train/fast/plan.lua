-- clara.train.fast.plan: whether the fused step (bindings/bridge/fused.cpp)
-- can run an experiment's training, and with which pieces.
--
-- plan.build(c) -> plan, or nil and the reason it does not apply.  It
-- applies when
--   the model is a chain of native modules: one, or nn.Sequential (nested
--     too) of them, without forward hooks nor overridden forward/_call;
--   the objective is one term on output 1 and target 1, without combine,
--     regularizer, extras or intermediates, whose loss is clara's own
--     cross_entropy, nll, mse, l1 or bce_with_logits, called without options;
--   no metric reads an intermediate result or an output other than 1.
-- With average, training is fused (the EMA or SWA update runs in Lua after
-- the step, as in clear.lua) and evaluation is clear.lua's: the evaluated
-- model is the averaged copy, not the chain C holds.
-- Then:
--   plan.step_in_c: a libtorch optimizer (SGD, Adam, AdamW, RMSprop,
--     Adagrad) steps inside the call, unless clip_grad clips the gradients
--     between backward and step (then the step is Lua's, after C's
--     backward); any other optimizer steps in Lua;
--   plan.counted: the accuracy metrics (clara.metrics.accuracy without
--     num_classes) whose correct predictions C counts; plan.in_lua: the
--     other metrics, updated in Lua from the output handed back;
--   plan.targets_beyond_1: a metric reads more of the batch than input
--     and target 1, so the batches must come from the batcher as they are.
-- Batches come from C when the batcher is clara's default and the split's
-- dataset a TensorDataset or Subsets of one (fast.lua asks data_of).
local nn = require "torch.nn"
local optim = require "torch.optim"
local losses = require "clara.losses"
local metrics = require "clara.metrics"
local batcher = require "clara.train.batcher"
local dataset = require "clara.data.dataset"

local M = {}

local LOSSES = {
  [losses.cross_entropy] = "cross_entropy", [losses.nll] = "nll", [losses.mse] = "mse",
  [losses.l1] = "l1", [losses.bce_with_logits] = "bce_with_logits",
}

local NATIVE_FORWARD = nn.Linear.forward
local SEQUENTIAL_FORWARD = nn.Sequential.forward
local MODULE_CALL = nn.Module._call
local ACCURACY = getmetatable(metrics.accuracy())
local DEFAULT_BATCHER = getmetatable(batcher.default())
local TENSOR_DATASET = getmetatable(dataset.TensorDataset(require("torch").zeros(1)))
local SUBSET = getmetatable(dataset.Subset(dataset.TensorDataset(require("torch").zeros(1)), { 1 }))

-- the libtorch optimizers whose step takes no closure
local NATIVE_STEP = {}
for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" } do
  NATIVE_STEP[optim[name .. "_class"]] = true
end

-- 1. the model: the handles of its native modules in forward order
local function chain(m, handles)
  if not nn.is_module(m) or rawget(m, "forward") ~= nil or rawget(m, "_call") ~= nil
      or next(rawget(m, "_hooks")) ~= nil then
    return nil
  end
  local class = getmetatable(m).__class
  if class._call ~= MODULE_CALL then return nil end
  if class.forward == SEQUENTIAL_FORWARD then
    for _, child in m:named_children() do
      if not chain(child, handles) then return nil end
    end
    return handles
  end
  if class.forward == NATIVE_FORWARD and rawget(m, "_handle") ~= nil then
    handles[#handles + 1] = rawget(m, "_handle")
    return handles
  end
  return nil
end

-- 2. the objective: the one term's loss name, name and weight
local function single_term(obj)
  if #obj.terms ~= 1 or obj.combine or obj.regularizer then return nil end
  local t = obj.terms[1]
  if t.intermediate or t.extras or t.output ~= 1 or t.target ~= 1 then return nil end
  local loss = LOSSES[t.loss]
  if not loss or type(t.weight) ~= "number" then return nil end
  return loss, t
end

-- 3. the metrics: counted in C, or updated in Lua
local function split_metrics(list)
  local counted, in_lua, beyond = {}, {}, false
  for _, m in ipairs(list) do
    if m.intermediate or (m.output or 1) ~= 1 then return nil end
    local plain = not m.select and m.target == 1
    local metric = m.metric
    if plain and getmetatable(metric) == ACCURACY and metric.opts.num_classes == nil
        and rawget(metric, "update") == nil and rawget(metric, "accumulate") == nil
        and rawget(metric, "check") == nil then
      counted[#counted + 1] = m
    else
      in_lua[#in_lua + 1] = m
      if m.select or (m.target ~= 1 and m.target ~= false) then beyond = true end
    end
  end
  return counted, in_lua, beyond
end

-- 4. the optimizer: libtorch's own, unchanged, steps in C
local function native_optimizer(opt)
  if type(opt) ~= "table" or not NATIVE_STEP[getmetatable(opt)] then return nil end
  if rawget(opt, "step") ~= nil or rawget(opt, "zero_grad") ~= nil then return nil end
  -- maximize lives in the Lua step (libtorch's C++ options lack it)
  for _, group in ipairs(opt.param_groups) do
    if group.maximize then return nil end
  end
  return opt._core
end

function M.build(c)
  local o = c.options
  if #c.captures > 0 then return nil, "intermediate results are captured" end
  local handles = chain(c.model, {})
  if not handles or #handles == 0 then return nil, "the model is not a chain of native modules" end
  local loss, term = single_term(c.objective)
  if not loss then return nil, "the objective is not one of clara's losses on output 1" end
  local counted, in_lua, beyond = split_metrics(c.metrics)
  if not counted then return nil, "a metric reads an intermediate result or another output" end
  local opt_core = native_optimizer(c.optimizer)
  return {
    handles = handles, loss = loss, term = term, opt_core = opt_core,
    -- data-parallel: the gradients are averaged between backward and step
    step_in_c = opt_core ~= nil and not o.clip_grad and not c.dp,
    counted = counted, in_lua = in_lua, targets_beyond_1 = beyond,
    default_batcher = getmetatable(c.batcher) == DEFAULT_BATCHER,
  }
end

-- the input and target tensors of a dataset, and the index tensor that
-- maps its positions to their rows (nil: all rows, in order), or nil when
-- the dataset is not a TensorDataset or Subsets of one
function M.data_of(ds)
  local mt = getmetatable(ds)
  if mt == TENSOR_DATASET and rawget(ds, "batch") == nil and #ds.tensors >= 2 then
    return ds.tensors[1], ds.tensors[2], nil
  end
  if mt == SUBSET and rawget(ds, "batch") == nil then
    local x, y, inner = M.data_of(ds.dataset)
    if not x then return nil end
    return x, y, inner and inner:index_select(1, ds.indices) or ds.indices
  end
  return nil
end

return M
