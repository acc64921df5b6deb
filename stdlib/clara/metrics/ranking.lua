-- clara.metrics.ranking: ROC-AUC of a binary classifier, streaming.
--
-- update(output, target): output (N) or (N, 1) scores (probabilities or
-- logits: AUC only looks at their order), or (N, 2) two-class scores whose
-- class-1 softmax probability is the score; target (N) holding 0 and 1
-- (integer, bool, or floating as BCE takes it).
--
-- AUC needs the order of every score, so update keeps the scores (float64)
-- and compute ranks them all: AUC = (sum of the positives' ranks
-- - P (P + 1) / 2) / (P N), with tied scores sharing their mean rank, which
-- equals the area under the ROC curve drawn with trapezoids at ties.
local torch = require "torch"
local base = require "clara.metrics.base"

local fail, shape_str = base.fail, base.shape_str
local M = {}

local function binary_scores(fname, output)
  local n = output:dim()
  if output:is_floating_point() then
    if n == 1 then return output:double() end
    if n == 2 and output:size(2) == 1 then return output:reshape(-1):double() end
    if n == 2 and output:size(2) == 2 then return output:double():softmax(2):select(2, 2) end
  end
  fail(("%s: output must be (N) or (N, 1) scores or (N, 2) two-class scores, got %s %s")
    :format(fname, output.dtype, shape_str(output)))
end

local function binary_labels(fname, target)
  if target:dim() == 2 and target:size(2) == 1 then target = target:reshape(-1) end
  if target:dim() ~= 1 then
    fail(("%s: target must be (N) labels 0 and 1, got shape %s"):format(fname, shape_str(target)))
  end
  local t = target:double()
  if not t:eq(0):logical_or(t:eq(1)):all():item() then
    fail(("%s: target must hold only 0 and 1 (binary labels)"):format(fname))
  end
  return t
end

-- ranks 1..n of sorted values, tied values sharing their mean rank
local function midranks(sorted)
  local ranks, n, i = {}, #sorted, 1
  while i <= n do
    local j = i
    while j < n and sorted[j + 1] == sorted[i] do j = j + 1 end
    local r = (i + j) / 2
    for k = i, j do ranks[k] = r end
    i = j + 1
  end
  return ranks
end

M.roc_auc = base.class("ROCAUC", {
  check = function(self, output, target)
    base.check_pair(self.name, output, target)
    return { binary_scores(self.name, output), binary_labels(self.name, target) }
  end,
  init = function(self) self.scores, self.labels = {}, {} end,
  accumulate = function(self, _, _, checked)
    self.scores[#self.scores + 1] = checked[1]:contiguous()
    self.labels[#self.labels + 1] = checked[2]:contiguous()
    self.count = self.count + checked[2]:numel()
  end,
  result = function(self)
    local scores, order = torch.cat(self.scores):sort()
    local labels = torch.cat(self.labels):index_select(1, order):totable()
    local ranks = midranks(scores:totable())
    local pos, rank_sum = 0, 0.0
    for k, y in ipairs(labels) do
      if y == 1 then pos, rank_sum = pos + 1, rank_sum + ranks[k] end
    end
    local neg = #labels - pos
    if pos == 0 or neg == 0 then
      return nil, ("%s: undefined with only one class in the targets (%d positive, %d negative)")
        :format(self.name, pos, neg)
    end
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)
  end,
}, function(self) self.name = "roc_auc" end, "clara.metrics.roc_auc")

return M
