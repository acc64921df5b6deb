-- Streaming metrics against values PyTorch ops give on all the data at once
-- (spec/fixtures/metrics.lua, from tests/fixtures/make_metrics.py).  Every
-- metric is fed the data in uneven batches and must land on the whole-data
-- value; one update with everything must too.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/metrics_spec.lua

local torch = require "torch"
local clara = require "clara"
local M = clara.metrics
local F = torch.nn.functional

local fx = dofile("spec/fixtures/metrics.lua")
local E = fx.expect

local function T(data, dtype) return torch.tensor(data, { dtype = dtype or "float32" }) end

local logits, target = T(fx.logits), T(fx.target, "int64")
local probs, btarget, blogits = T(fx.probs), T(fx.btarget, "int64"), T(fx.blogits)
local reg_out, reg_tgt = T(fx.reg_out), T(fx.reg_tgt)

local SIZES = { 1, 7, 3, 12, 2, 12 } -- uneven, sums to N

-- feeds the metric the rows of output and target in SIZES batches
local function stream(m, output, tgt)
  local start = 1
  for _, n in ipairs(SIZES) do
    m:update(output:narrow(1, start, n), tgt:narrow(1, start, n))
    start = start + n
  end
  assert(start - 1 == fx.N, "batch sizes do not cover the data")
  return m:compute()
end

local function whole(m, output, tgt)
  m:reset()
  m:update(output, tgt)
  return m:compute()
end

local close = require "spec.helpers.close"

-- name, constructor, output, target, expected (fixture key), tolerance
local cases = {
  { "accuracy", function() return M.accuracy() end, logits, target, "accuracy" },
  { "accuracy of class indices", function() return M.accuracy() end, logits:argmax(2), target, "accuracy" },
  { "top-2 accuracy", function() return M.top_k_accuracy { k = 2 } end, logits, target, "top2_accuracy" },
  { "top-3 accuracy", function() return M.top_k_accuracy { k = 3 } end, logits, target, "top3_accuracy" },
  { "confusion matrix", function() return M.confusion_matrix() end, logits, target, "confusion_matrix" },
  { "binary accuracy", function() return M.accuracy() end, probs, btarget, "binary_accuracy" },
  { "binary accuracy, float 0/1 target", function() return M.accuracy() end, probs, btarget:float(), "binary_accuracy" },
  { "binary accuracy (N, 1)", function() return M.accuracy() end, probs:unsqueeze(2), btarget, "binary_accuracy" },
  { "binary accuracy of logits", function() return M.accuracy { logits = true } end, blogits, btarget,
    "binary_logits_accuracy" },
  { "binary precision", function() return M.precision { average = "binary" } end, probs, btarget, "binary_precision" },
  { "binary recall", function() return M.recall { average = "binary" } end, probs, btarget, "binary_recall" },
  { "binary f1", function() return M.f1 { average = "binary" } end, probs, btarget, "binary_f1" },
  { "roc auc with ties", function() return M.roc_auc() end, probs, btarget, "roc_auc" },
  { "roc auc of logits", function() return M.roc_auc() end, blogits, btarget, "roc_auc_logits" },
  { "roc auc of two-class scores", function() return M.roc_auc() end,
    torch.stack({ torch.zeros(fx.N), blogits }, 2), btarget:bool(), "roc_auc_logits" },
  { "mae", function() return M.mae() end, reg_out, reg_tgt, "mae" },
  { "mse", function() return M.mse() end, reg_out, reg_tgt, "mse" },
  { "rmse", function() return M.rmse() end, reg_out, reg_tgt, "rmse" },
  { "r2", function() return M.r2() end, reg_out, reg_tgt, "r2" },
  { "r2 raw values", function() return M.r2 { multioutput = "raw_values" } end, reg_out, reg_tgt, "r2_raw" },
  { "r2 variance weighted", function() return M.r2 { multioutput = "variance_weighted" } end, reg_out, reg_tgt,
    "r2_variance_weighted" },
  { "r2 of one column", function() return M.r2() end, reg_out:select(2, 1), reg_tgt:select(2, 1), "r2_1d" },
  { "r2 of (N, 1) against (N)", function() return M.r2() end, reg_out:narrow(2, 1, 1), reg_tgt:select(2, 1), "r2_1d" },
  { "cross entropy as a metric", function() return M.from_loss(F.cross_entropy, { name = "ce" }) end,
    logits, target, "cross_entropy", 1e-5 },
  { "mse loss as a metric", function() return M.from_loss(F.mse_loss) end, reg_out, reg_tgt, "mse_loss", 1e-5 },
}
for _, score in ipairs { "precision", "recall", "f1" } do
  for _, avg in ipairs { "macro", "micro", "weighted", "none" } do
    cases[#cases + 1] = { score .. " " .. avg, function() return M[score] { average = avg } end,
      logits, target, score .. "_" .. avg }
    cases[#cases + 1] = { score .. " " .. avg .. " with num_classes",
      function() return M[score] { average = avg, num_classes = fx.C } end, logits, target,
      "all_" .. score .. "_" .. avg }
  end
