-- Optimizers against PyTorch 1.13 (spec/fixtures/optim_parity.lua, from
-- tests/fixtures/make_optim_parity.py): maximize and the other 1.13 options
-- for libtorch's optimizers, the optimizers written in Lua (NAdam, RAdam,
-- Adamax, Adadelta, Rprop, ASGD), and every clear twin against its fast one.
-- Tolerance: none.  Every optimizer is compared bitwise with PyTorch: the
-- Lua ones follow PyTorch's single-tensor code op by op over the same ATen
-- kernels, and Debian's python3-torch runs the same libtorch build whose C++
-- optimizers do the same arithmetic in the same order; maximize around them
-- is an exact negation.  Each clear twin is bitwise equal to its fast one.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/optim_parity_spec.lua

local torch = require "torch"
local optim = require "torch.optim"
local fx = dofile("spec/fixtures/optim_parity.lua")

local P = fx.problem
local O = dofile("spec/helpers/optim_problem.lua")(P)
local fresh, loss_of, build, maxdiff = O.fresh, O.loss_of, O.build, O.maxdiff
local LUA_KIND = {}
for _, name in ipairs(optim.LUA_KINDS) do LUA_KIND[name] = true end

-- one step on the fixed problem (sign = -1 ascends -L); returns the loss
local function step(opt, W, b, sign)
  opt:zero_grad()
  local loss = loss_of(W, b)
  if sign then loss = loss * sign end
  loss:backward()
  opt:step()
  return loss:item()
end

