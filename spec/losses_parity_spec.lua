-- The losses added for PyTorch parity against PyTorch 1.13: multi_margin,
-- multilabel_margin, multilabel_soft_margin, triplet_margin_with_distance;
-- values and gradients for every reduction and edge cases (margin 0, every
-- sample right, weights, unbatched, float64) from spec/fixtures/
-- losses_parity.lua (tests/fixtures/make_losses_parity.py); their place in
-- the index and nn.functional; bad calls.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/losses_parity_spec.lua

local torch = require "torch"
local losses = require "clara.losses"
local fixture = require "spec.helpers.loss_cases"
local badcalls = require "spec.helpers.badcalls"

local cases = dofile("spec/fixtures/losses_parity.lua")

local NEW = {
  multi_margin = { "classification", "multi_margin_loss" },
  multilabel_margin = { "classification", "multilabel_margin_loss" },
  multilabel_soft_margin = { "binary", "multilabel_soft_margin_loss" },
  triplet_margin_with_distance = { "embedding", "triplet_margin_with_distance_loss" },
}

describe("parity losses against PyTorch", function()
  fixture.against_pytorch(cases, 60)
end)

describe("parity losses in the index", function()
  it("are listed under their kind with PyTorch's functional names", function()
    for name, want in pairs(NEW) do
      local kind, torch_name = want[1], want[2]
      assert.equal(kind, losses.kind_of(name), name)
      assert.equal(losses[name], losses[torch_name])
      assert.equal(losses[name], losses.resolve(torch_name))
      assert.truthy(losses.describe(kind):find(name, 1, true))
      assert.truthy(losses.describe(name):find("torch.nn.functional." .. torch_name, 1, true))
    end
  end)

  it("reach torch.nn.functional under PyTorch's names", function()
    local F = torch.nn.functional
    for name, want in pairs(NEW) do assert.equal(losses[name], F[want[2]], name) end
  end)

  it("take any callable as distance_function, a module included", function()
    local a, p, n = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    local l1 = function(x, y) return (x - y):abs():sum(-1) end
    local callable = setmetatable({}, { __call = function(_, x, y) return l1(x, y) end })
    local want = losses.triplet_margin_with_distance(a, p, n, { distance_function = l1 }):item()
    assert.equal(want, losses.triplet_margin_with_distance(a, p, n, { distance_function = callable }):item())
    local Dist = nn.Module:extend("L1Distance")
    function Dist:forward(x, y) return l1(x, y) end
    assert.equal(want, losses.triplet_margin_with_distance({ a, p, n }, { distance_function = Dist() }):item())
  end)

  it("multi_margin gives 0 and no gradient when every target class wins by the margin", function()
    local x = torch.tensor({ { 3.0, 0.0, 1.0 }, { 0.0, -1.0, 2.5 } }, { requires_grad = true })
    local l = losses.multi_margin(x, torch.tensor { 0, 2 }, { margin = 1.5, p = 2 })
    assert.equal(0, l:item())
    l:backward()
    assert.equal(0, x.grad:abs():sum():item())
  end)
end)

local function x43() return torch.randn(4, 3) end
local function y4() return torch.tensor { 0, 2, 1, 2 } end
local function t3() return torch.randn(4, 3) end

