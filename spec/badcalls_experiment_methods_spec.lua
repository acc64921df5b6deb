-- Bad calls on experiment objects: methods called with '.', and the option
-- tables of exp:run, exp:cross_validate, clara.load_run and the objective.
-- Each raises through clara.error at the caller's line (this file's).
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_experiment_methods_spec.lua
local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local clara = require "clara"
local L = clara.losses

local ds = clara.data.TensorDataset(torch.randn(8, 2), torch.randint(0, 2, { 8 }))
local exp = clara.experiment { data = ds, model = function() return nn.Linear(2, 2) end, objective = L.cross_entropy,
  optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end, verbose = false, out_dir = false, batch_size = 4 }

local cases = {}
-- every method of an experiment, called with '.' (self missing, or another value in its place)
local methods = {}
for name, f in pairs(clara.experiment.Experiment) do
  if type(f) == "function" and name:sub(1, 2) ~= "__" then methods[#methods + 1] = name end
end
table.sort(methods)
for _, name in ipairs(methods) do
  for _, self in ipairs { "nil", "a table", "a number" } do
    cases[#cases + 1] = { ("exp.%s() with %s for self"):format(name, self), "clara.experiment",
      name .. " called with '.'", "obj:" .. name, function()
        local arg = self == "a table" and { epochs = 2 } or self == "a number" and 3 or nil
        exp[name](arg)
      end }
  end
end
local more = {
  { "run with an unknown option", "clara.experiment: run", "unknown option 'resum' (did you mean 'resume'?)",
    function() exp:run { resum = true } end },
  { "run with options not a table", "clara.experiment: run", "options must be a table", function() exp:run(3) end },
  { "run with resume = 1", "clara.experiment: run", "resume must be a boolean or a string, got 1",
    function() exp:run { resume = 1 } end },
  { "run resuming without a directory", "clara.experiment", "resume needs a run directory (out_dir is false)",
    function() exp:run { resume = true } end },
  { "run with set of an unknown setting", "clara.experiment", "unknown setting 'epoch'",
    function() exp:run { set = { epoch = 2 } } end },
  { "cross_validate with folds = 'x'", "cross_validate", "folds must be an integer >= 2, got 'x'",
    function() exp:cross_validate { folds = "x" } end },
  { "cross_validate with folds = 1", "cross_validate", "folds must be an integer >= 2, got 1",
    function() exp:cross_validate { folds = 1 } end },
  { "cross_validate with folds = nan", "cross_validate", "folds must be an integer >= 2, got nan",
    function() exp:cross_validate { folds = 0 / 0 } end },
  { "cross_validate with a misspelt option", "cross_validate", "unknown option 'fold' (did you mean 'folds'?)",
    function() exp:cross_validate { fold = 3 } end },
  { "cross_validate with stratified = 'yes'", "cross_validate", "stratified must be a boolean",
    function() exp:cross_validate { stratified = "yes" } end },
  { "cross_validate with groups not a tensor", "cross_validate", "groups must be a tensor",
    function() exp:cross_validate { groups = { 1, 2 } } end },
  { "cross_validate with too many folds", "cross_validate", "9 folds for only 8 training samples",
    function() exp:cross_validate { folds = 9 } end },
  { "load_run without options", "clara.load_run", "a model factory is required", function() clara.load_run("x") end },
  { "load_run with a misspelt option", "clara.load_run", "unknown option 'weight' (did you mean 'weights'?)",
    function() clara.load_run("x", { model = function() end, weight = "best.pt" }) end },
  { "load_run with weights = 1", "clara.load_run", "weights must be a string", function()
    clara.load_run("x", { model = function() end, weights = 1 }) end },
  { "objective with reg_weight nan", "clara.objective", "reg_weight must be a number, got nan",
    function() exp:with { objective = { terms = { { loss = L.mse } }, regularizer = clara.regularizers.l2 {}, reg_weight = 0 / 0 } } end },
  { "objective term weight nan", "clara.objective", "weight must be a number, got nan",
    function() exp:with { objective = { terms = { { loss = L.mse, weight = 0 / 0 } } } } end },
  { "objective term with an unknown key", "clara.objective", "term 1: unknown key 'wieght'",
    function() exp:with { objective = { terms = { { loss = L.mse, wieght = 1 } } } } end },
  { "a metric entry with a misspelt key", "clara.experiment", "metric 'acc': unknown key 'outptu' (did you mean 'output'?)",
    function() exp:with({ metrics = { acc = { clara.metrics.accuracy, outptu = 2 } } }):run() end },
  { "with of a number", "clara.experiment", "with expects a table of fields, got 3", function() exp:with(3) end },
  { "set of a string", "clara.experiment", "set expects a table of settings", function() exp:set("epochs=2") end },
}
for _, c in ipairs(more) do cases[#cases + 1] = c end

describe("experiment methods and option tables", function()
  badcalls(cases, { position = "^[^\n]*badcalls_experiment_methods_spec%.lua:%d+: " })
end)
