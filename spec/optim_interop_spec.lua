-- Optimizer state dicts crossing with PyTorch 1.13 through torch.save
-- files, both ways, with python3 run from here (tests/fixtures/
-- optim_interop.py; the cases are spec/fixtures/optim_parity.lua's
-- `interop`).  PyTorch -> clara: PyTorch steps 3 times and saves its
-- optimizer.state_dict(); clara loads it with opt:load_state_dict and steps
-- 3 more times, bitwise as PyTorch's own 3 more steps.  clara -> PyTorch:
-- clara saves opt:state_dict{format = "pytorch"}, PyTorch's
-- optimizer.load_state_dict takes it and steps on, bitwise as clara does.
-- Also clara's own layout through a file (what checkpoints write).
-- LBFGS crosses bitwise on this problem too, though libtorch's C++ keeps
-- its step length and line-search sums in doubles where PyTorch's Python
-- keeps some in float32 tensors: elsewhere the two may part by roundings.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/optim_interop_spec.lua

local torch = require "torch"
local optim = require "torch.optim"
local fx = dofile("spec/fixtures/optim_parity.lua")

local P = fx.problem
local X, Y = torch.tensor(P.X), torch.tensor(P.Y)
local SCRIPT = "tests/fixtures/optim_interop.py"

local function python_torch()
  local h = io.popen("/usr/bin/python3 -c 'import torch' 2>&1 && echo yes")
  local out = h and h:read("a") or ""
  if h then h:close() end
  return out:find("yes", 1, true) ~= nil
end
local HAVE_TORCH = python_torch()
local SKIP = "python3-torch is not installed: PyTorch's side cannot run"

local function python(mode, dir)
  local h = io.popen(("/usr/bin/python3 %s %s '%s' 2>&1"):format(SCRIPT, mode, dir))
  local out = h:read("a")
  h:close()
  assert(out:find("ok", 1, true), "python failed: " .. out)
end

local function tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  return dir
end

local function fresh()
  return torch.tensor(P.W, { requires_grad = true }), torch.tensor(P.b, { requires_grad = true })
end

local function steps(opt, W, b, n)
  local function closure()
    opt:zero_grad()
    local loss = (X:matmul(W):tanh() + b - Y):pow(2):mean()
    loss:backward()
    return loss
  end
  for _ = 1, n do
    if opt.kind.name == "LBFGS" then
      opt:step(closure)
    else
      closure()
      opt:step()
    end
  end
end

local function equal(a, b, what)
  assert(torch.equal(a:detach(), b:detach()),
    ("%s differs by %g"):format(what, (a:detach():double() - b:detach():double()):abs():max():item()))
end

-- the state dicts hold the same names and the same values (tensors bitwise)
local function same_state(actual, expected, what)
  for k, entries in pairs(expected.state) do
    for name, v in pairs(entries) do
      local a = actual.state[k] and actual.state[k][name]
      assert(a ~= nil, ("%s: state %d lacks '%s'"):format(what, k, name))
      if torch.is_tensor(v) then
        assert(torch.is_tensor(a), ("%s: state %d '%s' is not a tensor"):format(what, k, name))
        assert.equal(v.dtype, a.dtype, what .. " " .. name .. " dtype")
        equal(a, v, ("%s: state %d '%s'"):format(what, k, name))
      else
        assert.equal(v, a, ("%s: state %d '%s'"):format(what, k, name))
      end
    end
  end
  for k, entries in pairs(actual.state) do
    for name in pairs(entries) do
      assert(expected.state[k] and expected.state[k][name] ~= nil,
        ("%s: state %d has '%s', which PyTorch's lacks"):format(what, k, name))
    end
  end
end

describe("PyTorch -> clara", function()
  local dir -- PyTorch's files for every case, written once
  local function from_torch(i)
    if not dir then
      dir = tmpdir()
      python("from_torch", dir)
    end
    return function(what) return torch.load(("%s/%d_%s.pt"):format(dir, i, what)) end
  end
  teardown(function() if dir then os.execute("rm -rf '" .. dir .. "'") end end)

  for i, case in ipairs(fx.interop) do
    it(case.name .. ": PyTorch's state dict loads and clara continues bitwise", function()
      if not HAVE_TORCH then return pending(SKIP) end
      local file = from_torch(i)
      local start = file("params")
      local W, b = fresh()
      W:detach():copy_(start.W)
      b:detach():copy_(start.b)
      local opt = optim[case.kind]({ W, b }, case.opts)
      opt:load_state_dict(file("sd"))
      steps(opt, W, b, 3)
      local after = file("after")
      equal(W, after.W, "W")
      equal(b, after.b, "b")
      -- and clara's PyTorch-shaped dict is the one PyTorch has by then
      if case.kind ~= "LBFGS" then -- (its scratch `al` and Python-list histories aside)
        same_state(opt:state_dict { format = "pytorch" }, file("sd_after"), case.name)
      end
    end)
  end
end)

describe("clara -> PyTorch", function()
  for _, impl in ipairs { "optim", "optim.clear" } do
    it(impl .. ": PyTorch loads clara's state dicts and continues bitwise, every case", function()
      if not HAVE_TORCH then return pending(SKIP) end
      local dir = tmpdir()
      local function path(i, what) return ("%s/%d_%s.pt"):format(dir, i, what) end
      local runs = {}
      -- (an LBFGS without line search cannot be written: see below)
      local function writable(case) return case.kind ~= "LBFGS" or case.opts.line_search_fn end
      for i, case in ipairs(fx.interop) do
        local W, b = fresh()
        local ctor = impl == "optim" and optim[case.kind] or optim.clear[case.kind]
        local opt = ctor({ W, b }, case.opts)
        steps(opt, W, b, 3)
        if writable(case) then
          torch.save(path(i, "params"), { W = W:detach(), b = b:detach() })
          torch.save(path(i, "sd"), opt:state_dict { format = "pytorch" })
        end
        runs[i] = { opt = opt, W = W, b = b }
      end
      python("to_torch", dir)
      for i, case in ipairs(fx.interop) do
        local r = runs[i]
        if not writable(case) then goto next end
        steps(r.opt, r.W, r.b, 3)
        local after = torch.load(path(i, "after"))
        equal(r.W, after.W, case.name .. " W")
        equal(r.b, after.b, case.name .. " b")
        ::next::
      end
      os.execute("rm -rf '" .. dir .. "'")
    end)
  end
end)

