-- An experiment's metrics given by name: the metric's factory with its
-- defaults, the same numbers as the factory given directly.
local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"
local clara = require "clara"

local function run(metrics)
  torch.manual_seed(3)
  local x, y = torch.randn(40, 4), torch.randint(0, 3, { 40 })
  return clara.experiment {
    data = { train = { x, y }, val = { x, y } }, epochs = 2, batch_size = 8, verbose = false, out_dir = false,
    seed = 5, model = function() return nn.Linear(4, 3) end, objective = clara.losses.cross_entropy,
    optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end, metrics = metrics,
  }:run()
end

describe("experiment metrics by name", function()
  it("resolves a name to the metric's factory", function()
    local by_name = run { acc = "accuracy", "balanced_accuracy" }
    local direct = run { acc = clara.metrics.accuracy, clara.metrics.balanced_accuracy }
    assert.are.equal(direct.history[2].val_acc, by_name.history[2].val_acc)
    assert.are.equal(direct.history[2].val_balanced_accuracy, by_name.history[2].val_balanced_accuracy)
    assert.is_number(by_name.history[2].val_balanced_accuracy)
  end)

  it("names the closest metric for a misspelt name", function()
    local ok, err = pcall(run, { acc = "acuracy" })
    assert.is_false(ok)
    assert.matches("unknown metric 'acuracy' %(did you mean 'accuracy'", err)
  end)
end)