end

describe("metrics match PyTorch on the whole data", function()
  for _, c in ipairs(cases) do
    local desc, make, output, tgt, key, tol = c[1], c[2], c[3], c[4], c[5], c[6]
    it(desc .. ", streamed in uneven batches", function()
      assert.is_not_nil(E[key], "no fixture value " .. key)
      close(E[key], stream(make(), output, tgt), tol)
    end)
    it(desc .. ", in one update", function()
      close(E[key], whole(make(), output, tgt), tol)
    end)
  end

  it("macro averages differ with and without num_classes (absent classes count only then)", function()
    assert.is_true(math.abs(E.f1_macro - E.all_f1_macro) > 1e-3)
  end)
end)

describe("the metric protocol", function()
  it("compute before any update gives nil and a message", function()
    for _, make in ipairs { M.accuracy, M.mse, M.r2, M.roc_auc, M.f1, M.confusion_matrix } do
      local m = make()
      local v, msg = m:compute()
      assert.is_nil(v)
      assert.is_truthy(msg:find(m.name, 1, true))
      assert.is_truthy(msg:find("no samples", 1, true))
    end
  end)

  it("reset forgets everything", function()
    local m = M.accuracy()
    m:update(logits, target)
    m:reset()
    assert.is_nil(m:compute())
    m:update(logits:narrow(1, 1, 5), target:narrow(1, 1, 5))
    local direct = logits:narrow(1, 1, 5):argmax(2):eq(target:narrow(1, 1, 5)):double():mean():item()
    assert.equal(direct, m:compute())
  end)

  it("update returns the metric, so updates chain", function()
    local m = M.mae()
    assert.equal(m, m:update(reg_out, reg_tgt))
  end)

  it("names and one-line descriptions", function()
    local expected = {
      { M.accuracy(), "accuracy", "Accuracy()" },
      { M.top_k_accuracy { k = 3 }, "top3_accuracy", "TopKAccuracy(k=3)" },
      { M.f1(), "f1_macro", "F1(average=macro)" },
      { M.precision { average = "none", num_classes = 4 }, "precision_per_class",
        "Precision(average=none, num_classes=4)" },
      { M.recall { average = "binary" }, "recall", "Recall(average=binary)" },
      { M.confusion_matrix { num_classes = 3 }, "confusion_matrix", "ConfusionMatrix(num_classes=3)" },
      { M.mae(), "mae", "MAE()" },
      { M.rmse(), "rmse", "RMSE()" },
      { M.r2 { multioutput = "raw_values" }, "r2", "R2(multioutput=raw_values)" },
      { M.roc_auc(), "roc_auc", "ROCAUC()" },
      { M.from_loss(F.cross_entropy, { name = "ce" }), "ce", "Loss(ce)" },
      { M.accuracy { name = "val_acc" }, "val_acc", "Accuracy()" },
    }
    for _, e in ipairs(expected) do
      assert.equal(e[2], e[1].name)
      assert.equal(e[3], tostring(e[1]))
      assert.is_falsy(tostring(e[1]):find("\n"))
    end
  end)

  it("update runs without gradients", function()
    local out = logits:clone():requires_grad_()
    local grad_mode
    local m = M.from_loss(function(o, t)
      grad_mode = torch.is_grad_enabled()
      return F.cross_entropy(o, t)
    end)
    m:update(out, target)
    assert.is_false(grad_mode)
    assert.is_true(torch.is_grad_enabled())
    M.accuracy():update(out, target)
    M.mse():update(out, logits)
    assert.is_nil(out.grad)
  end)

  it("from_loss passes extras and accepts a summed loss", function()
    local seen
    local m = M.from_loss(function(o, t, extras)
      seen = extras
      return F.mse_loss(o, t, { reduction = "sum" })
    end, { reduction = "sum" })
    local ex = { model = "x" }
    m:update(reg_out, reg_tgt, ex)
    assert.equal(ex, seen)
    -- a sum over the 3 columns per sample: 3 times the elementwise mean
    close(3 * E.mse, m:compute(), 1e-5)
  end)

  it("from_loss accepts a loss returning a Lua number", function()
    local m = M.from_loss(function(o) return o:size(1) * 1.0 end)
    m:update(logits:narrow(1, 1, 2), target:narrow(1, 1, 2))
    m:update(logits:narrow(1, 3, 6), target:narrow(1, 3, 6))
    close((2 * 2 + 6 * 6) / 8, m:compute())
  end)

  it("a confusion matrix grows as new classes show up", function()
    local m = M.confusion_matrix()
    m:update(T({ 0, 1 }, "int64"), T({ 0, 1 }, "int64"))
    m:update(T({ 3 }, "int64"), T({ 2 }, "int64"))
    assert.same({ { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 0, 1 }, { 0, 0, 0, 0 } }, m:compute())
  end)

  it("roc auc is nil with a message when the targets hold one class", function()
    local m = M.roc_auc()
    m:update(T { 0.1, 0.9 }, T({ 1, 1 }, "int64"))
    local v, msg = m:compute()
    assert.is_nil(v)
    assert.is_truthy(msg:find("only one class", 1, true))
  end)

  it("roc auc: perfect, reversed and all-tied scores", function()
    local y = T({ 0, 0, 1, 1 }, "int64")
    assert.equal(1.0, M.roc_auc():update(T { 0.1, 0.2, 0.3, 0.4 }, y):compute())
    assert.equal(0.0, M.roc_auc():update(T { 0.4, 0.3, 0.2, 0.1 }, y):compute())
    assert.equal(0.5, M.roc_auc():update(T { 0.5, 0.5, 0.5, 0.5 }, y):compute())
  end)

  it("r2 of perfect predictions of a constant is 1, of others 0", function()
    assert.equal(1.0, M.r2():update(T { 2, 2, 2 }, T { 2, 2, 2 }):compute())
    assert.equal(0.0, M.r2():update(T { 1, 2, 3 }, T { 2, 2, 2 }):compute())
  end)

  it("sums do not drift over many float32 batches", function()
    local m, a = M.mse(), M.accuracy()
    local o, t = torch.full({ 10 }, 0.1), torch.zeros(10)
    local yo, yt = T({ { 1, 0 }, { 0, 1 }, { 1, 0 } }), T({ 0, 0, 0 }, "int64")
    for _ = 1, 20000 do
      m:update(o, t)
      a:update(yo, yt)
    end
    local e = T { 0.1 }:double():item() -- 0.1 as float32 holds it
    close(e * e, m:compute(), 1e-14)
    assert.equal(2 / 3, a:compute())
  end)
end)
