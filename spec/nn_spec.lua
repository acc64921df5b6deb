-- nn modules bound from libtorch: outputs, gradients, state_dicts and
-- printing checked against PyTorch (spec/fixtures/nn.lua, written by
-- tests/fixtures/make_nn.py); train/eval behaviour; the Module interface
-- over native modules; nn.init.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_spec.lua

local torch = require "torch"
local nn = require "torch.nn"

local fixture = dofile("spec/fixtures/nn.lua")

-- {====================== helpers ======================

local P = require "spec.helpers.parity"
local T, assert_close = P.T, P.assert_close

local function make(lua) return assert(load("return " .. lua, "=" .. lua))() end

-- }======================================================

describe("native modules against PyTorch", function()
  it("has many cases", function() assert.is_true(#fixture.cases >= 50) end)

  -- an LSTM's state goes in as {h, c}
  P.module_cases(fixture.cases, make, function(m, c, inputs)
    if c.lua:find("^nn.LSTM") and #inputs == 3 then return m(inputs[1], { inputs[2], inputs[3] }) end
    return m(table.unpack(inputs))
  end)
end)

describe("printing", function()
  for _, r in ipairs(fixture.reprs) do
    it(r[1], function() assert.are.equal(r[2], tostring(make(r[1]))) end)
  end
end)

describe("train and eval", function()
  it("Dropout zeroes about p of the values and scales the rest in train, passes through in eval", function()
    torch.manual_seed(1)
    local d = nn.Dropout(0.25)
    assert.is_true(d.training)
    local x = torch.ones(100000)
    local y = d(x)
    local zeros = y:eq(0):sum():item()
    assert.is_true(math.abs(zeros / 100000 - 0.25) < 0.01, "fraction of zeros " .. zeros / 100000)
    assert.is_true(torch.allclose(y:masked_select(y:ne(0)), torch.full({ 100000 - zeros }, 1 / 0.75)))
    d:eval()
    assert.is_false(d.training)
    assert.is_true(torch.equal(d(x), x))
    d:train()
    assert.is_true(d(x):eq(0):sum():item() > 0)
  end)

  it("BatchNorm updates running stats in train only, and uses them in eval", function()
    local bn = nn.BatchNorm1d(2)
    local x = torch.tensor { { 1.0, 10.0 }, { 3.0, 30.0 } }
    bn(x)
    assert_close(torch.tensor { 0.2, 2.0 }, bn.running_mean, "running_mean")
    assert_close(torch.tensor { 0.9 + 0.1 * 2, 0.9 + 0.1 * 200 }, bn.running_var, "running_var")
    assert.are.equal(1, bn.num_batches_tracked:item())
    bn:eval()
    local y = bn(x)
    assert.are.equal(1, bn.num_batches_tracked:item())
    assert_close(torch.tensor { 0.2, 2.0 }, bn.running_mean, "running_mean after eval")
    -- eval normalizes with the running statistics
    local expect = (x - bn.running_mean) / (bn.running_var + 1e-5):sqrt()
    assert_close(expect, y, "eval output")
  end)

  it("reach every module of a tree, Lua containers and native leaves", function()
    local m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    m:eval()
    for _, sub in m:named_modules() do assert.is_false(sub.training) end
    local x = torch.randn(4, 2)
    assert.is_true(torch.equal(m(x), m(x))) -- deterministic in eval
    m:train()
    for _, sub in m:named_modules() do assert.is_true(sub.training) end
  end)

  it("a module made after eval() of its future parent follows train() later", function()
    local d = nn.Dropout(0.9)
    local s = nn.Sequential():eval()
    s:append(d)
    s:eval()
    local x = torch.ones(1000)
    assert.is_true(torch.equal(d(x), x))
  end)
end)

describe("native parameters", function()
  it("are the module's own tensors: identity is stable", function()
    local m = nn.Linear(3, 2)
    assert.are.equal(m.weight, m.weight)
    assert.are.equal(m:parameters()[1], m.weight)
    assert.are.equal(m:parameters()[2], m.bias)
    assert.is_true(m.weight.requires_grad)
    assert.is_nil(m.weight.grad_fn)
  end)

  it("change the module when updated in place (an optimizer step)", function()
    local m = nn.Linear(3, 2)
    local x = torch.randn(4, 3)
    local before = m(x):detach()
    local opt = optim.SGD(m:parameters(), { lr = 0.5 })
    m(x):sum():backward()
    local w, b = m.weight:detach():clone(), m.bias:detach():clone()
    opt:step()
    local expect_w = w - m.weight.grad * 0.5
    assert_close(expect_w, m.weight, "stepped weight")
    assert_close(x:matmul(expect_w:t()) + (b - m.bias.grad * 0.5), m(x), "output after the step")
    assert.is_false(torch.allclose(before, m(x):detach()))
  end)

  it("change the module when loaded from a state_dict", function()
    local a, b = nn.Conv2d(1, 2, 3), nn.Conv2d(1, 2, 3)
    local x = torch.randn(1, 1, 5, 5)
    assert.is_false(torch.allclose(a(x), b(x)))
    b:load_state_dict(a:state_dict())
    assert.is_true(torch.equal(a(x), b(x)))
    -- the values were copied, not shared
    torch.no_grad(function() a.weight:add_(1) end)
    assert.is_false(torch.allclose(a(x), b(x)))
  end)

  it("round-trip through state_dict over a nested model with buffers", function()
    local function net()
      return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    end
    local a, b = net(), net()
    a(torch.randn(4, 1, 4, 4)) -- moves a's running statistics
    b:load_state_dict(a:state_dict())
    for name, t in pairs(a:state_dict()) do assert.is_true(torch.equal(t, b:state_dict()[name]), name) end
    a:eval(); b:eval()
    local x = torch.randn(2, 1, 4, 4)
    assert.is_true(torch.equal(a(x), b(x)))
  end)

  it("zero_grad clears every gradient", function()
    local m = nn.Sequential(nn.Linear(2, 3), nn.LSTM(3, 2))
    local out = m(torch.randn(4, 1, 2))
    out:sum():backward()
    local n = 0
    for _, p in m:named_parameters() do
      assert.is_not_nil(p.grad)
      n = n + 1
    end
    assert.are.equal(2 + 4, n)
    m:zero_grad()
    for name, p in m:named_parameters() do assert.is_nil(p.grad, name) end
  end)

  it("apply visits every module, children first", function()
    local m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3)))
    local seen = {}
    m:apply(function(sub) seen[#seen + 1] = sub:_get_name() end)
    assert.are.same({ "Linear", "ReLU", "Linear", "Sequential", "Sequential" }, seen)
    m:apply(function(sub)
      if sub:_get_name() == "Linear" then
        nn.init.constant_(sub.weight, 0.5)
        nn.init.zeros_(sub.bias)
      end
    end)
    -- relu(x W1^T) W2^T with every weight 0.5
    local x = torch.tensor { { 1.0, -3.0 }, { 2.0, 4.0 } }
    local h = (x:sum(2, { keepdim = true }) * 0.5):relu():expand(2, 3)
    assert_close(h:sum(2, { keepdim = true }):expand(2, 3) * 0.5, m(x), "output")
  end)

  it("GRU and LSTM take and return states", function()
    local lstm = nn.LSTM(3, 4, 2)
    local x = torch.randn(5, 2, 3)
    local out, state = lstm(x)
    assert.are.same({ 5, 2, 4 }, out:size())
    assert.are.same({ 2, 2, 4 }, state[1]:size())
    assert.are.same({ 2, 2, 4 }, state[2]:size())
    -- feeding the state back continues the sequence
    local a = lstm(x:narrow(1, 1, 3))
    local _, s3 = lstm(x:narrow(1, 1, 3))
    local b = lstm(x:narrow(1, 4, 2), s3)
    assert.is_true(torch.allclose(torch.cat({ a, b }, 1), out, { rtol = 1e-5, atol = 1e-6 }))
    local gru = nn.GRU(3, 4)
    local o, h = gru(x)
    assert.are.same({ 1, 2, 4 }, h:size())
    assert.is_true(torch.allclose(o:select(1, -1), h:select(1, 1)))
  end)
end)

describe("nn.init", function()
  it("calculate_gain gives PyTorch's gains", function()
    for _, g in ipairs(fixture.gains) do
      assert.is_true(math.abs(nn.init.calculate_gain(g[1], g[2]) - g[3]) < 1e-12, g[1])
    end
  end)

  -- the bound kaiming_uniform_ uses shows PyTorch's fan_in; xavier's shows both fans
  it("kaiming and xavier use PyTorch's fans", function()
    for _, f in ipairs(fixture.fans) do
      local t = torch.empty(table.unpack(f.shape))
      local big = torch.empty(table.unpack(f.shape))
      local bound = math.sqrt(3) * math.sqrt(2) / math.sqrt(f.fan_in)
      nn.init.kaiming_uniform_(t, { nonlinearity = "relu" })
      assert.is_true(t:abs():max():item() <= bound * (1 + 1e-6))
      local xb = math.sqrt(6 / (f.fan_in + f.fan_out))
      nn.init.xavier_uniform_(big)
      assert.is_true(big:abs():max():item() <= xb * (1 + 1e-6))
      local ob = math.sqrt(3) * math.sqrt(2) / math.sqrt(f.fan_out)
      nn.init.kaiming_uniform_(t, 0, "fan_out", "relu")
      assert.is_true(t:abs():max():item() <= ob * (1 + 1e-6))
    end
  end)

  it("spreads as asked on large tensors", function()
    torch.manual_seed(0)
    local t = torch.empty(400, 500)
    nn.init.kaiming_normal_(t, { mode = "fan_in", nonlinearity = "relu" })
    local std = math.sqrt(2 / 500)
    assert.is_true(math.abs(t:std():item() / std - 1) < 0.02)
    nn.init.xavier_normal_(t, 2.0)
    assert.is_true(math.abs(t:std():item() / (2 * math.sqrt(2 / 900)) - 1) < 0.02)
    nn.init.kaiming_uniform_(t, math.sqrt(5))
    local bound = math.sqrt(3) * math.sqrt(2 / (1 + 5)) / math.sqrt(500)
    assert.is_true(t:max():item() <= bound and t:max():item() > 0.99 * bound)
    nn.init.uniform_(t, -0.5, 2)
    assert.is_true(t:min():item() >= -0.5 and t:max():item() <= 2 and t:min():item() < -0.49)
    nn.init.normal_(t, 3, 0.5)
    assert.is_true(math.abs(t:mean():item() - 3) < 0.01 and math.abs(t:std():item() - 0.5) < 0.01)
  end)

  it("fills, eye, orthogonal", function()
    local t = torch.empty(3, 4)
    assert.is_true(torch.equal(nn.init.constant_(t, 2.5), torch.full({ 3, 4 }, 2.5)))
    assert.is_true(torch.equal(nn.init.zeros_(t), torch.zeros(3, 4)))
    assert.is_true(torch.equal(nn.init.ones_(t), torch.ones(3, 4)))
    assert.is_true(torch.equal(nn.init.eye_(t), torch.eye(3, 4)))
    for _, s in ipairs { { 3, 5 }, { 6, 2 }, { 4, 2, 3 } } do
      local w = nn.init.orthogonal_(torch.empty(table.unpack(s)), 1.5)
      local flatw = w:reshape(s[1], -1)
      local small = s[1] <= flatw:size(2) and flatw:matmul(flatw:t()) or flatw:t():matmul(flatw)
      assert.is_true(torch.allclose(small, torch.eye(small:size(1)) * 2.25, { atol = 1e-5 }))
    end
  end)

  it("works on parameters without recording gradients", function()
    local m = nn.Linear(4, 3)
    nn.init.xavier_uniform_(m.weight)
    nn.init.zeros_(m.bias)
    assert.is_nil(m.weight.grad_fn)
    assert.is_true(m.weight.requires_grad)
    assert.is_true(torch.equal(m(torch.zeros(1, 4)), torch.zeros(1, 3)))
  end)
end)
