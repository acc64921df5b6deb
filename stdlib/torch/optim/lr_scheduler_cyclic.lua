-- torch.optim.lr_scheduler's cyclic schedules, with PyTorch 1.13's formulas:
-- CyclicLR (lr between base_lr and max_lr, momentum the other way) and
-- CosineAnnealingWarmRestarts (cosine annealing restarted every T_i epochs).
local E = require "clara.error"
local B = require "torch.optim.scheduler_base"

local api, options, check_number, per_group = B.api, B.options, B.check_number, B.per_group

-- {======================================================
-- CyclicLR
-- =======================================================

local SCALE = {
  triangular = function() return 1.0 end,
  triangular2 = function(_, x) return 1 / (2.0 ^ (x - 1)) end,
  exp_range = function(self, x) return self.gamma ^ x end,
}
local SCALE_MODE = { triangular = "cycle", triangular2 = "cycle", exp_range = "iterations" }

-- the height (max - base) * factor, then scaled, in PyTorch's order
local function cyclic_lr(self)
  local t = self.last_epoch
  local cycle = math.floor(1 + t / self.total_size)
  local x = 1.0 + t / self.total_size - cycle
  local factor
  if x <= self.step_ratio then factor = x / self.step_ratio else factor = (x - 1) / (self.step_ratio - 1) end
  local at = self.scale_mode == "cycle" and cycle or t
  local scale = self.scale_fn and self.scale_fn(at) or SCALE[self.mode](self, at)
  local lrs = {}
  for g, base in ipairs(self.base_lrs) do lrs[g] = base + ((self.max_lrs[g] - base) * factor) * scale end
  if self.cycle_momentum then
    for g, group in ipairs(self.optimizer.param_groups) do
      local height = (self.max_momentums[g] - self.base_momentums[g]) * factor
      local m = self.max_momentums[g] - height * scale
      if self.use_beta1 then group.betas = { m, group.betas[2] } else group.momentum = m end
    end
  end
  return lrs
end

local function positive(name, o, key)
  check_number(name, o, key)
  if o[key] <= 0 then E.raise(api(name), "option '%s' must be > 0, got %s", key, o[key]) end
  return o[key] + 0.0
end

-- the momentum cycled: SGD's and RMSprop's momentum, or Adam's and AdamW's
-- first beta (as PyTorch 2 does; PyTorch 1.13 refuses optimizers with betas)
local function cycle_momentum(self, name, optimizer, o)
  local defaults = optimizer.defaults or {}
  if defaults.momentum == nil and defaults.betas == nil then
    E.raise(api(name), "optimizer must support momentum (or betas) with the cycle_momentum option enabled")
  end
  self.use_beta1 = defaults.momentum == nil
  local basem = per_group(name, optimizer, "base_momentum", o.base_momentum)
  if self.last_epoch == -1 then
    for g, group in ipairs(optimizer.param_groups) do
      if self.use_beta1 then group.betas = { basem[g], group.betas[2] } else group.momentum = basem[g] end
    end
  end
  self.base_momentums = {}
  for g, group in ipairs(optimizer.param_groups) do
    self.base_momentums[g] = self.use_beta1 and group.betas[1] or group.momentum
  end
  self.max_momentums = B.copy(per_group(name, optimizer, "max_momentum", o.max_momentum))
end

return function(lr_scheduler)
  local CyclicLR = B.class(lr_scheduler, "CyclicLR", cyclic_lr)

  -- CyclicLR(opt, {base_lr = , max_lr = , step_size_up = 2000, step_size_down,
  -- mode = "triangular" | "triangular2" | "exp_range", gamma = 1, scale_fn,
  -- scale_mode = "cycle" | "iterations", cycle_momentum = true,
  -- base_momentum = 0.8, max_momentum = 0.9}); one step per batch
  function lr_scheduler.CyclicLR(optimizer, opts)
    local N = "CyclicLR"
    local o = options(N, optimizer, opts, {
      base_lr = B.REQUIRED, max_lr = B.REQUIRED, step_size_up = 2000, step_size_down = B.OPTIONAL,
      mode = "triangular", gamma = 1.0, scale_fn = B.OPTIONAL, scale_mode = "cycle", cycle_momentum = true,
      base_momentum = 0.8, max_momentum = 0.9, last_epoch = -1, verbose = false })
    local base_lrs = B.copy(per_group(N, optimizer, "base_lr", o.base_lr))
    local max_lrs = B.copy(per_group(N, optimizer, "max_lr", o.max_lr))
    local up = positive(N, o, "step_size_up")
    local down = up
    if o.step_size_down ~= nil then
      check_number(N, o, "step_size_down")
      if o.step_size_down < 0 then E.raise(api(N), "option 'step_size_down' must be >= 0, got %s", o.step_size_down) end
      down = o.step_size_down + 0.0
    end
    if o.scale_fn ~= nil and type(o.scale_fn) ~= "function" then
      E.raise(api(N), "option 'scale_fn' must be a function, got %s", E.show(o.scale_fn))
    end
    if o.scale_fn == nil and not SCALE[o.mode] then
      E.raise(api(N), "option 'mode' must be 'triangular', 'triangular2' or 'exp_range' (or give scale_fn), got %s", E.show(o.mode))
    end
    if o.scale_mode ~= "cycle" and o.scale_mode ~= "iterations" then
      E.raise(api(N), "option 'scale_mode' must be 'cycle' or 'iterations', got %s", E.show(o.scale_mode))
    end
    check_number(N, o, "gamma")
    local self = B.new(CyclicLR, N, optimizer, o)
    if self.last_epoch == -1 then
      for g, group in ipairs(optimizer.param_groups) do group.lr = base_lrs[g] end
    end
    self.max_lrs, self.total_size = max_lrs, up + down
    self.step_ratio = up / self.total_size
    self.mode, self.gamma, self.scale_fn = o.mode, o.gamma, o.scale_fn
    self.scale_mode = o.scale_fn and o.scale_mode or SCALE_MODE[o.mode]
    self.cycle_momentum = o.cycle_momentum
    if o.cycle_momentum then cycle_momentum(self, N, optimizer, o) end
    self:start()
    -- as PyTorch: the first step used the groups' initial_lr, the next use base_lr
    self.base_lrs = base_lrs
    return self
  end

  -- {======================================================
  -- CosineAnnealingWarmRestarts
  -- =======================================================

  local Warm = B.class(lr_scheduler, "CosineAnnealingWarmRestarts", function(self)
    local lrs = {}
    for g, base in ipairs(self.base_lrs) do
      lrs[g] = self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
    end
    return lrs
  end)

  -- CosineAnnealingWarmRestarts(opt, {T_0 = , T_mult = 1, eta_min = 0}):
  -- step() once per epoch, or step(epoch) with a fractional epoch (per batch:
  -- epoch + i / batches)
  function lr_scheduler.CosineAnnealingWarmRestarts(optimizer, opts)
    local N = "CosineAnnealingWarmRestarts"
    local o = options(N, optimizer, opts, { T_0 = B.REQUIRED, T_mult = 1, eta_min = 0, last_epoch = -1, verbose = false })
    if math.type(o.T_0) ~= "integer" or o.T_0 <= 0 then
      E.raise(api(N), "option 'T_0' must be a positive integer, got %s", E.show(o.T_0))
    end
    if math.type(o.T_mult) ~= "integer" or o.T_mult < 1 then
      E.raise(api(N), "option 'T_mult' must be an integer >= 1, got %s", E.show(o.T_mult))
    end
    check_number(N, o, "eta_min")
    local self = B.new(Warm, N, optimizer, o)
    self.T_0, self.T_i, self.T_mult, self.eta_min = o.T_0, o.T_0, o.T_mult, o.eta_min
    -- a float always: fractional epochs make it one, and a loaded state must match
    self.T_cur = self.last_epoch + 0.0
    return self:start()
  end

  -- the epoch's place in its cycle: T_cur epochs into a cycle of T_i
  local function place(self, epoch)
    local T_0, mult = self.T_0, self.T_mult
    if epoch < T_0 then
      self.T_i, self.T_cur = T_0, epoch + 0.0
    elseif mult == 1 then
      self.T_cur = epoch % T_0 + 0.0
    else
      -- Python's math.log(x, base) is log(x) / log(base)
      local n = math.floor(math.log(epoch / T_0 * (mult - 1) + 1) / math.log(mult))
      local power = 1
      for _ = 1, n do power = power * mult end
      self.T_cur = epoch - T_0 * (power - 1) / (mult - 1)
      self.T_i = T_0 * power
    end
  end

  function Warm:_step_at(epoch)
    if epoch == nil and self.last_epoch < 0 then epoch = 0 end
    if epoch == nil then
      epoch = self.last_epoch + 1
      self.T_cur = self.T_cur + 1
      if self.T_cur >= self.T_i then
        self.T_cur = self.T_cur - self.T_i
        self.T_i = self.T_i * self.T_mult
      end
    else
      place(self, epoch)
    end
    self._step_count = self._step_count + 1
    self.last_epoch = math.floor(epoch)
    local lrs = self:get_lr()
    for g, group in ipairs(self.optimizer.param_groups) do
      group.lr = lrs[g]
      if self.verbose then print(("Adjusting learning rate of group %d to %.4e."):format(g, lrs[g])) end
    end
    self._last_lr = B.copy(lrs)
  end

  -- step() or step(epoch), epoch a number >= 0 (fractional within an epoch)
  function Warm:step(epoch)
    if epoch ~= nil and (type(epoch) ~= "number" or epoch ~= epoch or epoch < 0) then
      E.raise(api("CosineAnnealingWarmRestarts:step"), "epoch must be a number >= 0, got %s", E.show(epoch))
    end
    self:_step_at(epoch)
  end
end
