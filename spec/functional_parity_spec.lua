-- nn.functional against PyTorch 1.13 (spec/fixtures/functional.lua, written
-- by tests/fixtures/make_functional.py): every call's outputs, the
-- gradients of a weighted sum of them with respect to each float input,
-- and each input after the call (running statistics, in-place results),
-- all bit for bit: the calls run PyTorch's ATen kernels in PyTorch's order.
-- Random calls run right after torch.manual_seed(seed), as in PyTorch, and
-- match its masks exactly.  Bad calls: spec/functional_badcalls_spec.lua.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/functional_parity_spec.lua

local torch = require "torch"
local F = require("torch.nn").functional
local P = require "spec.helpers.parity"

local fixture = dofile("spec/fixtures/functional.lua")

-- the case's Lua: an expression over x, y, z, w, v, or statements ending in return
local function compile(lua)
  local body = lua:find("return ", 1, true) and lua or ("return " .. lua)
  local chunk = "local F, torch = ... return function(x, y, z, w, v) " .. body .. " end"
  return assert(load(chunk, "=" .. lua))(F, torch)
end

describe("nn.functional against PyTorch", function()
  it("has many cases", function() assert.is_true(#fixture.cases >= 150) end)

  for _, c in ipairs(fixture.cases) do
    it(c.name .. ": " .. c.lua, function()
      local fn = compile(c.lua)
      local inputs = {}
      for i, spec in ipairs(c.inputs) do
        inputs[i] = P.T(spec)
        if c.requires_grad[i] then inputs[i]:requires_grad_() end
      end
      if c.seed then torch.manual_seed(c.seed) end
      local outs = table.pack(fn(table.unpack(inputs, 1, #c.inputs)))
      assert.are.equal(#c.outputs, outs.n, "number of outputs")
      local loss, k = nil, 0
      for i = 1, outs.n do
        P.assert_close(P.T(c.outputs[i]), outs[i], "output " .. i, true)
        if outs[i].dtype == "float32" or outs[i].dtype == "float64" then
          k = k + 1
          local term = (outs[i] * P.T(c.weights[k])):sum()
          loss = loss and loss + term or term
        end
      end
      if loss and loss.requires_grad then loss:backward() end
      for i, x in ipairs(inputs) do
        if c.grads[i] then P.assert_close(P.T(c.grads[i]), x.grad, "grad of input " .. i, true) end
        P.assert_close(P.T(c.after[i]), x, "input " .. i .. " after the call", true)
      end
    end)
  end
end)

describe("nn.functional", function()
  it("keeps clara's losses under PyTorch's names", function()
    local losses = require "clara.losses"
    assert.are.equal(losses.cross_entropy, F.cross_entropy)
    assert.are.equal(losses.mse, F.mse_loss)
  end)

  it("is the identity for dropout outside training, whatever the seed", function()
    local x = torch.randn(4, 5)
    for _, name in ipairs { "alpha_dropout", "feature_alpha_dropout" } do
      assert.is_true(torch.equal(x, F[name](x, 0.5)), name)
    end
    local shapes = { dropout = { 4, 5 }, dropout1d = { 1, 4, 5 }, dropout2d = { 1, 4, 5, 1 }, dropout3d = { 1, 4, 5, 1, 1 } }
    for name, shape in pairs(shapes) do
      local y = x:view(table.unpack(shape))
      assert.is_true(torch.equal(y, F[name](y, 0.5, false)), name)
    end
  end)

  it("drops about p of the values and scales the rest by 1/(1-p)", function()
    torch.manual_seed(1)
    local y = F.dropout(torch.ones(100000), 0.3)
    local kept = (y:ne(0)):sum():item()
    assert.is_true(math.abs(kept / 100000 - 0.7) < 0.01, "kept " .. kept)
    assert.is_true(math.abs(y:max():item() - 1 / 0.7) < 1e-6)
  end)
end)
