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

local function close(expected, got, tol)
  if type(expected) == "table" then
    assert.equal("table", type(got), "expected a list, got " .. tostring(got))
    assert.equal(#expected, #got)
    for i = 1, #expected do close(expected[i], got[i], tol) end
    return
  end
  assert.equal("number", type(got), "expected a number, got " .. tostring(got))
  assert.is_true(math.abs(expected - got) <= tol * math.max(1, math.abs(expected)),
    ("expected %.17g, got %.17g"):format(expected, got))
end

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

  it("a ranking metric keeps 16 bytes per sample and class, under clara.limits.tensor_bytes", function()
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
