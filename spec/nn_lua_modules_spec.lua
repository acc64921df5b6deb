-- Modules written in Lua, mixed with libtorch's own: their parameters in
-- state_dicts (PyTorch's dotted names) and optimizers, printing, outputs
-- and gradients against PyTorch (the same classes in
-- tests/fixtures/make_nn.py), and capture of intermediate outputs.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_lua_modules_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"

local fixture = dofile("spec/fixtures/nn.lua")

-- {====================== the Lua classes ======================

-- x * weight, with a buffer that counts calls in training
local Scale = nn.Module:extend("Scale")
function Scale:init(n)
  self.weight = nn.Parameter(torch.ones(n))
  self:register_buffer("count", torch.zeros(1))
end
function Scale:forward(x)
  if self.training then torch.no_grad(function() self.count:add_(1) end) end
  return x * self.weight
end
function Scale:extra_repr() return ("n=%d"):format(self.weight:size(1)) end

-- x + scale(relu(fc1(x))): native children inside a Lua module
local Block = nn.Module:extend("Block")
function Block:init(d)
  self.fc1 = nn.Linear(d, d)
  self.act = nn.ReLU()
  self.scale = Scale(d)
end
function Block:forward(x) return x + self.scale(self.act(self.fc1(x))) end

-- two outputs; children in a ModuleList and a ModuleDict; a parameter of its own
local Stack = nn.Module:extend("Stack")
function Stack:init()
  self.layers = nn.ModuleList { nn.Linear(3, 5), Block(5) }
  self.heads = nn.ModuleDict { { "cls", nn.Linear(5, 3) }, { "reg", nn.Sequential(nn.Linear(5, 1), nn.Sigmoid()) } }
  self.temperature = nn.Parameter(torch.tensor(2.0))
end
function Stack:forward(x)
  for _, layer in ipairs(self.layers:children()) do x = layer(x):relu() end
  return self.heads.cls(x) / self.temperature, self.heads.reg(x)
end

local builders = {
  mixed = function()
    return nn.Sequential(nn.Linear(4, 8), Block(8), nn.Sequential(Block(8), nn.Tanh()), nn.Linear(8, 2))
  end,
  stack = function() return Stack() end,
}

-- }======================================================

-- {====================== helpers ======================

local function T(spec)
  if #spec.shape == 0 then return torch.tensor(spec.data[1], { dtype = spec.dtype }) end
  return torch.tensor(spec.data, { dtype = spec.dtype }):view(table.unpack(spec.shape))
end

local function close(a, b) return torch.allclose(a:detach(), b:detach(), { rtol = 1e-5, atol = 1e-6 }) end

local function names(iter)
  local list = {}
  for name in iter do list[#list + 1] = name end
  return list
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

local function keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

-- }======================================================

describe("Lua modules against PyTorch", function()
  for _, c in ipairs(fixture.lua_modules) do
    describe(c.name, function()
      local m
      before_each(function()
        m = builders[c.lua]()
        local state = {}
        for k, v in pairs(c.state) do state[k] = T(v) end
        m:load_state_dict(state)
      end)

      it("prints as PyTorch", function() assert.are.equal(c.repr, tostring(m)) end)

      it("names parameters and buffers as PyTorch, in its order", function()
        local expected = {}
        for _, k in ipairs(c.keys) do if c.grads[k] then expected[#expected + 1] = k end end
        assert.are.same(sorted(expected), sorted(names(m:named_parameters())))
        assert.are.same(sorted(c.keys), keys(m:state_dict()))
      end)

      it("gives PyTorch's outputs and gradients", function()
        local x = T(c.inputs[1]):requires_grad_()
        local outs = table.pack(m(x))
        assert.are.equal(#c.outputs, outs.n)
        local loss
        for i = 1, outs.n do
          assert.is_true(close(T(c.outputs[i]), outs[i]), "output " .. i .. ": " .. tostring(outs[i]))
          local term = (outs[i] * T(c.weights[i])):sum()
          loss = loss and loss + term or term
        end
        loss:backward()
        assert.is_true(close(T(c.input_grads[1]), x.grad), "grad of the input")
        for name, p in m:named_parameters() do
          assert.is_true(close(T(c.grads[name]), p.grad), "grad of " .. name)
        end
      end)
    end)
  end
end)

describe("Lua modules", function()
  it("register parameters, buffers and children by assignment, with dotted names", function()
    local b = Block(3)
    assert.are.same({ "fc1.weight", "fc1.bias", "scale.weight" }, names(b:named_parameters()))
    assert.are.same({ "scale.count" }, names(b:named_buffers()))
    assert.are.same({ "", "fc1", "act", "scale" }, names(b:named_modules()))
    assert.are.equal(b.fc1, b:children()[1])
    assert.are.equal(b.scale.weight, b:parameters()[3])
  end)

  it("count a shared module's parameters once", function()
    local shared = nn.Linear(2, 2)
    local m = nn.Sequential(shared, nn.ReLU(), shared)
    assert.are.equal(2, #m:parameters())
  end)

  it("have their parameters trained by an optimizer with native ones", function()
    torch.manual_seed(0)
    local m = nn.Sequential(nn.Linear(2, 8), Block(8), nn.Linear(8, 1))
    local x = torch.randn(64, 2)
    local y = (x:select(2, 1) * 2 - x:select(2, 2)):unsqueeze(2)
    local opt = optim.SGD(m:parameters(), { lr = 0.05, momentum = 0.9 })
    local scale_before = m[2].scale.weight:detach():clone()
    local first, last
    for step = 1, 200 do
      opt:zero_grad()
      local loss = nn.functional.mse_loss(m(x), y)
      loss:backward()
      opt:step()
      if step == 1 then first = loss:item() end
      last = loss:item()
    end
    assert.is_true(last < first / 20, ("loss %g -> %g"):format(first, last))
    assert.is_false(torch.equal(scale_before, m[2].scale.weight:detach()), "the Lua parameter moved")
  end)

  it("round-trip through state_dict, Lua and native tensors alike", function()
    local a, b = Stack(), Stack()
    torch.no_grad(function() a.temperature:fill_(3) end)
    a(torch.randn(2, 3)) -- counts in a's Scale
    b:load_state_dict(a:state_dict())
    assert.are.equal(3, b.temperature:item())
    assert.are.equal(1, b.layers[2].scale.count:item())
    local x = torch.randn(2, 3)
    local a1, a2 = a(x)
    local b1, b2 = b(x)
    assert.is_true(torch.equal(a1, b1) and torch.equal(a2, b2))
  end)

  it("follow train() and eval() as native ones do", function()
    local m = nn.Sequential(Block(2), nn.Dropout(0.5))
    m:eval()
    local s = m[1].scale
    assert.is_false(s.training)
    m(torch.ones(1, 2))
    assert.are.equal(0, s.count:item())
    m:train()
    m(torch.ones(1, 2))
    assert.are.equal(1, s.count:item())
  end)

  it("take zero_grad and apply over the whole tree", function()
    local m = Stack()
    local a, b = m(torch.randn(2, 3))
    local loss = a:sum() + b:sum()
    loss:backward()
    assert.is_not_nil(m.temperature.grad)
    m:zero_grad()
    for name, p in m:named_parameters() do assert.is_nil(p.grad, name) end
    local count = 0
    m:apply(function() count = count + 1 end)
    assert.are.equal(#m:modules(), count)
  end)
end)

describe("capture of intermediate outputs", function()
  local m, x
  before_each(function()
    m = builders.mixed()
    x = torch.randn(3, 4)
  end)

  it("returns what named native and Lua submodules returned, and the outputs", function()
    local captured, out = m:capture({ "0", "1", "1.fc1", "1.scale", "2.0", "3" }, x)
    -- recompute by hand, module by module
    local h0 = m[1](x)
    local h1 = m[2](h0)
    local h2 = m[3][1](h1)
    assert.is_true(torch.equal(h0, captured["0"]))
    assert.is_true(torch.equal(h1, captured["1"]))
    assert.is_true(torch.equal(m[2].fc1(h0), captured["1.fc1"]))
    assert.is_true(torch.equal(m[2].scale(m[2].fc1(h0):relu()), captured["1.scale"]))
    assert.is_true(torch.equal(h2, captured["2.0"]))
    assert.is_true(torch.equal(out, captured["3"]))
    assert.is_true(torch.equal(out, m(x)))
  end)

  it("leaves the model as it was", function()
    m:capture({ "1.scale" }, x)
    for name, sub in m:named_modules() do assert.is_nil(next(rawget(sub, "_hooks")), name) end
  end)

  it("keeps gradients flowing through captured outputs", function()
    local captured, out = m:capture({ "1" }, x)
    local loss = out:sum() + captured["1"]:pow(2):sum()
    loss:backward()
    assert.is_not_nil(m[1].weight.grad)
  end)

  it("captures every output of a multi-output submodule", function()
    local rnn = nn.Sequential(nn.Linear(3, 4), nn.LSTM(4, 5))
    local captured = rnn:capture({ "1" }, torch.randn(6, 2, 3))
    local out, state = captured["1"][1], captured["1"][2]
    assert.are.same({ 6, 2, 5 }, out:size())
    assert.are.same({ 1, 2, 5 }, state[1]:size())
    local s = Stack()
    local caught, a, b = s:capture({ "heads.reg", "layers.1.scale" }, torch.randn(2, 3))
    assert.is_true(torch.equal(caught["heads.reg"], b))
    assert.is_not_nil(a)
    assert.are.same({ 2, 5 }, caught["layers.1.scale"]:size())
  end)

  it("names the submodule it cannot find", function()
    local ok, err = pcall(m.capture, m, { "1.nope" }, x)
    assert.is_false(ok)
    assert.is_truthy(err:find("no submodule '1.nope'", 1, true), err)
  end)
end)
