-- Learning-rate schedulers against PyTorch 1.13's sequences
-- (spec/fixtures/optim.lua, from tests/fixtures/make_optim.py): the lr of
-- every group after each step (and OneCycleLR's momentum or beta1), that
-- libtorch's optimizer really uses the scheduled lr, state_dict round trips.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/lr_scheduler_spec.lua

local torch = require "torch"
local optim = require "torch.optim"
local S = optim.lr_scheduler
local fx = dofile("spec/fixtures/optim.lua")

local LAMBDAS = {
  pow095 = function(e) return 0.95 ^ e end,
  const09 = function() return 0.9 end,
}

local function optimizer_for(case, ctor)
  local groups = {}
  for g, lr in ipairs(case.group_lrs) do
    groups[g] = { params = { torch.zeros(1, { requires_grad = true }) }, lr = lr }
  end
  if case.adam then return (ctor or optim).Adam(groups) end
  return (ctor or optim).SGD(groups, { lr = 0.1, momentum = case.momentum or 0 })
end

local function scheduler_for(case, opt)
  local opts = {}
  for k, v in pairs(case.opts) do opts[k] = v end
  if opts.lr_lambda then opts.lr_lambda = LAMBDAS[opts.lr_lambda] end
  return S[case.kind](opt, opts)
end

local function lrs_of(opt)
  local lrs = {}
  for g, group in ipairs(opt.param_groups) do lrs[g] = group.lr end
  return lrs
end

local function assert_lrs(actual, expected, what)
  assert.equal(#expected, #actual, what)
  for g = 1, #expected do
    local tol = 1e-12 * math.abs(expected[g]) + 1e-15
    assert(math.abs(actual[g] - expected[g]) <= tol,
      ("%s, group %d: %.17g, PyTorch has %.17g"):format(what, g, actual[g], expected[g]))
  end
end

local function step(opt, sched, case, i)
  opt:step()
  if case.metrics then sched:step(case.metrics[i]) else sched:step() end
end

describe("lr_scheduler against PyTorch", function()
  for _, case in ipairs(fx.schedulers) do
    it(case.name, function()
      local opt = optimizer_for(case)
      local sched = scheduler_for(case, opt)
      assert_lrs(lrs_of(opt), case.lrs[1], case.name .. " at construction")
      for i = 1, case.steps do
        step(opt, sched, case, i)
        assert_lrs(lrs_of(opt), case.lrs[i + 1], ("%s after step %d"):format(case.name, i))
        assert_lrs(sched:get_last_lr(), case.lrs[i + 1], ("%s get_last_lr %d"):format(case.name, i))
        if case.momentums then
          local m = {}
          for g, group in ipairs(opt.param_groups) do m[g] = case.adam and group.betas[1] or group.momentum end
          assert_lrs(m, case.momentums[i + 1], ("%s momentum after step %d"):format(case.name, i))
        end
      end
    end)
  end

  it("ChainedScheduler: LinearLR warmup then ExponentialLR", function()
    local p = torch.zeros(1, { requires_grad = true })
    local opt = optim.SGD({ p }, { lr = 0.1 })
    local sched = S.ChainedScheduler { S.LinearLR(opt, { start_factor = 0.1, total_iters = 4 }),
                                       S.ExponentialLR(opt, { gamma = 0.9 }) }
    assert_lrs(lrs_of(opt), fx.chained[1], "chained at construction")
    for i = 1, #fx.chained - 1 do
      opt:step()
      sched:step()
      assert_lrs(lrs_of(opt), fx.chained[i + 1], "chained after step " .. i)
    end
  end)

  it("a wrong sequence fails (the check can fail)", function()
    local case = fx.schedulers[1]
    local opt = optimizer_for(case)
    local sched = S.StepLR(opt, { step_size = 3, gamma = 0.6 })
    for i = 1, 3 do step(opt, sched, case, i) end
    assert.has_error(function() assert_lrs(lrs_of(opt), case.lrs[4], "StepLR") end)
  end)
end)

describe("lr_scheduler with the optimizers", function()
  it("libtorch uses the scheduled lr and momentum at the next step", function()
    local p = torch.zeros(1, { requires_grad = true })
    local opt = optim.SGD({ p }, { lr = 0.1, momentum = 0.9 })
    local sched = S.OneCycleLR(opt, { max_lr = 1.0, total_steps = 10 })
    for _ = 1, 3 do
      opt:zero_grad()
      p:sum():backward()
      opt:step()
      sched:step()
    end
    opt:step()
    assert.equal(opt.param_groups[1].lr, opt:core_options(1).lr)
    assert.equal(opt.param_groups[1].momentum, opt:core_options(1).momentum)
    local adam = optim.Adam({ torch.zeros(1, { requires_grad = true }) })
    S.OneCycleLR(adam, { max_lr = 0.01, total_steps = 10 }):step()
    adam:step()
    assert.equal(adam.param_groups[1].betas[1], adam:core_options(1).betas[1])
    assert.equal(adam.param_groups[1].lr, adam:core_options(1).lr)
  end)

  it("works the same over the clear optimizers", function()
    for _, case in ipairs(fx.schedulers) do
      if case.kind == "CosineAnnealingLR" or case.kind == "OneCycleLR" then
        local opt = optimizer_for(case, optim.clear)
        local sched = scheduler_for(case, opt)
        for i = 1, case.steps do
          step(opt, sched, case, i)
          assert_lrs(lrs_of(opt), case.lrs[i + 1], ("clear %s after step %d"):format(case.name, i))
        end
      end
    end
  end)

  it("OneCycleLR refuses to step past total_steps", function()
    local opt = optim.SGD({ torch.zeros(1, { requires_grad = true }) }, { lr = 0.1, momentum = 0.9 })
    local sched = S.OneCycleLR(opt, { max_lr = 1.0, total_steps = 3 })
    for _ = 1, 3 do sched:step() end
    local ok, err = pcall(sched.step, sched)
    assert.is_false(ok)
    assert.truthy(err:find("tried to step 5 times", 1, true))
  end)

  it("prints one line", function()
    local opt = optim.SGD({ torch.zeros(1, { requires_grad = true }) }, { lr = 0.1 })
    assert.equal("StepLR(last_epoch=0, lr=0.1)", tostring(S.StepLR(opt, { step_size = 2 })))
  end)
end)

describe("lr_scheduler state_dict", function()
  for _, case in ipairs(fx.schedulers) do
    it(case.name .. " resumes where it stopped", function()
      -- 1. the straight run
      local opt = optimizer_for(case)
      local sched = scheduler_for(case, opt)
      for i = 1, case.steps do step(opt, sched, case, i) end
      local straight = lrs_of(opt)
      -- 2. half, saved, a new optimizer and scheduler loading both states
      local opt1 = optimizer_for(case)
      local sched1 = scheduler_for(case, opt1)
      local half = case.steps // 2
      for i = 1, half do step(opt1, sched1, case, i) end
      local osd, ssd = opt1:state_dict(), sched1:state_dict()
      local opt2 = optimizer_for(case)
      local sched2 = scheduler_for(case, opt2)
      opt2:load_state_dict(osd)
      sched2:load_state_dict(ssd)
      for i = half + 1, case.steps do step(opt2, sched2, case, i) end
      assert.same(straight, lrs_of(opt2))
    end)
  end
end)
