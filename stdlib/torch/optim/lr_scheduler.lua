-- torch.optim.lr_scheduler: PyTorch 1.13's learning-rate schedules, with
-- its formulas (the chainable forms: each step reads the group's current lr,
-- so schedules compose and a hand-set lr is respected).
--   local sched = optim.lr_scheduler.StepLR(opt, {step_size = 30, gamma = 0.1})
--   for epoch = 1, n do train(); sched:step() end
-- A scheduler writes opt.param_groups[g].lr, which the optimizer reads at
-- its next step.  ReduceLROnPlateau's step takes the metric.
local torch = require "torch"
local E = require "clara.error"
local B = require "torch.optim.scheduler_base"

local lr_scheduler = {}
local copy, api, REQUIRED, options, check_number = B.copy, B.api, B.REQUIRED, B.options, B.check_number
local new, check_like, Scheduler = B.new, B.check_like, B.Scheduler
lr_scheduler.Scheduler = Scheduler

local function positive_int(name, o, key)
  if math.type(o[key]) ~= "integer" or o[key] < 1 then
    E.raise(api(name), "option '%s' must be a positive integer, got %s", key, tostring(o[key]))
  end
end

local function class(name, get_lr) return B.class(lr_scheduler, name, get_lr) end

-- the lrs the groups have now
local function current(self)
  local lrs = {}
  for g, group in ipairs(self.optimizer.param_groups) do lrs[g] = group.lr end
  return lrs
end

local function scaled(self, f)
  local lrs = {}
  for g, group in ipairs(self.optimizer.param_groups) do lrs[g] = group.lr * f(g) end
  return lrs
end

-- }======================================================

