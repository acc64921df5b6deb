-- clara.metrics.scores: what the metrics reading scores (not predicted
-- classes) share: the checks on a batch of scores, the three kinds of
-- problem a batch can be, and keeping every score until compute.
--
-- A batch of N samples is one of:
--   binary:     output (N) or (N, 1) scores of class 1, or (N, 2) two-class
--               scores (ranked as their class-1 softmax probability);
--               target (N) labels 0 and 1 (integer, bool, or floating as BCE
--               takes it);
--   multiclass: output (N, C), C > 2, class probabilities (rows summing to 1,
--               as sklearn demands) or, with `logits = true`, logits that go
--               through a softmax; target (N) class indices 0 .. C - 1;
--   multilabel: output (N, C) and target (N, C) holding 0 and 1: C binary
--               problems side by side.
-- Binary and multilabel scores are only ranked, so logits and probabilities
-- give the same value (no sigmoid: it would tie logits beyond +-37 in float64).
local torch = require "torch"
local E = require "clara.error"
local base = require "clara.metrics.base"
local aten = torch.ops.aten

local fail, shape_str = base.fail, base.shape_str
local S = {}

-- output holds floating scores, none of them NaN or infinite
function S.check_scores(fname, output)
  if not output:is_floating_point() then
    fail(("%s: output must hold floating scores, got %s %s"):format(fname, output.dtype, shape_str(output)))
  end
  if not aten.isfinite(output):all():item() then
    fail(("%s: output holds NaN or infinite scores"):format(fname))
  end
end

-- t holds only 0 and 1; returned as int64
function S.zero_one(fname, what, t)
  local d = t:double()
  if not d:eq(0):logical_or(d:eq(1)):all():item() then
    fail(("%s: %s must hold only 0 and 1 (binary labels)"):format(fname, what))
  end
  return t:long()
end

-- (N) class indices 0 .. C - 1 of an integer tensor, as int64
function S.class_indices(fname, target, C)
  if target:is_floating_point() then
    fail(("%s: target must hold class indices (an integer tensor), got %s"):format(fname, target.dtype))
  end
  local y = target:long()
  if y:numel() > 0 and (y:min():item() < 0 or y:max():item() >= C) then
    local bad = y:min():item() < 0 and y:min():item() or y:max():item()
    fail(("%s: target holds class %d but the output has %d classes (0 .. %d)"):format(fname, bad, C, C - 1))
  end
  return y
end

-- (N, C) class probabilities as float64: a softmax of logits, or the
-- output itself, checked to be probabilities (each in [0, 1]; rows summing
-- to 1 as numpy.allclose checks it, where `rows` asks for that)
function S.class_probs(fname, output, logits, rows)
  local p = output:double()
  if logits then return p:softmax(2) end
  if p:numel() > 0 and (p:min():item() < 0 or p:max():item() > 1) then
    fail(("%s: output must hold probabilities in [0, 1], got values in [%.6g, %.6g] (logits = true for raw scores)")
      :format(fname, p:min():item(), p:max():item()))
  end
  if rows then
    local sums = p:sum(2)
    local off = (sums - 1):abs()
    if off:numel() > 0 and off:max():item() > 1e-8 + 1e-5 then
      local row = off:argmax():item() + 1
      fail(("%s: output rows must be probabilities summing to 1, row %d sums to %.6g (logits = true for raw scores)")
        :format(fname, row, sums[row]:item()))
    end
  end
  return p
end

-- reads one batch: its kind ("binary", "multiclass" or "multilabel"), the
-- scores as float64 ((N) for binary, else (N, C)), the labels as int64
-- (same shape; class indices (N) for multiclass) and the class count
function S.read(fname, output, target, logits)
  base.check_pair(fname, output, target)
  S.check_scores(fname, output)
  local n = output:dim()
  local C = n == 2 and output:size(2) or 1
  if target:dim() == 2 and target:size(2) > 1 then
    if n ~= 2 or C ~= target:size(2) then
      fail(("%s: a multilabel target %s needs an output of the same shape, got %s")
        :format(fname, shape_str(target), shape_str(output)))
    end
    return "multilabel", output:double(), S.zero_one(fname, "a multilabel target", target), C
  end
  if target:dim() == 2 then target = target:reshape(-1) end
  if target:dim() ~= 1 then
    fail(("%s: target must be (N) labels or (N, C) multilabel indicators, got shape %s")
      :format(fname, shape_str(target)))
  end
  if n == 1 or (n == 2 and C == 1) then
    return "binary", output:reshape(-1):double(), S.zero_one(fname, "target", target), 2
  end
  if n == 2 and C == 2 then
    -- z1 - z0 orders samples as the class-1 softmax probability does, for
    -- logits and probabilities alike, and never saturates
    local s = output:double()
    return "binary", s:select(2, 2) - s:select(2, 1), S.zero_one(fname, "target", target), 2
  end
  if n == 2 then
    return "multiclass", S.class_probs(fname, output, logits, true), S.class_indices(fname, target, C), C
  end
  fail(("%s: output must be (N) or (N, 1) binary scores, (N, 2) two-class or (N, C) class scores, got %s %s")
    :format(fname, output.dtype, shape_str(output)))
end

-- {====================== keeping every score ======================

-- A metric keeping its scores: self.kept = {scores = {...}, labels = {...}}
-- (tensors, one pair per update), self.problem and self.classes fixed by
-- the first batch.  Memory until reset: 8 bytes per score (float64) and per
-- label (int64: one per sample, or per sample and label when multilabel);
-- the total may not pass clara.limits.tensor_bytes.

function S.init(self)
  self.kept = { scores = {}, labels = {} }
  self.problem, self.classes, self.bytes = nil, nil, 0
end

function S.keep(self, problem, scores, labels, C)
  if self.problem and (self.problem ~= problem or self.classes ~= C) then
    fail(("%s: this batch is %s with %d classes, earlier batches were %s with %d")
      :format(self.name, problem, C, self.problem, self.classes))
  end
  self.problem, self.classes = problem, C
  local bytes = self.bytes + 8 * (scores:numel() + labels:numel())
  E.limit(self.name, "the scores kept until compute (bytes)", bytes, "tensor_bytes")
  self.bytes = bytes
  local kept = self.kept
  kept.scores[#kept.scores + 1] = scores:contiguous()
  kept.labels[#kept.labels + 1] = labels:contiguous()
  self.count = self.count + labels:size(1)
end

-- everything kept, as one scores tensor and one labels tensor
function S.all(self)
  local kept = self.kept
  if #kept.scores > 1 then
    kept.scores, kept.labels = { torch.cat(kept.scores) }, { torch.cat(kept.labels) }
  end
  return kept.scores[1], kept.labels[1]
end

-- }=================================================================

return S
