-- nn.utils against PyTorch 1.13 (spec/fixtures/sched_parity.lua, written by
-- tests/fixtures/make_sched_parity.py): clip_grad_norm_ and clip_grad_value_
-- bitwise (the same libtorch operations in PyTorch's order), the flat
-- parameter vectors, and bad calls.  Also nn.Module:clone, which
-- optim.swa_utils builds on.
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_utils_spec.lua

local torch = require "torch"
local nn = require "torch.nn"

local fixture = dofile("spec/fixtures/sched_parity.lua")

local P = require "spec.helpers.parity"
local T, assert_same, expect_error = P.T, P.assert_same, P.expect_error

-- the fixture's parameters, each with its grad (or none)
local function params(list)
  local ps = {}
  for i, p in ipairs(list) do
    ps[i] = T(p.data):requires_grad_(true)
    if p.grad then ps[i].grad = T(p.grad) end
  end
  return ps
end

describe("nn.utils.clip_grad_norm_ against PyTorch", function()
  it("has the cases", function() assert.is_true(#fixture.clip >= 10) end)
  for _, c in ipairs(fixture.clip) do
    it(c.name, function()
      local ps = params(c.params)
      local norm_type = c.norm_type == math.huge and "inf" or c.norm_type
      local total = nn.utils.clip_grad_norm_(ps, c.max_norm, { norm_type = norm_type })
      assert.are.equal(0, total:dim())
      assert_same(T(c.total), total, "total norm")
      for i, p in ipairs(ps) do
        if c.after[i] then assert_same(T(c.after[i]), p.grad, "grad " .. i) else assert.is_nil(p.grad) end
      end
    end)
  end

  it("takes math.huge for the inf-norm, a single tensor and a module", function()
    local c = fixture.clip[5] -- inf-norm of one tensor
    local p = params(c.params)[1]
    assert_same(T(c.total), nn.utils.clip_grad_norm_(p, c.max_norm, { norm_type = math.huge }), "total")
    assert_same(T(c.after[1]), p.grad, "grad")
    local m = nn.Linear(1, 1)
    m.weight.grad, m.bias.grad = torch.full({ 1, 1 }, 3.0), torch.full({ 1 }, 4.0)
    assert.are.equal(5.0, nn.utils.clip_grad_norm_(m, 1.0):item())
    assert.is_true(math.abs(m.bias.grad:item() - 0.8) < 1e-6)
  end)

  it("returns a 0-d zero without gradients", function()
    local total = nn.utils.clip_grad_norm_({ torch.ones(2):requires_grad_(true) }, 1.0)
    assert.are.equal(0, total:dim())
    assert.are.equal(0.0, total:item())
  end)

  it("raises on a non-finite total with error_if_nonfinite", function()
    local p = torch.ones(2):requires_grad_(true)
    p.grad = torch.tensor({ 1 / 0, 1.0 })
    expect_error("nn.utils.clip_grad_norm_: the total norm of order 2.0 for gradients",
      nn.utils.clip_grad_norm_, p, 1.0, { error_if_nonfinite = true })
  end)

  it("rejects bad calls", function()
    local p = torch.ones(2):requires_grad_(true)
    expect_error("nn.utils.clip_grad_norm_: parameters must be a tensor, a list of tensors or a module",
      nn.utils.clip_grad_norm_, 3, 1.0)
    expect_error("nn.utils.clip_grad_norm_: parameters[2] is not a tensor", nn.utils.clip_grad_norm_, { p, "x" }, 1.0)
    expect_error("nn.utils.clip_grad_norm_: max_norm must be a number", nn.utils.clip_grad_norm_, p, nil)
    expect_error("nn.utils.clip_grad_norm_: max_norm must be a number", nn.utils.clip_grad_norm_, p, 0 / 0)
    expect_error("did you mean 'norm_type'", nn.utils.clip_grad_norm_, p, 1.0, { norm_typ = 2 })
    expect_error("norm_type", nn.utils.clip_grad_norm_, p, 1.0, { norm_type = "max" })
    expect_error("nn.utils.clip_grad_nrm_ does not exist (did you mean 'clip_grad_norm_'?)",
      function() return nn.utils.clip_grad_nrm_ end)
  end)
end)

describe("nn.utils.clip_grad_value_ against PyTorch", function()
  for _, c in ipairs(fixture.clip_value) do
    it(c.name, function()
      local ps = params(c.params)
      assert.is_nil(nn.utils.clip_grad_value_(ps, c.clip_value))
      for i, p in ipairs(ps) do
        if c.after[i] then assert_same(T(c.after[i]), p.grad, "grad " .. i) else assert.is_nil(p.grad) end
      end
    end)
  end

  it("rejects bad calls", function()
    expect_error("nn.utils.clip_grad_value_: clip_value must be a number",
      nn.utils.clip_grad_value_, torch.ones(1), "1")
    expect_error("nn.utils.clip_grad_value_: parameters must be", nn.utils.clip_grad_value_, nil, 1)
  end)
end)

describe("nn.utils.parameters_to_vector and vector_to_parameters", function()
  local c = fixture.vector

  it("flattens in order and copies back as PyTorch", function()
    local ps = {}
    for i, p in ipairs(c.params) do ps[i] = T(p) end
    assert_same(T(c.vec), nn.utils.parameters_to_vector(ps), "vector")
    nn.utils.vector_to_parameters(T(c.new), ps)
    for i, p in ipairs(ps) do assert_same(T(c.after[i]), p, "parameter " .. i) end
  end)

  it("is differentiable and writes into a model's own tensors", function()
    local m = nn.Linear(3, 2)
    local v = nn.utils.parameters_to_vector(m)
    assert.are.same({ 8 }, v:size())
    v:sum():backward()
    assert.is_true(torch.equal(m.weight.grad, torch.ones(2, 3)))
    nn.utils.vector_to_parameters(torch.arange(8):float(), m)
    assert.is_true(torch.equal(m.bias, torch.tensor({ 6.0, 7.0 })))
    assert.is_true(torch.equal(m(torch.zeros(1, 3)), torch.tensor({ { 6.0, 7.0 } })))
  end)

  it("rejects bad calls", function()
    local ps = { torch.ones(2), torch.ones(3) }
    expect_error("nn.utils.vector_to_parameters: vec has 4 values, the parameters 5",
      nn.utils.vector_to_parameters, torch.ones(4), ps)
    expect_error("nn.utils.vector_to_parameters: expected vec to be a tensor",
      nn.utils.vector_to_parameters, { 1, 2 }, ps)
    expect_error("nn.utils.vector_to_parameters: vec must be 1-dimensional",
      nn.utils.vector_to_parameters, torch.ones(5, 1), ps)
    expect_error("nn.utils.parameters_to_vector: no parameters", nn.utils.parameters_to_vector, {})
  end)
end)

describe("nn.Module:clone", function()
  local Scale = nn.Module:extend("Scale")
  function Scale:init(n)
    self.weight = nn.Parameter(torch.ones(n))
    self.register_buffer(self, "count", torch.zeros(1))
    self.settings = { factor = 2 }
  end
  function Scale:forward(x) return x * self.weight * self.settings.factor end

  local function model()
    return nn.Sequential(nn.Linear(3, 4), Scale(4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
  end

  it("copies native and Lua modules: same outputs, state and printing, no shared tensors", function()
    local m = model()
    torch.no_grad(function() m[2].weight:fill_(0.5) end)
    m:eval()
    local c = m:clone()
    assert.are.equal(tostring(m), tostring(c))
    local x = torch.randn(5, 3)
    assert.is_true(torch.equal(m(x), c(x)))
    assert.is_false(c.training)
    assert.is_false(c[3].training)
    local a, b = m:state_dict(), c:state_dict()
    for k, t in pairs(a) do assert.is_true(torch.equal(t, b[k]), k) end
    for k in pairs(b) do assert.is_not_nil(a[k], k) end
    torch.no_grad(function() c[1].weight:add_(1); c[2].weight:add_(1) end)
    assert.is_false(torch.equal(m[1].weight, c[1].weight))
    assert.are.equal(0.5, m[2].weight[1]:item())
    assert.are_not.equal(m[2].settings, c[2].settings)
    assert.are.equal(2, c[2].settings.factor)
  end)

  it("gives parameters that train on their own", function()
    local m = model()
    local c = m:clone()
    for _, p in ipairs(c:parameters()) do assert.is_true(p.requires_grad) end
    c(torch.randn(4, 3)):sum():backward()
    assert.is_nil(m[1].weight.grad)
    assert.is_not_nil(c[1].weight.grad)
    m[1].weight:requires_grad_(false)
    assert.is_false(m:clone()[1].weight.requires_grad)
  end)

  it("keeps tied weights tied, inside libtorch's modules too", function()
    local Tied = nn.Module:extend("Tied")
    function Tied:init()
      self.a, self.b = nn.Linear(4, 4, { bias = false }), nn.Linear(4, 4, { bias = false })
      self.b.weight = self.a.weight
    end
    function Tied:forward(x) return self.b(self.a(x)) end
    local m = Tied()
    local c = m:clone()
    assert.are.equal(c.a.weight, c.b.weight)
    assert.are.equal(1, #c:parameters())
    torch.no_grad(function() c.a.weight:fill_(1) end)
    assert.is_true(torch.equal(torch.full({ 1, 4 }, 16.0), c(torch.ones(1, 4))))
    assert.are.equal(0, m.a.weight:eq(1):sum():item())
  end)

  it("keeps a module used twice as one", function()
    local shared = nn.Linear(2, 2)
    local c = nn.Sequential(shared, nn.ReLU(), shared):clone()
    assert.are.equal(c[1], c[3])
    assert.are_not.equal(shared, c[1])
    assert.are.equal(2, #c:parameters())
  end)
end)
