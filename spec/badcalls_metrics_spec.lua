-- Bad calls into clara.metrics and clara.regularizers: each must raise a
-- Lua error whose message names the metric (or regularizer) and says what
-- was wrong, with shapes where shapes are the problem, and no C++ details.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_metrics_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local clara = require "clara"
local M, R = clara.metrics, clara.regularizers

local function T(data, dtype) return torch.tensor(data, { dtype = dtype or "float32" }) end
local scores = T { { 0.1, 0.9, 0.0 }, { 0.8, 0.1, 0.1 }, { 0.2, 0.2, 0.6 }, { 0.3, 0.3, 0.4 } }
local labels = T({ 1, 0, 2, 2 }, "int64")
local probs = T { 0.2, 0.7, 0.9, 0.4 }
local bin = T({ 0, 1, 1, 0 }, "int64")

-- { description, name the message must contain, what it must also contain, the bad call }
local cases = {
  -- batch sizes
  { "accuracy with fewer targets", "accuracy", "output has 4 samples but target has 3 (shapes (4, 3) and (3))",
    function() M.accuracy():update(scores, labels:narrow(1, 1, 3)) end },
  { "f1 with more targets", "f1_macro", "output has 4 samples but target has 5",
    function() M.f1():update(scores, T({ 0, 1, 2, 0, 1 }, "int64")) end },
  { "mse with mismatched batches", "mse", "output has 4 samples but target has 2",
    function() M.mse():update(probs, T { 1, 2 }) end },
  { "roc_auc with mismatched batches", "roc_auc", "output has 4 samples but target has 3",
    function() M.roc_auc():update(probs, bin:narrow(1, 1, 3)) end },
  { "from_loss with mismatched batches", "loss", "output has 4 samples but target has 3",
    function() M.from_loss(torch.nn.functional.cross_entropy):update(scores, labels:narrow(1, 1, 3)) end },
  -- float targets for class metrics
  { "accuracy with float class targets", "accuracy", "must hold class indices (an integer tensor), got float32",
    function() M.accuracy():update(scores, labels:float()) end },
  { "confusion with float targets", "confusion_matrix", "class indices",
    function() M.confusion_matrix():update(scores, T { 1.0, 0.0, 2.0, 2.0 }) end },
  { "binary accuracy with float targets not 0/1", "accuracy", "values other than 0 and 1",
    function() M.accuracy():update(probs, T { 0.0, 0.5, 1.0, 1.0 }) end },
  { "top-k with float targets", "top2_accuracy", "class indices",
    function() M.top_k_accuracy { k = 2 }:update(scores, labels:double()) end },
  { "roc_auc with targets not 0/1", "roc_auc", "only 0 and 1",
    function() M.roc_auc():update(probs, T({ 0, 1, 2, 0 }, "int64")) end },
  -- wrong dims and ranges
  { "accuracy with a 3-d output", "accuracy", "output must be (N, C) scores",
    function() M.accuracy():update(torch.zeros(4, 3, 2), labels) end },
  { "accuracy with 2-d targets", "accuracy", "target must be (N) class indices, got shape (4, 2)",
    function() M.accuracy():update(scores, torch.zeros(4, 2, { dtype = "int64" })) end },
  { "accuracy with a 0-d output", "accuracy", "0-d",
    function() M.accuracy():update(T(1.0), labels) end },
  { "accuracy with a non-tensor target", "accuracy", "target must be a tensor, got table",
    function() M.accuracy():update(scores, { 1, 0, 2, 2 }) end },
  { "accuracy with a class beyond the output", "accuracy", "target holds class 3 but the output has 3 classes",
    function() M.accuracy():update(scores, T({ 0, 1, 2, 3 }, "int64")) end },
  { "accuracy with a negative class", "accuracy", "class -1",
    function() M.accuracy():update(scores, T({ 0, -1, 2, 1 }, "int64")) end },
  { "f1 with a class beyond num_classes", "f1_macro", "out of range for num_classes = 2",
    function() M.f1 { num_classes = 2 }:update(T({ 0, 1, 2 }, "int64"), T({ 0, 1, 1 }, "int64")) end },
  { "top-k with k above C", "top5_accuracy", "C >= k = 5",
    function() M.top_k_accuracy { k = 5 }:update(scores, labels) end },
  { "top-k of class indices", "top2_accuracy", "(N, C) scores",
    function() M.top_k_accuracy { k = 2 }:update(labels, labels) end },
  { "mse with mismatched shapes", "mse", "same shape, got (4, 3) and (4, 2)",
    function() M.mse():update(scores, torch.zeros(4, 2)) end },
  { "mae of bool tensors", "mae", "bool",
    function() M.mae():update(bin:bool(), bin:bool()) end },
  { "r2 changing width", "r2", "3 values per sample, earlier batches had 1",
    function() M.r2():update(probs, probs):update(scores, scores) end },
  { "roc_auc of a 3-d output", "roc_auc", "(N, C) class scores, got float32 (4, 3, 2)",
    function() M.roc_auc():update(torch.zeros(4, 3, 2), bin) end },
  { "roc_auc of integer scores", "roc_auc", "got int64",
    function() M.roc_auc():update(bin, bin) end },
  -- options
  { "accuracy with options not a table", "clara.metrics.accuracy", "options must be a table, got 5",
    function() M.accuracy(5) end },
  { "f1 with an unknown average", "f1", "average must be one of 'macro'",
    function() M.f1 { average = "samples" } end },
  { "top-k with k = 0", "top_k_accuracy", "k must be >= 1, got 0",
    function() M.top_k_accuracy { k = 0 } end },
  { "r2 with an unknown multioutput", "r2", "multioutput must be one of",
    function() M.r2 { multioutput = "x" } end },
  { "confusion with num_classes 2.5", "confusion_matrix", "num_classes must be an integer, got 2.5",
    function() M.confusion_matrix { num_classes = 2.5 } end },
  { "accuracy with a string threshold", "accuracy", "threshold must be a number, got 'high'",
    function() M.accuracy { threshold = "high" } end },
  { "binary f1 on three classes", "f1", "needs two classes, the data has 3",
    function() M.f1 { average = "binary" }:update(scores, labels):compute() end },
  { "from_loss of a number", "from_loss", "loss_fn must be a function",
    function() M.from_loss(3) end },
  { "from_loss with an unknown reduction", "from_loss", "reduction must be one of 'mean', 'sum', got 'none'",
    function() M.from_loss(function() end, { reduction = "none" }) end },
  { "from_loss of a loss returning a vector", "loss", "must return one number",
    function() M.from_loss(function(o) return o end):update(probs, bin) end },
  { "from_loss of a loss returning nil", "loss", "tensor or a number, got nil",
    function() M.from_loss(function() end):update(probs, bin) end },
  { "from_loss without tensors", "loss", "cannot tell the batch size",
    function() M.from_loss(function() return 1 end):update({}, {}) end },
  -- regularizers
  { "l2 without parameters", "L2", "needs the parameters",
    function() R.l2()(scores, {}) end },
  { "l2 with a non-tensor parameter", "L2", "parameter 2 is a string",
    function() R.l2()(nil, { params = { scores, "w" } }) end },
  { "l1 with an unknown option", "clara.regularizers.l1", "unknown option 'lambda'",
    function() R.l1 { lambda = 0.1 } end },
  { "l2 with a filter not a function", "clara.regularizers.l2", "filter must be a function, got true",
    function() R.l2 { filter = true } end },
  { "activity_l2 of an integer output", "ActivityL2", "floating (N, ...) tensor, got int64",
    function() R.activity_l2()(labels) end },
  { "activity_l1 with an unknown reduction", "clara.regularizers.activity_l1", "reduction must be one of 'mean', 'sum', got 'none'",
    function() R.activity_l1 { reduction = "none" } end },
  { "entropy from an unknown form", "clara.regularizers.entropy", "from must be one of 'logits', 'probs', 'log_probs', got 'softmax'",
    function() R.entropy { from = "softmax" } end },
  { "regularizer with extras not a table", "L2", "extras must be a table",
    function() R.l2()(scores, 3) end },
  { "conditional without a regularizer", "conditional", "must be a regularizer or a function",
    function() R.conditional { skip_correct = true } end },
  { "conditional without a condition", "conditional", "give skip_correct",
    function() R.conditional { R.l2() } end },
  { "conditional with a string below_loss", "conditional", "below_loss must be a number",
    function() R.conditional { R.l2(), below_loss = "low" } end },
  { "conditional with an unknown option", "conditional", "unknown option 'skip_wrong'",
    function() R.conditional { R.l2(), skip_wrong = true } end },
  { "conditional skip_correct without target", "Conditional", "needs extras.target",
    function() R.conditional { R.entropy(), skip_correct = true }(scores, {}) end },
  { "conditional below_loss without loss", "Conditional", "needs extras.loss",
    function() R.conditional { R.entropy(), below_loss = 1 }(scores, {}) end },
  { "conditional with float class targets", "Conditional", "class indices",
    function() R.conditional { R.entropy(), skip_correct = true }(scores, { target = labels:float() }) end },
  { "conditional with a short target", "Conditional", "N = 4 samples as the output, got shape (2)",
    function() R.conditional { R.entropy(), skip_correct = true }(scores, { target = bin:narrow(1, 1, 2) }) end },
  { "conditional with a loss of the wrong size", "Conditional", "extras.loss must be a number, a 0-d tensor or (N) with N = 4, got shape (2)",
    function() R.conditional { R.entropy(), below_loss = 1 }(scores, { loss = T { 1, 2 } }) end },
  { "wrap without a description", "wrap", "description",
    function() R.wrap(function() end) end },
}

describe("bad calls to metrics and regularizers", function()
  -- the position is the caller's line here, not a line inside clara
  badcalls(cases, { position = "badcalls_metrics_spec%.lua:", max_len = false })

  it("leave grad mode on", function()
    assert.is_true(torch.is_grad_enabled())
  end)

  it("compute before any update is a documented nil, not an error", function()
    local v, msg = M.f1():compute()
    assert.is_nil(v)
    assert.is_truthy(msg:find("f1_macro: no samples yet", 1, true))
  end)
end)
