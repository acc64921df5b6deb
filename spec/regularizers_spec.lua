-- Regularizers: values and gradients against PyTorch autograd
-- (spec/fixtures/regularizers.lua, from tests/fixtures/make_regularizers.py),
-- then declining, parameter selection and descriptions.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/regularizers_spec.lua

local torch = require "torch"
local clara = require "clara"
local R = clara.regularizers

local fx = dofile("spec/fixtures/regularizers.lua")

local function T(data, dtype) return torch.tensor(data, { dtype = dtype or "float32" }) end

local function assert_close(expected, got, what)
  local e = torch.tensor(expected, { dtype = "float64" })
  assert.is_true(torch.is_tensor(got), what .. ": expected a tensor, got " .. type(got))
  assert.is_true(torch.allclose(got:double(), e, { rtol = 1e-5, atol = 1e-6 }),
    what .. ": expected " .. tostring(e) .. ", got " .. tostring(got))
end

-- a model by the module contract's rules, from raw tensors
local function toy_model(W, b)
  return {
    parameters = function() return { W, b } end,
    named_parameters = function()
      local names, params, i = { "fc.weight", "fc.bias" }, { W, b }, 0
      return function()
        i = i + 1
        if params[i] then return names[i], params[i] end
      end
    end,
  }
end

local function leaves()
  return T(fx.W):requires_grad_(), T(fx.b):requires_grad_()
end

describe("regularizers match PyTorch", function()
  it("has the fixture cases", function() assert.is_true(#fx.cases >= 15) end)

  for _, c in ipairs(fx.cases) do
    it(c.name .. ": value and gradients", function()
      local reg = assert(load("local R = ...; return " .. c.lua, "=" .. c.name))(R)
      local W, b = leaves()
      local out = T(c.output):requires_grad_()
      local binary = out:dim() == 1
      local extras = { model = toy_model(W, b), loss = T(fx.loss_per_sample),
                       target = T(binary and fx.btarget or fx.target, "int64") }
      local v = reg(out, extras)
      assert_close(c.value, v, "value")
      assert.equal(0, v:dim())
      v:backward()
      assert_close(c.grad_W, W.grad or torch.zeros_like(W), "grad W")
      assert_close(c.grad_b, b.grad or torch.zeros_like(b), "grad b")
      assert_close(c.grad_output, out.grad or torch.zeros_like(out), "grad output")
    end)
  end
end)

describe("regularizers", function()
  local out = T { { 2.0, 1.0, 0.1 }, { 0.1, 3.0, 0.2 }, { 1.0, 0.5, 2.0 } }
  local right = T({ 0, 1, 2 }, "int64")   -- every row classified right
  local wrong = T({ 1, 1, 2 }, "int64")   -- row 1 wrong

  it("take the parameters from extras.params or the option params", function()
    local W, b = leaves()
    local expected = (W * W):sum() + (b * b):sum()
    assert_close(expected:item(), R.l2()(nil, { params = { W, b } }), "extras.params")
    assert_close(expected:item(), R.l2 { params = { W, b } }(out), "option params")
    assert_close((b * b):sum():item(), R.l2 { params = { b } }(out, { model = toy_model(W, b) }),
      "the option wins over extras")
  end)

  it("filter parameters by name", function()
    local W, b = leaves()
    local reg = R.l1 { filter = function(name) return name:find("weight", 1, true) ~= nil end }
    assert_close(W:abs():sum():item(), reg(out, { model = toy_model(W, b) }), "weights only")
  end)

  it("decline (nil) when nothing is left to penalize", function()
    local W, b = leaves()
    assert.is_nil(R.l2 { exclude_bias = true }(out, { params = { b } }))
    local skip = R.conditional { R.entropy(), skip_correct = true }
    assert.is_nil(skip(out, { target = right }))
    assert.is_not_nil(skip(out, { target = wrong }))
    local low = R.conditional { R.l2(), below_loss = 0.5 }
    assert.is_nil(low(out, { params = { W }, loss = 0.2 }))
    assert.is_nil(low(out, { params = { W }, loss = T(0.49) }))
    assert_close((W * W):sum():item(), low(out, { params = { W }, loss = T(0.5) }), "at the threshold")
    assert.is_nil(R.conditional { R.l2(), skip_correct = true }(out, { params = { W }, target = right }))
  end)

  it("conditional hands plain functions only the kept samples", function()
    local seen_n, seen_target
    local reg = R.conditional { function(o, extras)
      seen_n, seen_target = o:size(1), extras.target
      return o:sum()
    end, skip_correct = true }
    local v = reg(out, { target = wrong })
    assert.equal(1, seen_n)
    assert.same({ 1 }, seen_target:totable())
    assert_close(out[1]:sum():item(), v, "the wrong row only")
  end)

  it("wrap gives a function a description", function()
    local reg = R.wrap(function(o) return o:abs():max() end, "MaxAbs(output)")
    assert.equal("MaxAbs(output)", tostring(reg))
    assert_close(3.0, reg(out), "value")
  end)

  it("describe themselves in one line", function()
    local expected = {
      { R.l2(), "L2(params)" },
      { R.l1 { exclude_bias = true }, "L1(params, exclude_bias)" },
      { R.activity_l2(), "ActivityL2(output, mean)" },
      { R.activity_l1 { reduction = "sum" }, "ActivityL1(output, sum)" },
      { R.entropy(), "Entropy(from=logits, mean)" },
      { R.confidence_penalty { from = "probs" }, "ConfidencePenalty(from=probs, mean)" },
      { R.conditional { R.l2(), skip_correct = true, below_loss = 0.1 },
        "Conditional(L2(params), skip_correct, below_loss=0.1)" },
      { R.conditional { R.entropy(), below_loss = 2 }, "Conditional(Entropy(from=logits, mean), below_loss=2)" },
    }
    for _, e in ipairs(expected) do assert.equal(e[2], tostring(e[1])) end
  end)

  it("keep the graph: a penalty trains the parameters", function()
    local W = T({ { 1.0, -2.0 } }):requires_grad_()
    for _ = 1, 50 do
      local p = R.l2()(nil, { params = { W } })
      p:backward()
      torch.no_grad(function() W:sub_(W.grad * 0.1) end)
      W.grad:zero_()
    end
    assert.is_true(W:abs():max():item() < 1e-4)
  end)
end)
