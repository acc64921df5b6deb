-- clara.metrics.ranking: ROC-AUC and average precision, streaming, for
-- binary, multiclass and multilabel problems (clara.metrics.scores says
-- which outputs and targets each takes).  sklearn 1.2's definitions:
--
--   roc_auc{multi_class = "ovr" | "ovo", average = "macro" | "weighted" |
--     "micro" | "samples" | "none", logits = false}
--   average_precision{average = ..., logits = false}
--
-- Both need the order of every score, so update keeps the scores (float64)
-- and labels (int64) of every batch, 8 bytes each, and compute ranks them
-- all; the result equals one call on all the data.
-- ROC-AUC counts, at each distinct score, the negatives scoring lower plus
-- half the tied ones (the trapezoid area of the ROC curve, in exact
-- integers until one division).  Average precision is sklearn's step
-- integral sum (R_i - R_{i-1}) P_i over the distinct scores.
--
-- Averages: "macro" the mean over classes (multiclass: one-vs-rest, or with
-- multi_class = "ovo" the mean over pairs of classes, Hand & Till),
-- "weighted" by the positives of each class (ovo: by the pair's share of
-- the samples), "micro" one curve over every (sample, class) cell (not with
-- ovo), "samples" the mean over samples (multilabel only), "none" a Lua
-- list, entry c + 1 for class c.  A binary problem ignores the average.
-- A ROC-AUC needing a class (or a sample) with no positive or no negative
-- is undefined: compute returns nil and says which (ovo skips the classes
-- absent from the targets, as sklearn); average precision scores such a
-- class 0, as sklearn.
local torch = require "torch"
local E = require "clara.error"
local base = require "clara.metrics.base"
local S = require "clara.metrics.scores"
local aten = torch.ops.aten

local fail = base.fail
local M = {}

-- {====================== binary curves ======================

-- t minus t shifted down by one (0 before the first), int64
local function steps(t)
  return aten.diff(t, 1, 0, torch.zeros(1, { dtype = "int64", device = t.device }))
end

-- the curve through the distinct scores, highest first: the positives and
-- the negatives scoring at least each (int64 tensors)
local function curve(s, y)
  local n = s:numel()
  local sorted, order = aten["sort.stable"](s, true, 0, true)
  local tps = y:index_select(1, order):cumsum(1)
  -- the last position of each run of equal scores
  local last = torch.ones(1, { dtype = "bool", device = s.device })
  if n > 1 then last = torch.cat { sorted:narrow(1, 1, n - 1):ne(sorted:narrow(1, 2, n - 1)), last } end
  local at = last:nonzero():reshape(-1)
  tps = tps:index_select(1, at)
  return tps, at + 1 - tps
end

-- ROC-AUC of scores s against labels y (0/1); nil when y holds one class
local function auc(s, y)
  local n, P = y:numel(), y:sum():item()
  local Nn = n - P
  if P == 0 or Nn == 0 then return nil end
  local tps, fps = curve(s, y)
  -- twice the area: each positive counts 2 per negative below it, 1 per tie
  local twice = (steps(tps) * ((Nn - fps) * 2 + steps(fps))):sum():item()
  return twice / (2.0 * P * Nn)
end

-- average precision of scores s against labels y; 0 without positives
-- (sklearn then takes recall as 1 everywhere: every step of the sum is 0)
local function ap(s, y)
  local P = y:sum():item()
  if P == 0 then return 0.0 end
  local tps, fps = curve(s, y)
  local precision = tps:double() / (tps + fps):double()
  return (steps(tps):double() * precision):sum():item() / P
end

-- }============================================================

