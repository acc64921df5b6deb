-- tostring(tensor) must print exactly what PyTorch's repr(tensor) prints.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/format_spec.lua
-- The fixtures come from tests/fixtures/make_format.py (PyTorch itself).

package.path = "stdlib/?.lua;stdlib/?/init.lua;" .. package.path
local format = require("torch.format")

-- A stand-in for a clara tensor, holding nested Lua tables: the formatter's
-- rules can be tested without libtorch.  totable() refuses big tensors, to
-- prove that summarization narrows before converting.
local Fake = {}
Fake.__index = Fake

local function copy(x)
  if type(x) ~= "table" then return x end
  local out = {}
  for i, v in ipairs(x) do out[i] = copy(v) end
  return out
end

local function sizes_of(data)
  local sizes = {}
  while type(data) == "table" do
    sizes[#sizes + 1] = #data
    data = data[1]
  end
  return sizes
end

-- fake(data, dtype[, fields]): fields may set sizes (for empty tensors),
-- requires_grad, grad_fn.
local function fake(data, dtype, fields)
  local t = setmetatable({ data = data, dtype = dtype or "float32" }, Fake)
  t.sizes = sizes_of(data)
  for k, v in pairs(fields or {}) do t[k] = v end
  return t
end

function Fake:dim() return #self.sizes end
function Fake:size() return copy(self.sizes) end
function Fake:numel()
  local n = 1
  for _, s in ipairs(self.sizes) do n = n * s end
  return n
end
function Fake:totable()
  assert(self:numel() <= 1000, "totable() of a big tensor")
  return copy(self.data)
end

local function narrow_data(data, depth, start, length)
  if depth == 1 then return table.move(data, start, start + length - 1, 1, {}) end
  local out = {}
  for i, sub in ipairs(data) do out[i] = narrow_data(sub, depth - 1, start, length) end
  return out
end

function Fake:narrow(d, start, length)
  local sizes = self:size()
  sizes[d] = length
  return fake(narrow_data(self.data, d, start, length), self.dtype, { sizes = sizes })
end

local function range(a, b)
  local out = {}
  for i = a, b do out[#out + 1] = i end
  return out
end

local nan, inf = 0 / 0, math.huge

describe("torch.format rules (fake tensors)", function()
  it("prints 0-dim tensors as a bare value", function()
    assert.are.equal("tensor(3.5000)", format(fake(3.5)))
    assert.are.equal("tensor(7)", format(fake(7, "int64")))
    assert.are.equal("tensor(True)", format(fake(true, "bool")))
  end)

  it("prints integer-valued floats with a trailing point", function()
    assert.are.equal("tensor([ 1.,  2., -3.])", format(fake({ 1.0, 2.0, -3.0 })))
  end)

  it("uses fixed notation with 4 decimals and a common width", function()
    assert.are.equal("tensor([  1.2500, 123.4560,  -0.5000])",
      format(fake({ 1.25, 123.456, -0.5 })))
  end)

  it("switches to scientific notation on range, size or small fractions", function()
    assert.are.equal("tensor([1.0000e+00, 2.0000e+03])", format(fake({ 1.0, 2000.0 })))
    assert.are.equal("tensor([1.0000e+00, 1.0000e+09])", format(fake({ 1.0, 1e9 })))
    assert.are.equal("tensor([5.0000e-05, 1.0000e+00])", format(fake({ 5e-5, 1.0 })))
    -- integers never go scientific for being small
    assert.are.equal("tensor([0., 1.])", format(fake({ 0.0, 1.0 })))
  end)

  it("prints nan (never -nan) and infinities, ignoring them for the style", function()
    assert.are.equal("tensor([1.5000,    nan,    inf,   -inf])",
      format(fake({ 1.5, -(0 / 0), inf, -inf })))
    assert.are.equal("tensor([nan, inf])", format(fake({ nan, inf })))
    assert.are.equal("tensor([0., nan])", format(fake({ 0.0, nan })))
  end)

  it("prints ints and bools with Python's spelling", function()
    assert.are.equal("tensor([  -1,   20, -300])", format(fake({ -1, 20, -300 }, "int64")))
    assert.are.equal("tensor([3, 4], dtype=torch.int32)", format(fake({ 3.0, 4.0 }, "int32")))
    assert.are.equal("tensor([[ True, False],\n        [False,  True]])",
      format(fake({ { true, false }, { false, true } }, "bool")))
  end)

  it("separates blocks of 3-D tensors with a blank line", function()
    assert.are.equal("tensor([[[1, 2]],\n\n        [[3, 4]]])",
      format(fake({ { { 1, 2 } }, { { 3, 4 } } }, "int64")))
  end)

  it("wraps long rows at 80 columns, aligned under the first element", function()
    local s = format(fake(range(0, 29), "int64"))
    assert.are.equal("tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
      .. "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])", s)
  end)

  it("summarizes above 1000 elements without converting the whole tensor", function()
    local rows = {}
    for i = 1, 40 do rows[i] = range(100 * i, 100 * i + 49) end
    local s = format(fake(rows, "int64"))
    assert.are.equal("tensor([[ 100,  101,  102,  ...,  147,  148,  149],\n"
      .. "        [ 200,  201,  202,  ...,  247,  248,  249],\n"
      .. "        [ 300,  301,  302,  ...,  347,  348,  349],\n"
      .. "        ...,\n"
      .. "        [3800, 3801, 3802,  ..., 3847, 3848, 3849],\n"
      .. "        [3900, 3901, 3902,  ..., 3947, 3948, 3949],\n"
      .. "        [4000, 4001, 4002,  ..., 4047, 4048, 4049]])", s)
  end)

  it("prints empty tensors with their shape when it is not (0,)", function()
    assert.are.equal("tensor([])", format(fake({})))
    assert.are.equal("tensor([], size=(0, 3))", format(fake({}, "float32", { sizes = { 0, 3 } })))
    assert.are.equal("tensor([], dtype=torch.int64)", format(fake({}, "int64")))
  end)

  it("adds dtype and autograd suffixes, wrapping them past 80 columns", function()
    assert.are.equal("tensor([1., 1.], dtype=torch.float64, requires_grad=True)",
      format(fake({ 1.0, 1.0 }, "float64", { requires_grad = true })))
    assert.are.equal("tensor([2., 2.], grad_fn=<AddBackward0>)",
      format(fake({ 2.0, 2.0 }, "float32", { requires_grad = true, grad_fn = "AddBackward0" })))
    assert.are.equal("tensor([0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000],\n"
      .. "       dtype=torch.float64)",
      format(fake({ 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 }, "float64")))
  end)
end)

describe("tostring(tensor) against PyTorch 1.13", function()
  local torch = require "torch"

  local cases = dofile("spec/fixtures/format_cases.lua")

  for _, case in ipairs(cases) do
    it(case.lua, function()
      local t = assert(load("return " .. case.lua))()
      assert.are.equal(case.expect, tostring(t))
      assert.are.equal(case.expect, format(t))
    end)
  end

  -- (how fast: bench/, not here) a big tensor prints its edges, as PyTorch's
  it("summarizes a 1000x1000 tensor as PyTorch does", function()
    local row = "[0., 0., 0.,  ..., 0., 0., 0.]"
    local rows = {}
    for i = 1, 7 do rows[i] = i == 4 and "..." or row end
    local expect = "tensor([" .. table.concat(rows, ",\n        ") .. "])"
    assert.are.equal(expect, tostring(torch.zeros(1000, 1000)))
  end)
end)
