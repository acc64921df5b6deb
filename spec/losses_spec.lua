-- clara.losses against PyTorch: every loss, several option combinations and
-- every reduction, values and gradients (through backward) from
-- spec/fixtures/losses.lua (tests/fixtures/make_losses.py).  Then the index:
-- kinds, descriptions, aliases, user losses.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/losses_spec.lua

local torch = require "torch"
local losses = require "clara.losses"
local F = torch.nn.functional

local fixture = require "spec.helpers.loss_cases"
local build = fixture.build

local cases = dofile("spec/fixtures/losses.lua")

describe("losses against PyTorch", function()
  fixture.against_pytorch(cases, 180)
end)

describe("ctc", function()
  local function case(id)
    for _, c in ipairs(cases) do if c.id == id then return c end end
  end

  it("takes the lengths as options, or as tensors or lists in PyTorch's order", function()
    local c = case("ctc blank 0 mean")
    local lp, tg, il, tl = build(c.args[1]), build(c.args[2]), build(c.args[3]), build(c.args[4])
    local want = build(c.value):item()
    local forms = {
      losses.ctc(lp, tg, { input_lengths = il, target_lengths = tl }),
      losses.ctc(lp, tg, { input_lengths = il:totable(), target_lengths = tl:totable() }),
      F.ctc_loss(lp, tg, il:totable(), tl:totable()),
      F.ctc_loss(lp, tg:int(), il:int(), tl, { reduction = "mean" }),
    }
    for i, got in ipairs(forms) do
      assert(math.abs(got:item() - want) <= 1e-5 * math.abs(want), "form " .. i)
    end
  end)

  it("takes every input and target at full length by default", function()
    local c = case("ctc blank 0 none")
    local lp, tg = build(c.args[1]), build(c.args[2])
    local full = losses.ctc(lp, tg, { reduction = "none" })
    local explicit = losses.ctc(lp, tg, torch.tensor { 8, 8, 8 }, torch.tensor { 4, 4, 4 }, { reduction = "none" })
    assert.same(explicit:totable(), full:totable())
    assert.is_true(full:isfinite():all():item())
  end)
end)

describe("losses index", function()
  it("lists every loss under exactly one kind", function()
    local seen, count = {}, 0
    assert.same({ "classification", "binary", "regression", "distribution", "embedding" }, losses.kinds)
    for _, kind in ipairs(losses.kinds) do
      assert.is_true(#losses.by_kind[kind] >= 2, kind)
      for _, name in ipairs(losses.by_kind[kind]) do
        assert.is_nil(seen[name], name .. " listed twice")
        seen[name], count = kind, count + 1
        assert.is_function(losses[name])
        assert.equal(kind, losses.kind_of(name))
        local info = losses.info[name]
        for _, field in ipairs { "output", "target", "formula", "options" } do
          assert.is_string(info[field], name .. " has no " .. field)
        end
      end
    end
    for _, name in ipairs { "cross_entropy", "nll", "bce", "bce_with_logits", "mse", "l1", "smooth_l1",
                            "huber", "kl_div", "poisson_nll", "margin_ranking", "hinge_embedding",
                            "cosine_embedding", "triplet_margin", "ctc" } do
      assert.is_string(seen[name], name .. " missing")
    end
    assert.equal("classification", losses.kind_of(losses.cross_entropy))
    assert.is_nil(losses.kind_of(function() end))
  end)

  it("are torch.nn.functional's losses under PyTorch's names", function()
    assert.equal(losses.cross_entropy, F.cross_entropy)
    assert.equal(losses.nll, F.nll_loss)
    assert.equal(losses.nll, losses.nll_loss)
    assert.equal(losses.bce, F.binary_cross_entropy)
    assert.equal(losses.bce_with_logits, F.binary_cross_entropy_with_logits)
    assert.equal(losses.mse, F.mse_loss)
    assert.equal(losses.smooth_l1, F.smooth_l1_loss)
    assert.equal(losses.kl_div, F.kl_div)
    assert.equal(losses.triplet_margin, F.triplet_margin_loss)
    assert.is_function(F.linear) -- the rest of F stays
  end)

  it("describes a loss, a kind and the catalogue", function()
    local d = losses.describe("cross_entropy")
    assert.truthy(d:find("classification", 1, true))
    assert.truthy(d:find("label_smoothing", 1, true))
    assert.equal(losses.describe("nll"), losses.describe("nll_loss"))
    assert.equal(losses.describe("mse"), losses.describe(losses.mse))
    assert.truthy(losses.describe("embedding"):find("triplet_margin", 1, true))
    local all = losses.describe()
    for name in pairs(losses.info) do assert.truthy(all:find(name, 1, true), name) end
    assert.equal("a user loss (a Lua function)", losses.describe(function() end))
    assert.has_error(function() losses.describe("nope") end)
  end)

  it("resolves names and takes a user's function as a loss", function()
    assert.equal(losses.huber, losses.resolve("huber"))
    assert.equal(losses.huber, losses.resolve("huber_loss"))
    local mine = function(output, target) return (output - target):abs():pow(3):mean() end
    assert.equal(mine, losses.resolve(mine))
    local ok, err = pcall(losses.resolve, "huberr")
    assert.is_false(ok)
    assert.truthy(err:find("unknown loss 'huberr'", 1, true))
    assert.truthy(err:find("smooth_l1", 1, true))
    local x = torch.tensor({ 1.0, 2.0 }, { requires_grad = true })
    local l = losses.resolve(mine)(x, torch.tensor { 0.0, 0.0 })
    l:backward()
    assert.same({ 1.5, 6.0 }, x.grad:totable())
  end)

  it("keeps the output's dtype and gives finite gradients at saturated probabilities", function()
    local p = torch.tensor({ 0.0, 1.0, 0.5, 1.0, 0.0 }, { requires_grad = true })
    local l = losses.bce(p, torch.tensor { 0.0, 0.0, 1.0, 1.0, 1.0 }, { reduction = "none" })
    assert.same({ 0.0, 100.0, 0.0, 100.0 }, { l[1]:item(), l[2]:item(), l[4]:item(), l[5]:item() })
    assert.is_true(math.abs(l[3]:item() - math.log(2)) < 1e-6)
    l:sum():backward()
    assert.is_true(p.grad:isfinite():all():item())
    local y = torch.tensor { 2, 0 }
    local x64 = torch.zeros(2, 3, { dtype = "float64" })
    assert.equal("float64", losses.cross_entropy(x64, y).dtype)
    assert.is_true(math.abs(losses.cross_entropy(x64, y):item() - math.log(3)) < 1e-15)
  end)
end)
