-- clara.metrics.classification: accuracy, top-k accuracy, confusion matrix,
-- precision, recall and F1, streaming.
--
-- What `update(output, target)` accepts (N samples):
--   output (N, C) floating scores (logits or probabilities): the class is the argmax;
--   output (N) or (N, 1) floating: binary, the class is 1 where the probability
--     is >= threshold (option `threshold`, default 0.5; with `logits = true`
--     the output goes through a sigmoid first);
--   output (N) integer: class indices, as they are.
--   target (N) integer (or bool) class indices, 0-based as in PyTorch.  In the
--     binary case a floating target holding only 0 and 1 (what BCE takes) is
--     accepted too.
-- Option top_k = k (accuracy, precision, recall, f1, balanced_accuracy;
-- output (N, C) scores): the predicted class is the target where the target
-- is among the k best scores, else the best class (torchmetrics' rule), so
-- accuracy is sklearn's top_k_accuracy_score; tied scores rank the lower
-- class first, as argmax does (sklearn ranks the higher one first).
local torch = require "torch"
local E = require "clara.error"
local base = require "clara.metrics.base"

local fail, shape_str = base.fail, base.shape_str
local M = {}

-- {====================== predictions from outputs ======================

local function is_integral(t)
  return not t:is_floating_point()
end

-- the class targets of a batch as an int64 (N) tensor
local function class_targets(fname, target, binary)
  if target:dim() == 2 and target:size(2) == 1 then target = target:squeeze(2) end
  if target:dim() ~= 1 then
    fail(("%s: target must be (N) class indices, got shape %s"):format(fname, shape_str(target)))
  end
  if not is_integral(target) then
    local ok = binary and target:eq(0):logical_or(target:eq(1)):all():item()
    if not ok then
      fail(("%s: target must hold class indices (an integer tensor), got %s%s")
        :format(fname, target.dtype, binary and " with values other than 0 and 1" or ""))
    end
  end
  target = target:long()
  if target:numel() > 0 and target:min():item() < 0 then
    fail(("%s: target holds class %d; class indices must be >= 0"):format(fname, target:min():item()))
  end
  return target
end

-- predicted classes (N) int64 and the number of classes the output shows
-- (nil for index outputs), from any accepted output form
local function class_predictions(fname, output, opts)
  local n = output:dim()
  if output:is_floating_point() and n == 2 and output:size(2) >= 2 then
    return output:argmax(2), output:size(2), false
  end
  if output:is_floating_point() and (n == 1 or (n == 2 and output:size(2) == 1)) then
    local p = output:reshape(-1):double()
    if opts.logits then p = p:sigmoid() end
    return p:ge(opts.threshold or 0.5):long(), 2, true
  end
  if is_integral(output) and n == 1 then
    return output:long(), nil, false
  end
  fail(("%s: output must be (N, C) scores, (N) binary probabilities or (N) class indices, got %s %s")
    :format(fname, output.dtype, shape_str(output)))
end

-- the classes predicted with top_k = k: the target where it is among the k
-- best scores, else the best; a stable sort puts tied lower classes first
local function top_k_predictions(output, y, k)
  local _, order = torch.ops.aten["sort.stable"](output, true, 1, true)
  local hit = order:narrow(2, 1, k):eq(y:unsqueeze(2)):any(2):long()
  local best = order:select(2, 1)
  return best + hit * (y - best)
end

-- top-k needs (N, C) scores; NaN scores raise where `no_nan` (top-k and
-- the metrics added with it; accuracy, precision, recall, f1 and the
-- confusion matrix keep taking them, as before, so that an evaluation of
-- a diverged model still ends with its NaN loss in the history)
local function check_scores(fname, output, k, no_nan)
  if k and (not output:is_floating_point() or output:dim() ~= 2 or output:size(2) < k) then
    fail(("%s: output must be (N, C) scores with C >= k = %d for top-k, got %s %s")
      :format(fname, k, output.dtype, shape_str(output)))
  end
  if (k or no_nan) and output:is_floating_point() and output:isnan():any():item() then
    fail(("%s: output holds NaN scores"):format(fname))
  end
end

-- checks a batch and returns predicted and true classes and the class count
-- the output shows
function M.classes(fname, output, target, opts, no_nan)
  base.check_pair(fname, output, target)
  check_scores(fname, output, opts.top_k, no_nan)
  local pred, C, binary = class_predictions(fname, output, opts)
  local y = class_targets(fname, target, binary)
  if C and y:numel() > 0 and y:max():item() >= C then
    fail(("%s: target holds class %d but the output has %d classes (shape %s)")
      :format(fname, y:max():item(), C, shape_str(output)))
  end
  if opts.top_k then pred = top_k_predictions(output, y, opts.top_k) end
  local K = opts.num_classes
  if K and y:numel() > 0 then
    local top = math.max(y:max():item(), pred:max():item())
    if top >= K then
      fail(("%s: class %d out of range for num_classes = %d"):format(fname, top, K))
    end
  end
  return pred, y, C
end

local function describe_opts(self, keys)
  local parts = {}
  for _, k in ipairs(keys) do
    if self.opts[k] ~= nil then parts[#parts + 1] = k .. "=" .. tostring(self.opts[k]) end
  end
  return table.concat(parts, ", ")
end

-- a count of classes bounds the Lua tables it sizes (a K x K confusion matrix)
local function check_classes(api, K)
  local cells = K <= 1 << 31 and K * K or (K + 0.0) ^ 2
  E.limit(api, ("the confusion matrix of %d classes: its cell count"):format(K), cells, "table_elements")
  return K
end

local function read_class_opts(_, self, opts)
  self.opts = opts
  if opts.num_classes then check_classes("clara.metrics." .. self.kind, opts.num_classes) end
end

-- the options of the class metrics, one schema each
local NUM_CLASSES = { type = "integer", min = 1, doc = "the number of classes (else: as seen so far)" }
local THRESHOLD = { type = "number", min = 0, max = 1, doc = "binary outputs: class 1 where p >= threshold" }
local LOGITS = { type = "boolean", doc = "binary outputs are logits (a sigmoid first)" }
local TOP_K = { type = "integer", min = 1, doc = "a hit where the target is among the top_k best scores" }
local CLASS_OPTS = { num_classes = NUM_CLASSES, threshold = THRESHOLD, logits = LOGITS }
local TOPK_OPTS = { k = { type = "integer", min = 1, default = 5, doc = "how many best scores count" },
                    num_classes = NUM_CLASSES }

-- the options of a class metric: CLASS_OPTS, top_k, and more
local function class_opts(more)
  local t = { top_k = TOP_K }
  for k, v in pairs(CLASS_OPTS) do t[k] = v end
  for k, v in pairs(more or {}) do t[k] = v end
  return t
end

-- "top5_" where top_k = 5
local function top_prefix(opts)
  return opts.top_k and ("top%d_"):format(opts.top_k) or ""
end

-- a method table: the parent's methods, some replaced
local function extend(parent, methods)
  local t = {}
  for k, v in pairs(parent) do t[k] = v end
  for k, v in pairs(methods) do t[k] = v end
  return t
end

-- }=======================================================================

-- {====================== accuracy ======================

local accuracy = {
  check = function(self, output, target)
    return { M.classes(self.name, output, target, self.opts) }
  end,
  init = function(self) self.correct = 0 end,
  accumulate = function(self, _, _, checked)
    local pred, y = checked[1], checked[2]
    self.correct = self.correct + pred:eq(y):sum():item()
    self.count = self.count + y:numel()
  end,
  result = function(self) return self.correct / self.count end,
  describe = function(self) return describe_opts(self, { "top_k", "threshold", "logits" }) end,
}

-- clara.metrics.accuracy{top_k =, threshold =, logits =, num_classes =}
M.accuracy = base.class("Accuracy", accuracy, function(self, opts)
  self.name = top_prefix(opts) .. "accuracy"
  read_class_opts(self.name, self, opts)
end, "clara.metrics.accuracy", class_opts())

-- clara.metrics.top_k_accuracy{k = 5}: accuracy{top_k = k}
M.top_k_accuracy = base.class("TopKAccuracy", extend(accuracy, {
  describe = function(self) return "k=" .. self.opts.top_k end,
}), function(self, opts)
  opts.top_k = opts.k
  self.name = top_prefix(opts) .. "accuracy"
  read_class_opts(self.name, self, opts)
end, "clara.metrics.top_k_accuracy", TOPK_OPTS)

-- }======================================================

-- {====================== confusion matrix ======================

-- grows the square count table `cm` to K classes
local function grow(cm, K)
  local old = #cm
  for i = 1, K do
    local row = cm[i] or {}
    for j = (i <= old and old or 0) + 1, K do row[j] = 0 end
    cm[i] = row
  end
end

-- the shared state of every metric built on the confusion matrix: counts in
-- exact Lua integers, rows the true class, columns the predicted one
local confusion = {
  check = function(self, output, target)
    return { M.classes(self.name, output, target, self.opts, self.no_nan) }
  end,
  init = function(self)
    self.cm = {}
    grow(self.cm, self.opts.num_classes or 0)
  end,
  accumulate = function(self, _, _, checked)
    local pred, y, C = checked[1], checked[2], checked[3]
    local n = y:numel()
    if n == 0 then return end
    local K = math.max(#self.cm, C or 0, y:max():item() + 1, pred:max():item() + 1)
    if K > #self.cm then check_classes(self.name, K) end
    grow(self.cm, K)
    -- one scatter_add counts every (true, predicted) pair of the batch
    local flat = y * K + pred
    local counts = torch.zeros(K * K, { dtype = "int64", device = flat.device })
      :scatter_add(1, flat, torch.ones(n, { dtype = "int64", device = flat.device })):totable()
    for i = 1, K do
      local row = self.cm[i]
      for j = 1, K do row[j] = row[j] + counts[(i - 1) * K + j] end
    end
    self.count = self.count + n
  end,
  describe = function(self) return describe_opts(self, { "top_k", "num_classes", "threshold", "logits" }) end,
}

local function copy_matrix(cm)
  local out = {}
  for i, row in ipairs(cm) do out[i] = table.move(row, 1, #row, 1, {}) end
  return out
end

-- compute() -> the matrix as a Lua table: m[t + 1][p + 1] counts samples of
-- true class t predicted as p (rows true classes, as sklearn)
M.confusion_matrix = base.class("ConfusionMatrix", extend(confusion, {
  result = function(self) return copy_matrix(self.cm) end,
}), function(self, opts)
  self.name = "confusion_matrix"
  read_class_opts(self.name, self, opts)
end, "clara.metrics.confusion_matrix", CLASS_OPTS)

-- }==============================================================

-- {====================== precision, recall, F1 ======================

-- per-class true positives, predicted counts (TP + FP), true counts (TP + FN)
local function class_counts(cm)
  local tp, predicted, actual = {}, {}, {}
  local K = #cm
  for c = 1, K do tp[c], predicted[c], actual[c] = cm[c][c], 0, 0 end
  for t = 1, K do
    for p = 1, K do
      predicted[p] = predicted[p] + cm[t][p]
      actual[t] = actual[t] + cm[t][p]
    end
  end
  return tp, predicted, actual
end

local function ratio(a, b, zero_division)
  if b == 0 then return zero_division end
  return a / b
end

-- each score of one class from its counts; zd is the value of 0/0
local scores = {
  precision = function(tp, pred, act, zd) return ratio(tp, pred, zd) end,
  recall = function(tp, pred, act, zd) return ratio(tp, act, zd) end,
  f1 = function(tp, pred, act, zd) return ratio(2 * tp, pred + act, zd) end,
}

local function score_result(self)
  local score, zd = scores[self.score], self.zero_division
  local tp, predicted, actual = class_counts(self.cm)
  local K = #self.cm
  if self.average == "binary" then
    if K > 2 then
      fail(("%s: average = 'binary' needs two classes, the data has %d"):format(self.name, K))
    end
    return score(tp[2] or 0, predicted[2] or 0, actual[2] or 0, zd)
  end
  if self.average == "micro" then
    local a, b, c = 0, 0, 0
    for k = 1, K do a, b, c = a + tp[k], b + predicted[k], c + actual[k] end
    return score(a, b, c, zd)
  end
  local per, sum, weighted, classes = {}, 0, 0, 0
  for k = 1, K do
    per[k] = score(tp[k], predicted[k], actual[k], zd)
    -- classes seen in neither target nor prediction are left out of the
    -- macro average (as sklearn), unless num_classes names them all
    if self.opts.num_classes or predicted[k] + actual[k] > 0 then
      sum, classes = sum + per[k], classes + 1
    end
    weighted = weighted + per[k] * actual[k]
  end
  if self.average == "none" then return per end
  if self.average == "weighted" then return weighted / self.count end
  return sum / classes
end

local averages = { "macro", "micro", "weighted", "none", "binary" }

local function score_metric(kind, score)
  return base.class(kind, extend(confusion, {
    result = score_result,
    describe = function(self)
      local rest = confusion.describe(self)
      return "average=" .. self.average .. (rest ~= "" and ", " .. rest or "")
    end,
  }), function(self, opts)
    self.score = score
    self.average = opts.average
    self.zero_division = opts.zero_division
    self.name = top_prefix(opts) .. (self.average == "binary" and score
      or self.average == "none" and score .. "_per_class"
      or score .. "_" .. self.average)
    read_class_opts(self.name, self, opts)
  end, "clara.metrics." .. score, class_opts {
    average = { type = "string", enum = averages, default = "macro", doc = "how the classes' scores combine" },
    zero_division = { type = "number", min = 0, max = 1, default = 0, doc = "the score of 0/0" },
  })
end

-- clara.metrics.precision{average = "macro" | "micro" | "weighted" | "none" |
-- "binary", num_classes =, zero_division = 0}: "none" gives a Lua list whose
-- entry c + 1 is class c; "binary" scores class 1
M.precision = score_metric("Precision", "precision")
M.recall = score_metric("Recall", "recall")
M.f1 = score_metric("F1", "f1")

-- }===================================================================

-- {====================== balanced accuracy, Matthews ======================

-- the mean recall over the classes present in the targets (sklearn drops
-- the others: their recall is 0/0); adjusted: 0 for chance, 1 for perfect
local function balanced_result(self)
  local tp, _, actual = class_counts(self.cm)
  local sum, classes = 0.0, 0
  for c = 1, #self.cm do
    if actual[c] > 0 then sum, classes = sum + tp[c] / actual[c], classes + 1 end
  end
  local score = sum / classes
  if not self.opts.adjusted then return score end
  local chance = 1 / classes
  return (score - chance) / (1 - chance)
end

-- clara.metrics.balanced_accuracy{adjusted = false, top_k =, threshold =, logits =}
M.balanced_accuracy = base.class("BalancedAccuracy", extend(confusion, {
  no_nan = true,
  result = balanced_result,
  describe = function(self)
    local rest = confusion.describe(self)
    return self.opts.adjusted and "adjusted=true" .. (rest ~= "" and ", " .. rest or "") or rest
  end,
}), function(self, opts)
  self.name = top_prefix(opts) .. "balanced_accuracy"
  read_class_opts(self.name, self, opts)
end, "clara.metrics.balanced_accuracy", class_opts {
  adjusted = { type = "boolean", default = false, doc = "rescale so that chance scores 0" },
})

-- sklearn's multiclass Matthews correlation (Gorodkin's R_K) from the
-- confusion counts: cov(y, p) / sqrt(cov(y, y) cov(p, p)), 0 where either
-- variance is 0; the covariances are exact integers, their product a double
-- as numpy forms it
local function mcc_result(self)
  local diag, predicted, actual = class_counts(self.cm)
  local n, correct, t_dot_p, p_dot_p, t_dot_t = self.count, 0, 0, 0, 0
  for c = 1, #self.cm do
    correct = correct + diag[c]
    t_dot_p = t_dot_p + actual[c] * predicted[c]
    p_dot_p, t_dot_t = p_dot_p + predicted[c] * predicted[c], t_dot_t + actual[c] * actual[c]
  end
  local cov_yp, cov_pp, cov_yy = correct * n - t_dot_p, n * n - p_dot_p, n * n - t_dot_t
  if cov_pp == 0 or cov_yy == 0 then return 0.0 end
  return cov_yp / math.sqrt((cov_yy + 0.0) * cov_pp)
end

-- clara.metrics.matthews_corrcoef{threshold =, logits =, num_classes =}; no
-- top_k: crediting a prediction with the target would make the correlation
-- one of the target with itself
M.matthews_corrcoef = base.class("MatthewsCorrcoef", extend(confusion, {
  no_nan = true,
  result = mcc_result,
}), function(self, opts)
  self.name = "matthews_corrcoef"
  read_class_opts(self.name, self, opts)
end, "clara.metrics.matthews_corrcoef", CLASS_OPTS)

-- }=========================================================================

return M