describe("bad calls to the parity losses", function()
  badcalls({
    { "multi_margin with p = 3", "multi_margin_loss", "p must be one of 1, 2, got 3",
      function() local r = losses.multi_margin(x43(), y4(), { p = 3 }) return r end },
    { "multi_margin with a class too large", "multi_margin_loss", "target holds class 3, outside [0, 3)",
      function() local r = losses.multi_margin(x43(), torch.tensor { 0, 3, 1, 1 }) return r end },
    { "multi_margin with float targets", "multi_margin_loss", "class indices need an integer tensor",
      function() local r = losses.multi_margin(x43(), y4():float()) return r end },
    { "multi_margin of a 3-d output", "multi_margin_loss", "must have 1 or 2 dims, got (2, 3, 2)",
      function() local r = losses.multi_margin(torch.randn(2, 3, 2), torch.zeros(2, 2, { dtype = "int64" })) return r end },
    { "multi_margin with a batch mismatch", "multi_margin_loss", "output (4, 3) needs target (4)",
      function() local r = losses.multi_margin(x43(), torch.tensor { 0, 1 }) return r end },
    { "multi_margin with too few weights", "multi_margin_loss", "weight must be a 1-d tensor of 3 class weights",
      function() local r = losses.multi_margin(x43(), y4(), { weight = torch.ones(2) }) return r end },
    { "multi_margin with a misspelt option", "multi_margin_loss", "unknown option 'margn' (did you mean 'margin'?)",
      function() local r = losses.multi_margin(x43(), y4(), { margn = 1 }) return r end },
    { "multilabel_margin with float targets", "multilabel_margin_loss", "must hold class indices",
      function() local r = losses.multilabel_margin(x43(), torch.zeros(4, 3)) return r end },
    { "multilabel_margin with an (N) target", "multilabel_margin_loss", "output (4, 3) and target (4) must have the same shape",
      function() local r = losses.multilabel_margin(x43(), y4()) return r end },
    { "multilabel_margin with a class too large", "multilabel_margin_loss", "target holds 3, outside [-1, 3)",
      function() local r = losses.multilabel_margin(x43(), torch.full({ 4, 3 }, 3, { dtype = "int64" })) return r end },
    { "multilabel_margin with -2", "multilabel_margin_loss", "target holds -2, outside [-1, 3)",
      function() local r = losses.multilabel_margin(x43(), torch.full({ 4, 3 }, -2, { dtype = "int64" })) return r end },
    { "multilabel_margin of a 3-d output", "multilabel_margin_loss", "must have 1 or 2 dims",
      function() local t = torch.zeros(2, 2, 2, { dtype = "int64" }) local r = losses.multilabel_margin(t:float(), t) return r end },
    { "multilabel_soft_margin with class targets", "multilabel_soft_margin_loss", "target (4) must be floating point",
      function() local r = losses.multilabel_soft_margin(x43(), y4()) return r end },
    { "multilabel_soft_margin with a shape mismatch", "multilabel_soft_margin_loss", "output (4, 3) and target (4, 2)",
      function() local r = losses.multilabel_soft_margin(x43(), torch.zeros(4, 2)) return r end },
    { "multilabel_soft_margin with a bad weight", "multilabel_soft_margin_loss", "weight (2) does not broadcast",
      function() local r = losses.multilabel_soft_margin(x43(), torch.zeros(4, 3), { weight = torch.ones(2) }) return r end },
    { "multilabel_soft_margin of a 0-d output", "multilabel_soft_margin_loss", "must have a class dim",
      function() local r = losses.multilabel_soft_margin(torch.tensor(1.0), torch.tensor(1.0)) return r end },
    { "triplet_margin_with_distance with a number distance", "triplet_margin_with_distance_loss",
      "distance_function must be a callable, got 2",
      function() local t = t3() local r = losses.triplet_margin_with_distance(t, t, t, { distance_function = 2 }) return r end },
    { "triplet_margin_with_distance whose distance returns a number", "triplet_margin_with_distance_loss",
      "distance_function(anchor, positive) must return a tensor, got number",
      function()
        local t = t3()
        local r = losses.triplet_margin_with_distance({ t, t, t }, { distance_function = function() return 1 end })
        return r
      end },
    { "triplet_margin_with_distance with shapes differing", "triplet_margin_with_distance_loss",
      "anchor (4, 3) and negative (4, 2)",
      function() local r = losses.triplet_margin_with_distance(t3(), t3(), torch.randn(4, 2)) return r end },
    { "triplet_margin_with_distance with p", "triplet_margin_with_distance_loss", "unknown option 'p'",
      function() local t = t3() local r = losses.triplet_margin_with_distance(t, t, t, { p = 1 }) return r end },
    { "triplet_margin_with_distance with a list of 2", "triplet_margin_with_distance_loss", "of 3 tensors, got 2",
      function() local t = t3() local r = losses.triplet_margin_with_distance({ t, t }) return r end },
  }, { position = "^spec/losses_parity_spec%.lua:%d+: " })
end)
