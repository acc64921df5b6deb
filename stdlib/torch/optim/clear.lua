-- torch.optim.clear: every optimizer's update written out in tensor
-- operations, one parameter at a time, in the order libtorch 1.13 (SGD,
-- Adam, AdamW, RMSprop, Adagrad) or PyTorch 1.13's single-tensor code (the
-- optimizers of torch.optim.extra) performs them, so the rounding is the
-- same and a spec can compare them bitwise.  Same interface as the libtorch
-- optimizers: param groups, step([closure]), zero_grad, get_lr/set_lr,
-- state_dict/load_state_dict (the same layout and state names, so a state
-- dict moves between the twins).  LBFGS, which steps its own way, is in
-- torch.optim.lbfgs.
local torch = require "torch"
local base = require "torch.optim.base"
local E = require "clara.error"
local kinds = require("torch.optim").kinds

local clear = {}

local Clear = {}

-- self.state[k] is the state of the k-th parameter (in group order)
function Clear:get_param_state(g, i)
  local s = self.state[self:position(g, i)]
  return s and base.copy_value(s) or nil
end

function Clear:set_param_state(g, i, entries)
  local k = self:position(g, i)
  if entries == nil then
    self.state[k] = nil
    return
  end
  local p = self.param_groups[g].params[i]
  for name, v in pairs(entries) do
    if torch.is_tensor(v) then
      if table.concat(v:size(), ",") ~= table.concat(p:size(), ",") then
        E.raise("optim.clear." .. self.kind.name .. ":load_state_dict", "state '%s' has shape [%s] but its parameter has shape [%s]",
          name, table.concat(v:size(), ", "), table.concat(p:size(), ", "))
      end
      entries[name] = v:to(p.dtype)
    end
  end
  self.state[k] = entries
end

function Clear:position(g, i)
  local k = i
  for h = 1, g - 1 do k = k + #self.param_groups[h].params end
  return k
end

-- every parameter with a gradient: update(self, p, grad, state, group)
local function each_param(self, update)
  local k = 0
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      k = k + 1
      local grad = p.grad
      if grad then
        -- PyTorch's first line of every update with maximize
        if group.maximize then grad = grad:neg() end
        local state = self.state[k]
        if state == nil then
          state = {}
          self.state[k] = state
        end
        update(p, grad, state, group)
      end
    end
  end
end

function Clear:step(closure)
  if closure ~= nil and type(closure) ~= "function" then
    E.raise("optim.clear." .. self.kind.name .. ":step", "closure must be a function, got %s", type(closure))
  end
  local loss
  if closure then loss = torch.enable_grad(closure) end
  torch.no_grad(function() each_param(self, self._update) end)
  return loss
end

