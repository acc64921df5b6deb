-- The modules of issue 13 against PyTorch 1.13 (spec/fixtures/nn_parity.lua,
-- written by tests/fixtures/make_nn_parity.py): printing, state_dict keys,
-- outputs, gradients of inputs and parameters, buffers after forward, in
-- train or eval as the case says, all bit for bit (PyTorch's kernels in
-- PyTorch's order).  Random modules run right after
-- torch.manual_seed(seed), as in PyTorch, and match its masks exactly.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_modules_parity_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local P = require "spec.helpers.parity"

local fixture = dofile("spec/fixtures/nn_parity.lua")

local function make(lua) return assert(load("return " .. lua, "=" .. lua, "t", { nn = nn }))() end

describe("nn modules of issue 13 against PyTorch", function()
  it("has many cases", function() assert.is_true(#fixture.cases >= 70) end)
  P.module_cases(fixture.cases, make, nil, true)
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

describe("nn modules of issue 13 in a model", function()
  it("train with native modules under an optimizer, save and load their state", function()
    torch.manual_seed(0)
    local function net()
      return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(1, 4, 3), nn.InstanceNorm2d(4, { affine = true }),
        nn.PReLU(4), nn.Dropout2d(0.1), nn.Upsample { scale_factor = 0.5, mode = "bilinear" }, nn.Flatten(),
        nn.Linear(4 * 4 * 4, 2))
    end
    local model = net()
    local x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 2, { 16 })
    local opt = require("torch.optim").Adam(model:parameters(), { lr = 0.01 })
    local F = nn.functional
    local first, last
    for step = 1, 30 do
      opt:zero_grad()
      local loss = F.cross_entropy(model(x), y)
      loss:backward()
      opt:step()
      if step == 1 then first = loss:item() end
      last = loss:item()
    end
    assert.is_true(last < first * 0.7, ("loss %g -> %g"):format(first, last))
    assert.are.same({ "1.bias", "1.weight", "2.bias", "2.weight", "3.weight", "7.bias", "7.weight" },
      P.sorted_keys(model:state_dict()))
    local copy = net()
    copy:load_state_dict(model:state_dict())
    model:eval(); copy:eval()
    assert.is_true(torch.equal(model(x), copy(x)))
  end)
end)
