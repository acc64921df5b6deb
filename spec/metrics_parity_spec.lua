-- Classification metrics against sklearn 1.2 (spec/fixtures/metrics_parity.lua,
-- from tests/fixtures/make_metrics_parity.py): ROC-AUC (binary, ovr, ovo,
-- multilabel), average precision, log loss, balanced accuracy, Matthews
-- correlation and top-k.  Each case is fed in uneven batches (1, 7, 3, the
-- rest) and in one update, and resumed from state() mid-stream; all must
-- land on sklearn's value on the whole data.
-- Tolerance: 1e-12 relative.  Both sides compute in float64 from the same
-- numbers; they differ only in the order of the additions (sklearn's
-- trapezoids and numpy's pairwise sums against clara's exact integer counts
-- and running sums).  The float32 log-loss cases also meet sklearn's own
-- float32 arithmetic, within 1e-6.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/metrics_parity_spec.lua

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local clara = require "clara"
local M = clara.metrics

local fx = dofile("spec/fixtures/metrics_parity.lua")

local function input(key, dtype)
  local v = assert(fx.data[key], "no fixture input " .. key)
  if key:match("_y$") then return torch.tensor(v, { dtype = "int64" }) end
  return torch.tensor(v, { dtype = dtype or "float64" })
end

-- the rows of output and target in batches of 1, 7, 3 and the rest
local function batches(output, target)
  local out, start, n = {}, 1, output:size(1)
  for _, size in ipairs { 1, 7, 3, n - 11 } do
    out[#out + 1] = { output:narrow(1, start, size), target:narrow(1, start, size) }
    start = start + size
  end
  return out
end

local function feed(m, parts, from, to)
  for i = from, to do m:update(parts[i][1], parts[i][2]) end
  return m
end

local close = require "spec.helpers.close"

-- sklearn's value, or nil and a message saying "undefined" where sklearn raises
local function matches(c, v, msg)
  if c.expect == "undefined" then
    assert.is_nil(v)
    assert.is_truthy(msg and msg:find("undefined", 1, true), "no message: " .. tostring(msg))
  else
    close(c.expect, v, 1e-12)
  end
end

local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local keys, parts = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. tostring(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

describe("metrics match sklearn", function()
  for _, c in ipairs(fx.cases) do
    local desc = ("%s%s on %s%s"):format(c.metric, show(c.opts), c.output, c.dtype and " (" .. c.dtype .. ")" or "")
    local make = function() return M[c.metric](c.opts) end
    local output, target = input(c.output, c.dtype), input(c.target)
    local parts = batches(output, target)

    it(desc .. ", streamed in uneven batches", function()
      matches(c, feed(make(), parts, 1, #parts):compute())
    end)

    it(desc .. ", in one update", function()
      matches(c, make():update(output, target):compute())
      if c.float32_sklearn then close(c.float32_sklearn, make():update(output, target):compute(), 1e-6) end
    end)

    it(desc .. ", resumed from state() after two batches", function()
      local whole = { feed(make(), parts, 1, #parts):compute() }
      local cut = feed(make(), parts, 1, 2)
      local resumed = make():set_state(cut:state())
      cut:update(output, target) -- what the cut one does later is not the resumed one's business
      local got = { feed(resumed, parts, 3, #parts):compute() }
      assert.same(whole, got)
    end)
  end
end)

describe("metric names and printing", function()
  it("name the settings that are not the default", function()
    local expected = {
      { M.roc_auc(), "roc_auc", "ROCAUC()" },
      { M.roc_auc { multi_class = "ovo", average = "weighted" }, "roc_auc_ovo_weighted",
        "ROCAUC(multi_class=ovo, average=weighted)" },
      { M.roc_auc { logits = true }, "roc_auc", "ROCAUC(logits=true)" },
      { M.average_precision { average = "micro" }, "average_precision_micro", "AveragePrecision(average=micro)" },
      { M.log_loss(), "log_loss", "LogLoss()" },
      { M.log_loss { eps = 1e-3, logits = true }, "log_loss", "LogLoss(eps=0.001, logits=true)" },
      { M.balanced_accuracy(), "balanced_accuracy", "BalancedAccuracy()" },
      { M.balanced_accuracy { adjusted = true, top_k = 2 }, "top2_balanced_accuracy",
        "BalancedAccuracy(adjusted=true, top_k=2)" },
      { M.matthews_corrcoef(), "matthews_corrcoef", "MatthewsCorrcoef()" },
      { M.accuracy { top_k = 5 }, "top5_accuracy", "Accuracy(top_k=5)" },
      { M.f1 { top_k = 2, average = "micro" }, "top2_f1_micro", "F1(average=micro, top_k=2)" },
      { M.top_k_accuracy { k = 3 }, "top3_accuracy", "TopKAccuracy(k=3)" },
    }
    for _, e in ipairs(expected) do
      assert.equal(e[2], e[1].name)
      assert.equal(e[3], tostring(e[1]))
    end
  end)

  it("resolve by name, as experiments do", function()
    for _, name in ipairs { "roc_auc", "average_precision", "log_loss", "balanced_accuracy", "matthews_corrcoef" } do
      assert.equal(M[name], M.resolve(name))
      assert.equal(name, M.resolve(name)().name)
    end
  end)
end)

describe("analytic values", function()
  local T = function(v, dtype) return torch.tensor(v, { dtype = dtype or "float64" }) end

  it("matthews_corrcoef is 0 when every prediction is one class, 1 when perfect, -1 when reversed", function()
    local y = T({ 0, 1, 1, 0 }, "int64")
    assert.equal(0.0, M.matthews_corrcoef():update(T({ 1, 1, 1, 1 }, "int64"), y):compute())
    assert.equal(1.0, M.matthews_corrcoef():update(y, y):compute())
    assert.equal(-1.0, M.matthews_corrcoef():update(1 - y, y):compute())
  end)

  it("log_loss of a certain right answer is -log(1 - eps), of a certain wrong one -log(eps)", function()
    local y = T({ 1 }, "int64")
    local eps = 2.0 ^ -52
    close(-math.log(1 - eps), M.log_loss():update(T { 1.0 }, y):compute(), 1e-15)
    close(-math.log(eps), M.log_loss():update(T { 0.0 }, y):compute(), 1e-15)
    close(-math.log(2.0 ^ -23), M.log_loss():update(T({ 0.0 }, "float32"), y):compute(), 1e-15)
  end)

  it("accuracy and f1 without top_k still take NaN scores, as before", function()
    local s, y = T { { 0 / 0, 0.5 }, { 0.2, 0.8 } }, T({ 0, 1 }, "int64")
    assert.equal("number", type(M.accuracy():update(s, y):compute()))
    assert.equal("number", type(M.f1():update(s, y):compute()))
  end)

  it("ranks logits far beyond a sigmoid's or softmax's float64 range", function()
    local y = T({ 0, 0, 1, 1 }, "int64")
    local z = T { 38, 39, 40, 41 }
    assert.equal(1.0, M.roc_auc { logits = true }:update(z, y):compute())
    assert.equal(1.0, M.roc_auc():update(torch.stack({ -z, z }, 2), y):compute())
    assert.equal(1.0, M.average_precision { logits = true }:update(torch.stack({ -z, z }, 2), y):compute())
    assert.equal(1.0, M.roc_auc { average = "micro" }:update(torch.stack({ z, z }, 2), torch.stack({ y, y }, 2))
      :compute())
  end)

  it("roc_auc ovo: one class in the targets is undefined", function()
    local v, msg = M.roc_auc { multi_class = "ovo" }
      :update(T { { 0.2, 0.3, 0.5 }, { 0.1, 0.1, 0.8 } }, T({ 2, 2 }, "int64")):compute()
    assert.is_nil(v)
    assert.matches("roc_auc_ovo: undefined", msg, 1, true)
  end)

  it("average_precision of a label without positives is 0 (sklearn), macro counts it", function()
    local s = T { { 0.9, 0.1 }, { 0.2, 0.8 }, { 0.6, 0.3 } }
    local y = T({ { 1, 0 }, { 0, 0 }, { 1, 0 } }, "int64")
    assert.same({ 1.0, 0.0 }, M.average_precision { average = "none" }:update(s, y):compute())
    assert.equal(0.5, M.average_precision():update(s, y):compute())
  end)

  it("state survives torch.save and torch.load", function()
    local path = os.tmpname()
    local s = T { { 0.2, 0.3, 0.5 }, { 0.7, 0.1, 0.2 }, { 0.1, 0.8, 0.1 }, { 0.3, 0.3, 0.4 } }
    local y = T({ 2, 0, 1, 1 }, "int64")
    for _, make in ipairs { M.roc_auc, M.average_precision, M.log_loss, M.matthews_corrcoef } do
      local m = make():update(s:narrow(1, 1, 2), y:narrow(1, 1, 2))
      torch.save(m:state(), path)
      local resumed = make():set_state(torch.load(path)):update(s:narrow(1, 3, 2), y:narrow(1, 3, 2))
      assert.equal(make():update(s, y):compute(), resumed:compute())
    end
    os.remove(path)
  end)

  it("a ranking metric keeps 8 bytes per score and per label, under clara.limits.tensor_bytes", function()
    local m = M.roc_auc()
    m:update(T { { 0.2, 0.3, 0.5 }, { 0.7, 0.1, 0.2 } }, T({ 2, 0 }, "int64"))
    assert.equal(2 * 3 * 8 + 2 * 8, m.bytes)
    local saved = clara.limits.tensor_bytes
    clara.limits.tensor_bytes = 100
    local ok, err = pcall(m.update, m, T { { 0.2, 0.3, 0.5 }, { 0.7, 0.1, 0.2 } }, T({ 2, 0 }, "int64"))
    clara.limits.tensor_bytes = saved
    assert.is_false(ok)
    assert.matches("over the limit clara.limits.tensor_bytes", err, 1, true)
  end)
end)

describe("in an experiment", function()
  local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
  teardown(cleanup)

  local function experiment(over)
    local t = dofile("spec/helpers/resume_experiment.lua")
    t.metrics = { auc = "roc_auc", ap = "average_precision", mcc = "matthews_corrcoef", bal = "balanced_accuracy",
                  ll = function() return M.log_loss { logits = true } end }
    for k, v in pairs(t.metrics) do
      if type(v) == "string" then t.metrics[k] = M.resolve(v) end
    end
    for k, v in pairs(over) do t[k] = v end
    return clara.experiment(t)
  end

  it("a run cut mid-epoch resumes every metric exactly (the kept scores included)", function()
    local reference = experiment({ out_dir = tmpdir() }):run()
    local exp = experiment { out_dir = tmpdir(), checkpoint_every = 1 }
    local crash = { on_step_end = function(ctx) if ctx.step == 17 then error("crash at step 17", 0) end end }
    assert.is_false(pcall(function() exp:with({ hooks = crash }):run() end))
    local r = exp:run { resume = true }
    local seen = 0
    for e = 1, #reference.history do
      for key, v in pairs(reference.history[e]) do
        if key ~= "time" then
          assert.are.equal(v, r.history[e][key], ("epoch %d %s"):format(e, key))
          if key:find("auc", 1, true) or key:find("ll", 1, true) then seen = seen + 1 end
        end
      end
    end
    assert.is_true(seen >= 2 * #reference.history, "no metric columns in the history")
  end)
end)

-- {====================== bad calls ======================

local function T(v, dtype) return torch.tensor(v, { dtype = dtype or "float32" }) end
local probs = T { { 0.1, 0.9, 0.0 }, { 0.8, 0.1, 0.1 }, { 0.2, 0.2, 0.6 }, { 0.3, 0.3, 0.4 } }
local logits = T { { 2.0, -1.0, 0.5 }, { 0.1, 0.3, -2.0 }, { 1.0, 1.0, 3.0 }, { -0.5, 0.2, 0.0 } }
local labels = T({ 1, 0, 2, 2 }, "int64")
local bin = T({ 0, 1, 1, 0 }, "int64")
local multilabel = T({ { 0, 1, 1 }, { 1, 0, 0 }, { 0, 1, 0 }, { 1, 1, 0 } }, "int64")
local nan_probs = T { { 0.1, 0.9, 0.0 }, { 0 / 0, 0.1, 0.1 }, { 0.2, 0.2, 0.6 }, { 0.3, 0.3, 0.4 } }

local cases = {
  -- scores
  { "roc_auc of NaN scores", "roc_auc", "NaN or infinite", function() M.roc_auc():update(nan_probs, labels) end },
  { "roc_auc of infinite binary scores", "roc_auc", "NaN or infinite",
    function() M.roc_auc():update(T { 0.1, math.huge, 0.3, 0.2 }, bin) end },
  { "average_precision of NaN scores", "average_precision", "NaN or infinite",
    function() M.average_precision():update(nan_probs, labels) end },
  { "log_loss of NaN probabilities", "log_loss", "NaN", function() M.log_loss():update(nan_probs, labels) end },
  { "balanced_accuracy of NaN scores", "balanced_accuracy", "output holds NaN scores",
    function() M.balanced_accuracy():update(nan_probs, labels) end },
  { "top-k accuracy of NaN scores", "top2_accuracy", "NaN",
    function() M.accuracy { top_k = 2 }:update(nan_probs, labels) end },
  { "matthews_corrcoef of NaN scores", "matthews_corrcoef", "output holds NaN scores",
    function() M.matthews_corrcoef():update(nan_probs, labels) end },
  { "roc_auc of logits taken as probabilities", "roc_auc", "probabilities in [0, 1]", "logits = true",
    function() M.roc_auc():update(logits, labels) end },
  { "roc_auc of rows not summing to 1", "roc_auc", "row 1 sums to 0.5", "logits = true",
    function() M.roc_auc { multi_class = "ovo" }:update(probs * 0.5, labels) end },
  { "log_loss of logits taken as probabilities", "log_loss", "probabilities in [0, 1]", "logits = true",
    function() M.log_loss():update(logits, labels) end },
  { "roc_auc of integer scores", "roc_auc", "floating scores, got int64",
    function() M.roc_auc():update(labels, labels) end },
  -- labels
  { "roc_auc with a class beyond the output", "roc_auc", "target holds class 3 but the output has 3 classes",
    function() M.roc_auc():update(probs, T({ 0, 1, 2, 3 }, "int64")) end },
  { "roc_auc with a negative class", "roc_auc", "target holds class -1",
    function() M.roc_auc():update(probs, T({ 0, -1, 2, 1 }, "int64")) end },
  { "roc_auc with float class targets", "roc_auc", "class indices (an integer tensor), got float32",
    function() M.roc_auc():update(probs, labels:float()) end },
  { "average_precision with binary labels 2", "average_precision", "only 0 and 1",
    function() M.average_precision():update(T { 0.1, 0.2, 0.3, 0.4 }, labels) end },
  { "roc_auc with a multilabel target not 0/1", "roc_auc", "multilabel target must hold only 0 and 1",
    function() M.roc_auc():update(probs, multilabel * 2) end },
  { "log_loss with a class beyond the output", "log_loss", "target holds class 4 but the output has 3 classes",
    function() M.log_loss():update(probs, T({ 0, 1, 4, 2 }, "int64")) end },
  { "log_loss with binary targets not 0/1", "log_loss", "only 0 and 1",
    function() M.log_loss():update(T { 0.1, 0.2, 0.3, 0.4 }, T { 0, 0.5, 1, 1 }) end },
  { "matthews_corrcoef with a class beyond num_classes", "matthews_corrcoef", "out of range for num_classes = 2",
    function() M.matthews_corrcoef { num_classes = 2 }:update(T({ 0, 1, 2 }, "int64"), T({ 0, 1, 1 }, "int64")) end },
  -- shapes
  { "roc_auc with fewer targets", "roc_auc", "output has 4 samples but target has 3",
    function() M.roc_auc():update(probs, labels:narrow(1, 1, 3)) end },
  { "roc_auc multilabel of another width", "roc_auc",
    "multilabel target (4, 2) needs an output of the same shape, got (4, 3)",
    function() M.roc_auc():update(probs, multilabel:narrow(2, 1, 2)) end },
  { "average_precision with a 3-d target", "average_precision", "target must be (N) labels or (N, C) multilabel",
    function() M.average_precision():update(probs, torch.zeros(4, 1, 2, { dtype = "int64" })) end },
  { "roc_auc switching from binary to multiclass", "roc_auc",
    "this batch is multiclass with 3 classes, earlier batches were binary with 2",
    function() M.roc_auc():update(T { 0.1, 0.9, 0.4, 0.3 }, bin):update(probs, labels) end },
  { "log_loss switching class counts", "log_loss", "this batch has 3 classes, earlier batches had 2",
    function() M.log_loss():update(T { 0.1, 0.9, 0.4, 0.3 }, bin):update(probs, labels) end },
  { "log_loss of a 3-d output", "log_loss", "(N, C) class probabilities, got float32 (4, 3, 1)",
    function() M.log_loss():update(probs:unsqueeze(3), labels) end },
  { "log_loss with one-hot targets", "log_loss", "target must be (N) class indices, got shape (4, 3)",
    function() M.log_loss():update(probs, multilabel) end },
  { "accuracy top_k above C", "top4_accuracy", "(N, C) scores with C >= k = 4",
    function() M.accuracy { top_k = 4 }:update(probs, labels) end },
  { "f1 top_k of binary probabilities", "top2_f1_macro", "(N, C) scores",
    function() M.f1 { top_k = 2 }:update(T { 0.1, 0.9, 0.4, 0.3 }, bin) end },
  { "precision top_k of class indices", "top2_precision_macro", "(N, C) scores",
    function() M.precision { top_k = 2 }:update(labels, labels) end },
  { "average_precision samples of a multiclass target", "average_precision_samples", "needs a multilabel target",
    function() M.average_precision { average = "samples" }:update(probs, labels):compute() end },
  -- options
  { "roc_auc with a misspelt option", "clara.metrics.roc_auc", "unknown option 'multiclass'",
    "did you mean 'multi_class'",
    function() M.roc_auc { multiclass = "ovo" } end },
  { "roc_auc ovo with micro", "clara.metrics.roc_auc", "average = 'micro' is not defined with multi_class = 'ovo'",
    function() M.roc_auc { multi_class = "ovo", average = "micro" } end },
  { "roc_auc with multi_class raise", "clara.metrics.roc_auc", "multi_class must be one of 'ovr', 'ovo', got 'raise'",
    function() M.roc_auc { multi_class = "raise" } end },
  { "average_precision binary average", "clara.metrics.average_precision", "average must be one of",
    function() M.average_precision { average = "binary" } end },
  { "log_loss with eps 'tiny'", "clara.metrics.log_loss", "eps must be a number or 'auto', got 'tiny'",
    function() M.log_loss { eps = "tiny" } end },
  { "log_loss with a negative eps", "clara.metrics.log_loss", "eps must be >= 0",
    function() M.log_loss { eps = -1e-3 } end },
  { "log_loss with eps NaN", "clara.metrics.log_loss", "eps must be a number, got nan",
    function() M.log_loss { eps = 0 / 0 } end },
  { "balanced_accuracy adjusted 'yes'", "clara.metrics.balanced_accuracy", "adjusted must be a boolean, got 'yes'",
    function() M.balanced_accuracy { adjusted = "yes" } end },
  { "accuracy top_k 0", "clara.metrics.accuracy", "top_k must be >= 1, got 0",
    function() M.accuracy { top_k = 0 } end },
  { "matthews_corrcoef with top_k", "clara.metrics.matthews_corrcoef", "unknown option 'top_k'",
    function() M.matthews_corrcoef { top_k = 2 } end },
}

describe("bad calls to the sklearn-parity metrics", function()
  badcalls(cases, { position = "metrics_parity_spec%.lua:" })
end)

-- }=======================================================