local function flat(v)
  if torch.is_tensor(v) then return v:detach():double():view(-1):totable() end
  if type(v) ~= "table" then return { v } end
  local out = {}
  for _, x in ipairs(v) do
    for _, y in ipairs(flat(x)) do out[#out + 1] = y end
  end
  return out
end

-- every float32 value equal (the fixture's values round-trip exactly)
local function compare(actual, expected, what)
  local a, e = flat(actual), flat(expected)
  assert.equal(#e, #a, what .. ": element count")
  for i = 1, #e do
    assert(a[i] == e[i], ("%s: element %d is %.9g, PyTorch has %.9g"):format(what, i, a[i], e[i]))
  end
end

describe("optimizers against PyTorch 1.13", function()
  for _, case in ipairs(fx.cases) do
    it(case.name, function()
      local W, b = fresh()
      local opt = build(optim[case.kind], case, W, b)
      for s = 1, fx.steps do
        local loss = step(opt, W, b)
        compare({ loss }, { case.losses[s] }, ("%s step %d loss"):format(case.name, s))
        compare(W, case.traj[s].W, ("%s step %d W"):format(case.name, s))
        compare(b, case.traj[s].b, ("%s step %d b"):format(case.name, s))
      end
      -- the state PyTorch keeps, under PyTorch's names
      local sd = opt:state_dict()
      for k, expected in ipairs(case.state) do
        for name, v in pairs(expected) do
          assert(sd.state[k] and sd.state[k][name] ~= nil, ("state %d lacks '%s'"):format(k, name))
          compare(sd.state[k][name], v, ("%s state %d '%s'"):format(case.name, k, name))
        end
      end
    end)
  end

  it("fails a wrong trajectory (the check can fail)", function()
    local case = fx.cases[1]
    local W, b = fresh()
    local opt = optim.SGD({ W, b }, { lr = 0.05 })
    for _ = 1, 3 do step(opt, W, b) end
    assert.has_error(function() compare(W, case.traj[3].W, "W") end)
  end)
end)

describe("clear twins", function()
  for _, case in ipairs(fx.cases) do
    if not LUA_KIND[case.kind] then
      it(case.name .. ": optim.clear is bitwise optim's", function()
        local W1, b1 = fresh()
        local W2, b2 = fresh()
        local fast = build(optim[case.kind], case, W1, b1)
        local clear = build(optim.clear[case.kind], case, W2, b2)
        for s = 1, fx.steps do
          step(fast, W1, b1)
          step(clear, W2, b2)
          assert(torch.equal(W1:detach(), W2:detach()), ("step %d: W differs by %g"):format(s, maxdiff(W1, W2)))
          assert(torch.equal(b1:detach(), b2:detach()), ("step %d: b differs by %g"):format(s, maxdiff(b1, b2)))
        end
      end)
    end
  end

  it("every optimizer has its clear twin; the Lua ones are their own", function()
    for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS" } do
      assert.is_function(optim.clear[name], name)
    end
    for _, name in ipairs(optim.LUA_KINDS) do assert.equal(optim[name], optim.clear[name]) end
  end)

  -- LBFGS: its whole state (histories, step, losses) equal too
  local function lbfgs_run(ctor, opts, W, b, n, opt)
    opt = opt or ctor({ W, b }, opts)
    local losses = {}
    for i = 1, n do
      losses[i] = opt:step(function()
        opt:zero_grad()
        local l = loss_of(W, b)
        l:backward()
        return l
      end):item()
    end
    return opt, losses
  end

  for _, opts in ipairs {
    { lr = 1, max_iter = 5 },
    { lr = 0.5, max_iter = 20, history_size = 4 },
    { lr = 1, max_iter = 5, history_size = 3, line_search_fn = "strong_wolfe" },
    { max_iter = 30, history_size = 5, line_search_fn = "strong_wolfe", tolerance_change = 1e-12 },
  } do
    it(("LBFGS %s max_iter %d: optim.clear is bitwise optim's, state included"):format(
      opts.line_search_fn or "fixed step", opts.max_iter), function()
      local W1, b1 = fresh()
      local W2, b2 = fresh()
      local fast, l1 = lbfgs_run(optim.LBFGS, opts, W1, b1, 4)
      local clear, l2 = lbfgs_run(optim.clear.LBFGS, opts, W2, b2, 4)
      assert.same(l1, l2)
      assert(torch.equal(W1:detach(), W2:detach()), "W differs by " .. maxdiff(W1, W2))
      assert(torch.equal(b1:detach(), b2:detach()), "b differs by " .. maxdiff(b1, b2))
      local s1, s2 = fast:state_dict().state[1], clear:state_dict().state[1]
      for name, v in pairs(s1) do
        if torch.is_tensor(v) then
          assert(torch.equal(v, s2[name]), "state " .. name .. " differs")
        else
          assert.equal(v, s2[name], "state " .. name)
        end
      end
      -- and the state moves from one twin to the other
      local again = optim.clear.LBFGS({ W1, b1 }, opts)
      again:load_state_dict(fast:state_dict())
      lbfgs_run(nil, nil, W1, b1, 2, again)
      lbfgs_run(nil, nil, W2, b2, 2, clear)
      assert(torch.equal(W1:detach(), W2:detach()), "after the move, W differs by " .. maxdiff(W1, W2))
    end)
  end

  it("LBFGS (clear) wants a closure returning the loss, and one group", function()
    local W, b = fresh()
    local opt = optim.clear.LBFGS({ W, b })
    assert.has_error(function() opt:step() end)
    local ok, err = pcall(opt.step, opt, function() return 42 end)
    assert.is_false(ok)
    assert.truthy(err:find("closure must return the loss tensor, got number", 1, true))
    ok, err = pcall(optim.clear.LBFGS, { { params = { W } }, { params = { b } } })
    assert.is_false(ok)
    assert.truthy(err:find("optim.clear.LBFGS: LBFGS doesn't support per-parameter options", 1, true))
  end)

  for _, spec in ipairs {
    { "RMSprop", { lr = 0.01, momentum = 0.9, centered = true, weight_decay = 0.1 } },
    { "Adagrad", { lr = 0.1, lr_decay = 0.05, weight_decay = 0.1, initial_accumulator_value = 0.2 } },
  } do
    it(spec[1] .. " in float64: bitwise over 20 steps", function()
      local W1, b1 = fresh("float64")
      local W2, b2 = fresh("float64")
      local fast = optim[spec[1]]({ W1, b1 }, spec[2])
      local clear = optim.clear[spec[1]]({ W2, b2 }, spec[2])
      for _ = 1, 20 do
        step(fast, W1, b1)
        step(clear, W2, b2)
      end
      assert.is_true(torch.equal(W1:detach(), W2:detach()), "W differs by " .. maxdiff(W1, W2))
    end)
  end
end)

describe("maximize", function()
  -- ascending L is descending -L: the gradients are negated exactly, so
  -- the two runs are bitwise equal (NAdam and RAdam have maximize from
  -- PyTorch 2.0; this checks it there too)
  local ALL = { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" }
  for _, name in ipairs(optim.LUA_KINDS) do ALL[#ALL + 1] = name end
  for _, name in ipairs(ALL) do
    for _, impl in ipairs { "optim", "optim.clear" } do
      it(("%s.%s: maximize L is minimize -L, bitwise"):format(impl, name), function()
        local ctor = impl == "optim" and optim[name] or optim.clear[name]
        local opts = { lr = 0.01, weight_decay = 0.05 }
        if name == "SGD" then opts.momentum = 0.9 end
        if name == "Rprop" then opts.weight_decay = nil end
        local W1, b1 = fresh()
        local W2, b2 = fresh()
        local up = ctor({ W1, b1 }, { lr = opts.lr, weight_decay = opts.weight_decay, momentum = opts.momentum,
                                        maximize = true })
        local down = ctor({ W2, b2 }, opts)
        for _ = 1, 6 do
          step(up, W1, b1, -1)
          step(down, W2, b2)
        end
        assert(torch.equal(W1:detach(), W2:detach()), "W differs by " .. maxdiff(W1, W2))
        assert(torch.equal(b1:detach(), b2:detach()), "b differs by " .. maxdiff(b1, b2))
      end)
    end
  end

  it("libtorch's step leaves the gradients as backward made them", function()
    local W, b = fresh()
    local opt = optim.Adam({ W, b }, { maximize = true })
    loss_of(W, b):backward()
    local g = W.grad:clone()
    opt:step()
    assert.is_true(torch.equal(g, W.grad))
  end)

  it("with a closure, the closure's gradients are the ones negated", function()
    local W1, b1 = fresh()
    local W2, b2 = fresh()
    local up = optim.SGD({ W1, b1 }, { lr = 0.1, maximize = true })
    local down = optim.SGD({ W2, b2 }, { lr = 0.1 })
    local loss = up:step(function()
      up:zero_grad()
      local l = loss_of(W1, b1)
      l:backward()
      return l
    end)
    assert.is_true(torch.is_tensor(loss))
    step(down, W2, b2, -1)
    assert.is_true(torch.equal(W1:detach(), W2:detach()))
  end)

  it("the fused training step (clara.train.fast) leaves a maximizing optimizer to the Lua step", function()
    local nn = require "torch.nn"
    local plan = require "clara.train.fast.plan"
    local model = nn.Sequential(nn.Linear(3, 2))
    local function c(opts)
      return { captures = {}, model = model, metrics = {}, options = {}, batcher = require("clara.train.batcher").default(),
               objective = { terms = { { loss = require("clara.losses").mse, output = 1, target = 1, weight = 1 } } },
               optimizer = optim.SGD(model, opts) }
    end
    assert.is_true(plan.build(c { lr = 0.1 }).step_in_c)
    assert.is_false(plan.build(c { lr = 0.1, maximize = true }).step_in_c)
  end)

  it("a maximizing group beside a minimizing one", function()
    local W1, b1 = fresh()
    local W2, b2 = fresh()
    local mixed = optim.SGD({ { params = { W1 }, maximize = true }, { params = { b1 } } }, { lr = 0.1 })
    local plain = optim.SGD({ W2, b2 }, { lr = 0.1 })
    step(mixed, W1, b1)
    step(plain, W2, b2)
    local W0 = torch.tensor(P.W)
    assert.is_true(maxdiff(W1:detach() - W0, W0 - W2:detach()) < 1e-7)
    assert.is_true(torch.equal(b1:detach(), b2:detach()))
  end)
end)

describe("the Lua optimizers behave as the others", function()
  -- 10 steps straight, against 5 steps, a state dict, a new optimizer, 5 steps
  for _, case in ipairs(fx.cases) do
    if LUA_KIND[case.kind] then
      it(case.name .. ": a state dict resumes bitwise", function()
        local W1, b1 = fresh()
        local straight = build(optim[case.kind], case, W1, b1)
        for _ = 1, 10 do step(straight, W1, b1) end
        local W2, b2 = fresh()
        local first = build(optim[case.kind], case, W2, b2)
        for _ = 1, 5 do step(first, W2, b2) end
        local second = build(optim[case.kind], case, W2, b2)
        second:load_state_dict(first:state_dict())
        for _ = 1, 5 do step(second, W2, b2) end
        assert(torch.equal(W1:detach(), W2:detach()), "W differs by " .. maxdiff(W1, W2))
        assert(torch.equal(b1:detach(), b2:detach()), "b differs by " .. maxdiff(b1, b2))
      end)
    end
  end

  it("a learning rate written into a group (as schedulers do) takes effect", function()
    for _, name in ipairs(optim.LUA_KINDS) do
      local W, b = fresh()
      local opt = optim[name]({ { params = { W } }, { params = { b } } }, { lr = 0.01 })
      opt.param_groups[2].lr = 0
      opt:set_lr(0, 1)
      local W0, b0 = W:detach():clone(), b:detach():clone()
      step(opt, W, b)
      if name ~= "Rprop" then -- Rprop's step sizes start at lr, then live in its state
        assert(torch.equal(W0, W:detach()), name .. ": lr 0 moved W")
        assert(torch.equal(b0, b:detach()), name .. ": lr 0 moved b")
      end
    end
  end)

  it("zero_grad, a parameter without gradient, printing", function()
    local W, b = fresh()
    local extra = torch.ones(2, { requires_grad = true })
    local opt = optim.ASGD({ W, b, extra }, { lr = 0.1 })
    step(opt, W, b)
    assert.same({ 1.0, 1.0 }, extra:detach():totable())
    assert.is_nil(opt:state_dict().state[3])
    assert.is_true(torch.is_tensor(opt:state_dict().state[1].ax))
    opt:zero_grad()
    assert.equal(0, W.grad:abs():sum():item())
    assert.equal(table.concat({ "Rprop (", "Parameter Group 1", "    etas: (0.5, 1.2)", "    foreach: nil",
      "    lr: 0.01", "    maximize: false", "    step_sizes: (1e-06, 50)", ")" }, "\n"), tostring(optim.Rprop({ W })))
  end)

  it("train a small regression", function()
    for _, name in ipairs(optim.LUA_KINDS) do
      local W, b = fresh()
      local opts = { lr = 0.05 }
      if name == "ASGD" then opts.lr = 0.5 end
      if name == "Adadelta" then opts = { lr = 1.0, eps = 1e-2 } end -- its first steps are sqrt(eps) small
      local opt = optim[name]({ W, b }, opts)
      local first, last
      for _ = 1, 30 do
        last = step(opt, W, b)
        first = first or last
      end
      assert(last < first * 0.8, name .. " did not reduce the loss")
    end
  end)
end)

describe("bad calls", function()
  local W = torch.ones(2, { requires_grad = true })
  local function fails(fn, pattern)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    assert(tostring(err):find(pattern, 1, true), ("expected %q in: %s"):format(pattern, tostring(err)))
  end

  it("the implementation switches accept only what clara runs", function()
    fails(function() optim.SGD({ W }, { lr = 0.1, foreach = true }) end,
      "optim.SGD: foreach = true is not supported: clara runs the single-tensor update")
    fails(function() optim.Adam({ W }, { differentiable = true }) end, "optim.Adam: differentiable = true is not supported")
    fails(function() optim.AdamW({ W }, { capturable = true }) end, "capturable = true is not supported")
    fails(function() optim.Adam({ W }, { fused = true }) end, "fused = true is not supported")
    fails(function() optim.NAdam({ W }, { foreach = true }) end, "optim.NAdam: foreach = true is not supported")
    fails(function() optim.SGD({ W }, { lr = 0.1, maximize = 1 }) end, "optim.SGD: maximize must be a boolean")
    -- what 1.13 lacks stays unknown, with the closest name
    fails(function() optim.AdamW({ W }, { fused = false }) end, "optim.AdamW: unknown option 'fused'")
    fails(function() optim.LBFGS({ W }, { maximize = true }) end, "optim.LBFGS: unknown option 'maximize'")
    fails(function() optim.Adagrad({ W }, { maximise = true }) end, "did you mean 'maximize'?")
    -- and false is accepted everywhere 1.13 has the switch
    optim.Adam({ W }, { foreach = false, differentiable = false, capturable = false, fused = false })
    optim.clear.RMSprop({ W }, { foreach = false, differentiable = false })
  end)

  it("the Lua optimizers check their options as PyTorch does", function()
    fails(function() optim.NAdam({ W }, { betas = { 0.9, 1.0 } }) end, "optim.NAdam: betas invalid beta parameter at index 2")
    fails(function() optim.RAdam({ W }, { lr = -1 }) end, "optim.RAdam: lr must be >= 0")
    fails(function() optim.Adamax({ W }, { eps = 0 / 0 }) end, "optim.Adamax: eps must be a number, got nan")
    fails(function() optim.Adadelta({ W }, { rho = 1.5 }) end, "optim.Adadelta: invalid rho value: 1.5")
    fails(function() optim.Rprop({ W }, { etas = { 1.5, 1.2 } }) end, "optim.Rprop: invalid eta values: 1.5, 1.2")
    fails(function() optim.Rprop({ W }, { step_sizes = { 1 } }) end, "step_sizes must be a pair of numbers")
    fails(function() optim.ASGD({ W }, { t0 = "soon" }) end, "optim.ASGD: t0 must be a number")
    fails(function() optim.ASGD({ W }, { momentum = 0.9 }) end, "optim.ASGD: unknown option 'momentum'")
    fails(function() optim.NAdam(W) end, "got a tensor")
    fails(function() optim.Adadelta({ { params = { W }, rho = -1 } }) end, "optim.Adadelta: a parameter group's option 'rho'")
    fails(function() optim.NAdem({ W }) end, "optim.NAdem does not exist (did you mean 'NAdam'")
    fails(function() optim.clear.Radam({ W }) end, "optim.clear.Radam does not exist (did you mean 'RAdam'")
  end)

  it("a state dict of another shape is refused and changes nothing", function()
    local W1, b1 = fresh()
    local opt = optim.NAdam({ W1, b1 })
    step(opt, W1, b1)
    local sd = opt:state_dict()
    sd.state[1].exp_avg = torch.zeros(5)
    fails(function() opt:load_state_dict(sd) end, "optim.NAdam:load_state_dict: state 'exp_avg' of parameter 1 has shape [5]")
    sd = opt:state_dict()
    sd.state[2].mu_product = nil
    fails(function() opt:load_state_dict(sd) end, "state of parameter 2 lacks 'mu_product'")
    assert.equal(1, opt:state_dict().state[2].step)
  end)
end)
