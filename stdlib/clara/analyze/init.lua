-- clara.analyze: looking inside a model.
--
--   local A = clara.analyze
--   print(A.summary(net, {1, 28, 28}))            -- layers, shapes, params, MACs, memory
--   local g = A.grad_norms()                        -- training hooks: gradient norm per layer
--   exp:with{hooks = A.merge_hooks(g, my_hooks)}:run(); g:write_csv("grads.csv")
--   A.activation_stats(net, x)                      -- mean, std, zero fraction per layer
--   A.activation_hook{x = batch, every = 100}       -- the same, during training
--   A.weight_histograms(net, {bins = 30})           -- per parameter {edges, counts}
--   A.plot_histograms(h, "out/")                     -- PNG and SVG (clara.plot, gnuplot)
--   A.load_model("runs/mlp/<id>", {script = "exp.lua"})   -- what `clara analyze` analyzes
--   A.example_input(exp, 1)                          -- one training sample of exp, preprocessed
--
-- The pieces live one per file (summary with trace and flops, hooks,
-- activations, histogram, source) and load on first use.
local FIELDS = {
  summary = { "clara.analyze.summary" },
  flops = { "clara.analyze.flops" },
  grad_norms = { "clara.analyze.hooks", "grad_norms" },
  merge_hooks = { "clara.analyze.hooks", "merge_hooks" },
  activation_stats = { "clara.analyze.activations", "stats" },
  activation_hook = { "clara.analyze.activations", "hook" },
  weight_histograms = { "clara.analyze.histogram", "weights" },
  histogram = { "clara.analyze.histogram", "of_tensor" },
  plot_histograms = { "clara.analyze.histogram", "plot" },
  load_model = { "clara.analyze.source", "load" },
  example_input = { "clara.analyze.example" },
}

local E = require "clara.error"

local names = {}
for k in pairs(FIELDS) do names[#names + 1] = k end

return E.namespace(setmetatable({}, {
  __index = function(self, key)
    local where = FIELDS[key]
    if not where then return nil end
    local v = require(where[1])
    if where[2] then v = v[where[2]] end
    rawset(self, key, v)
    return v
  end,
}), "clara.analyze", names)
