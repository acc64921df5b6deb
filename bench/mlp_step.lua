-- mlp_step, clara twin: one training step of a tiny MLP written with raw
-- tensor ops (no nn modules): forward, MSE loss, backward, SGD update under
-- no_grad, zero the grads.  Same work as mlp_step.py/.cpp.
-- A repetition is `steps` (400) steps, continuing the same weights; the
-- time is per step.  CHECK: the last loss (so every twin must have been
-- given the same number of repetitions, as bench/driver.py does).
-- Usage: ./clara bench/mlp_step.lua [steps]   (BENCH_SCALE scales)
-- Timing and protocol: bench/clock.lua.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")

local steps = clock.count(400, 10)
local lr = 0.01

torch.set_num_threads(1)
torch.manual_seed(0)
local x = torch.randn(64, 32)
local y = torch.randn(64, 10)
local W1 = torch.randn(32, 64, {requires_grad = true})
local b1 = torch.zeros(64, {requires_grad = true})
local W2 = torch.randn(64, 10, {requires_grad = true})
local b2 = torch.zeros(10, {requires_grad = true})

local function update()
  W1:sub_(W1.grad * lr)
  b1:sub_(b1.grad * lr)
  W2:sub_(W2.grad * lr)
  b2:sub_(b2.grad * lr)
end

local function step()
  local h = (x:matmul(W1) + b1):relu()
  local out = h:matmul(W2) + b2
  local loss = ((out - y) ^ 2):mean()
  loss:backward()
  torch.no_grad(update)
  W1.grad:zero_()
  b1.grad:zero_()
  W2.grad:zero_()
  b2.grad:zero_()
  return loss
end

local function run(n)
  local loss
  for _ = 1, n do
    loss = step()
  end
  return loss:item()
end

clock.twin { name = "mlp_step", rep = function() return run(steps) end, per = steps,
             warmup = function() run(steps // 4) end }
