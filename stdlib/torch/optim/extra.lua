-- torch.optim.extra: the optimizers PyTorch 1.13 has and libtorch 1.13's
-- C++ lacks (NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD), written in Lua
-- over tensor operations in the order of PyTorch's single-tensor code, so
-- they are their own clear twins: optim.NAdam is optim.clear.NAdam.  They
-- share the clear optimizers' machinery (param groups, state, state_dict).
-- PyTorch keeps some counters in float32 tensors (NAdam's mu_product,
-- ASGD's eta and mu); here they are Lua numbers rounded to float32 at the
-- same places, which gives the same values.
local torch = require "torch"
local optim = require "torch.optim"
local base = require "torch.optim.base"
local clear = require "torch.optim.clear"

local addcmul_, addcdiv_ = clear.addcmul_, clear.addcdiv_

-- x rounded to float32 (what a 0-dim float32 tensor holds)
local function f32(x) return (string.unpack("f", string.pack("f", x))) end

-- Adam's checks (betas in [0, 1), eps and weight_decay >= 0) serve its kin
local check_adam = optim.kinds.Adam.check

-- a pair {a, b} of numbers
local function pair_ok(v)
  if type(v) ~= "table" or #v ~= 2 or type(v[1]) ~= "number" or type(v[2]) ~= "number" then
    return false, "must be a pair of numbers {a, b}"
  end
  return true
end

local kinds = {
  NAdam = {
    defaults = { lr = 2e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, momentum_decay = 4e-3,
                 maximize = false },
    check = check_adam,
    required_state = { "step", "mu_product", "exp_avg", "exp_avg_sq" },
  },
  RAdam = {
    defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, maximize = false },
    check = check_adam,
    required_state = { "step", "exp_avg", "exp_avg_sq" },
  },
  Adamax = {
    defaults = { lr = 2e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, maximize = false },
    check = check_adam,
    required_state = { "step", "exp_avg", "exp_inf" },
  },
  Adadelta = {
    defaults = { lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0, maximize = false },
    check = function(g, fail)
      if g.rho > 1 then fail("invalid rho value: %s", tostring(g.rho)) end
    end,
    required_state = { "step", "square_avg", "acc_delta" },
  },
  Rprop = {
    defaults = { lr = 1e-2, etas = { 0.5, 1.2 }, step_sizes = { 1e-6, 50 }, maximize = false },
    pair_options = { etas = pair_ok, step_sizes = pair_ok },
    check = function(g, fail)
      local minus, plus = g.etas[1], g.etas[2]
      if not (0 < minus and minus < 1 and 1 < plus) then
        fail("invalid eta values: %s, %s (0 < etaminus < 1 < etaplus)", tostring(minus), tostring(plus))
      end
      local lo, hi = g.step_sizes[1], g.step_sizes[2]
      if not (0 <= lo and lo <= hi) then
        fail("invalid step sizes: %s, %s (0 <= min <= max)", tostring(lo), tostring(hi))
      end
    end,
    required_state = { "step", "prev", "step_size" },
  },
  ASGD = {
    defaults = { lr = 1e-2, lambd = 1e-4, alpha = 0.75, t0 = 1e6, weight_decay = 0, maximize = false },
    required_state = { "step", "eta", "mu", "ax" },
  },
}
for name, kind in pairs(kinds) do
  kind.name = name
  kind.optional = { foreach = true }
end