-- {======================================================
-- The schedules
-- =======================================================

local function lambdas(name, optimizer, f)
  local n = #optimizer.param_groups
  if type(f) == "function" then
    local list = {}
    for g = 1, n do list[g] = f end
    return list
  end
  if type(f) ~= "table" or #f ~= n then
    E.raise(api(name), "lr_lambda must be a function or a list of %d functions", n)
  end
  for g = 1, n do
    if type(f[g]) ~= "function" then E.raise(api(name), "lr_lambda[%d] is not a function", g) end
  end
  return f
end

-- LambdaLR: lr = base_lr * lr_lambda(epoch)
local LambdaLR = class("LambdaLR", function(self)
  local lrs = {}
  for g, base in ipairs(self.base_lrs) do lrs[g] = base * self.lr_lambdas[g](self.last_epoch) end
  return lrs
end)
function lr_scheduler.LambdaLR(optimizer, opts)
  local o = options("LambdaLR", optimizer, opts, { lr_lambda = REQUIRED, last_epoch = -1, verbose = false })
  local self = new(LambdaLR, "LambdaLR", optimizer, o)
  self.lr_lambdas = lambdas("LambdaLR", optimizer, o.lr_lambda)
  return self:start()
end

-- MultiplicativeLR: lr = lr * lr_lambda(epoch) after epoch 0
local MultiplicativeLR = class("MultiplicativeLR", function(self)
  if self.last_epoch == 0 then return current(self) end
  return scaled(self, function(g) return self.lr_lambdas[g](self.last_epoch) end)
end)
function lr_scheduler.MultiplicativeLR(optimizer, opts)
  local o = options("MultiplicativeLR", optimizer, opts, { lr_lambda = REQUIRED, last_epoch = -1, verbose = false })
  local self = new(MultiplicativeLR, "MultiplicativeLR", optimizer, o)
  self.lr_lambdas = lambdas("MultiplicativeLR", optimizer, o.lr_lambda)
  return self:start()
end

-- StepLR: lr * gamma every step_size epochs
local StepLR = class("StepLR", function(self)
  if self.last_epoch == 0 or self.last_epoch % self.step_size ~= 0 then return current(self) end
  return scaled(self, function() return self.gamma end)
end)
function lr_scheduler.StepLR(optimizer, opts)
  local o = options("StepLR", optimizer, opts, { step_size = REQUIRED, gamma = 0.1, last_epoch = -1, verbose = false })
  positive_int("StepLR", o, "step_size")
  check_number("StepLR", o, "gamma")
  local self = new(StepLR, "StepLR", optimizer, o)
  self.step_size, self.gamma = o.step_size, o.gamma
  return self:start()
end

-- the closed forms: the lrs at last_epoch from base_lrs alone (PyTorch's
-- _get_closed_form_lr, which SequentialLR's restart at a milestone uses)
local function from_base(self, f)
  local lrs = {}
  for g, base in ipairs(self.base_lrs) do lrs[g] = f(base) end
  return lrs
end
function StepLR:closed_form()
  return from_base(self, function(base) return base * self.gamma ^ (self.last_epoch // self.step_size) end)
end

-- MultiStepLR: lr * gamma^(times the epoch is listed) at each milestone
local MultiStepLR = class("MultiStepLR", function(self)
  local count = self.milestones[self.last_epoch]
  if count == nil then return current(self) end
  return scaled(self, function() return self.gamma ^ count end)
end)
function lr_scheduler.MultiStepLR(optimizer, opts)
  local o = options("MultiStepLR", optimizer, opts, { milestones = REQUIRED, gamma = 0.1, last_epoch = -1, verbose = false })
  if type(o.milestones) ~= "table" then E.raise(api("MultiStepLR"), "option 'milestones' must be a list of epochs") end
  local counts = {}
  for i, m in ipairs(o.milestones) do
    if math.type(m) ~= "integer" then E.raise(api("MultiStepLR"), "milestones[%d] must be an integer, got %s", i, tostring(m)) end
    counts[m] = (counts[m] or 0) + 1
  end
  check_number("MultiStepLR", o, "gamma")
  local self = new(MultiStepLR, "MultiStepLR", optimizer, o)
  self.milestones, self.gamma = counts, o.gamma
  return self:start()
end

function MultiStepLR:closed_form()
  local passed = 0 -- milestones <= last_epoch, as bisect_right counts them
  for m, count in pairs(self.milestones) do
    if m <= self.last_epoch then passed = passed + count end
  end
  return from_base(self, function(base) return base * self.gamma ^ passed end)
end

-- ConstantLR: lr * factor until total_iters, then back
local ConstantLR = class("ConstantLR", function(self)
  if self.last_epoch == 0 then return scaled(self, function() return self.factor end) end
  if self.last_epoch ~= self.total_iters then return current(self) end
  return scaled(self, function() return 1.0 / self.factor end)
end)
function lr_scheduler.ConstantLR(optimizer, opts)
  local o = options("ConstantLR", optimizer, opts, { factor = 1.0 / 3, total_iters = 5, last_epoch = -1, verbose = false })
  check_number("ConstantLR", o, "factor")
  if o.factor > 1.0 or o.factor < 0 then
    E.raise(api("ConstantLR"), "constant multiplicative factor expected to be between 0 and 1, got %s", tostring(o.factor))
  end
  local self = new(ConstantLR, "ConstantLR", optimizer, o)
  self.factor, self.total_iters = o.factor, o.total_iters
  return self:start()
end

function ConstantLR:closed_form()
  local after = self.last_epoch >= self.total_iters and 1 or 0
  return from_base(self, function(base) return base * (self.factor + after * (1 - self.factor)) end)
end

-- LinearLR (linear warmup): from start_factor * lr to end_factor * lr over
-- total_iters steps
local LinearLR = class("LinearLR", function(self)
  if self.last_epoch == 0 then return scaled(self, function() return self.start_factor end) end
  if self.last_epoch > self.total_iters then return current(self) end
  local s, e = self.start_factor, self.end_factor
  return scaled(self, function()
    return 1.0 + (e - s) / (self.total_iters * s + (self.last_epoch - 1) * (e - s))
  end)
end)
function lr_scheduler.LinearLR(optimizer, opts)
  local o = options("LinearLR", optimizer, opts, { start_factor = 1.0 / 3, end_factor = 1.0, total_iters = 5,
                                                   last_epoch = -1, verbose = false })
  check_number("LinearLR", o, "start_factor")
  check_number("LinearLR", o, "end_factor")
  if o.start_factor > 1.0 or o.start_factor <= 0 then
    E.raise(api("LinearLR"), "option 'start_factor' (the starting multiplicative factor) expected to be greater than 0 and less or equal to 1, got %s",
      tostring(o.start_factor))
  end
  if o.end_factor > 1.0 or o.end_factor < 0 then
    E.raise(api("LinearLR"), "option 'end_factor' (the ending multiplicative factor) expected to be between 0 and 1, got %s", tostring(o.end_factor))
  end
  positive_int("LinearLR", o, "total_iters")
  local self = new(LinearLR, "LinearLR", optimizer, o)
  self.start_factor, self.end_factor, self.total_iters = o.start_factor, o.end_factor, o.total_iters
  return self:start()
end

function LinearLR:closed_form()
  local s, e, n = self.start_factor, self.end_factor, self.total_iters
  return from_base(self, function(base) return base * (s + (e - s) * math.min(n, self.last_epoch) / n) end)
end

-- ExponentialLR: lr * gamma every epoch
local ExponentialLR = class("ExponentialLR", function(self)
  if self.last_epoch == 0 then return current(self) end
  return scaled(self, function() return self.gamma end)
end)
function lr_scheduler.ExponentialLR(optimizer, opts)
  local o = options("ExponentialLR", optimizer, opts, { gamma = REQUIRED, last_epoch = -1, verbose = false })
  check_number("ExponentialLR", o, "gamma")
  local self = new(ExponentialLR, "ExponentialLR", optimizer, o)
  self.gamma = o.gamma
  return self:start()
end

function ExponentialLR:closed_form()
  return from_base(self, function(base) return base * self.gamma ^ self.last_epoch end)
end

-- PolynomialLR: base_lr * (1 - t / total_iters)^power, flat after total_iters
local PolynomialLR = class("PolynomialLR", function(self)
  local t, n = self.last_epoch, self.total_iters
  if t == 0 or t > n then return current(self) end
  local decay = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ^ self.power
  return scaled(self, function() return decay end)
end)
function PolynomialLR:closed_form()
  local n = self.total_iters
  return from_base(self, function(base) return base * (1.0 - math.min(n, self.last_epoch) / n) ^ self.power end)
end
function lr_scheduler.PolynomialLR(optimizer, opts)
  local o = options("PolynomialLR", optimizer, opts, { total_iters = 5, power = 1.0, last_epoch = -1, verbose = false })
  positive_int("PolynomialLR", o, "total_iters")
  check_number("PolynomialLR", o, "power")
  local self = new(PolynomialLR, "PolynomialLR", optimizer, o)
  self.total_iters, self.power = o.total_iters, o.power
  return self:start()
end

-- CosineAnnealingLR: eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2,
-- in PyTorch's recursive form (which restarts after 2 T_max)
local CosineAnnealingLR = class("CosineAnnealingLR", function(self)
  local t, T, eta = self.last_epoch, self.T_max, self.eta_min
  local lrs = {}
  for g, group in ipairs(self.optimizer.param_groups) do
    local base = self.base_lrs[g]
    if t == 0 then
      lrs[g] = group.lr
    elseif self._step_count == 1 and t > 0 then
      lrs[g] = eta + (base - eta) * (1 + math.cos(t * math.pi / T)) / 2
    elseif (t - 1 - T) % (2 * T) == 0 then
      lrs[g] = group.lr + (base - eta) * (1 - math.cos(math.pi / T)) / 2
    else
      lrs[g] = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (group.lr - eta) + eta
    end
  end
  return lrs
end)
function CosineAnnealingLR:closed_form()
  local eta, T = self.eta_min, self.T_max
  return from_base(self, function(base)
    return eta + (base - eta) * (1 + math.cos(math.pi * self.last_epoch / T)) / 2
  end)
end
function lr_scheduler.CosineAnnealingLR(optimizer, opts)
  local o = options("CosineAnnealingLR", optimizer, opts, { T_max = REQUIRED, eta_min = 0, last_epoch = -1, verbose = false })
  positive_int("CosineAnnealingLR", o, "T_max")
  check_number("CosineAnnealingLR", o, "eta_min")
  local self = new(CosineAnnealingLR, "CosineAnnealingLR", optimizer, o)
  self.T_max, self.eta_min = o.T_max, o.eta_min
  return self:start()
end

-- }======================================================

-- {======================================================
-- OneCycleLR
-- =======================================================

local function anneal_cos(start, stop, pct)
  local cos_out = math.cos(math.pi * pct) + 1
  return stop + (start - stop) / 2.0 * cos_out
end
local function anneal_linear(start, stop, pct) return (stop - start) * pct + start end

local per_group = B.per_group

local OneCycleLR = class("OneCycleLR", function(self)
  local lrs, step_num = {}, self.last_epoch
  if step_num > self.total_steps then
    E.raise(api("OneCycleLR"), "tried to step %d times; the specified number of total steps is %d", step_num + 1,
      self.total_steps)
  end
  local anneal = self.anneal_strategy == "cos" and anneal_cos or anneal_linear
  for g, group in ipairs(self.optimizer.param_groups) do
    local start_step, lr, momentum = 0, nil, nil
    for i, phase in ipairs(self._schedule_phases) do
      local end_step = phase.end_step
      if step_num <= end_step or i == #self._schedule_phases then
        local pct = (step_num - start_step) / (end_step - start_step)
        lr = anneal(group[phase.start_lr], group[phase.end_lr], pct)
        if self.cycle_momentum then
          momentum = anneal(group[phase.start_momentum], group[phase.end_momentum], pct)
        end
        break
      end
      start_step = phase.end_step
    end
    lrs[g] = lr
    if self.cycle_momentum then
      if self.use_beta1 then group.betas = { momentum, group.betas[2] } else group.momentum = momentum end
    end
  end
  return lrs
end)

function lr_scheduler.OneCycleLR(optimizer, opts)
  local N = "OneCycleLR"
  local o = options(N, optimizer, opts, {
    max_lr = REQUIRED, total_steps = false, epochs = false, steps_per_epoch = false, pct_start = 0.3,
    anneal_strategy = "cos", cycle_momentum = true, base_momentum = 0.85, max_momentum = 0.95,
    div_factor = 25.0, final_div_factor = 1e4, three_phase = false, last_epoch = -1, verbose = false })
  -- 1. the number of steps
  local total
  if o.total_steps then
    if math.type(o.total_steps) ~= "integer" or o.total_steps <= 0 then
      E.raise(api(N), "expected a positive integer total_steps, got %s", tostring(o.total_steps))
    end
    total = o.total_steps
  elseif o.epochs and o.steps_per_epoch then
    if math.type(o.epochs) ~= "integer" or o.epochs <= 0 then
      E.raise(api(N), "expected a positive integer epochs, got %s", tostring(o.epochs))
    end
    if math.type(o.steps_per_epoch) ~= "integer" or o.steps_per_epoch <= 0 then
      E.raise(api(N), "expected a positive integer steps_per_epoch, got %s", tostring(o.steps_per_epoch))
    end
    total = o.epochs * o.steps_per_epoch
  else
    E.raise(api(N), "you must define either total_steps OR (epochs AND steps_per_epoch)")
  end
  if type(o.pct_start) ~= "number" or not (o.pct_start >= 0 and o.pct_start <= 1) then
    E.raise(api(N), "expected a number between 0 and 1 for pct_start, got %s", tostring(o.pct_start))
  end
  if o.anneal_strategy ~= "cos" and o.anneal_strategy ~= "linear" then
    E.raise(api(N), "anneal_strategy must be one of 'cos' or 'linear', instead got %s", tostring(o.anneal_strategy))
  end
  local self = new(OneCycleLR, N, optimizer, o)
  self.total_steps, self.anneal_strategy, self.cycle_momentum = total, o.anneal_strategy, o.cycle_momentum
  -- 2. the phases: warm up to max_lr, anneal to min_lr (three_phase: back
  --    to initial_lr first, then to min_lr)
  local p = o.pct_start
  if o.three_phase then
    self._schedule_phases = {
      { end_step = p * total - 1, start_lr = "initial_lr", end_lr = "max_lr",
        start_momentum = "max_momentum", end_momentum = "base_momentum" },
      { end_step = 2 * p * total - 2, start_lr = "max_lr", end_lr = "initial_lr",
        start_momentum = "base_momentum", end_momentum = "max_momentum" },
      { end_step = total - 1, start_lr = "initial_lr", end_lr = "min_lr",
        start_momentum = "max_momentum", end_momentum = "max_momentum" },
    }
  else
    self._schedule_phases = {
      { end_step = p * total - 1, start_lr = "initial_lr", end_lr = "max_lr",
        start_momentum = "max_momentum", end_momentum = "base_momentum" },
      { end_step = total - 1, start_lr = "max_lr", end_lr = "min_lr",
        start_momentum = "base_momentum", end_momentum = "max_momentum" },
    }
  end
  -- 3. each group's lr bounds and momentum bounds
  local max_lrs = per_group(N, optimizer, "max_lr", o.max_lr)
  if self.last_epoch == -1 then
    for g, group in ipairs(optimizer.param_groups) do
      group.initial_lr = max_lrs[g] / o.div_factor
      group.max_lr = max_lrs[g]
      group.min_lr = group.initial_lr / o.final_div_factor
    end
  end
  if self.cycle_momentum then
    local defaults = optimizer.defaults or {}
    if defaults.momentum == nil and defaults.betas == nil then
      E.raise(api(N), "optimizer must support momentum with `cycle_momentum` option enabled")
    end
    self.use_beta1 = defaults.betas ~= nil
    local maxm = per_group(N, optimizer, "max_momentum", o.max_momentum)
    local basem = per_group(N, optimizer, "base_momentum", o.base_momentum)
    if self.last_epoch == -1 then
      for g, group in ipairs(optimizer.param_groups) do
        if self.use_beta1 then group.betas = { maxm[g], group.betas[2] } else group.momentum = maxm[g] end
        group.max_momentum, group.base_momentum = maxm[g], basem[g]
      end
    end
  end
  return self:start()
end

-- }======================================================

-- {======================================================
-- ReduceLROnPlateau: lr * factor after `patience` epochs without improvement
-- =======================================================

local Plateau = setmetatable({}, { __index = Scheduler })
Plateau.__index = Plateau
Plateau.__tostring = Scheduler.__tostring
lr_scheduler.ReduceLROnPlateau_class = Plateau

function lr_scheduler.ReduceLROnPlateau(optimizer, opts)
  local N = "ReduceLROnPlateau"
  local o = options(N, optimizer, opts, { mode = "min", factor = 0.1, patience = 10, threshold = 1e-4,
    threshold_mode = "rel", cooldown = 0, min_lr = 0, eps = 1e-8, verbose = false })
  check_number(N, o, "factor")
  if o.factor >= 1.0 then E.raise(api(N), "factor should be < 1.0, got %s", tostring(o.factor)) end
  if o.mode ~= "min" and o.mode ~= "max" then E.raise(api(N), "mode %s is unknown (min or max)", tostring(o.mode)) end
  if o.threshold_mode ~= "rel" and o.threshold_mode ~= "abs" then
    E.raise(api(N), "threshold mode %s is unknown (rel or abs)", tostring(o.threshold_mode))
  end
  for _, key in ipairs { "patience", "cooldown" } do
    if math.type(o[key]) ~= "integer" or o[key] < 0 then
      E.raise(api(N), "option '%s' must be a non-negative integer, got %s", key, tostring(o[key]))
    end
  end
  check_number(N, o, "threshold")
  check_number(N, o, "eps")
  local self = setmetatable({ optimizer = optimizer, name = N }, Plateau)
  self.min_lrs = copy(per_group(N, optimizer, "min_lr", o.min_lr))
  self.factor, self.patience, self.cooldown, self.mode = o.factor, o.patience, o.cooldown, o.mode
  self.threshold, self.threshold_mode, self.eps, self.verbose = o.threshold, o.threshold_mode, o.eps, o.verbose
  self.cooldown_counter, self.last_epoch = 0, 0
  self.mode_worse = o.mode == "min" and math.huge or -math.huge
  self.best, self.num_bad_epochs = self.mode_worse, 0
  return self
end

function Plateau:is_better(a, best)
  if self.mode == "min" and self.threshold_mode == "rel" then return a < best * (1 - self.threshold) end
  if self.mode == "min" then return a < best - self.threshold end
  if self.threshold_mode == "rel" then return a > best * (self.threshold + 1) end
  return a > best + self.threshold
end

-- step(metric): metric a number or a one-element tensor
function Plateau:step(metric)
  if torch.is_tensor(metric) then metric = metric:item() end
  if type(metric) ~= "number" then
    E.raise(api("ReduceLROnPlateau:step"), "expected the metric (a number or a one-element tensor), got %s",
      type(metric))
  end
  self.last_epoch = self.last_epoch + 1
  if self:is_better(metric, self.best) then
    self.best, self.num_bad_epochs = metric, 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0
  end
  if self.num_bad_epochs > self.patience then
    for g, group in ipairs(self.optimizer.param_groups) do
      local old = group.lr
      local lr = math.max(old * self.factor, self.min_lrs[g])
      if old - lr > self.eps then
        group.lr = lr
        if self.verbose then print(("Reducing learning rate of group %d to %.4e."):format(g, lr)) end
      end
    end
    self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
  end
  self._last_lr = {}
  for g, group in ipairs(self.optimizer.param_groups) do self._last_lr[g] = group.lr end
end

-- }======================================================

-- the schedulers in their own files: cyclic ones, and those made of others
require("torch.optim.lr_scheduler_cyclic")(lr_scheduler)
require("torch.optim.lr_scheduler_compose")(lr_scheduler)

-- every scheduler's methods detect a '.' call
local function is_scheduler(v) return type(v) == "table" and rawget(v, "optimizer") ~= nil end
E.methods(Scheduler, "lr_scheduler.Scheduler", is_scheduler)
for name, c in pairs(lr_scheduler) do
  if type(c) == "table" and name:sub(-6) == "_class" then
    E.methods(c, "lr_scheduler." .. name:sub(1, -7), is_scheduler)
  end
end
E.namespace(lr_scheduler, "optim.lr_scheduler")

return lr_scheduler
