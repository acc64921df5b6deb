-- The modules of issue 13 against PyTorch 1.13 (spec/fixtures/nn_parity.lua,
-- written by tests/fixtures/make_nn_parity.py): printing, state_dict keys,
-- outputs, gradients of inputs and parameters, buffers after forward, in
-- train or eval as the case says.  Random modules run right after
-- torch.manual_seed(seed), as in PyTorch, and match its masks exactly.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_modules_parity_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local P = require "spec.helpers.parity"

local fixture = dofile("spec/fixtures/nn_parity.lua")

local function make(lua) return assert(load("return " .. lua, "=" .. lua, "t", { nn = nn }))() end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

describe("nn modules of issue 13 against PyTorch", function()
  it("has many cases", function() assert.is_true(#fixture.cases >= 70) end)

  for _, c in ipairs(fixture.cases) do
    describe(c.name, function()
      local m
      before_each(function()
        m = make(c.lua)
        if c.mode == "eval" then m:eval() end
        local state = {}
        for k, v in pairs(c.state) do state[k] = P.T(v) end
        m:load_state_dict(state)
      end)

      it("prints as PyTorch", function() assert.are.equal(c.repr, tostring(m)) end)

      it("has PyTorch's state_dict keys", function()
        local keys = { table.unpack(c.keys) }
        table.sort(keys)
        assert.are.same(keys, sorted_keys(m:state_dict()))
      end)

      it("gives PyTorch's outputs, gradients and buffers", function()
        local inputs = {}
        for i, x in ipairs(c.inputs) do
          inputs[i] = P.T(x)
          if is_float(inputs[i]) then inputs[i]:requires_grad_() end
        end
        if c.seed then torch.manual_seed(c.seed) end
        local outs = table.pack(m(table.unpack(inputs)))
        assert.are.equal(#c.outputs, outs.n, "number of outputs")
        local loss
        for i = 1, outs.n do
          P.assert_close(P.T(c.outputs[i]), outs[i], "output " .. i)
          if is_float(outs[i]) then
            local term = (outs[i] * P.T(c.weights[i])):sum()
            loss = loss and loss + term or term
          end
        end
        loss:backward()
        for i, g in pairs(c.input_grads) do P.assert_close(P.T(g), inputs[i].grad, "grad of input " .. i) end
        local n = 0
        for name, p in m:named_parameters() do
          n = n + 1
          P.assert_close(P.T(c.grads[name]), p.grad, "grad of " .. name)
        end
        assert.are.equal(#sorted_keys(c.grads), n, "parameters with gradients")
        for name, b in m:named_buffers() do
          P.assert_close(P.T(c.buffers_after[name]), b, "buffer " .. name .. " after forward")
        end
      end)
    end)
  end
end)