-- {====================== averages ======================

local function undefined(self, what)
  return nil, ("%s: undefined: %s has only one class in the targets (no positive or no negative)")
    :format(self.name, what)
end

-- the binary score of every column of s against y ((N, K) each); nil and
-- the column's 0-based index where one is undefined
local function columns(score, s, y)
  local out = {}
  for k = 1, s:size(2) do
    local v = score(s:select(2, k), y:select(2, k))
    if v == nil then return nil, k - 1 end
    out[k] = v
  end
  return out
end

local function mean(list, weights)
  local sum, wsum = 0.0, 0.0
  for k, v in ipairs(list) do
    local w = weights and weights[k] or 1
    sum, wsum = sum + v * w, wsum + w
  end
  return sum / wsum
end

-- a multiclass or multilabel score, averaged as self.opts.average says;
-- y is the (N, K) 0/1 indicator
local function averaged(self, score, s, y)
  local average = self.opts.average
  if average == "micro" then
    local v = score(s:reshape(-1), y:reshape(-1))
    if v == nil then return undefined(self, "the flattened indicator") end
    return v
  end
  local samples = average == "samples"
  local per, bad = columns(score, samples and s:t() or s, samples and y:t() or y)
  if not per then
    return undefined(self, (samples and "sample %d" or self.problem == "multiclass" and "class %d" or "label %d")
      :format(samples and bad + 1 or bad))
  end
  if average == "none" then return per end
  if average == "weighted" then
    local weights = y:sum(1):totable()
    local total = 0
    for _, w in ipairs(weights) do total = total + w end
    -- sklearn: no positive anywhere weighs nothing
    if total == 0 then return 0.0 end
    return mean(per, weights)
  end
  return mean(per)
end

-- Hand & Till's one-vs-one AUC: over every pair of classes (a, b) present
-- in the targets (sklearn skips absent ones), the mean of a's AUC against b
-- and b's against a, on the samples of a or b
local function ovo(self, s, y)
  local N, present = y:numel(), {}
  for c, count in ipairs(aten.bincount(y, nil, self.classes):totable()) do
    if count > 0 then present[#present + 1] = c - 1 end
  end
  if #present < 2 then return undefined(self, "the multiclass target") end
  local scores, weights = {}, {}
  for i = 1, #present - 1 do
    for j = i + 1, #present do
      local a, b = present[i], present[j]
      local rows = y:eq(a):logical_or(y:eq(b)):nonzero():reshape(-1)
      local yab, sab = y:index_select(1, rows), s:index_select(1, rows)
      scores[#scores + 1] = (auc(sab:select(2, a + 1), yab:eq(a):long())
        + auc(sab:select(2, b + 1), yab:eq(b):long())) / 2
      weights[#weights + 1] = rows:numel() / N
    end
  end
  return mean(scores, self.opts.average == "weighted" and weights or nil)
end

-- }======================================================

-- {====================== the metrics ======================

-- the settings that are not the default, for tostring
local function describe(self, defaults)
  local parts = {}
  for _, k in ipairs { "multi_class", "average", "logits" } do
    local v = self.opts[k]
    if v ~= nil and v ~= defaults[k] then parts[#parts + 1] = k .. "=" .. tostring(v) end
  end
  return table.concat(parts, ", ")
end

local function result(self, score)
  local s, y = S.all(self)
  if self.problem == "binary" then
    local v = score(s, y)
    if v == nil then
      local P = y:sum():item()
      return nil, ("%s: undefined with only one class in the targets (%d positive, %d negative)")
        :format(self.name, P, y:numel() - P)
    end
    return v
  end
  local multiclass = self.problem == "multiclass"
  if self.opts.average == "samples" and multiclass then
    fail(("%s: average = 'samples' needs a multilabel target, the data is multiclass"):format(self.name))
  end
  if multiclass and self.opts.multi_class == "ovo" then return ovo(self, s, y) end
  if multiclass then y = aten.one_hot(y, self.classes) end
  return averaged(self, score, s, y)
end

-- a ranking metric class named `prefix` (its name adds the settings in
-- name_keys that are not the default); `score` is auc or ap
local function ranking(kind, prefix, score, schema, defaults, name_keys, validate)
  local api = "clara.metrics." .. prefix
  return base.class(kind, {
    check = function(self, output, target)
      return { S.read(self.name, output, target, self.opts.logits) }
    end,
    init = S.init,
    accumulate = function(self, _, _, c) S.keep(self, c[1], c[2], c[3], c[4]) end,
    result = function(self) return result(self, score) end,
    describe = function(self) return describe(self, defaults) end,
  }, function(self, opts)
    if validate then validate(api, opts) end
    self.opts, self.name = opts, prefix
    for _, k in ipairs(name_keys) do
      if opts[k] ~= defaults[k] then self.name = self.name .. "_" .. opts[k] end
    end
  end, api, schema)
end

local function average_opt(what)
  return { type = "string", enum = { "macro", "weighted", "micro", "samples", "none" }, default = "macro",
           doc = "how the classes' " .. what .. " combine" }
end
local LOGITS = { type = "boolean", default = false,
                 doc = "multiclass outputs are logits (a softmax first), else probabilities" }

-- clara.metrics.roc_auc{multi_class = "ovr", average = "macro", logits = false}
M.roc_auc = ranking("ROCAUC", "roc_auc", auc, {
  multi_class = { type = "string", enum = { "ovr", "ovo" }, default = "ovr",
                  doc = "multiclass: one-vs-rest or one-vs-one" },
  average = average_opt("AUCs"), logits = LOGITS,
}, { multi_class = "ovr", average = "macro", logits = false }, { "multi_class", "average" }, function(api, opts)
  if opts.multi_class == "ovo" and opts.average ~= "macro" and opts.average ~= "weighted" then
    E.raise(api, "average = '%s' is not defined with multi_class = 'ovo' (macro or weighted)", opts.average)
  end
end)

-- clara.metrics.average_precision{average = "macro", logits = false}
M.average_precision = ranking("AveragePrecision", "average_precision", ap, {
  average = average_opt("APs"), logits = LOGITS,
}, { average = "macro", logits = false }, { "average" })

-- }=========================================================

return M
