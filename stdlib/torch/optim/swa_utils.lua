-- torch.optim.swa_utils: weight averaging as PyTorch 1.13 does it
-- (stochastic weight averaging, and an exponential moving average).
--   local swa = optim.swa_utils.AveragedModel(model)          -- or {ema = 0.999}
--   local sched = optim.swa_utils.SWALR(opt, {swa_lr = 0.05})
--   ... after each epoch past the start: swa:update_parameters(model); sched:step()
--   optim.swa_utils.update_bn(loader, swa)                    -- BatchNorm statistics
--   local out = swa(x)
local torch = require "torch"
local E = require "clara.error"
local module = require "torch.nn.module"
local B = require "torch.optim.scheduler_base"

local swa_utils = {}

local function api(name) return "optim.swa_utils." .. name end

-- {======================================================
-- Averaging functions: f(averaged, param, n_averaged) -> new average
-- =======================================================

-- the running equal average of the n models so far and this one (SWA)
local function equal_average(averaged, param, n)
  return averaged + (param - averaged) / (n + 1)
end
swa_utils.equal_average = equal_average

-- swa_utils.ema(decay): averaged = decay * averaged + (1 - decay) * param
-- (PyTorch 1.13 has no get_ema_avg_fn; this is its later formula)
function swa_utils.ema(decay)
  if type(decay) ~= "number" or decay ~= decay or decay < 0 or decay > 1 then
    E.raise(api("ema"), "decay must be a number in [0, 1], got %s", E.show(decay))
  end
  return function(averaged, param) return decay * averaged + (1 - decay) * param end
end

-- }======================================================