describe("the PyTorch layout", function()
  it("has 0-based keys, tensor steps where PyTorch has them, and converts back losslessly", function()
    local W, b = fresh()
    local opt = optim.NAdam({ { params = { W } }, { params = { b }, lr = 0.1 } })
    steps(opt, W, b, 2)
    local sd = opt:state_dict { format = "pytorch" }
    assert.same({ 0 }, sd.param_groups[1].params)
    assert.same({ 1 }, sd.param_groups[2].params)
    assert.is_nil(sd.state[2])
    assert.is_true(torch.is_tensor(sd.state[0].step))
    assert.equal("float32", sd.state[0].step.dtype)
    assert.equal(0, sd.state[0].step:dim())
    assert.equal(2.0, sd.state[1].step:item())
    assert.is_true(torch.is_tensor(sd.state[1].mu_product))
    local rms = optim.RMSprop({ W })
    steps(rms, W, b, 1)
    assert.equal(math.type(rms:state_dict { format = "pytorch" }.state[0].step), "integer")
    -- loading it back gives clara's own dict again
    local copy = optim.NAdam({ { params = { W } }, { params = { b }, lr = 0.1 } })
    copy:load_state_dict(sd)
    local own, back = opt:state_dict(), copy:state_dict()
    assert.equal(own.state[1].step, back.state[1].step)
    assert.equal(own.state[2].mu_product, back.state[2].mu_product)
    equal(own.state[2].exp_avg, back.state[2].exp_avg, "exp_avg")
  end)

  it("PyTorch's SGD without momentum (momentum_buffer = None) loads as no state", function()
    local W, b = fresh()
    local opt = optim.SGD({ W, b }, { lr = 0.1 })
    opt:load_state_dict({ state = { [0] = {}, [1] = {} },
      param_groups = { { params = { 0, 1 }, lr = 0.2, momentum = 0, dampening = 0, weight_decay = 0,
                         nesterov = false, maximize = false, differentiable = false } } })
    assert.equal(0.2, opt:get_lr())
    assert.same({}, opt:state_dict().state)
  end)

  it("a dict from before the flags existed takes their defaults, as PyTorch's __setstate__ does", function()
    local W, b = fresh()
    local opt = optim.Adam({ W, b }, { maximize = true })
    local sd = opt:state_dict()
    sd.param_groups[1].maximize, sd.param_groups[1].capturable = nil, nil
    opt:load_state_dict(sd)
    assert.is_false(opt.param_groups[1].maximize)
    assert.is_false(opt.param_groups[1].capturable)
  end)

  it("bad dicts and formats are refused with the API's name", function()
    local W, b = fresh()
    local opt = optim.Adam({ W, b })
    local function fails(fn, pattern)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      assert(tostring(err):find(pattern, 1, true), ("expected %q in: %s"):format(pattern, tostring(err)))
    end
    fails(function() opt:state_dict { format = "torch" } end,
      "optim.Adam:state_dict: format must be one of 'clara', 'pytorch', got 'torch'")
    fails(function() opt:load_state_dict({ state = { [0] = { step = torch.ones(3) } }, param_groups = { { params = { 0, 1 } } } }) end,
      "optim.Adam:load_state_dict: state 'step' of parameter 0 must hold one value, got 3")
    fails(function() opt:load_state_dict({ state = {}, param_groups = { { params = { 0, "b" } } } }) end,
      "param_groups[1].params[2] must be an integer index")
    local lbfgs = optim.LBFGS({ W, b })
    fails(function() lbfgs:state_dict { format = "pytorch" } end,
      "optim.LBFGS:state_dict: PyTorch's LBFGS wants 'line_search_fn' in its group even when it is None")
    fails(function() lbfgs:load_state_dict({ state = { [1] = { old_dirs = 3 } }, param_groups = { { params = { 0, 1 } } } }) end,
      "optim.LBFGS:load_state_dict: LBFGS state 'old_dirs' must be a list of tensors, got 3")
    fails(function() lbfgs:load_state_dict({ state = { [1] = { n_iter = 3 } }, param_groups = { { params = { 0, 1 } } } }) end,
      "LBFGS keeps its state under the first parameter (key 0), got key 1")
  end)

  it("clara's own layout through torch.save and torch.load resumes bitwise (checkpoints)", function()
    for _, case in ipairs(fx.interop) do
      local W1, b1 = fresh()
      local straight = optim[case.kind]({ W1, b1 }, case.opts)
      steps(straight, W1, b1, 6)
      local W2, b2 = fresh()
      local first = optim[case.kind]({ W2, b2 }, case.opts)
      steps(first, W2, b2, 3)
      local path = os.tmpname()
      torch.save(path, first:state_dict())
      local second = optim[case.kind]({ W2, b2 }, case.opts)
      second:load_state_dict(torch.load(path))
      os.remove(path)
      steps(second, W2, b2, 3)
      equal(W1, W2, case.name .. " W")
      equal(b1, b2, case.name .. " b")
    end
  end)
end)
