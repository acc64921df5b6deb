-- Weight tying on native (libtorch-backed) modules: `m.weight = p` with an
-- nn.Parameter replaces the module's own parameter, as in PyTorch: forward
-- uses it, gradients reach it, parameters() lists it once.  Gradients are
-- compared with PyTorch's (spec/fixtures/weight_tying.lua, written by
-- tests/fixtures/make_weight_tying.py).  A plain tensor over a parameter
-- is refused, as PyTorch refuses it.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_torch_tying_spec.lua
local torch = require "torch"
local nn = require "torch.nn"
local F = require "torch.nn.functional"
local fx = require "spec.fixtures.weight_tying"

local function T(f) return torch.tensor(f.data):view(f.shape) end

local function close(expected, got, tol)
  local diff = (T(expected) - got):abs():max():item()
  assert.is_true(diff < (tol or 1e-5), ("differs from PyTorch by %g"):format(diff))
end

local function set(p, f) torch.no_grad(function() p:copy_(T(f)) end) end

describe("weight tying on native modules", function()
  it("Embedding and Linear share a weight: forward, loss and grad as PyTorch's", function()
    local c = fx.embedding_linear
    local emb, lin = nn.Embedding(6, 4), nn.Linear(4, 6)
    set(emb.weight, c.emb_weight)
    set(lin.bias, c.lin_bias)
    lin.weight = emb.weight
    assert.is_true(rawequal(lin.weight, emb.weight))
    local model = nn.Sequential(emb, nn.Tanh(), lin)
    assert.equal(2, #model:parameters()) -- the shared weight once, the bias
    local loss = F.cross_entropy(model(torch.tensor(c.x)), torch.tensor(c.y))
    assert.is_true(math.abs(loss:item() - c.loss) < 1e-5)
    loss:backward()
    close(c.weight_grad, emb.weight.grad)
    close(c.bias_grad, lin.bias.grad)
    -- the state_dict names both, as PyTorch's does
    local sd = model:state_dict()
    assert.is_not_nil(sd["0.weight"])
  end)

  it("two Conv1d share a weight", function()
    local c = fx.conv_conv
    local c1, c2 = nn.Conv1d(3, 3, 2), nn.Conv1d(3, 3, 2)
    set(c1.weight, c.weight); set(c1.bias, c.bias1); set(c2.bias, c.bias2)
    c2.weight = c1.weight
    local out = c2(c1(T(c.input)):relu()):pow(2):mean()
    assert.is_true(math.abs(out:item() - c.loss) < 1e-5)
    out:backward()
    close(c.weight_grad, c1.weight.grad)
  end)

  it("an optimizer step moves the tied weight for both modules", function()
    local emb, lin = nn.Embedding(4, 2), nn.Linear(2, 4)
    lin.weight = emb.weight
    local opt = require("torch.optim").SGD(nn.Sequential(emb, lin):parameters(), { lr = 0.5 })
    local before = emb.weight:clone()
    lin(emb(torch.tensor { 1, 2 })):sum():backward()
    opt:step()
    assert.is_false(torch.equal(before, emb.weight))
    -- forward of lin reads the moved weight
    local x = torch.randn(1, 2)
    local expected = x:matmul(emb.weight:t()) + lin.bias
    assert.is_true(torch.allclose(expected, lin(x)))
  end)

  for _, case in ipairs {
    { "Linear", function() return nn.Linear(3, 2) end, { 2, 3 } },
    { "Bilinear", function() return nn.Bilinear(2, 3, 4) end, { 4, 2, 3 } },
    { "Conv2d", function() return nn.Conv2d(2, 3, 2) end, { 3, 2, 2, 2 } },
    { "ConvTranspose1d", function() return nn.ConvTranspose1d(2, 3, 2) end, { 2, 3, 2 } },
    { "BatchNorm1d", function() return nn.BatchNorm1d(3) end, { 3 } },
    { "LayerNorm", function() return nn.LayerNorm(3) end, { 3 } },
    { "GroupNorm", function() return nn.GroupNorm(1, 3) end, { 3 } },
    { "Embedding", function() return nn.Embedding(5, 3) end, { 5, 3 } },
  } do
    local name, make, shape = case[1], case[2], case[3]
    it(name .. ": an assigned weight is the one forward uses", function()
      local m = make()
      local w = nn.Parameter(torch.zeros(shape))
      m.weight = w
      assert.is_true(rawequal(m.weight, w))
      local found = false
      for _, p in ipairs(m:parameters()) do found = found or rawequal(p, w) end
      assert.is_true(found)
      torch.no_grad(function() w:fill_(0.25) end)
      -- compare with the same module built fresh and loaded with the value
      local ref = make()
      ref:load_state_dict(m:state_dict())
      local x = name == "Embedding" and torch.tensor { 1, 4 } or name == "Bilinear" and torch.randn(2, 2)
        or name:find("Conv2d") and torch.randn(1, 2, 4, 4) or name:find("Conv") and torch.randn(1, 2, 5)
        or torch.randn(4, 3)
      local y = name == "Bilinear" and m(x, torch.randn(2, 3)) or m(x)
      if name ~= "Bilinear" then assert.is_true(torch.allclose(ref(x), y)) end
      y:sum():backward()
      assert.is_not_nil(w.grad)
    end)
    it(name .. ": a plain tensor over the weight is refused", function()
      local m = make()
      local ok, err = pcall(function() m.weight = torch.zeros(shape) end)
      assert.is_false(ok)
      assert.matches("badcalls_torch_tying_spec.lua:%d+: nn." .. name .. ": cannot assign a tensor", err)
      assert.matches("nn.Parameter or nil expected", err, 1, true)
    end)
    it(name .. ": a Parameter of another shape is refused", function()
      local m = make()
      local ok, err = pcall(function() m.weight = nn.Parameter(torch.zeros(7)) end)
      assert.is_false(ok)
      assert.matches("must have the shape", err, 1, true)
      assert.matches("badcalls_torch_tying_spec.lua:%d+:", err)
    end)
  end

  it("an RNN's weights cannot be replaced: a clear error, not a silent no-op", function()
    local ok, err = pcall(function() nn.LSTM(2, 3).weight_ih_l0 = nn.Parameter(torch.zeros(12, 2)) end)
    assert.is_false(ok)
    assert.matches("cannot assign parameter 'weight_ih_l0'", err, 1, true)
  end)
end)
