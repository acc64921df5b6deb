-- torch.optim.interop: optimizer state dicts as PyTorch 1.13 writes them.
-- PyTorch keys `state` by 0-based parameter index, lists 0-based indices in
-- each group's `params`, and keeps some counters in 0-dim float32 tensors
-- (`step` of most optimizers, NAdam's mu_product, ASGD's eta and mu);
-- clara keys by 1-based position and keeps those counters as Lua numbers.
--   torch.save(path, opt:state_dict{format = "pytorch"})  -- for PyTorch
--   opt:load_state_dict(torch.load(path))                  -- either layout
-- The counters are float32 values on both sides (clara rounds them as
-- PyTorch's tensors do), so the conversion loses nothing.  LBFGS converts
-- its histories too; only its fixed-step form cannot be written for
-- PyTorch (see to_pytorch).
local torch = require "torch"
local E = require "clara.error"

local interop = {}

-- the kinds whose `step` PyTorch 1.13 keeps in a tensor; RMSprop, Adadelta
-- and Rprop count with a Python int
local TENSOR_STEP = { Adam = true, AdamW = true, Adagrad = true, NAdam = true, RAdam = true,
                      Adamax = true, ASGD = true }
-- counters PyTorch keeps in 0-dim float32 tensors
local SCALAR_TENSOR = { mu_product = true, eta = true, mu = true }

-- PyTorch's indices start at 0, clara's at 1: a 0 anywhere is PyTorch's
function interop.is_pytorch(sd)
  if type(sd) ~= "table" or type(sd.param_groups) ~= "table" then return false end
  if type(sd.state) == "table" and sd.state[0] ~= nil then return true end
  for _, group in ipairs(sd.param_groups) do
    if type(group) == "table" and type(group.params) == "table" then
      for _, k in ipairs(group.params) do
        if k == 0 then return true end
      end
    end
  end
  return false
end

-- LBFGS keeps its histories as Python lists of tensors (ro of 0-dim ones)
-- where clara stacks them, its initial H_diag as the int 1 where libtorch
-- has a 0-dim int64 tensor, and `al` as scratch space (left out: both
-- sides remake it)
local HISTORY = { old_dirs = true, old_stps = true, ro = true }

local function lbfgs_to_pytorch(entries)
  local copy = {}
  for name, v in pairs(entries) do
    if HISTORY[name] then
      local list = {}
      for i = 1, v:numel() > 0 and v:size(1) or 0 do list[i] = v:select(1, i):clone() end
      v = list
    end
    copy[name] = v
  end
  return copy
end

local function lbfgs_from_pytorch(entries, k, where)
  local copy = {}
  for name, v in pairs(entries) do
    if HISTORY[name] then
      if type(v) ~= "table" then E.raise(where, "LBFGS state '%s' must be a list of tensors, got %s", name, E.show(v)) end
      v = #v > 0 and torch.stack(v) or torch.empty(0)
    elseif name == "t" and torch.is_tensor(v) then
      v = v:item()
    elseif name == "H_diag" and type(v) == "number" then
      v = torch.tensor(v)
    end
    if name ~= "al" then copy[name] = v end
  end
  -- libtorch's state lives under the first parameter, like PyTorch's
  if k ~= 0 then E.raise(where, "LBFGS keeps its state under the first parameter (key 0), got key %d", k) end
  return copy
end
-- groups with their params renumbered by `shift`, everything else copied
local function renumber(groups, shift, where)
  local out = {}
  for g, group in ipairs(groups) do
    if type(group) ~= "table" or type(group.params) ~= "table" then
      E.raise(where, "param_groups[%d] must be a table with a 'params' list", g)
    end
    local copy = {}
    for key, v in pairs(group) do copy[key] = v end
    copy.params = {}
    for i, k in ipairs(group.params) do
      if math.type(k) ~= "integer" then
        E.raise(where, "param_groups[%d].params[%d] must be an integer index, got %s", g, i, E.show(k))
      end
      copy.params[i] = k + shift
    end
    out[g] = copy
  end
  return out
end

-- one parameter's entries, counters made 0-dim float32 tensors
local function entries_to_pytorch(kind, entries)
  if kind.name == "LBFGS" then return lbfgs_to_pytorch(entries) end
  local copy = {}
  for name, v in pairs(entries) do
    if type(v) == "number" and ((name == "step" and TENSOR_STEP[kind.name]) or SCALAR_TENSOR[name]) then
      v = torch.tensor(v + 0.0, { dtype = "float32" })
    end
    copy[name] = v
  end
  return copy
end

function interop.to_pytorch(kind, sd)
  if kind.name == "LBFGS" and sd.param_groups[1].line_search_fn == nil then
    E.raise("optim.LBFGS:state_dict", "PyTorch's LBFGS wants 'line_search_fn' in its group even when it is None, which a Lua table cannot hold: only line_search_fn = 'strong_wolfe' saves in PyTorch's layout (PyTorch's dicts load either way)")
  end
  local state = {}
  for k, entries in pairs(sd.state) do state[k - 1] = entries_to_pytorch(kind, entries) end
  return { state = state, param_groups = renumber(sd.param_groups, -1) }
end

-- a counter from PyTorch: one value, as a Lua number (an integer step)
local function counter(name, v, k, where)
  if v:numel() ~= 1 then
    E.raise(where, "state '%s' of parameter %d must hold one value, got %d", name, k, v:numel())
  end
  local x = v:item()
  if name == "step" then x = math.tointeger(x) or x end
  return x
end

local function entries_from_pytorch(kind, entries, k, where)
  if kind.name == "LBFGS" then return lbfgs_from_pytorch(entries, k, where) end
  local copy = {}
  for name, v in pairs(entries) do
    if torch.is_tensor(v) and (name == "step" or SCALAR_TENSOR[name]) then v = counter(name, v, k, where) end
    copy[name] = v
  end
  return copy
end

function interop.from_pytorch(kind, sd, where)
  if type(sd.state) ~= "table" then E.raise(where, "expected a table 'state' (PyTorch's optimizer.state_dict())") end
  local state = {}
  for k, entries in pairs(sd.state) do
    if math.type(k) ~= "integer" or k < 0 then
      E.raise(where, "PyTorch's state keys are 0-based parameter indices, got %s", E.show(k))
    end
    if type(entries) ~= "table" then E.raise(where, "state of parameter %d must be a dict", k) end
    local copy = entries_from_pytorch(kind, entries, k, where)
    -- PyTorch's SGD without momentum stores momentum_buffer = None: no state
    if next(copy) ~= nil then state[k + 1] = copy end
  end
  return { state = state, param_groups = renumber(sd.param_groups, 1, where) }
end

return interop
