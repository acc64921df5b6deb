-- Bad calls into clara.experiment and its objective: each raises a Lua
-- error naming clara.experiment (or clara.objective) and what was wrong.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_experiment_spec.lua
local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local clara = require "clara"
local L = clara.losses

local ds = clara.data.TensorDataset(torch.randn(8, 2), torch.randint(0, 2, { 8 }))
local function exp(over)
  local spec = { data = ds, model = function() return nn.Linear(2, 2) end, objective = L.cross_entropy,
                 optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end, verbose = false, out_dir = false, batch_size = 4 }
  for k, v in pairs(over) do spec[k] = v end
  return clara.experiment(spec)
end
local function run(over) return exp(over):run() end

local cases = {
  { "not a table", "clara.experiment", "expected a table of options, got 'x'", function() clara.experiment("x") end },
  { "unknown key", "clara.experiment", "unknown option 'epoch' (did you mean 'epochs'?)", function() exp { epoch = 2 } end },
  { "model not a factory", "clara.experiment", "model must be a factory function(hparams) returning a model", function() exp { model = nn.Linear(2, 2) } end },
  { "optimizer not a factory", "clara.experiment", "optimizer must be a factory function(model, hparams)",
    function() exp { optimizer = 1 } end },
  { "no data", "clara.experiment", "data is required", function()
    clara.experiment { model = function() end, optimizer = function() end, objective = L.mse } end },
  { "no objective", "clara.experiment", "objective is required", function()
    clara.experiment { data = ds, model = function() end, optimizer = function() end } end },
  { "batch_size 0", "clara.experiment", "batch_size must be an integer >= 1, got 0", function() exp { batch_size = 0 } end },
  { "accumulate 1.5", "clara.experiment", "accumulate must be an integer >= 1, got 1.5", function() exp { accumulate = 1.5 } end },
  { "on_nonfinite", "clara.experiment", "on_nonfinite must be one of 'stop', 'skip', got 'ignore'",
    function() exp { on_nonfinite = "ignore" } end },
  { "unknown impl", "clara.experiment", "impl must be one of 'clear', 'fast', got 'warp'", function() exp { impl = "warp" } end },
  { "classes not a list", "clara.experiment", "classes must be a list of class names", function() exp { classes = "abc" } end },
  { "set with a number key", "clara.experiment", "setting names are strings, got number 1", function() exp({}):set { 0.1 } end },
  { "hparams not a table", "clara.experiment", "hparams must be a plain table", function() exp { hparams = 3 } end },
  { "bad metric", "clara.experiment", "metric 'acc' must be a metric object", function() run { metrics = { acc = 3 } } end },
  { "bad batcher", "clara.experiment", "batcher must have a batches(dataset, info) method", function() run { batcher = 3 } end },
  { "model factory returns nothing", "clara.experiment", "the model factory returned nothing",
    function() run { model = function() end } end },
  { "objective with an unknown key", "clara.objective", "unknown key 'weights'",
    function() exp { objective = { terms = { { loss = L.mse } }, weights = 1 } } end },
  { "objective term without a loss", "clara.objective", "term 'a' has no loss",
    function() exp { objective = { terms = { { name = "a" } } } } end },
  { "objective term named reg", "clara.objective", "the name 'reg' is reserved",
    function() exp { objective = { terms = { { name = "reg", loss = L.mse } } } } end },
  { "a second output the model lacks", "clara.objective", "the model returned 1 output(s), output 2 was asked for",
    function() run { objective = { terms = { { name = "a", loss = L.cross_entropy, output = 2 } } } } end },
  { "a target the batch lacks", "clara.objective", "term 'a' wants target 3, the batch has 1",
    function() run { objective = { terms = { { name = "a", loss = L.cross_entropy, target = 3 } } } } end },
  { "intermediate of a model without capture", "clara.experiment", "intermediate results need a model with capture",
    function() run { model = function() return setmetatable({ parameters = function() return { torch.zeros(1, { requires_grad = true }) } end }, { __call = function(_, x) return x end }) end,
      objective = { terms = { { name = "a", loss = L.mse, intermediate = "x" } } } } end },
  { "capture of a missing submodule", "capture", "has no submodule 'nope'",
    function() run { objective = { terms = { { name = "a", loss = L.mse, intermediate = "nope" } } } } end },
}

describe("clara.experiment bad calls", function()
  badcalls(cases, { position = "^[^\n]*badcalls_experiment_spec%.lua:%d+: " })
end)
