-- torch.optim.scheduler_base: what every learning-rate scheduler shares
-- (torch.optim.lr_scheduler): options checked against one schema per
-- scheduler, the step that writes each group's lr, and state dicts that are
-- checked whole before any value changes.
local E = require "clara.error"

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

-- {======================================================
-- The base: construction, step, state
-- =======================================================

local Scheduler = {}
Scheduler.__index = Scheduler

-- a scheduler's API name; one outside lr_scheduler (swa_utils.SWALR) gives its own
local function api(name) return name:find(".", 1, true) and name or "lr_scheduler." .. name end

-- opts checked against the spec {key = default | REQUIRED}, one schema per
-- scheduler made from it (numbers never NaN, booleans booleans); returns
-- the completed options
local REQUIRED = {}
-- an option of any type without a default (CyclicLR's step_size_down, scale_fn)
local OPTIONAL = {}
local schemas = {}
local POSITIVE = { div_factor = true, final_div_factor = true }
-- OneCycleLR's length comes as total_steps or as epochs * steps_per_epoch
local ONE_OF_LENGTHS = { total_steps = true, epochs = true, steps_per_epoch = true }
local NONNEG = { eps = true, threshold = true }
local function options(name, optimizer, opts, spec)
  if type(optimizer) ~= "table" or type(optimizer.param_groups) ~= "table" then
    E.raise(api(name), "expected an optimizer (with param_groups), got %s", type(optimizer))
  end
  local schema = schemas[name]
  if not schema then
    schema = {}
    for k, default in pairs(spec) do
      local t = type(default)
      schema[k] = (default == REQUIRED or default == OPTIONAL or ONE_OF_LENGTHS[k]) and { type = "any" }
        or k == "last_epoch" and { type = "integer" }
        or { type = t == "table" and "any" or t, gt = POSITIVE[k] and 0 or nil, min = NONNEG[k] and 0 or nil }
    end
    schema.min_lr = spec.min_lr ~= nil and { type = "number|table" } or nil
    schema.max_momentum = spec.max_momentum ~= nil and { type = "number|table" } or nil
    schema.base_momentum = spec.base_momentum ~= nil and { type = "number|table" } or nil
    schemas[name] = schema
  end
  local o = E.options(api(name), opts, schema)
  for k, default in pairs(spec) do
    if o[k] == nil then
      if default == REQUIRED then E.raise(api(name), "option '%s' is required", k) end
      if default ~= OPTIONAL then o[k] = default end
    end
  end
  return o
end

local function check_number(name, o, key, what)
  if type(o[key]) ~= "number" or o[key] ~= o[key] then
    E.raise(api(name), "option '%s' must be %s, got %s", key, what or "a number", o[key])
  end
end

local function new(class, name, optimizer, o)
  local self = setmetatable({ optimizer = optimizer, name = name }, class)
  self.last_epoch = o.last_epoch or -1
  if math.type(self.last_epoch) ~= "integer" then E.raise(api(name), "option 'last_epoch' must be an integer") end
  self.verbose = o.verbose or false
  return self
end

-- the base lrs are each group's initial_lr (set now unless resuming), then
-- one step to epoch 0, as PyTorch's constructor does
function Scheduler:start()
  for g, group in ipairs(self.optimizer.param_groups) do
    if self.last_epoch == -1 then
      if group.initial_lr == nil then group.initial_lr = group.lr end
    elseif group.initial_lr == nil then
      E.raise(api(self.name), "param 'initial_lr' is not specified in param_groups[%d] when resuming an optimizer", g)
    end
  end
  self.base_lrs = {}
  for g, group in ipairs(self.optimizer.param_groups) do self.base_lrs[g] = group.initial_lr end
  self._step_count = 0
  self:step()
  return self
end

function Scheduler:step(...)
  if select("#", ...) > 0 then
    E.raise(api(self.name) .. ":step", "takes no argument (PyTorch's epoch argument is deprecated)")
  end
  self:_step_at(nil)
end

-- one step to the next epoch, or (SequentialLR's restart of a scheduler at
-- a milestone) to the given one, where PyTorch takes the closed form when
-- the schedule has one
function Scheduler:_step_at(epoch)
  self._step_count = self._step_count + 1
  local lrs
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    lrs = self:get_lr()
  else
    self.last_epoch = epoch
    lrs = (self.closed_form or self.get_lr)(self)
  end
  for g, group in ipairs(self.optimizer.param_groups) do
    group.lr = lrs[g]
    if self.verbose then
      print(("Adjusting learning rate of group %d to %.4e."):format(g, lrs[g]))
    end
  end
  self._last_lr = {}
  for g, group in ipairs(self.optimizer.param_groups) do self._last_lr[g] = group.lr end
end

function Scheduler:get_last_lr()
  if self._last_lr == nil then
    local lrs = {}
    for g, group in ipairs(self.optimizer.param_groups) do lrs[g] = group.lr end
    return lrs
  end
  return copy(self._last_lr)
end

-- everything but the optimizer and functions (PyTorch keeps lambdas out too)
function Scheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if k ~= "optimizer" and type(v) ~= "function" and k ~= "lr_lambdas" then sd[k] = copy(v) end
  end
  return sd
end

-- a loaded value must have the type of the one it replaces (integers stay
-- integers, numbers are never NaN); per-group lists keep the group count
local PER_GROUP = { base_lrs = true, _last_lr = true, min_lrs = true }

local function check_like(where, key, v, now)
  if type(v) ~= type(now) or (math.type(now) == "integer" and math.type(v) ~= "integer") then
    E.raise(where, "'%s' must be %s like the scheduler's own, got %s", key,
      math.type(now) == "integer" and "an integer" or type(now), v)
  end
  if v ~= v then E.raise(where, "'%s' is nan", key) end
  if type(v) == "table" then
    for k, x in pairs(v) do
      if now[k] ~= nil then check_like(where, key .. "." .. tostring(k), x, now[k])
      elseif type(x) == "number" and x ~= x then E.raise(where, "'%s.%s' is nan", key, tostring(k)) end
    end
  end
end

-- everything checked before anything changes: a bad state leaves the
-- scheduler as it was
function Scheduler:check_state(sd, where)
  if type(sd) ~= "table" then E.raise(where, "expected a table, got %s", type(sd)) end
  if sd.name ~= nil and sd.name ~= self.name then E.raise(where, "the state is a %s's", tostring(sd.name)) end
  local now = self:state_dict()
  for k, v in pairs(sd) do
    if now[k] == nil and k == "_last_lr" then
      now[k] = {} -- set by the first step: any list of numbers
      for g in ipairs(self.optimizer.param_groups) do now[k][g] = 0.0 end
    end
    if now[k] == nil then
      local names = {}
      for n in pairs(now) do names[#names + 1] = n end
      local near = type(k) == "string" and E.closest(k, names)
      E.raise(where, "unknown key %s in the state%s", k, near and (" (did you mean '" .. near .. "'?)") or "")
    end
    check_like(where, k, v, now[k])
    if PER_GROUP[k] and #v ~= #self.optimizer.param_groups then
      E.raise(where, "'%s' has %d entries, the optimizer %d parameter groups", k, #v, #self.optimizer.param_groups)
    end
  end
end

function Scheduler:load_state_dict(sd)
  self:check_state(sd, api(self.name) .. ":load_state_dict")
  for k, v in pairs(sd) do self[k] = copy(v) end
end

function Scheduler:__tostring()
  return ("%s(last_epoch=%d, lr=%s)"):format(self.name, self.last_epoch,
    table.concat(self:get_last_lr(), ", "))
end

-- one value per group: a number for all, or a list
local function per_group(name, optimizer, key, v)
  local n = #optimizer.param_groups
  if type(v) == "table" then
    if #v ~= n then E.raise(api(name), "expected %d values for %s, got %d", n, key, #v) end
    for g = 1, n do
      if type(v[g]) ~= "number" or v[g] ~= v[g] then E.raise(api(name), "%s[%d] must be a number, got %s", key, g, v[g]) end
    end
    return v
  end
  if type(v) ~= "number" or v ~= v then
    E.raise(api(name), "option '%s' must be a number or a list of numbers, got %s", key, v)
  end
  local list = {}
  for g = 1, n do list[g] = v end
  return list
end

-- a scheduler class whose lrs get_lr(self) computes, kept in registry as
-- registry[name .. "_class"] (the classes' '.' calls are guarded by name)
local function class(registry, name, get_lr)
  local c = setmetatable({ get_lr = get_lr }, { __index = Scheduler })
  c.__index = c
  c.__tostring = Scheduler.__tostring
  registry[name .. "_class"] = c
  return c
end

return {
  class = class, per_group = per_group, OPTIONAL = OPTIONAL, copy = copy, api = api, REQUIRED = REQUIRED, options = options, check_number = check_number,
  new = new, check_like = check_like, Scheduler = Scheduler,
}
