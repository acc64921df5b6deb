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

describe("nn modules of issue 13 in train and eval", function()
  it("drop in train() and pass through in eval(), inside a Sequential", function()
    local x = torch.ones(8, 16, 4, 4)
    for _, m in ipairs { nn.Dropout1d(0.5), nn.Dropout2d(0.5), nn.Dropout3d(0.5), nn.AlphaDropout(0.5),
      nn.FeatureAlphaDropout(0.5) } do
      local net = nn.Sequential(nn.Identity(), m)
      local input = m:_get_name() == "Dropout1d" and x:view(8, 16, 16)
        or m:_get_name() == "Dropout3d" and x:view(8, 16, 4, 2, 2) or x
      assert.is_false(torch.equal(input, net(input)), m:_get_name() .. " in train")
      net:eval()
      assert.is_true(torch.equal(input, net(input)), m:_get_name() .. " in eval")
    end
  end)

  it("RReLU draws slopes in train() and uses their mean in eval()", function()
    local m, x = nn.RReLU(0.1, 0.3), -torch.ones(1000)
    local y = m(x)
    assert.is_true(y:min():item() >= -0.3 and y:max():item() <= -0.1 and y:std():item() > 0.01)
    m:eval()
    assert.is_true(torch.allclose(m(x), torch.full({ 1000 }, -0.2)))
  end)

  it("Dropout2d zeroes whole channels, about p of them, and scales the rest by 1/(1-p)", function()
    torch.manual_seed(3)
    local y = nn.Dropout2d(0.25)(torch.ones(64, 64, 2, 2))
    local per_channel = y:sum(4):sum(3) -- 0 or 4 / 0.75 each
    local zero = per_channel:eq(0):sum():item()
    assert.is_true(math.abs(zero / 4096 - 0.25) < 0.03, "dropped " .. zero)
    assert.is_true(per_channel:eq(0):logical_or((per_channel - 4 / 0.75):abs():lt(1e-5)):all():item())
  end)

  it("InstanceNorm with running stats updates them in train only", function()
    local m = nn.InstanceNorm1d(3, { track_running_stats = true })
    local x = torch.randn(4, 3, 5) * 2 + 1
    m(x)
    local mean = m.running_mean:clone()
    assert.is_false(torch.equal(mean, torch.zeros(3)))
    m:eval()
    m(x)
    assert.is_true(torch.equal(mean, m.running_mean))
  end)

  it("MaxPool with return_indices hands MaxUnpool what it needs", function()
    local x = torch.rand(2, 3, 4, 6) + 1 -- positive: the zeros unpooled around each max stay below it
    local y, indices = nn.MaxPool2d(2, { return_indices = true })(x)
    assert.are.equal("int64", indices.dtype)
    local back = nn.MaxUnpool2d(2)(y, indices)
    assert.are.same({ 2, 3, 4, 6 }, back:size())
    -- each window keeps its max in place, zeros elsewhere
    assert.is_true(torch.equal(nn.MaxPool2d(2)(back), y))
  end)

  it("PReLU's weight trains with an optimizer", function()
    local m = nn.PReLU(3)
    local opt = require("torch.optim").SGD(m:parameters(), { lr = 0.1 })
    m(-torch.ones(2, 3)):sum():backward()
    opt:step()
    assert.is_true(torch.allclose(m.weight:detach(), torch.full({ 3 }, 0.25 + 0.2)))
  end)
end)