-- {======================================================
-- AveragedModel
-- =======================================================

local AveragedModel = module.Module:extend("AveragedModel")

local AVERAGED_OPTS = {
  avg_fn = { type = "function", doc = "f(averaged, param, n_averaged) -> the new average" },
  ema = { type = "number", min = 0, max = 1, doc = "averaged = ema * averaged + (1 - ema) * param" },
  use_buffers = { type = "boolean", default = false, doc = "average the buffers too" },
}

-- AveragedModel(model, {avg_fn = f | ema = decay, use_buffers = false}): a
-- deep copy of model (child "module") and the count "n_averaged", so its
-- state_dict has PyTorch's keys
function AveragedModel:init(model, opts)
  if not module.is_module(model) then
    E.raise(api("AveragedModel"), "expected a model (an nn module), got %s", E.show(model))
  end
  local o = E.options(api("AveragedModel"), opts, AVERAGED_OPTS)
  if o.avg_fn ~= nil and o.ema ~= nil then
    E.raise(api("AveragedModel"), "give avg_fn or ema, not both")
  end
  self.module = model:clone()
  self:register_buffer("n_averaged", torch.tensor(0, { dtype = "int64" }))
  self.avg_fn = o.avg_fn or (o.ema and swa_utils.ema(o.ema)) or equal_average
  self.use_buffers = o.use_buffers
end

function AveragedModel:forward(...) return self.module(...) end

-- the tensors averaged: parameters, then buffers with use_buffers
local function averaged_tensors(model, use_buffers)
  local list = model:parameters()
  if use_buffers then
    for _, b in ipairs(model:buffers()) do list[#list + 1] = b end
  end
  return list
end

local function shape(t) return "(" .. table.concat(t:size(), ", ") .. ")" end

-- update_parameters(model): the first call copies model's values, the
-- next ones average them in with avg_fn(averaged, param, n_averaged)
function AveragedModel:update_parameters(model)
  local where = api("AveragedModel:update_parameters")
  if not module.is_module(model) then E.raise(where, "expected a model, got %s", E.show(model)) end
  local mine = averaged_tensors(self.module, self.use_buffers)
  local theirs = averaged_tensors(model, self.use_buffers)
  if #mine ~= #theirs then
    E.raise(where, "the model has %d tensors to average, the averaged copy %d", #theirs, #mine)
  end
  for i, p in ipairs(mine) do
    if shape(p) ~= shape(theirs[i]) then
      E.raise(where, "tensor %d has shape %s in the model, %s in the averaged copy", i, shape(theirs[i]), shape(p))
    end
  end
  local n = self.n_averaged:item()
  torch.no_grad(function()
    for i, p in ipairs(mine) do
      local q = theirs[i]:detach()
      local v = q
      if n > 0 then v = self.avg_fn(p:detach(), q, n) end
      if not torch.is_tensor(v) then E.raise(where, "avg_fn returned %s, not a tensor", E.show(v)) end
      p:copy_(v)
    end
    self.n_averaged:add_(1)
  end)
end

swa_utils.AveragedModel = AveragedModel

-- }======================================================

-- {======================================================
-- update_bn: BatchNorm statistics recomputed over a loader
-- =======================================================

local function is_batchnorm(m)
  return m:_get_name():match("^BatchNorm%dd$") ~= nil and rawget(m, "_buffers").running_mean ~= nil
end

-- the forward of a BatchNorm whose momentum is None: the running statistics
-- are the cumulative average over the batches seen (PyTorch's factor 1/n)
local function cumulative_forward(self, x)
  if not torch.is_tensor(x) then E.raise(api("update_bn"), "a batch must be a tensor, got %s", E.show(x)) end
  local count = rawget(self, "_buffers").num_batches_tracked
  count:add_(1)
  return torch.ops.aten.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
    true, 1.0 / count:item(), self.eps, false)
end

-- update_bn(loader, model): one pass over the loader (anything
-- clara.data.iterate takes; a batch's first value is the input) in
-- training mode, each BatchNorm's running statistics reset first
function swa_utils.update_bn(loader, model)
  if not module.is_module(model) then E.raise(api("update_bn"), "expected a model, got %s", E.show(model)) end
  local norms = {}
  for _, m in model:named_modules() do
    if is_batchnorm(m) then norms[#norms + 1] = m end
  end
  if #norms == 0 then return end
  local iterate = require("clara.data.loader").iterate
  local was_training = model.training
  model:train()
  local ok, err = pcall(torch.no_grad, function()
    for _, m in ipairs(norms) do
      m.running_mean:zero_()
      m.running_var:fill_(1)
      m.num_batches_tracked:zero_()
      rawset(m, "forward", cumulative_forward)
    end
    for x in iterate(loader) do
      if type(x) == "table" and not torch.is_tensor(x) then x = x[1] end
      model(x)
    end
  end)
  for _, m in ipairs(norms) do rawset(m, "forward", nil) end
  model:train(was_training)
  if not ok then error(err, 0) end
end

-- }======================================================

-- {======================================================
-- SWALR: anneals each group's lr to swa_lr
-- =======================================================

local function anneal(strategy, t)
  if strategy == "linear" then return t end
  return (1 - math.cos(math.pi * t)) / 2
end

-- the lr that annealing with alpha would have turned into lr
local function initial_lr(lr, swa_lr, alpha)
  if alpha == 1 then return swa_lr end
  return (lr - alpha * swa_lr) / (1 - alpha)
end

local function clamp01(x) return math.max(0, math.min(1, x)) end

local SWALR = B.class(swa_utils, "SWALR", function(self)
  local step = self._step_count - 1
  if self.anneal_epochs == 0 then step = math.max(1, step) end
  local span = math.max(1, self.anneal_epochs)
  local prev_alpha = anneal(self.anneal_strategy, clamp01((step - 1) / span))
  local alpha = anneal(self.anneal_strategy, clamp01(step / span))
  local lrs = {}
  for g, group in ipairs(self.optimizer.param_groups) do
    lrs[g] = group.swa_lr * alpha + initial_lr(group.lr, group.swa_lr, prev_alpha) * (1 - alpha)
  end
  return lrs
end)

-- SWALR(optimizer, {swa_lr = lr | {lr per group}, anneal_epochs = 10,
-- anneal_strategy = "cos" | "linear", last_epoch = -1})
function swa_utils.SWALR(optimizer, opts)
  local name = api("SWALR")
  local o = B.options(name, optimizer, opts, { swa_lr = B.REQUIRED, anneal_epochs = 10, anneal_strategy = "cos",
                                              last_epoch = -1, verbose = false })
  local groups = optimizer.param_groups
  local lrs = o.swa_lr
  if type(lrs) == "number" then
    lrs = {}
    for g = 1, #groups do lrs[g] = o.swa_lr end
  elseif type(lrs) ~= "table" or #lrs ~= #groups then
    E.raise(name, "swa_lr must be a number or a list of %d numbers (one per parameter group), got %s", #groups, E.show(lrs))
  end
  for g = 1, #groups do
    if type(lrs[g]) ~= "number" or lrs[g] ~= lrs[g] then E.raise(name, "swa_lr[%d] must be a number, got %s", g, E.show(lrs[g])) end
  end
  if o.anneal_strategy ~= "cos" and o.anneal_strategy ~= "linear" then
    E.raise(name, "anneal_strategy must be 'cos' or 'linear', got %s", E.show(o.anneal_strategy))
  end
  if math.type(o.anneal_epochs) ~= "integer" or o.anneal_epochs < 0 then
    E.raise(name, "anneal_epochs must be an integer >= 0, got %s", E.show(o.anneal_epochs))
  end
  for g, group in ipairs(groups) do group.swa_lr = lrs[g] end
  local self = B.new(SWALR, "SWALR", optimizer, o)
  self.anneal_epochs, self.anneal_strategy = o.anneal_epochs, o.anneal_strategy
  return self:start()
end

-- }======================================================

local function is_scheduler(v) return type(v) == "table" and rawget(v, "optimizer") ~= nil end
E.methods(SWALR, "optim.swa_utils.SWALR", is_scheduler)
E.methods(AveragedModel, api("AveragedModel"),
  function(v) return module.is_module(v) and getmetatable(v).__class == AveragedModel end,
  { "extend", "new", "init", "_call" })
E.namespace(swa_utils, "optim.swa_utils")

return swa_utils
