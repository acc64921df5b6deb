-- Optimizers: libtorch's (optim.*) against PyTorch's trajectories
-- (spec/fixtures/optim.lua, from tests/fixtures/make_optim.py), the clear Lua
-- twins (optim.clear.*) against libtorch's, parameter groups and their
-- writable hyperparameters, state_dict round trips that resume bitwise, and
-- LBFGS loss closures, including ones that fail.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/optim_spec.lua

local torch = require "torch"
local optim = require "torch.optim"
local fx = dofile("spec/fixtures/optim.lua")

local P = fx.problem
local O = dofile("spec/helpers/optim_problem.lua")(P)
local fresh, loss_of, build, maxdiff = O.fresh, O.loss_of, O.build, O.maxdiff

-- n steps; returns the losses
local function run(opt, W, b, n)
  local losses = {}
  local function closure()
    opt:zero_grad()
    local loss = loss_of(W, b)
    loss:backward()
    return loss
  end
  for i = 1, n do
    if opt.kind.name == "LBFGS" then
      losses[i] = opt:step(closure):item()
    else
      losses[i] = closure():item()
      opt:step()
    end
  end
  return losses
end

-- |a - e| <= 1e-5 |e| + 1e-7 for every element
local function assert_near(actual, expected, what)
  local a = torch.is_tensor(actual) and actual:detach():double():view(-1):totable() or actual
  local e = expected
  if type(e[1]) == "table" then
    local flat = {}
    for _, row in ipairs(e) do for _, v in ipairs(row) do flat[#flat + 1] = v end end
    e = flat
  end
  assert.equal(#e, #a, what .. ": element count")
  for i = 1, #e do
    local tol = 1e-5 * math.abs(e[i]) + 1e-7
    assert(math.abs(a[i] - e[i]) <= tol,
      ("%s: element %d is %.9g, PyTorch has %.9g"):format(what, i, a[i], e[i]))
  end
end

describe("optim (libtorch) against PyTorch", function()
  for _, case in ipairs(fx.optimizers) do
    it(case.name, function()
      local W, b = fresh()
      local opt = build(optim[case.kind], case, W, b)
      local losses = {}
      local function closure()
        opt:zero_grad()
        local loss = loss_of(W, b)
        loss:backward()
        return loss
      end
      for step = 1, case.steps do
        if case.kind == "LBFGS" then
          losses[step] = opt:step(closure):item()
        else
          losses[step] = closure():item()
          opt:step()
        end
        assert_near(W, case.traj[step].W, ("%s step %d W"):format(case.name, step))
        assert_near(b, case.traj[step].b, ("%s step %d b"):format(case.name, step))
      end
      assert_near(losses, case.losses, case.name .. " losses")
    end)
  end

  it("fails a wrong trajectory (the check can fail)", function()
    local case = fx.optimizers[2]
    local W, b = fresh()
    local opt = optim.SGD({ W, b }, { lr = 0.1, momentum = 0.8 })
    run(opt, W, b, 3)
    assert.has_error(function() assert_near(W, case.traj[3].W, "W") end)
  end)
end)

describe("optim.clear twins", function()
  for _, case in ipairs(fx.optimizers) do
    if rawget(optim.clear, case.kind) then
      it(case.name .. ": bitwise equal to libtorch's, and near PyTorch", function()
        local W1, b1 = fresh()
        local W2, b2 = fresh()
        local fast = build(optim[case.kind], case, W1, b1)
        local clear = build(optim.clear[case.kind], case, W2, b2)
        for step = 1, case.steps do
          run(fast, W1, b1, 1)
          run(clear, W2, b2, 1)
          assert(torch.equal(W1:detach(), W2:detach()), ("step %d: W differs by %g"):format(step, maxdiff(W1, W2)))
          assert(torch.equal(b1:detach(), b2:detach()), ("step %d: b differs by %g"):format(step, maxdiff(b1, b2)))
          assert_near(W2, case.traj[step].W, ("clear %s step %d W"):format(case.name, step))
        end
      end)
    end
  end

  for _, spec in ipairs {
    { "SGD", { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.1 } },
    { "Adam", { lr = 0.05, amsgrad = true, weight_decay = 0.1 } },
    { "AdamW", { lr = 0.05, weight_decay = 0.3 } },
  } do
    it(spec[1] .. " in float64: equal to 1e-14 over 20 steps", function()
      local W1, b1 = fresh("float64")
      local W2, b2 = fresh("float64")
      local fast = optim[spec[1]]({ W1, b1 }, spec[2])
      local clear = optim.clear[spec[1]]({ W2, b2 }, spec[2])
      run(fast, W1, b1, 20)
      run(clear, W2, b2, 20)
      assert.is_true(maxdiff(W1, W2) <= 1e-14, "W differs by " .. maxdiff(W1, W2))
      assert.is_true(maxdiff(b1, b2) <= 1e-14, "b differs by " .. maxdiff(b1, b2))
    end)
  end

  it("a state dict moves between the twins", function()
    local W1, b1 = fresh()
    local W2, b2 = fresh()
    local fast = optim.Adam({ W1, b1 }, { lr = 0.01 })
    run(fast, W1, b1, 3)
    W2:detach():copy_(W1:detach())
    b2:detach():copy_(b1:detach())
    local clear = optim.clear.Adam({ W2, b2 }, { lr = 0.01 })
    clear:load_state_dict(fast:state_dict())
    run(fast, W1, b1, 3)
    run(clear, W2, b2, 3)
    assert.is_true(torch.equal(W1:detach(), W2:detach()), "W differs by " .. maxdiff(W1, W2))
    assert.equal(6, clear:state_dict().state[1].step)
  end)
end)

describe("state_dict", function()
  -- 10 steps straight, against 5 steps, a state dict, a new optimizer, 5 steps
  local function resume(ctor, opts, what)
    local W1, b1 = fresh()
    run(ctor({ W1, b1 }, opts), W1, b1, 10)
    local W2, b2 = fresh()
    local first = ctor({ W2, b2 }, opts)
    run(first, W2, b2, 5)
    local sd = first:state_dict()
    first = nil
    collectgarbage()
    local second = ctor({ W2, b2 }, opts)
    second:load_state_dict(sd)
    run(second, W2, b2, 5)
    assert.is_true(torch.equal(W1:detach(), W2:detach()), what .. ": W differs by " .. maxdiff(W1, W2))
    assert.is_true(torch.equal(b1:detach(), b2:detach()), what .. ": b differs by " .. maxdiff(b1, b2))
    return sd
  end

  for _, spec in ipairs {
    { "SGD", { lr = 0.1, momentum = 0.9, nesterov = true } },
    { "Adam", { lr = 0.01, amsgrad = true } },
    { "AdamW", { lr = 0.01 } },
    { "RMSprop", { lr = 0.01, momentum = 0.5, centered = true } },
    { "Adagrad", { lr = 0.1, lr_decay = 0.01 } },
    { "LBFGS", { lr = 0.5, max_iter = 3, history_size = 4 } },
  } do
    it(spec[1] .. " resumes bitwise", function() resume(optim[spec[1]], spec[2], spec[1]) end)
    if rawget(optim.clear, spec[1]) then
      it("clear " .. spec[1] .. " resumes bitwise", function()
        resume(optim.clear[spec[1]], spec[2], "clear " .. spec[1])
      end)
    end
  end

  it("without the state, a resumed run differs (the check can fail)", function()
    local W1, b1 = fresh()
    run(optim.Adam({ W1, b1 }, { lr = 0.01 }), W1, b1, 10)
    local W2, b2 = fresh()
    run(optim.Adam({ W2, b2 }, { lr = 0.01 }), W2, b2, 5)
    run(optim.Adam({ W2, b2 }, { lr = 0.01 }), W2, b2, 5)
    assert.is_false(torch.equal(W1:detach(), W2:detach()))
  end)

  it("is a plain table of copies: names, steps, hyperparameters", function()
    local W, b = fresh()
    local opt = optim.Adam({ { params = { W }, lr = 0.02 }, { params = { b } } }, { betas = { 0.8, 0.9 } })
    run(opt, W, b, 2)
    local sd = opt:state_dict()
    assert.same({ 1 }, sd.param_groups[1].params)
    assert.same({ 2 }, sd.param_groups[2].params)
    assert.equal(0.02, sd.param_groups[1].lr)
    assert.equal(0.001, sd.param_groups[2].lr)
    assert.same({ 0.8, 0.9 }, sd.param_groups[2].betas)
    assert.equal(2, sd.state[1].step)
    assert.equal(math.type(sd.state[1].step), "integer")
    assert.same(W:size(), sd.state[1].exp_avg:size())
    assert.same(b:size(), sd.state[2].exp_avg_sq:size())
    local before = sd.state[1].exp_avg:clone()
    run(opt, W, b, 1)
    assert.is_true(torch.equal(before, sd.state[1].exp_avg), "the state dict changed with training")
  end)

  it("SGD without momentum has no state; with momentum, a buffer per parameter", function()
    local W, b = fresh()
    local plain = optim.SGD({ W, b }, { lr = 0.1 })
    run(plain, W, b, 1)
    assert.same({}, plain:state_dict().state)
    local m = optim.SGD({ W, b }, { lr = 0.1, momentum = 0.9 })
    run(m, W, b, 1)
    assert.is_true(torch.is_tensor(m:state_dict().state[2].momentum_buffer))
  end)

  it("restores hyperparameters and LBFGS history", function()
    local W, b = fresh()
    local opt = optim.LBFGS({ W, b }, { history_size = 5, max_iter = 4 })
    run(opt, W, b, 2)
    local s = opt:state_dict().state[1]
    assert.is_true(s.n_iter >= 2)
    assert.equal(8, s.old_dirs:size(2)) -- 6 + 2 parameters, flattened
    assert.equal(s.old_dirs:size(1), s.ro:size(1))
    local sd = opt:state_dict()
    sd.param_groups[1].lr = 0.25
    opt:load_state_dict(sd)
    assert.equal(0.25, opt:get_lr())
  end)
end)

describe("parameter groups", function()
  it("take lists, models and groups; fill defaults per group", function()
    local W, b = fresh()
    local model = { parameters = function() return { W, b } end }
    local opt = optim.SGD(model, { lr = 0.1 })
    assert.equal(2, #opt.param_groups[1].params)
    opt = optim.SGD({ { params = { W }, momentum = 0.9 }, { params = b, lr = 0.5 } }, { lr = 0.1 })
    assert.equal(0.1, opt.param_groups[1].lr)
    assert.equal(0.9, opt.param_groups[1].momentum)
    assert.equal(0.5, opt.param_groups[2].lr)
    assert.equal(0, opt.param_groups[2].momentum)
    assert.equal(0.9, opt:core_options(1).momentum)
    assert.equal(0.5, opt:core_options(2).lr)
  end)

  it("lr is writable: set_lr, get_lr and plain assignment reach libtorch", function()
    local W, b = fresh()
    local opt = optim.SGD({ { params = { W } }, { params = { b } } }, { lr = 0.1 })
    opt:set_lr(0.0, 2)
    assert.equal(0.0, opt:get_lr(2))
    assert.equal(0.1, opt:get_lr(1))
    local b0 = b:detach():clone()
    local W0 = W:detach():clone()
    run(opt, W, b, 1)
    assert.is_true(torch.equal(b0, b:detach()), "lr 0 moved b")
    assert.is_false(torch.equal(W0, W:detach()))
    opt.param_groups[1].lr = 0.0
    W0 = W:detach():clone()
    run(opt, W, b, 1)
    assert.is_true(torch.equal(W0, W:detach()), "lr 0 (assigned) moved W")
    assert.equal(0.0, opt:core_options(1).lr)
    opt:set_lr(0.3)
    assert.same({ 0.3, 0.3 }, { opt:get_lr(1), opt:get_lr(2) })
  end)

  it("a per-group lr scales that group's step only", function()
    local W1, b1 = fresh()
    local W2, b2 = fresh()
    run(optim.SGD({ W1, b1 }, { lr = 0.1 }), W1, b1, 1)
    run(optim.SGD({ { params = { W2 }, lr = 0.2 }, { params = { b2 } } }, { lr = 0.1 }), W2, b2, 1)
    local W0 = torch.tensor(P.W)
    assert.is_true(maxdiff((W2:detach() - W0), (W1:detach() - W0) * 2) < 1e-6)
    assert.is_true(torch.equal(b1:detach(), b2:detach()))
  end)

  it("print as PyTorch prints an optimizer", function()
    local W, b = fresh()
    local s = tostring(optim.SGD({ { params = { W } }, { params = { b }, lr = 0.5 } }, { lr = 0.1, momentum = 0.9 }))
    assert.equal(table.concat({
      "SGD (", "Parameter Group 1", "    dampening: 0", "    differentiable: false", "    foreach: nil",
      "    lr: 0.1", "    maximize: false", "    momentum: 0.9", "    nesterov: false", "    weight_decay: 0",
      "Parameter Group 2", "    dampening: 0", "    differentiable: false", "    foreach: nil", "    lr: 0.5",
      "    maximize: false", "    momentum: 0.9", "    nesterov: false", "    weight_decay: 0", ")" }, "\n"), s)
    assert.truthy(tostring(optim.Adam({ W })):find("betas: (0.9, 0.999)", 1, true))
  end)

  it("zero_grad zeroes the gradients, or drops them with set_to_none", function()
    for _, ctor in ipairs { optim.SGD, optim.clear.SGD } do
      local W, b = fresh()
      local opt = ctor({ W, b }, { lr = 0.1 })
      loss_of(W, b):backward()
      opt:zero_grad()
      assert.equal(0, W.grad:abs():sum():item())
      opt:zero_grad({ set_to_none = true })
      assert.is_nil(W.grad)
    end
  end)

  it("a parameter without a gradient is left alone", function()
    local W, b = fresh()
    local extra = torch.ones(2, { requires_grad = true })
    local opt = optim.Adam({ W, b, extra }, { lr = 0.1 })
    run(opt, W, b, 2)
    assert.same({ 1.0, 1.0 }, extra:detach():totable())
    assert.is_nil(opt:state_dict().state[3])
  end)
end)

describe("LBFGS closures", function()
  it("minimizes a quadratic; step returns the first loss", function()
    local w = torch.tensor({ 1.0, 2.0 }, { requires_grad = true, dtype = "float64" })
    local opt = optim.LBFGS({ w }, { line_search_fn = "strong_wolfe" })
    local calls = 0
    local loss = opt:step(function()
      calls = calls + 1
      opt:zero_grad()
      local l = ((w - 3) * (w - 3)):sum()
      l:backward()
      return l
    end)
    assert.near(5.0, loss:item(), 1e-12)
    assert.is_true(calls >= 2)
    assert.is_true(maxdiff(w, torch.tensor({ 3.0, 3.0 }, { dtype = "float64" })) < 1e-6)
  end)

  it("runs the closure with grad on, even inside no_grad", function()
    local w = torch.tensor({ 1.0 }, { requires_grad = true })
    local opt = optim.SGD({ w }, { lr = 0.5 })
    torch.no_grad(function()
      opt:step(function()
        opt:zero_grad()
        local l = (w * w):sum()
        l:backward()
        return l
      end)
    end)
    assert.same({ 0.0 }, w:detach():totable())
  end)

  it("an error in the closure is the step's error; the optimizer and process carry on", function()
    local w = torch.tensor({ 1.0, 2.0 }, { requires_grad = true })
    local opt = optim.LBFGS({ w })
    local n = 0
    local ok, err = pcall(opt.step, opt, function()
      n = n + 1
      if n == 3 then error("boom in the closure") end
      opt:zero_grad()
      local l = (w * w):sum()
      l:backward()
      return l
    end)
    assert.is_false(ok)
    assert.truthy(err:find("boom in the closure", 1, true))
    assert.equal(3, n)
    -- an error object that is not a string comes back as it was
    local obj = { code = 7 }
    ok, err = pcall(opt.step, opt, function() error(obj) end)
    assert.is_false(ok)
    assert.equal(obj, err)
    ok, err = pcall(opt.step, opt, function() return 42 end)
    assert.is_false(ok)
    assert.truthy(err:find("closure must return the loss tensor, got number", 1, true))
    -- the same optimizer still works
    local loss = opt:step(function()
      opt:zero_grad()
      local l = ((w - 1) * (w - 1)):sum()
      l:backward()
      return l
    end)
    assert.is_true(torch.is_tensor(loss))
    assert.is_true(maxdiff(w, torch.ones(2)) < 1e-4)
  end)

  it("an error deep inside libtorch during the closure is a clean error", function()
    local w = torch.tensor({ 1.0, 2.0 }, { requires_grad = true })
    local opt = optim.LBFGS({ w })
    local ok, err = pcall(opt.step, opt, function()
      return torch.ones(2) -- no grad was computed: LBFGS reads undefined gradients
    end)
    assert.is_false(ok)
    assert.equal("string", type(err))
    assert.falsy(err:find("Exception raised from", 1, true))
  end)

  it("a coroutine yield inside the closure fails cleanly", function()
    local w = torch.tensor({ 1.0 }, { requires_grad = true })
    local opt = optim.LBFGS({ w })
    local co = coroutine.wrap(function()
      return pcall(opt.step, opt, function() coroutine.yield(1) end)
    end)
    local ok, err = co()
    assert.is_false(ok)
    assert.truthy(tostring(err):find("yield", 1, true))
  end)
end)

describe("the optimizer on a model", function()
  local has_nn, nn = pcall(require, "torch.nn")
  it("takes an nn model and trains it; state_dict keys follow its parameters", function()
    if not (has_nn and nn.Linear) then return pending("torch.nn is not available") end
    torch.manual_seed(3)
    local m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    local opt = optim.SGD(m, { lr = 0.1, momentum = 0.9 })
    local x, y = torch.randn(8, 3), torch.randn(8, 2)
    local first, last
    for i = 1, 20 do
      opt:zero_grad()
      local l = (m(x) - y):pow(2):mean()
      l:backward()
      opt:step()
      first, last = first or l:item(), l:item()
    end
    assert.is_true(last < first)
    local sd = opt:state_dict()
    assert.equal(#m:parameters(), #sd.param_groups[1].params)
    assert.same(m:parameters()[1]:size(), sd.state[1].momentum_buffer:size())
  end)

  it("trains a small regression with every kind", function()
    for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" } do
      local W, b = fresh()
      local opt = optim[name]({ W, b }, { lr = name == "SGD" and 0.5 or 0.05 })
      local losses = run(opt, W, b, 30)
      assert.is_true(losses[30] < losses[1] * 0.8, name .. " did not reduce the loss")
    end
  end)
end)
