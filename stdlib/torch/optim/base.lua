-- torch.optim.base: what every optimizer shares, libtorch's and the clear
-- ones: parameter groups (PyTorch's param_groups, the one place their
-- hyperparameters live, so a scheduler changes them by assignment), option
-- checks, zero_grad, learning-rate access, the state_dict layout and the
-- printout.  An optimizer kind is described by a table:
--   { name = "SGD", defaults = {...}, check = function(group, fail) end,
--     required_state = { "momentum_buffer" } }
local torch = require "torch"
local E = require "clara.error"

local base = {}

function base.is_optimizer(v) return type(v) == "table" and rawget(v, "param_groups") ~= nil end

base.REQUIRED = setmetatable({}, { __tostring = function() return "<required>" end })

local Optimizer = {}
Optimizer.__index = Optimizer
base.Optimizer = Optimizer

-- {======================================================
-- Construction: parameters, groups, options
-- =======================================================

-- A kind's options schema (for E.options and E.check_value), made once
-- from its defaults: numbers are non-negative and never NaN, booleans are
-- booleans, betas a pair in [0, 1).
local function betas_ok(v)
  if type(v) ~= "table" or #v ~= 2 or type(v[1]) ~= "number" or type(v[2]) ~= "number" then
    return false, "must be a pair of numbers {beta1, beta2}"
  end
  for i = 1, 2 do
    if not (v[i] >= 0 and v[i] < 1) then
      return false, ("invalid beta parameter at index %d: %s"):format(i, E.show(v[i]))
    end
  end
  return true
end

local OPTIONAL = {
  max_eval = { type = "integer", min = 1, doc = "most function evaluations per step" },
  line_search_fn = { type = "string", enum = { "strong_wolfe" }, doc = "nil or 'strong_wolfe'" },
}

function base.schema(kind)
  if kind.schema then return kind.schema end
  local schema = {}
  for key, default in pairs(kind.defaults) do
    if key == "betas" then
      schema[key] = { type = "table", check = betas_ok }
    elseif default == base.REQUIRED or type(default) == "number" then
      schema[key] = { type = "number", min = 0 }
    else
      schema[key] = { type = type(default) }
    end
  end
  for key in pairs(kind.optional or {}) do schema[key] = OPTIONAL[key] end
  kind.schema = schema
  return schema
end

local function api(kind) return "optim." .. kind.name end

-- a list of tensors from a list or a model (anything with :parameters())
local function tensor_list(kind, params, where)
  if torch.is_tensor(params) then
    E.raise(api(kind), "%s must be a list of tensors, parameter groups or a model, got a tensor", where)
  end
  if type(params) ~= "table" and type(params) ~= "userdata" then
    E.raise(api(kind), "%s must be a list of tensors, parameter groups or a model, got %s", where, type(params))
  end
  if type(params.parameters) == "function" then params = params:parameters() end
  local list = {}
  for i, p in ipairs(params) do
    if not torch.is_tensor(p) then
      E.raise(api(kind), "%s[%d] is not a tensor (got %s)", where, i, type(p))
    end
    if not p:is_floating_point() then
      E.raise(api(kind), "%s[%d] is not a floating point tensor (%s)", where, i, p.dtype)
    end
    if not p.is_leaf then E.raise(api(kind), "%s[%d]: can't optimize a non-leaf tensor", where, i) end
    list[i] = p
  end
  return list
end

-- keys a group may hold besides its options: the schedulers' bounds
local GROUP_EXTRA = { params = true, initial_lr = true, max_lr = true, min_lr = true,
                      max_momentum = true, base_momentum = true, swa_lr = true }

-- a group's known options checked against the schema; unknown ones are
-- errors unless `extra_ok` (a state dict's groups carry schedulers' keys)
local function check_group(kind, group, what, where)
  where = where or api(kind)
  local schema = base.schema(kind)
  for key, v in pairs(group) do
    local spec = schema[key]
    if spec then
      local why = E.check_value(spec, v)
      if why then E.raise(where, "%s option '%s' %s", what, key, why) end
    elseif not GROUP_EXTRA[key] then
      local names = {}
      for n in pairs(schema) do names[#names + 1] = n end
      local near = type(key) == "string" and E.closest(key, names)
      E.raise(where, "%s has an unknown option %s%s", what, E.show(key),
        near and (" (did you mean '" .. near .. "'?)") or "")
    end
  end
end
base.check_group = check_group

-- each group's missing options from the defaults, then the kind's checks
function base.complete_group(kind, group, defaults)
  for key, default in pairs(defaults) do
    if group[key] == nil then
      if default == base.REQUIRED then
        E.raise(api(kind), "parameter group didn't specify a value of required optimization parameter %s", key)
      end
      group[key] = type(default) == "table" and { table.unpack(default) } or default
    end
  end
  check_group(kind, group, "a parameter group's")
  if kind.check then kind.check(group, function(fmt, ...) E.raise(api(kind), fmt, ...) end) end
end

-- self.param_groups from params (a list of tensors, a model or a list of
-- groups) and opts (the defaults' overrides)
function base.init(self, kind, params, opts)
  local given = E.options(api(kind), opts, base.schema(kind))
  local defaults = {}
  for k, v in pairs(kind.defaults) do defaults[k] = v end
  for k, v in pairs(given) do defaults[k] = v end
  -- 1. groups: copies, so the caller's tables stay theirs
  local groups = {}
  if type(params) == "table" and params[1] ~= nil and not torch.is_tensor(params[1])
     and type(params.parameters) ~= "function" then
    for g, spec in ipairs(params) do
      if type(spec) ~= "table" or spec.params == nil then
        E.raise(api(kind), "parameter group %d must be a table with a 'params' list", g)
      end
      local group = {}
      for k, v in pairs(spec) do group[k] = v end
      group.params = tensor_list(kind, torch.is_tensor(spec.params) and { spec.params } or spec.params,
        ("group %d params"):format(g))
      groups[g] = group
    end
  else
    groups[1] = { params = tensor_list(kind, params, "params") }
  end
  -- 2. every parameter once, every group complete
  local seen, n = {}, 0
  for g, group in ipairs(groups) do
    if #group.params == 0 then E.raise(api(kind), "optimizer got an empty parameter list") end
    for _, p in ipairs(group.params) do
      if seen[p] then E.raise(api(kind), "some parameters appear in more than one parameter group") end
      seen[p], n = true, n + 1
    end
    base.complete_group(kind, group, defaults)
  end
  if #groups == 0 then E.raise(api(kind), "optimizer got an empty parameter list") end
  self.kind, self.defaults, self.param_groups = kind, defaults, groups
  return self
end

-- }======================================================

-- {======================================================
-- Shared methods
-- =======================================================

-- (group, index) of each parameter, in the order of the groups: the global
-- position k is what state_dict keys the state by, as PyTorch does
function Optimizer:positions()
  local list = {}
  for g, group in ipairs(self.param_groups) do
    for i = 1, #group.params do list[#list + 1] = { g, i } end
  end
  return list
end

function Optimizer:parameters()
  local list = {}
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do list[#list + 1] = p end
  end
  return list
end

-- PyTorch 1.13's default zeroes the gradients; {set_to_none = true} drops them
function Optimizer:zero_grad(opts)
  local none = type(opts) == "table" and opts.set_to_none
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      if none then
        p.grad = nil
      else
        local g = p.grad
        if g then g:detach_():zero_() end
      end
    end
  end
end

local function check_group_index(self, group, fname)
  if group == nil then return nil end
  if math.type(group) ~= "integer" or group < 1 or group > #self.param_groups then
    E.raise(api(self.kind) .. ":" .. fname, "group must be an integer in 1..%d, got %s",
      #self.param_groups, group)
  end
  return group
end

function Optimizer:get_lr(group)
  return self.param_groups[check_group_index(self, group, "get_lr") or 1].lr
end

local LR = { type = "number", min = 0 }

-- set_lr(v[, group]): every group when no group is named
function Optimizer:set_lr(v, group)
  local why = E.check_value(LR, v)
  if why then
    E.raise(api(self.kind) .. ":set_lr", "the learning rate must be a non-negative number, got %s", v)
  end
  group = check_group_index(self, group, "set_lr")
  for g, pg in ipairs(self.param_groups) do
    if group == nil or g == group then pg.lr = v end
  end
end

local function copy_value(v)
  if torch.is_tensor(v) then return v:detach():clone() end
  if type(v) == "table" then
    local c = {}
    for k, x in pairs(v) do c[k] = copy_value(x) end
    return c
  end
  return v
end
base.copy_value = copy_value

-- { state = { [k] = {name = tensor | number} }, param_groups = { {lr = ..., params = {k, ...}} } }
-- with copies of everything, so the table does not change as training goes on
function Optimizer:state_dict()
  local groups, k = {}, 0
  for g, group in ipairs(self.param_groups) do
    local copy = {}
    for key, v in pairs(group) do
      if key ~= "params" then copy[key] = copy_value(v) end
    end
    copy.params = {}
    for i = 1, #group.params do
      k = k + 1
      copy.params[i] = k
    end
    groups[g] = copy
  end
  local state = {}
  for pos, gi in ipairs(self:positions()) do state[pos] = self:get_param_state(gi[1], gi[2]) end
  return { state = state, param_groups = groups }
end

-- Everything is checked before anything changes; should libtorch still
-- refuse a piece half-way, the state as it was is put back, so a failed
-- load leaves the optimizer exactly as before.
local function check_state_dict(self, sd, where)
  local name = self.kind.name
  if type(sd) ~= "table" or type(sd.param_groups) ~= "table" or type(sd.state) ~= "table" then
    E.raise(where, "expected a table with 'state' and 'param_groups' (from %s:state_dict())", name)
  end
  -- 1. the shape of the groups must match
  if #sd.param_groups ~= #self.param_groups then
    E.raise(where, "loaded state dict has %d parameter groups, the optimizer has %d", #sd.param_groups,
      #self.param_groups)
  end
  for g, group in ipairs(self.param_groups) do
    local saved = sd.param_groups[g]
    if type(saved) ~= "table" or type(saved.params) ~= "table" or #saved.params ~= #group.params then
      E.raise(where, "group %d of the loaded state dict does not match the size of the optimizer's group (%d parameters)",
        g, #group.params)
    end
  end
  -- 2. each parameter's state: known positions, required entries, tensors
  --    shaped as their parameter (LBFGS keeps flat histories of its own)
  local positions = self:positions()
  for k, entries in pairs(sd.state) do
    if math.type(k) ~= "integer" or positions[k] == nil then
      E.raise(where, "state for parameter %s, but the optimizer has %d parameters", k, #positions)
    end
    if type(entries) ~= "table" then E.raise(where, "state of parameter %d must be a table", k) end
    for _, key in ipairs(self.kind.required_state or {}) do
      if entries[key] == nil then E.raise(where, "state of parameter %d lacks '%s' (a %s state)", k, key, name) end
    end
    local p = self.param_groups[positions[k][1]].params[positions[k][2]]
    for key, v in pairs(entries) do
      if type(key) ~= "string" then E.raise(where, "state of parameter %d has a key %s (names are strings)", k, key) end
      if torch.is_tensor(v) then
        if self.kind.required_state and table.concat(v:size(), ",") ~= table.concat(p:size(), ",") then
          E.raise(where, "state '%s' of parameter %d has shape [%s] but its parameter has shape [%s]", key, k,
            table.concat(v:size(), ", "), table.concat(p:size(), ", "))
        end
      elseif type(v) ~= "number" or v ~= v then
        E.raise(where, "state '%s' of parameter %d must be a tensor or a number, got %s", key, k,
          v ~= v and "nan" or type(v))
      end
    end
  end
  if self.kind.check_state then
    for _, entries in pairs(sd.state) do
      self.kind.check_state(entries, self:parameters(), function(fmt, ...) E.raise(where, fmt, ...) end)
    end
  end
  -- 3. each group's options, as the constructor checks them
  for g in ipairs(self.param_groups) do
    local saved = sd.param_groups[g]
    check_group(self.kind, saved, ("group %d of the loaded state dict"):format(g), where)
    for key in pairs(self.kind.defaults) do
      if saved[key] == nil then E.raise(where, "group %d of the loaded state dict lacks option '%s'", g, key) end
    end
  end
  return positions
end

local function apply_state_dict(self, sd, positions)
  for g, group in ipairs(self.param_groups) do
    for key, v in pairs(sd.param_groups[g]) do
      if key ~= "params" then group[key] = copy_value(v) end
    end
    for key in pairs(group) do
      if key ~= "params" and sd.param_groups[g][key] == nil then group[key] = nil end
    end
  end
  for k, gi in ipairs(positions) do
    local saved = sd.state[k]
    self:set_param_state(gi[1], gi[2], saved and copy_value(saved) or nil)
  end
end

function Optimizer:load_state_dict(sd)
  local where = api(self.kind) .. ":load_state_dict"
  local positions = check_state_dict(self, sd, where)
  local before = self:state_dict()
  local ok, err = pcall(apply_state_dict, self, sd, positions)
  if not ok then
    apply_state_dict(self, before, positions)
    E.raise(where, "%s", (tostring(err):gsub("^load_state_dict: ", "")))
  end
end

local function show(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = show(x) end
    return "(" .. table.concat(parts, ", ") .. ")"
  end
  return tostring(v)
end

-- as PyTorch prints an optimizer: each group's options, sorted
function Optimizer:__tostring()
  local lines = { self.kind.name .. " (" }
  for g, group in ipairs(self.param_groups) do
    lines[#lines + 1] = ("Parameter Group %d"):format(g)
    local keys = {}
    for key in pairs(group) do
      if key ~= "params" then keys[#keys + 1] = key end
    end
    table.sort(keys)
    for _, key in ipairs(keys) do lines[#lines + 1] = ("    %s: %s"):format(key, show(group[key])) end
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

-- }======================================================

-- a class for one kind: optim.X(params, opts) makes an instance
function base.class(kind, methods, parent)
  local class = {}
  for k, v in pairs(parent or Optimizer) do class[k] = v end
  for k, v in pairs(methods) do class[k] = v end
  class.__index = class
  class.kind = kind
  return E.methods(class, "optim." .. kind.name, base.is_optimizer)
end

return base
