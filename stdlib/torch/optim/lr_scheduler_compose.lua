-- torch.optim.lr_scheduler's schedulers made of others, as PyTorch 1.13's:
-- ChainedScheduler steps all of them at every step, SequentialLR one after
-- another, switching at milestones.  Their state is their schedulers'
-- states, checked whole before any is loaded.
local E = require "clara.error"
local B = require "torch.optim.scheduler_base"

local api, copy, check_like, Scheduler = B.api, B.copy, B.check_like, B.Scheduler

-- {======================================================
-- What both share
-- =======================================================

local function state_dict(self)
  local list = {}
  for i, s in ipairs(self.schedulers) do list[i] = s:state_dict() end
  return { schedulers = list, last_epoch = self.last_epoch, _last_lr = copy(self._last_lr) }
end

local function check_state(self, sd, where)
  if type(sd) ~= "table" or type(sd.schedulers) ~= "table" or #sd.schedulers ~= #self.schedulers then
    E.raise(where, "expected the state of %d schedulers (from its state_dict())", #self.schedulers)
  end
  if math.type(sd.last_epoch) ~= "integer" then E.raise(where, "'last_epoch' must be an integer, got %s", sd.last_epoch) end
  check_like(where, "_last_lr", sd._last_lr, self._last_lr)
  for i, s in ipairs(self.schedulers) do s:check_state(sd.schedulers[i], where) end
end

local function load_state_dict(self, sd)
  self:check_state(sd, api(self.name .. ":load_state_dict"))
  for i, s in ipairs(self.schedulers) do s:load_state_dict(sd.schedulers[i]) end
  self.last_epoch, self._last_lr = sd.last_epoch, copy(sd._last_lr)
end

local function composite(registry, name)
  local c = setmetatable({ state_dict = state_dict, check_state = check_state, load_state_dict = load_state_dict },
    { __index = Scheduler })
  c.__index = c
  c.__tostring = Scheduler.__tostring
  registry[name .. "_class"] = c
  return c
end

-- }======================================================

return function(lr_scheduler)
  -- ChainedScheduler{s1, s2, ...}: steps each of several schedulers (e.g.
  -- LinearLR warmup with ExponentialLR decay) at every step
  local Chained = composite(lr_scheduler, "ChainedScheduler")
  function lr_scheduler.ChainedScheduler(schedulers)
    if type(schedulers) ~= "table" or #schedulers == 0 then
      E.raise(api("ChainedScheduler"), "expected a list of schedulers")
    end
    for i, s in ipairs(schedulers) do
      if getmetatable(s) == nil or type(s.step) ~= "function" or s.optimizer ~= schedulers[1].optimizer then
        E.raise(api("ChainedScheduler"), "schedulers[%d] is not a scheduler of the first one's optimizer", i)
      end
    end
    local self = setmetatable({ schedulers = schedulers, optimizer = schedulers[1].optimizer,
                                name = "ChainedScheduler", last_epoch = 0 }, Chained)
    self._last_lr = schedulers[#schedulers]:get_last_lr()
    return self
  end
  function Chained:step()
    for _, s in ipairs(self.schedulers) do s:step() end
    self.last_epoch = self.last_epoch + 1
    self._last_lr = self.schedulers[#self.schedulers]:get_last_lr()
  end

  -- SequentialLR(opt, {schedulers = {s1, s2, ...}, milestones = {m1, ...}}):
  -- s1 until epoch m1, where s2 restarts from epoch 0, and so on
  local Sequential = composite(lr_scheduler, "SequentialLR")
  function lr_scheduler.SequentialLR(optimizer, opts)
    local N = "SequentialLR"
    local o = B.options(N, optimizer, opts, { schedulers = B.REQUIRED, milestones = B.REQUIRED, last_epoch = -1,
                                             verbose = false })
    local list, milestones = o.schedulers, o.milestones
    if type(list) ~= "table" or #list == 0 then E.raise(api(N), "option 'schedulers' must be a list of schedulers") end
    for i, s in ipairs(list) do
      -- each restarts by its own schedule: composites and ReduceLROnPlateau have none
      if type(s) ~= "table" or type(s.get_lr) ~= "function" or s.optimizer ~= optimizer then
        E.raise(api(N), "schedulers[%d] is not a scheduler (with a schedule: no ChainedScheduler, SequentialLR or ReduceLROnPlateau) of this optimizer", i)
      end
    end
    if type(milestones) ~= "table" or #milestones ~= #list - 1 then
      E.raise(api(N), "expected %d milestones (one fewer than the schedulers), got %s", #list - 1, E.show(milestones))
    end
    for i, m in ipairs(milestones) do
      if math.type(m) ~= "integer" or (i > 1 and m <= milestones[i - 1]) then
        E.raise(api(N), "milestones must be increasing integers, got %s at %d", E.show(m), i)
      end
    end
    local self = setmetatable({ schedulers = list, milestones = copy(milestones), optimizer = optimizer,
                                name = N, last_epoch = o.last_epoch + 1 }, Sequential)
    -- back to the initial lrs; the schedulers' own first steps undone, the
    -- first one's redone
    for g, group in ipairs(optimizer.param_groups) do
      if group.initial_lr == nil then E.raise(api(N), "param_groups[%d] has no 'initial_lr'", g) end
      group.lr = group.initial_lr
    end
    for _, s in ipairs(list) do s.last_epoch = s.last_epoch - 1 end
    list[1]._step_count = 0
    list[1]:step()
    self._last_lr = list[1]:get_last_lr()
    return self
  end
  function Sequential:step()
    self.last_epoch = self.last_epoch + 1
    local i = 1
    while self.milestones[i] and self.milestones[i] <= self.last_epoch do i = i + 1 end
    local s = self.schedulers[i]
    if i > 1 and self.milestones[i - 1] == self.last_epoch then s:_step_at(0) else s:step() end
    self._last_lr = s:get_last_lr()
  end
end
