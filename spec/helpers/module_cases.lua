-- Runs the module cases of a fixture written by a tests/fixtures/make_*.py
-- script (spec/fixtures/attention.lua): each case's module is built from its
-- Lua expression, PyTorch's state loaded into it, called on the inputs by
-- the case's Lua call, and its outputs and gradients compared.
--   local cases = require "spec.helpers.module_cases"   -- run from the repo root
--   cases.describe(fixture, "cells")   -- inside a busted file
local torch = require "torch"

-- a required module does not see the spec file's environment, where busted
-- puts `describe`, `it` and `assert`: take them from busted's API instead
local busted = require "busted"
local describe, it, assert = busted.describe, busted.it, busted.assert

local M = {}

-- a fixture tensor {shape, dtype, data}
function M.T(spec)
  if #spec.shape == 0 then return torch.tensor(spec.data[1], { dtype = spec.dtype }) end
  return torch.tensor(spec.data, { dtype = spec.dtype }):view(table.unpack(spec.shape))
end
local T = M.T

local function shape(t) return "(" .. table.concat(t:size(), ", ") .. ")" end

-- Bitwise: these modules call the ATen operators PyTorch's Python calls,
-- in the same order, so on the machine that wrote the fixture every float32
-- and float64 value is PyTorch's to the last bit.
function M.assert_close(expected, got, what)
  assert.is_true(torch.is_tensor(got), what .. ": not a tensor")
  assert.are.same(expected:size(), got:size(), what .. ": shape " .. shape(got))
  assert.are.equal(expected.dtype, got.dtype, what .. ": dtype")
  local ok = torch.equal(got:detach(), expected)
  assert.is_true(ok, what .. ": expected\n" .. tostring(expected) .. "\ngot\n" .. tostring(got))
end
local assert_close = M.assert_close

local function make(lua) return assert(load("return " .. lua, "=" .. lua))() end
M.make = make

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

-- a module's outputs as a flat list
local function flat(...)
  local list = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "table" then for _, t in ipairs(v) do list[#list + 1] = t end
    elseif v ~= nil then list[#list + 1] = v end
  end
  return list
end

local function loaded(c)
  local m = make(c.lua)
  if c.mode == "eval" then m:eval() end
  local state = {}
  for k, v in pairs(c.state) do state[k] = T(v) end
  m:load_state_dict(state)
  return m
end

local function run(c)
  local m = loaded(c)
  local inputs = {}
  for i, x in ipairs(c.inputs) do
    inputs[i] = T(x)
    if c.input_grads[i] then inputs[i]:requires_grad_() end
  end
  local outs = flat(make(c.call)(m, inputs))
  assert.are.equal(#c.outputs, #outs, "number of outputs")
  local loss
  for i, o in ipairs(outs) do
    assert_close(T(c.outputs[i]), o, "output " .. i)
    local term = (o * T(c.weights[i])):sum()
    loss = loss and loss + term or term
  end
  loss:backward()
  for i, g in pairs(c.input_grads) do assert_close(T(g), inputs[i].grad, "grad of input " .. i) end
  local n = 0
  for name, p in m:named_parameters() do
    if c.grads[name] then
      n = n + 1
      assert_close(T(c.grads[name]), p.grad, "grad of " .. name)
    end
  end
  assert.are.equal(#sorted_keys(c.grads), n, "parameters with gradients")
end

-- the busted blocks of every case of `fixture` whose spec is `name`;
-- returns how many there are
function M.describe(fixture, name)
  local count = 0
  for _, c in ipairs(fixture.cases) do
    if c.spec == name then
      count = count + 1
      describe(c.name, function()
        it("prints as PyTorch", function() assert.are.equal(c.repr, tostring(loaded(c))) end)

        it("has PyTorch's state_dict keys, in PyTorch's order", function()
          local keys = {}
          for k in loaded(c):named_parameters() do keys[#keys + 1] = k end
          assert.are.same(c.keys, keys)
          assert.are.same(sorted(c.keys), sorted_keys(loaded(c):state_dict()))
        end)

        it("gives PyTorch's outputs and gradients", function() run(c) end)
      end)
    end
  end
  return count
end

return M
