-- torch.optim.interop: optimizer state dicts as PyTorch 1.13 writes them.
-- PyTorch keys `state` by 0-based parameter index, lists 0-based indices in
-- each group's `params`, and keeps some counters in 0-dim float32 tensors
-- (`step` of most optimizers, NAdam's mu_product, ASGD's eta and mu);
-- clara keys by 1-based position and keeps those counters as Lua numbers.
--   torch.save(path, opt:state_dict{format = "pytorch"})  -- for PyTorch
--   opt:load_state_dict(torch.load(path))                  -- either layout
-- The counters are float32 values on both sides (clara rounds them as
-- PyTorch's tensors do), so the conversion loses nothing.
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

local function no_lbfgs(kind, where)
  if kind.name == "LBFGS" then
    E.raise(where, "LBFGS state dicts do not cross with PyTorch (PyTorch keeps its histories as Python lists under the first parameter); save clara's own layout")
  end
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

function interop.to_pytorch(kind, sd)
  no_lbfgs(kind, "optim." .. kind.name .. ":state_dict")
  local state = {}
  for k, entries in pairs(sd.state) do
    local copy = {}
    for name, v in pairs(entries) do
      if type(v) == "number" and ((name == "step" and TENSOR_STEP[kind.name]) or SCALAR_TENSOR[name]) then
        v = torch.tensor(v + 0.0, { dtype = "float32" })
      end
      copy[name] = v
    end
    state[k - 1] = copy
  end
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

function interop.from_pytorch(kind, sd, where)
  no_lbfgs(kind, where)
  if type(sd.state) ~= "table" then E.raise(where, "expected a table 'state' (PyTorch's optimizer.state_dict())") end
  local state = {}
  for k, entries in pairs(sd.state) do
    if math.type(k) ~= "integer" or k < 0 then
      E.raise(where, "PyTorch's state keys are 0-based parameter indices, got %s", E.show(k))
    end
    if type(entries) ~= "table" then E.raise(where, "state of parameter %d must be a dict", k) end
    local copy = {}
    for name, v in pairs(entries) do
      if torch.is_tensor(v) and (name == "step" or SCALAR_TENSOR[name]) then v = counter(name, v, k, where) end
      copy[name] = v
    end
    -- PyTorch's SGD without momentum stores momentum_buffer = None: no state
    if next(copy) ~= nil then state[k + 1] = copy end
  end
  return { state = state, param_groups = renumber(sd.param_groups, 1, where) }
end

return interop