-- {======================================================
-- The updates: update(p, grad, state, group), grad already negated
-- under maximize (PyTorch's first line; NAdam and RAdam have maximize
-- from PyTorch 2.0 on, with the same first line)
-- =======================================================

local function moments(p, state, second)
  state.step = 0
  state.exp_avg = torch.zeros_like(p)
  state[second] = torch.zeros_like(p)
end

local function decayed(p, grad, group)
  if group.weight_decay ~= 0 then return grad:add(p, group.weight_decay) end
  return grad
end

-- NAdam: Adam with Nesterov momentum; mu follows the momentum_decay schedule
local function nadam_update(p, grad, state, group)
  if state.step == nil then
    moments(p, state, "exp_avg_sq")
    state.mu_product = 1.0
  end
  state.step = state.step + 1
  local step, beta1, beta2 = state.step, group.betas[1], group.betas[2]
  local bias_correction2 = 1 - beta2 ^ step
  grad = decayed(p, grad, group)
  local mu = beta1 * (1 - 0.5 * 0.96 ^ (step * group.momentum_decay))
  local mu_next = beta1 * (1 - 0.5 * 0.96 ^ ((step + 1) * group.momentum_decay))
  state.mu_product = f32(state.mu_product * f32(mu))
  local mu_product_next = f32(f32(state.mu_product * f32(mu)) * f32(mu_next))
  state.exp_avg:mul_(beta1):add_(grad, 1 - beta1)
  addcmul_(state.exp_avg_sq:mul_(beta2), grad, grad, 1 - beta2)
  local denom = state.exp_avg_sq:div(bias_correction2):sqrt():add_(group.eps)
  addcdiv_(p, grad, denom, -group.lr * (1 - mu) / (1 - state.mu_product))
  addcdiv_(p, state.exp_avg, denom, -group.lr * mu_next / (1 - mu_product_next))
end

-- RAdam: Adam whose adaptive term is switched on (and rectified) once the
-- variance estimate is tractable (rho_t > 5)
local function radam_update(p, grad, state, group)
  if state.step == nil then moments(p, state, "exp_avg_sq") end
  state.step = state.step + 1
  local step, beta1, beta2 = state.step, group.betas[1], group.betas[2]
  local bias_correction1 = 1 - beta1 ^ step
  local bias_correction2 = 1 - beta2 ^ step
  grad = decayed(p, grad, group)
  state.exp_avg:mul_(beta1):add_(grad, 1 - beta1)
  addcmul_(state.exp_avg_sq:mul_(beta2), grad, grad, 1 - beta2)
  local corrected = state.exp_avg / bias_correction1
  local rho_inf = 2 / (1 - beta2) - 1
  local rho_t = rho_inf - 2 * step * (beta2 ^ step) / bias_correction2
  if rho_t > 5 then
    local rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    -- PyTorch's number / tensor is reciprocal() * number
    local adaptive_lr = state.exp_avg_sq:sqrt():add_(group.eps):reciprocal() * math.sqrt(bias_correction2)
    p:add_(corrected * group.lr * adaptive_lr * rect, -1.0)
  else
    p:add_(corrected * group.lr, -1.0)
  end
end

-- Adamax: Adam with the infinity norm: u = max(beta2 * u, |g| + eps)
local function adamax_update(p, grad, state, group)
  if state.step == nil then moments(p, state, "exp_inf") end
  state.step = state.step + 1
  local beta1, beta2 = group.betas[1], group.betas[2]
  grad = decayed(p, grad, group)
  state.exp_avg:mul_(beta1):add_(grad, 1 - beta1)
  -- PyTorch takes amax over the two stacked; the max of two is exact either way
  state.exp_inf:copy_(torch.maximum(state.exp_inf:mul_(beta2), grad:abs():add_(group.eps)))
  local clr = group.lr / (1 - beta1 ^ state.step)
  addcdiv_(p, state.exp_avg, state.exp_inf, -clr)
end

-- Adadelta: the step is rms(past steps) / rms(gradients) * g
local function adadelta_update(p, grad, state, group)
  if state.step == nil then
    state.step = 0
    state.square_avg = torch.zeros_like(p)
    state.acc_delta = torch.zeros_like(p)
  end
  state.step = state.step + 1
  local rho, eps = group.rho, group.eps
  grad = decayed(p, grad, group)
  addcmul_(state.square_avg:mul_(rho), grad, grad, 1 - rho)
  local std = state.square_avg:add(eps):sqrt_()
  local delta = state.acc_delta:add(eps):sqrt_():div_(std):mul_(grad)
  addcmul_(state.acc_delta:mul_(rho), delta, delta, 1 - rho)
  p:add_(delta, -group.lr)
end

-- Rprop: each weight's step size grows by etaplus while its gradient keeps
-- its sign and shrinks by etaminus when it flips (that step is skipped)
local function rprop_update(p, grad, state, group)
  if state.step == nil then
    state.step = 0
    state.prev = torch.zeros_like(p)
    state.step_size = torch.full_like(grad, group.lr)
  end
  state.step = state.step + 1
  local etaminus, etaplus = group.etas[1], group.etas[2]
  local sign = grad:mul(state.prev):sign()
  local flipped = sign:lt(0)
  sign = sign:masked_fill(sign:gt(0), etaplus):masked_fill(flipped, etaminus):masked_fill(sign:eq(0), 1)
  state.step_size:mul_(sign):clamp_(group.step_sizes[1], group.step_sizes[2])
  grad = grad:masked_fill(flipped, 0)
  addcmul_(p, grad:sign(), state.step_size, -1)
  state.prev:copy_(grad)
end

-- ASGD: SGD with a decaying rate eta whose iterates are averaged into ax
-- from step t0 on
local function asgd_update(p, grad, state, group)
  if state.step == nil then
    state.step = 0
    state.eta = f32(group.lr)
    state.mu = 1.0
    state.ax = torch.zeros_like(p)
  end
  state.step = state.step + 1
  local step, lr, lambd = state.step, group.lr, group.lambd
  grad = decayed(p, grad, group)
  p:mul_(1 - lambd * state.eta)
  p:add_(grad, -state.eta)
  if state.mu ~= 1 then
    state.ax:add_(p:sub(state.ax):mul(state.mu))
  else
    state.ax:copy_(p)
  end
  state.eta = f32(lr / ((1 + lambd * lr * step) ^ group.alpha))
  state.mu = f32(1 / math.max(1, step - group.t0))
end

-- }======================================================

local UPDATES = {
  NAdam = nadam_update, RAdam = radam_update, Adamax = adamax_update,
  Adadelta = adadelta_update, Rprop = rprop_update, ASGD = asgd_update,
}
for _, name in ipairs(optim.LUA_KINDS) do
  local kind = kinds[name]
  base.schema(kind)
  optim.kinds[name] = kind
  local ctor, class = clear.make(kind, UPDATES[name])
  rawset(optim, name, ctor)
  rawset(optim, name .. "_class", class)
end

return kinds
