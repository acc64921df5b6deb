-- nn.LSTMCell, nn.GRUCell, nn.RNNCell (written in Lua over ATen's cell
-- operators, stdlib/torch/nn/cells.lua) against PyTorch 1.13: outputs,
-- gradients, state_dict keys and printing (spec/fixtures/attention.lua,
-- written by tests/fixtures/make_attention.py); initialization; bad calls.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_cells_spec.lua

local torch = require "torch"
local nn = require "torch.nn"

local fixture = dofile("spec/fixtures/attention.lua")
local cases = require "spec.helpers.module_cases"
local badcalls = require "spec.helpers.badcalls"

describe("RNN cells against PyTorch", function()
  local n = cases.describe(fixture, "cells")
  it("has many cases", function() assert.is_true(n >= 10) end)
end)

describe("printing", function()
  for _, r in ipairs(fixture.reprs) do
    if r[1]:find("Cell") then
      it(r[1], function() assert.are.equal(r[2], tostring(cases.make(r[1]))) end)
    end
  end
end)

describe("cells", function()
  it("initialize every parameter uniform in +-1/sqrt(hidden_size), as PyTorch", function()
    torch.manual_seed(0)
    for _, Cell in ipairs { nn.LSTMCell, nn.GRUCell, nn.RNNCell } do
      local m = Cell(30, 100)
      for _, p in ipairs(m:parameters()) do
        assert.is_true(p:abs():max():item() <= 0.1)
        assert.is_true(p:abs():max():item() > 0.09)
      end
      assert.are.equal(4, #m:parameters())
    end
    assert.are.same({ 400, 30 }, nn.LSTMCell(30, 100).weight_ih:size())
    assert.are.same({ 300, 100 }, nn.GRUCell(30, 100).weight_hh:size())
  end)

  it("unroll over a sequence as nn.LSTM does, with the same weights", function()
    torch.manual_seed(1)
    local lstm, cell = nn.LSTM(3, 4), nn.LSTMCell(3, 4)
    local sd = {}
    for k, v in pairs(lstm:state_dict()) do sd[k:gsub("_l0$", "")] = v end
    cell:load_state_dict(sd)
    local x = torch.randn(5, 2, 3)
    local out, state = lstm(x)
    local h, c
    for t = 1, 5 do
      h, c = cell(x[t], h and { h, c })
      assert.is_true(torch.allclose(out[t], h, { rtol = 1e-5, atol = 1e-6 }), "step " .. t)
    end
    assert.is_true(torch.allclose(state[2][1], c, { rtol = 1e-5, atol = 1e-6 }))
  end)

  it("return float64 states for float64 cells", function()
    local h = nn.GRUCell(2, 3, { dtype = "float64" })(torch.randn(4, 2, { dtype = "float64" }))
    assert.are.equal("float64", h.dtype)
    assert.are.same({ 4, 3 }, h:size())
  end)
end)

describe("bad calls", function()
  local R = torch.randn
  badcalls({
    { "a bad nonlinearity", "nn.RNNCell", "'tanh' or 'relu', got 'sigmoid'",
      function() return nn.RNNCell(2, 3, { nonlinearity = "sigmoid" }) end },
    { "nonlinearity for an LSTMCell", "nn.LSTMCell", "unknown option 'nonlinearity'",
      function() return nn.LSTMCell(2, 3, { nonlinearity = "relu" }) end },
    { "a zero hidden size", "nn.GRUCell", "hidden_size must be >= 1", function() return nn.GRUCell(2, 0) end },
    { "the wrong input size", "nn.GRUCell", "input_size = 2, got shape (4, 3)",
      function() return nn.GRUCell(2, 3)(R(4, 3)) end },
    { "a 3-D input", "nn.RNNCell", "1-D (unbatched) or 2-D", function() return nn.RNNCell(2, 3)(R(1, 4, 2)) end },
    { "a state of the wrong batch", "nn.RNNCell", "hx must have shape (4, 3), got (2, 3)",
      function() return nn.RNNCell(2, 3)(R(4, 2), R(2, 3)) end },
    { "an LSTMCell state that is one tensor", "nn.LSTMCell", "the state must be {h, c}",
      function() return nn.LSTMCell(2, 3)(R(4, 2), R(4, 3)) end },
    { "an LSTMCell c of the wrong size", "nn.LSTMCell", "c must have shape (4, 3), got (4, 5)",
      function() return nn.LSTMCell(2, 3)(R(4, 2), { R(4, 3), R(4, 5) }) end },
    { "a state that is no tensor", "nn.GRUCell", "hx must be a tensor, got 'h'",
      function() return nn.GRUCell(2, 3)(R(4, 2), "h") end },
    { "forward called with a dot", "nn.LSTMCell", "called with '.'",
      function() local m = nn.LSTMCell(2, 3) return m.forward(R(1, 2)) end },
  })
end)
