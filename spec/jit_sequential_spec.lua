-- A TorchScript Sequential or ModuleList answers positions as clara's own
-- Sequential does: m.layer1[1] is child "0", negative positions count from
-- the end, # is the length, ipairs walks the children, and a position
-- outside (or in another module) gives nil.  Forward through the indexed
-- children equals PyTorch's (spec/fixtures/jit_sequential.lua, written with
-- the models by tests/fixtures/make_jit_sequential.py): bitwise, since
-- libtorch runs the same kernels in the same order as PyTorch did.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/jit_sequential_spec.lua

local torch = require "torch"
local build = require("spec.helpers.loss_cases").build

local want = dofile("spec/fixtures/jit_sequential.lua")

local function same(expected, got)
  assert.same(expected.shape, got:size())
  assert.same(build(expected):totable(), got:detach():totable())
end

describe("a TorchScript Sequential", function()
  local m = torch.jit.load("spec/fixtures/jit_sequential.pt")
  local x = build(want.x)

  it("gives its children by position, 1-based, the order PyTorch lists them", function()
    assert.equal(3, #m.layer1)
    for i, name in ipairs(want.layer1_names) do
      assert.equal(name, m.layer1[i].original_name)
      assert.equal(tostring(m.layer1[tostring(i - 1)]), tostring(m.layer1[i]))
    end
    assert.equal("Sequential", m.layer1[3].original_name)
    assert.equal("Tanh", m.layer1[3][2].original_name)
  end)

  it("counts negative positions from the end, as clara's Sequential", function()
    assert.equal("Sequential", m.layer1[-1].original_name)
    assert.equal("Linear", m.layer1[-3].original_name)
    assert.equal("Linear", m.layer1[-1][-2].original_name)
  end)

  it("gives nil outside its length, as clara's Sequential", function()
    local own = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Sequential(nn.Linear(6, 3), nn.Tanh()))
    for _, i in ipairs { 0, 4, 100, -4, -100 } do
      assert.is_nil(own[i], "clara's Sequential at " .. i)
      assert.is_nil(m.layer1[i], "the script's at " .. i)
    end
    assert.equal(#own, #m.layer1)
    assert.is_nil(m.layer1[1.5])
  end)

  it("is walked by ipairs", function()
    local names = {}
    for i, child in ipairs(m.layer1) do names[i] = child.original_name end
    assert.same(want.layer1_names, names)
  end)

  it("runs each indexed child as PyTorch does", function()
    local h1 = m.layer1[1](x)
    same(want.layer1_1, h1)
    local h2 = m.layer1[2](h1)
    same(want.layer1_2, h2)
    local h3 = m.layer1[3][1](h2)
    same(want.layer1_3_1, h3)
    same(want.layer1, m.layer1[3][2](h3))
    same(want.layer1, m.layer1(x))
    same(want.forward, m(x))
  end)

  it("trains through an indexed child: its parameters are the model's", function()
    local first = m.layer1[1]
    local w = first.weight
    local found = false
    for name, p in m:named_parameters() do
      if name == "layer1.0.weight" then found = p:equal(w) end
    end
    assert.is_true(found)
    first(x):sum():backward()
    assert.is_true(torch.is_tensor(w.grad))
    m:zero_grad()
  end)
end)

describe("a TorchScript ModuleList", function()
  local m = torch.jit.load("spec/fixtures/jit_sequential.pt")

  it("gives its children by position and length", function()
    assert.equal(2, #m.blocks)
    local names = {}
    for i, b in ipairs(m.blocks) do names[i] = b.original_name end
    assert.same(want.blocks_names, names)
    assert.is_nil(m.blocks[3])
    assert.equal("Sigmoid", m.blocks[-1].original_name)
    local h = m.blocks[1](build(want.layer1))
    same(want.blocks_1, h)
    same(want.blocks_2, m.blocks[2](h))
  end)
end)

describe("a traced top-level Sequential", function()
  local t = torch.jit.load("spec/fixtures/jit_sequential_traced.pt")
  local x = build(want.x)

  it("is indexed as well, and its children run", function()
    assert.equal(3, #t)
    same(want.traced_1, t[1](x))
    same(want.traced_3, t[3](t[2](t[1](x))))
    same(want.traced, t(x))
  end)
end)

describe("other TorchScript modules", function()
  local m = torch.jit.load("spec/fixtures/jit_sequential.pt")

  it("have no positions and length 0, as clara's own modules", function()
    assert.is_nil(m[1])
    assert.equal(0, #m)
    assert.is_nil(m.head[1])
    assert.equal(0, #nn.Linear(2, 2))
    assert.is_nil(nn.Linear(2, 2)[1])
    local n = 0
    for _ in ipairs(m) do n = n + 1 end
    assert.equal(0, n)
  end)
end)
