-- clara.train.objective: terms per output and intermediate, weights,
-- combine, the regularizer on/off and conditional; values checked by hand
local objective = require "clara.train.objective"
local L, R = clara.losses, clara.regularizers

-- a model with two outputs and a named intermediate "body": y1 = 2x, y2 = 3x
local Two = nn.Module:extend("Two")
function Two:init() self.body = nn.Identity(); self.s = nn.Parameter(torch.ones(1, { dtype = "float64" })) end
function Two:forward(x) local h = self.body(x * 2 * self.s); return h, h * 1.5 end

local x = torch.tensor({ { 1.0 }, { 2.0 } }, { dtype = "float64" })
local t1 = torch.tensor({ { 0.0 }, { 0.0 } }, { dtype = "float64" })
local t2 = torch.tensor({ { 3.0 }, { 6.0 } }, { dtype = "float64" })

local function run(spec)
  local m = Two()
  local obj = objective.new(spec)
  local captured, a, b = m:capture(obj:captures(), x)
  return obj:evaluate(m, { a, b }, captured, { t1, t2 })
end

describe("clara.train.objective", function()
  it("weights a loss per output and per intermediate and sums them", function()
    -- y1 = (2, 4): mse to 0 = (4 + 16) / 2 = 10; y2 = (3, 6) vs (3, 6): 0;
    -- body = y1, mean |.| = 3
    local total, terms = run { terms = {
      { name = "a", loss = L.mse, output = 1, target = 1, weight = 0.5 },
      { name = "b", loss = L.mse, output = 2, target = 2, weight = 2 },
      { name = "h", loss = function(h) return h:abs():mean() end, intermediate = "body", target = false, weight = 0.1 },
    } }
    assert.are.same({ a = 10, b = 0, h = 3 }, terms.raw)
    assert.are.equal(5, terms.weighted.a); assert.are.equal(0, terms.weighted.b)
    assert.is_true(math.abs(terms.weighted.h - 0.3) < 1e-12)
    assert.is_true(math.abs(total:item() - 5.3) < 1e-12)
    assert.is_true(math.abs(terms.loss - 5.3) < 1e-12)
  end)

  it("uses a user combine on the weighted terms", function()
    local total = run { terms = {
      { name = "a", loss = L.mse, output = 1, target = 1, weight = 0.5 },
      { name = "b", loss = L.l1, output = 2, target = 1 },          -- (3 + 6) / 2 = 4.5
    }, combine = function(w, raw) return w.a * w.b + raw.b end }   -- 5 * 4.5 + 4.5
    assert.is_true(math.abs(total:item() - 27) < 1e-12)
  end)

  it("adds the weighted regularizer, or not when switched off", function()
    -- activity_l2 on output 1: mean(4, 16) = 10
    local spec = { terms = { { name = "a", loss = L.mse } }, regularizer = R.activity_l2(), reg_weight = 0.01 }
    local total, terms = run(spec)
    assert.are.equal(10, terms.raw.reg)
    assert.is_true(math.abs(terms.weighted.reg - 0.1) < 1e-12)
    assert.is_true(math.abs(total:item() - 10.1) < 1e-12)
    spec.regularize = false
    total, terms = run(spec)
    assert.are.equal(10, total:item())
    assert.is_nil(terms.raw.reg)
  end)

  it("lets a conditional regularizer decline (below_loss)", function()
    local spec = { terms = { { name = "a", loss = L.mse } }, reg_weight = 1,
      regularizer = R.conditional { R.activity_l2(), below_loss = 100 } }   -- loss 10 < 100: declines
    local total, terms = run(spec)
    assert.are.equal(10, total:item())
    assert.are.equal(0, terms.raw.reg)
    spec.regularizer = R.conditional { R.activity_l2(), below_loss = 5 }    -- 10 >= 5: applies
    total = run(spec)
    assert.are.equal(20, total:item())
  end)

  it("hands extras to a term that asks for them", function()
    local got
    local total = run { terms = { { name = "a", extras = true, loss = function(o, t, extras)
      got = extras
      return (extras.outputs[2] - extras.targets[2]):abs():sum() + extras.outputs[1]:sum()
    end } } }
    assert.are.equal(6, total:item())   -- 0 + (2 + 4)
    assert.is_truthy(got.model)
  end)

  it("names a non-finite term", function()
    local ok, err = pcall(run, { terms = { { name = "a", loss = L.mse }, { name = "bad", loss = function(o) return o:log():sum() * 0 / 0 end, target = false } } })
    assert.is_false(ok)
    assert.are.equal("bad", err.nonfinite)
  end)

  it("rejects malformed objectives", function()
    assert.has_error(function() objective.new { terms = { { name = "a" } } } end, "clara.objective: term 'a' has no loss")
    assert.has_error(function() objective.new { terms = {}, combine = 1 } end)
    assert.has_error(function() objective.new { terms = { { loss = L.mse, bogus = 1 } } } end, "clara.objective: term 1: unknown key 'bogus'")
  end)

  it("logs raw and weighted terms per split in the experiment history", function()
    torch.manual_seed(0)
    local xs = torch.randn(32, 1, { dtype = "float64" })
    local ds = clara.data.TensorDataset(xs, xs * 2, xs * 3)
    local r = clara.experiment {
      data = { train = ds, val = ds }, verbose = false, out_dir = false, epochs = 1, batch_size = 32, seed = 1,
      model = function() return Two() end,
      objective = { terms = {
        { name = "a", loss = L.mse, output = 1, target = 1, weight = 0.5 },
        { name = "b", loss = L.mse, output = 2, target = 2, weight = 2 },
        { name = "h", loss = function(h) return h:abs():mean() end, intermediate = "body", target = false, weight = 0.1 },
      }, regularizer = R.activity_l2(), reg_weight = 0.01 },
      metrics = { mae2 = { clara.metrics.mae, output = 2, target = 2 }, hmae = { clara.metrics.mae, intermediate = "body", target = 1 } },
      optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0 }) end,
    }:run()
    local row = r.history[1]
    -- the model is exact: mse terms are 0, h is mean |2x|, reg mean (2x)^2
    local h = (xs * 2):abs():mean():item()
    local reg = ((xs * 2) ^ 2):mean():item()
    for _, split in ipairs { "train", "val" } do
      assert.are.equal(0, row[split .. "_a"]); assert.are.equal(0, row[split .. "_b_w"])
      assert.is_true(math.abs(row[split .. "_h"] - h) < 1e-12)
      assert.is_true(math.abs(row[split .. "_h_w"] - 0.1 * h) < 1e-12)
      assert.is_true(math.abs(row[split .. "_reg"] - reg) < 1e-12)
      assert.is_true(math.abs(row[split .. "_reg_w"] - 0.01 * reg) < 1e-12)
      assert.is_true(math.abs(row[split .. "_loss"] - (0.1 * h + 0.01 * reg)) < 1e-12)
      assert.are.equal(0, row[split .. "_mae2"]); assert.are.equal(0, row[split .. "_hmae"])
    end
  end)
end)
