-- clara.battery{...}: its table and its cv options are checked when the
-- battery is made, at the user's line, before any entry runs.
local torch = require "torch"
local nn, optim, clara = require "torch.nn", require "torch.optim", require "clara"

local function base()
  return clara.experiment {
    name = "b", model = function() return nn.Linear(2, 2) end,
    data = { train = { torch.randn(4, 2), torch.randn(4, 2) } },
    objective = clara.losses.mse, out_dir = false,
    optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
  }
end

local CASES = {
  { { cv = { folds = "x" } }, "folds must be an integer >= 2, got 'x'" },
  { { cv = { folds = 1 } }, "folds must be an integer >= 2" },
  { { cv = { folds = 0 / 0 } }, "folds must be" },
  { { cv = { fold = 3 } }, "did you mean 'folds'" },
  { { cv = { folds = 3, stratified = "yes" } }, "stratified must be a boolean" },
  { { cv = 3 }, "cv must be a table" },
  { { cvv = { folds = 3 } }, "unknown option 'cvv' (did you mean 'cv'?)" },
  { { name = 5 }, "name must be a string" },
  { { out_dir = true }, "out_dir must be a string" },
  { { grid = "lr" }, "grid must be a table" },
  { { base = false }, "base must be an experiment" },
}

describe("clara.battery refuses a bad table when it is made", function()
  for i, c in ipairs(CASES) do
    it(("case %d: %s"):format(i, c[2]), function()
      local spec = { base = base(), grid = { lr = { 0.1, 0.2 } } }
      for k, v in pairs(c[1]) do spec[k] = v end
      local ok, err = pcall(clara.battery, spec)
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
      assert.matches("^spec/badcalls_battery_spec.lua:%d+: clara", err)
    end)
  end
end)