-- {======================================================
-- The updates
-- =======================================================

-- SGD: d = g + wd * p; buf = momentum * buf + (1 - dampening) * d;
-- d = nesterov and d + momentum * buf or buf; p = p - lr * d
local function sgd_update(p, grad, state, group)
  local d = grad
  -- 1. weight decay adds wd * p to the gradient
  if group.weight_decay ~= 0 then d = d:add(p, group.weight_decay) end
  -- 2. momentum: the first buffer is the gradient itself
  if group.momentum ~= 0 then
    local buf = state.momentum_buffer
    if buf == nil then
      buf = d:clone():detach()
      state.momentum_buffer = buf
    else
      buf:mul_(group.momentum):add_(d, 1 - group.dampening)
    end
    if group.nesterov then d = d:add(buf, group.momentum) else d = buf end
  end
  -- 3. descend
  p:add_(d, -group.lr)
end

-- libtorch's own fused kernels, so the rounding is libtorch's
local aten = torch.ops.aten
local function addcmul_(t, a, b, value) return aten.addcmul_(t, a, b, value) end
local function addcdiv_(t, a, b, value) return aten.addcdiv_(t, a, b, value) end
clear.addcmul_, clear.addcdiv_ = addcmul_, addcdiv_

-- Adam (decoupled = false) and AdamW (decoupled = true)
local function adam_update(decoupled)
  return function(p, grad, state, group)
    -- 1. state: zero moments at step 0
    if state.step == nil then
      state.step = 0
      state.exp_avg = torch.zeros_like(p)
      state.exp_avg_sq = torch.zeros_like(p)
      if group.amsgrad then state.max_exp_avg_sq = torch.zeros_like(p) end
    end
    state.step = state.step + 1
    local beta1, beta2 = group.betas[1], group.betas[2]
    local bias_correction1 = 1 - beta1 ^ state.step
    local bias_correction2 = 1 - beta2 ^ state.step
    -- 2. weight decay: AdamW shrinks the weights, Adam adds to the gradient
    if group.weight_decay ~= 0 then
      if decoupled then
        p:mul_(1 - group.lr * group.weight_decay)
      else
        grad = grad:add(p, group.weight_decay)
      end
    end
    -- 3. moving averages of the gradient and of its square
    state.exp_avg:mul_(beta1):add_(grad, 1 - beta1)
    addcmul_(state.exp_avg_sq:mul_(beta2), grad, grad, 1 - beta2)
    -- 4. the step: lr / bc1 * exp_avg / (sqrt(v) / sqrt(bc2) + eps)
    local v = state.exp_avg_sq
    if group.amsgrad then
      state.max_exp_avg_sq = torch.maximum(state.max_exp_avg_sq, state.exp_avg_sq)
      v = state.max_exp_avg_sq
    end
    local denom = (v:sqrt() / math.sqrt(bias_correction2)):add_(group.eps)
    local step_size = group.lr / bias_correction1
    p:add_(state.exp_avg * -step_size / denom)
  end
end

-- RMSprop: v = alpha * v + (1 - alpha) * g^2 (centered: minus the squared
-- mean gradient); p = p - lr * g / (sqrt(v) + eps), through a momentum
-- buffer when momentum > 0
local function rmsprop_update(p, grad, state, group)
  if state.step == nil then
    state.step = 0
    state.square_avg = torch.zeros_like(p)
    if group.momentum > 0 then state.momentum_buffer = torch.zeros_like(p) end
    if group.centered then state.grad_avg = torch.zeros_like(p) end
  end
  state.step = state.step + 1
  if group.weight_decay ~= 0 then grad = grad:add(p, group.weight_decay) end
  local alpha = group.alpha
  addcmul_(state.square_avg:mul_(alpha), grad, grad, 1 - alpha)
  local avg
  if group.centered then
    state.grad_avg:mul_(alpha):add_(grad, 1 - alpha)
    avg = aten.addcmul(state.square_avg, state.grad_avg, state.grad_avg, -1):sqrt_():add_(group.eps)
  else
    avg = state.square_avg:sqrt():add_(group.eps)
  end
  if group.momentum > 0 then
    addcdiv_(state.momentum_buffer:mul_(group.momentum), grad, avg, 1)
    p:add_(state.momentum_buffer, -group.lr)
  else
    addcdiv_(p, grad, avg, -group.lr)
  end
end

-- libtorch and PyTorch 1.13 alike fill the sum with the constructor's
-- initial_accumulator_value, not the group's
local function adagrad_fresh(p, value)
  return { step = 0, sum = torch.full_like(p, value) }
end

-- Adagrad: sum = sum + g^2; p = p - clr * g / (sqrt(sum) + eps) with the
-- learning rate decayed by the step count
local function adagrad_update(p, grad, state, group)
  if state.step == nil then
    -- a state dict without this parameter's state (PyTorch would fail)
    local fresh = adagrad_fresh(p, group.initial_accumulator_value)
    state.step, state.sum = fresh.step, fresh.sum
  end
  state.step = state.step + 1
  if group.weight_decay ~= 0 then grad = grad:add(p, group.weight_decay) end
  local clr = group.lr / (1 + (state.step - 1) * group.lr_decay)
  addcmul_(state.sum, grad, grad, 1.0)
  local std = state.sum:sqrt():add_(group.eps)
  addcdiv_(p, grad, std, -clr)
end

-- as libtorch and PyTorch, Adagrad's state exists from the start
local function adagrad_init(self)
  for k, gi in ipairs(self:positions()) do
    local group = self.param_groups[gi[1]]
    self.state[k] = adagrad_fresh(group.params[gi[2]], self.defaults.initial_accumulator_value)
  end
end

-- }======================================================

-- the class of a kind whose step is update(p, grad, state, group) for each
-- parameter with a gradient; init(self), when given, makes the first state;
-- methods, when given, replace Clear's (LBFGS steps its own way)
function clear.make(kind, update, init, methods)
  local m = {}
  for k, v in pairs(Clear) do m[k] = v end
  for k, v in pairs(methods or {}) do m[k] = v end
  local class = base.class(kind, m)
  class._update = update -- not a method
  clear[kind.name .. "_class"] = class
  clear[kind.name] = function(params, opts)
    local self = base.init(setmetatable({}, class), kind, params, opts)
    self.state = {}
    if init then init(self) end
    return self
  end
  return clear[kind.name], class
end
clear.make(kinds.SGD, sgd_update)
clear.make(kinds.Adam, adam_update(false))
clear.make(kinds.AdamW, adam_update(true))
clear.make(kinds.RMSprop, rmsprop_update)
clear.make(kinds.Adagrad, adagrad_update, adagrad_init)

-- the optimizers libtorch lacks are Lua already: optim.clear.NAdam is
-- optim.NAdam; they and LBFGS (torch.optim.lbfgs) load on first use
local EXTRA = { LBFGS = "torch.optim.lbfgs", LBFGS_class = "torch.optim.lbfgs" }
for _, name in ipairs(require("torch.optim").LUA_KINDS) do
  EXTRA[name], EXTRA[name .. "_class"] = "torch.optim.extra", "torch.optim.extra"
end
E.namespace(clear, "optim.clear", function()
  local names = {}
  for name in pairs(EXTRA) do
    if rawget(clear, name) == nil then names[#names + 1] = name end
  end
  return names
end, function(self, key)
  if EXTRA[key] then
    require(EXTRA[key])
    return rawget(self, key)
  end
end)

return clear
