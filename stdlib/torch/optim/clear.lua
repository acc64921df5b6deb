-- torch.optim.clear: SGD, Adam and AdamW written out in tensor operations,
-- one parameter at a time, in the order libtorch 1.13 performs them (so the
-- rounding is the same and a spec can compare them with optim.SGD and
-- optim.Adam).  Same interface as the libtorch optimizers: param groups,
-- step([closure]), zero_grad, get_lr/set_lr, state_dict/load_state_dict
-- (the same layout and state names, so a state dict moves between the twins).
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

-- t = t + value * a * b, rounded as libtorch's addcmul_ rounds it: its
-- kernel is one fused multiply-add, so value * a is rounded and the rest is
-- not.  For float32 the float64 product of two float32 is exact, which gives
-- the fused result; float64 tensors take the plain form (1 ulp apart at most).
local function addcmul_(t, a, b, value)
  local scaled = a * value
  if t.dtype == "float32" then
    t:copy_(t:double() + scaled:double() * b:double())
  else
    t:add_(scaled * b)
  end
  return t
end

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

-- }======================================================

local function make(name, update)
  local kind = kinds[name]
  local class = base.class(kind, Clear)
  class._update = update -- not a method: update(p, grad, state, group)
  clear[name .. "_class"] = class
  clear[name] = function(params, opts)
    local self = base.init(setmetatable({}, class), kind, params, opts)
    self.state = {}
    return self
  end
end
make("SGD", sgd_update)
make("Adam", adam_update(false))
make("AdamW", adam_update(true))
E.namespace(clear, "optim.clear")

return clear
