-- What the parity specs against PyTorch share (nn.functional, the nn
-- modules, nn.utils, optim.swa_utils, the schedulers): a fixture's tensor as
-- a clara tensor, the comparisons, the check that a call raises a given
-- message, and the run of a module fixture (tests/fixtures/make_nn.py's
-- records) case by case.  Not a spec itself (no "_spec" in the name).
--
--   local P = require "spec.helpers.parity"   -- run from the repo root
--   P.assert_close(P.T(c.outputs[1]), y, "output 1")
--   describe("...", function() P.module_cases(fixture.cases, make) end)

local torch = require "torch"
local busted = require "busted"
local assert, describe, it, before_each = busted.assert, busted.describe, busted.it, busted.before_each

local P = {}

-- {shape = {...}, dtype = "...", data = {...}} as a tensor
function P.T(spec)
  if #spec.shape == 0 then return torch.tensor(spec.data[1], { dtype = spec.dtype }) end
  return torch.tensor(spec.data, { dtype = spec.dtype }):view(table.unpack(spec.shape))
end

local function shape(t) return "(" .. table.concat(t:size(), ", ") .. ")" end

-- Floats within rtol 1e-5 with an absolute floor of 1e-6 for values that
-- cancel to ~0 (float32's last digits); integers exactly.  With `exact`,
-- floats bit for bit too: where clara runs PyTorch's own kernels in
-- PyTorch's order, nothing less is right.
function P.assert_close(expected, got, what, exact)
  assert.is_true(torch.is_tensor(got), what .. ": not a tensor")
  assert.are.same(expected:size(), got:size(), what .. ": shape " .. shape(got))
  assert.are.equal(expected.dtype, got.dtype, what .. ": dtype")
  if exact or (expected.dtype ~= "float32" and expected.dtype ~= "float64") then
    assert.is_true(torch.equal(expected, got:detach()), what .. ": values (bit for bit): expected\n" ..
      tostring(expected) .. "\ngot\n" .. tostring(got))
    return
  end
  local ok = torch.allclose(got:detach(), expected, { rtol = 1e-5, atol = 1e-6 })
  assert.is_true(ok, what .. ": expected\n" .. tostring(expected) .. "\ngot\n" .. tostring(got))
end

-- bitwise, NaN where the expected value has NaN
function P.assert_same(expected, got, what)
  assert.is_true(torch.is_tensor(got), what .. ": not a tensor")
  assert.are.same(expected:size(), got:size(), what .. ": shape")
  local nan = expected:isnan()
  assert.is_true(torch.equal(nan, got:isnan()) and
    torch.equal(expected:masked_fill(nan, 0), got:detach():masked_fill(nan, 0)),
    what .. ": expected\n" .. tostring(expected) .. "\ngot\n" .. tostring(got))
end

-- f(...) raises a message containing `text` (plain)
function P.expect_error(text, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error")
  assert.is_truthy(tostring(err):find(text, 1, true), "error: " .. tostring(err))
end

function P.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

-- a module's outputs as a flat list (an LSTM's {h, c} state flattened)
local function flat(...)
  local list = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "table" then for _, t in ipairs(v) do list[#list + 1] = t end else list[#list + 1] = v end
  end
  return list
end

-- One describe per case: the module made by make(c.lua), in c.mode, with
-- c.state loaded, prints as PyTorch, has its state_dict keys, and gives
-- its outputs, gradients and buffers after forward.  call(m, c, inputs)
-- runs the module (default m(inputs...)); with c.seed, torch.manual_seed
-- runs just before, as in the generator.  exact: every value bit for bit.
function P.module_cases(cases, make, call, exact)
  for _, c in ipairs(cases) do
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
        assert.are.same(keys, P.sorted_keys(m:state_dict()))
      end)

      it("gives PyTorch's outputs, gradients and buffers", function()
        local inputs = {}
        for i, x in ipairs(c.inputs) do
          inputs[i] = P.T(x)
          if is_float(inputs[i]) then inputs[i]:requires_grad_() end
        end
        if c.seed then torch.manual_seed(c.seed) end
        local outs = flat((call or function() return m(table.unpack(inputs)) end)(m, c, inputs))
        assert.are.equal(#c.outputs, #outs, "number of outputs")
        local loss
        for i, o in ipairs(outs) do
          P.assert_close(P.T(c.outputs[i]), o, "output " .. i, exact)
          if is_float(o) then
            local term = (o * P.T(c.weights[i])):sum()
            loss = loss and loss + term or term
          end
        end
        loss:backward()
        for i, g in pairs(c.input_grads) do P.assert_close(P.T(g), inputs[i].grad, "grad of input " .. i, exact) end
        local n = 0
        for name, p in m:named_parameters() do
          if c.grads[name] then
            n = n + 1
            P.assert_close(P.T(c.grads[name]), p.grad, "grad of " .. name, exact)
          end
        end
        assert.are.equal(#P.sorted_keys(c.grads), n, "parameters with gradients")
        for name, b in m:named_buffers() do
          P.assert_close(P.T(c.buffers_after[name]), b, "buffer " .. name .. " after forward", exact)
        end
      end)
    end)
  end
end

return P
