-- nn.MultiheadAttention and the Transformer modules (written in Lua,
-- stdlib/torch/nn/attention.lua and transformer.lua) against PyTorch 1.13:
-- outputs, gradients, state_dict keys and printing (spec/fixtures/
-- attention.lua, written by tests/fixtures/make_attention.py); masks;
-- train/eval and dropout; initialization; bad calls.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_attention_spec.lua

local torch = require "torch"
local nn = require "torch.nn"

local fixture = dofile("spec/fixtures/attention.lua")
local cases = require "spec.helpers.module_cases"

describe("attention and Transformers against PyTorch", function()
  local n = cases.describe(fixture, "attention")
  it("has many cases", function() assert.is_true(n >= 30) end)
end)
