-- optim.lr_scheduler against PyTorch 1.13 (spec/fixtures/sched_parity.lua,
-- written by tests/fixtures/make_sched_parity.py): CyclicLR (modes,
-- scale_fn, momentum), CosineAnnealingWarmRestarts (T_mult, fractional
-- epochs), PolynomialLR, SequentialLR, and ConstantLR, LinearLR and
-- ChainedScheduler again.  Every lr and momentum bitwise (the same double
-- arithmetic in PyTorch's order), also after resuming half way from the
-- optimizer's and the scheduler's state_dicts.  Bad calls at the end.
--   ./clara /usr/bin/busted -o plainTerminal spec/lr_scheduler_parity_spec.lua

local torch = require "torch"
local optim = require "torch.optim"
local S = optim.lr_scheduler

local fixture = dofile("spec/fixtures/sched_parity.lua")

local function optimizer(lrs, kind)
  local groups = {}
  for g, lr in ipairs(lrs) do groups[g] = { params = { torch.zeros(1):requires_grad_(true) }, lr = lr } end
  if kind == "Adam" then return optim.Adam(groups, { lr = lrs[1] }) end
  return optim.SGD(groups, { lr = lrs[1], momentum = 0.9 })
end

local function build(c, opt)
  local env = setmetatable({ S = S, opt = opt }, { __index = _G })
  return assert(load("return " .. c.make, "=" .. c.name, "t", env))()
end

-- each group's momentum: SGD's, or Adam's first beta
local function momenta(opt)
  local list = {}
  for g, group in ipairs(opt.param_groups) do list[g] = group.betas and group.betas[1] or group.momentum end
  return list
end

-- steps from..to of the case, checking lrs (and momenta) after each
local function run(c, opt, sched, from, to)
  for i = from, to do
    opt:step()
    if c.epochs then sched:step(c.epochs[i]) else sched:step() end
    assert.are.same(c.seq[i + 1], sched:get_last_lr(), "lr after step " .. i)
    assert.are.same(c.momentum[i + 1], momenta(opt), "momentum after step " .. i)
  end
end

local function steps(c) return #c.seq - 1 end

describe("lr schedulers against PyTorch", function()
  it("has the cases", function() assert.is_true(#fixture.schedulers >= 25) end)

  for _, c in ipairs(fixture.schedulers) do
    describe(c.name, function()
      it("gives PyTorch's lrs and momenta", function()
        local opt = optimizer(c.lrs)
        local sched = build(c, opt)
        assert.are.same(c.seq[1], sched:get_last_lr(), "lr at construction")
        assert.are.same(c.momentum[1], momenta(opt), "momentum at construction")
        run(c, opt, sched, 1, steps(c))
      end)

      it("resumes half way from the state_dicts", function()
        local half = steps(c) // 2
        local opt = optimizer(c.lrs)
        local sched = build(c, opt)
        run(c, opt, sched, 1, half)
        local saved_opt, saved = opt:state_dict(), sched:state_dict()
        local opt2 = optimizer(c.lrs)
        local sched2 = build(c, opt2)
        opt2:load_state_dict(saved_opt)
        sched2:load_state_dict(saved)
        assert.are.same(c.seq[half + 1], sched2:get_last_lr())
        assert.are.equal(sched.last_epoch, sched2.last_epoch)
        run(c, opt2, sched2, half + 1, steps(c))
      end)

      if c.name:match("^CyclicLR") and not c.name:match("without") then
        it("cycles Adam's first beta as SGD's momentum", function()
          local opt = optimizer(c.lrs, "Adam")
          local sched = build(c, opt)
          run(c, opt, sched, 1, steps(c))
          assert.are.equal(0.999, opt.param_groups[1].betas[2])
        end)
      end
    end)
  end
end)

local expect_error = require("spec.helpers.parity").expect_error

describe("lr schedulers: bad calls", function()
  local opt = optimizer({ 0.1 })

  it("CyclicLR", function()
    expect_error("lr_scheduler.CyclicLR: option 'max_lr' is required", S.CyclicLR, opt, { base_lr = 0.1 })
    expect_error("lr_scheduler.CyclicLR: option 'mode' must be 'triangular', 'triangular2' or 'exp_range'",
      S.CyclicLR, opt, { base_lr = 0.01, max_lr = 0.1, mode = "sine" })
    expect_error("lr_scheduler.CyclicLR: option 'step_size_up' must be > 0", S.CyclicLR, opt,
      { base_lr = 0.01, max_lr = 0.1, step_size_up = 0 })
    expect_error("lr_scheduler.CyclicLR: option 'scale_fn' must be a function", S.CyclicLR, opt,
      { base_lr = 0.01, max_lr = 0.1, scale_fn = 2 })
    expect_error("lr_scheduler.CyclicLR: option 'scale_mode' must be 'cycle' or 'iterations'", S.CyclicLR, opt,
      { base_lr = 0.01, max_lr = 0.1, scale_fn = function() return 1 end, scale_mode = "epoch" })
    expect_error("lr_scheduler.CyclicLR: expected 1 values for max_lr, got 2", S.CyclicLR, opt,
      { base_lr = 0.01, max_lr = { 0.1, 0.2 } })
    local adagrad = optim.Adagrad({ torch.zeros(1):requires_grad_(true) }, { lr = 0.1 })
    expect_error("lr_scheduler.CyclicLR: optimizer must support momentum", S.CyclicLR, adagrad,
      { base_lr = 0.01, max_lr = 0.1 })
    expect_error("did you mean 'step_size_up'", S.CyclicLR, opt, { base_lr = 0.01, max_lr = 0.1, step_size = 3 })
  end)

  it("CosineAnnealingWarmRestarts", function()
    expect_error("lr_scheduler.CosineAnnealingWarmRestarts: option 'T_0' must be a positive integer",
      S.CosineAnnealingWarmRestarts, opt, { T_0 = 0 })
    expect_error("option 'T_mult' must be an integer >= 1", S.CosineAnnealingWarmRestarts, opt, { T_0 = 2, T_mult = 1.5 })
    local s = S.CosineAnnealingWarmRestarts(opt, { T_0 = 2 })
    expect_error("lr_scheduler.CosineAnnealingWarmRestarts:step: epoch must be a number >= 0", function() s:step(-1) end)
    expect_error("epoch must be a number >= 0, got nan", function() s:step(0 / 0) end)
  end)

  it("PolynomialLR", function()
    expect_error("lr_scheduler.PolynomialLR: option 'total_iters' must be a positive integer", S.PolynomialLR, opt,
      { total_iters = 0 })
    expect_error("lr_scheduler.PolynomialLR: power must be a number", S.PolynomialLR, opt, { power = 0 / 0 })
    expect_error("lr_scheduler.PolynomialLR:step: takes no argument", function() S.PolynomialLR(opt):step(3) end)
  end)

  it("SequentialLR", function()
    local a, b = S.ConstantLR(opt), S.ExponentialLR(opt, { gamma = 0.9 })
    expect_error("lr_scheduler.SequentialLR: option 'milestones' is required", S.SequentialLR, opt, { schedulers = { a, b } })
    expect_error("lr_scheduler.SequentialLR: expected 1 milestones (one fewer than the schedulers)", S.SequentialLR, opt,
      { schedulers = { a, b }, milestones = { 2, 4 } })
    expect_error("milestones must be increasing integers, got 2.5 at 1", S.SequentialLR, opt,
      { schedulers = { a, b }, milestones = { 2.5 } })
    local other = S.StepLR(optimizer({ 0.1 }), { step_size = 1 })
    expect_error("lr_scheduler.SequentialLR: schedulers[2] is not a scheduler", S.SequentialLR, opt,
      { schedulers = { a, other }, milestones = { 2 } })
    expect_error("schedulers[1] is not a scheduler", S.SequentialLR, opt,
      { schedulers = { S.ChainedScheduler { a }, b }, milestones = { 2 } })
    local seq = S.SequentialLR(opt, { schedulers = { a, b }, milestones = { 2 } })
    local sd = seq:state_dict()
    sd.schedulers[2].last_epoch = 1.5
    expect_error("lr_scheduler.SequentialLR:load_state_dict: 'last_epoch' must be an integer", seq.load_state_dict, seq, sd)
    expect_error("lr_scheduler.SequentialLR:load_state_dict: expected the state of 2 schedulers", seq.load_state_dict, seq,
      { schedulers = {} })
    expect_error("optim.lr_scheduler.SequentialRL does not exist (did you mean 'SequentialLR'?)",
      function() return S.SequentialRL end)
  end)
end)
