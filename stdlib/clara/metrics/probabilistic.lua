-- clara.metrics.probabilistic: the log loss of predicted probabilities,
-- streaming, as sklearn 1.2's log_loss with labels = 0 .. C - 1.
--
-- update(output, target): output (N) or (N, 1) probabilities of class 1, or
-- (N, C) class probabilities, C >= 2; with `logits = true`, logits that go
-- through a sigmoid or a softmax.  target (N) class indices 0 .. C - 1 (for
-- (N) outputs 0 and 1, floating accepted as BCE takes it).
--
-- sklearn's rules: the probabilities are clipped to [eps, 1 - eps] (eps =
-- "auto": the machine epsilon of the output's dtype, 2^-23 for float32,
-- 2^-52 for float64), each row is then divided by its sum, and the loss is
-- the mean over samples of -log p[target].  Rows that do not sum to 1 are
-- renormalized, as sklearn does; values outside [0, 1] raise (they are
-- logits given as probabilities).  Computed in float64; the batches' sums
-- add up in a Lua double.
local base = require "clara.metrics.base"
local S = require "clara.metrics.scores"
local torch = require "torch"

local fail, shape_str = base.fail, base.shape_str
local M = {}

-- numpy.finfo(dtype).eps of the dtypes a floating output can have
local EPS = { float64 = 2.0 ^ -52, float32 = 2.0 ^ -23, float16 = 2.0 ^ -10, bfloat16 = 2.0 ^ -7 }

-- the probabilities of a batch as float64 (N, C) (binary: (N) of class 1),
-- the labels as int64 and whether the output was one column
local function read(self, output, target)
  base.check_pair(self.name, output, target)
  S.check_scores(self.name, output)
  local logits, n = self.opts.logits, output:dim()
  if target:dim() == 2 and target:size(2) == 1 then target = target:reshape(-1) end
  if target:dim() ~= 1 then
    fail(("%s: target must be (N) class indices, got shape %s"):format(self.name, shape_str(target)))
  end
  if n == 1 or (n == 2 and output:size(2) == 1) then
    local p = output:reshape(-1):double()
    p = logits and p:sigmoid() or S.class_probs(self.name, p, false, false)
    return p, S.zero_one(self.name, "target", target), 2
  end
  if n == 2 then
    local C = output:size(2)
    return S.class_probs(self.name, output, logits, false), S.class_indices(self.name, target, C), C
  end
  fail(("%s: output must be (N) or (N, 1) probabilities of class 1 or (N, C) class probabilities, got %s %s")
    :format(self.name, output.dtype, shape_str(output)))
end

-- the sum over the batch of -log p[target], after sklearn's clipping and
-- renormalization
local function loss_sum(p, y, eps)
  p = p:clamp(eps, 1 - eps)
  if p:dim() == 1 then p = torch.stack({ 1 - p, p }, 2) end
  p = p / p:sum(2, true)
  return -p:gather(2, y:unsqueeze(2)):log():sum():item()
end

local function check_eps(v)
  if type(v) == "string" and v ~= "auto" then return false, "must be a number or 'auto', got '" .. v .. "'" end
  return true
end

-- clara.metrics.log_loss{eps = "auto", logits = false}
M.log_loss = base.class("LogLoss", {
  check = function(self, output, target)
    local p, y, C = read(self, output, target)
    if self.classes and C ~= self.classes then
      fail(("%s: this batch has %d classes, earlier batches had %d"):format(self.name, C, self.classes))
    end
    return { p, y, C, self.opts.eps == "auto" and EPS[tostring(output.dtype)] or self.opts.eps }
  end,
  init = function(self) self.sum, self.classes = 0.0, nil end,
  accumulate = function(self, _, _, c)
    self.sum = self.sum + loss_sum(c[1], c[2], c[4])
    self.classes = c[3]
    self.count = self.count + c[2]:numel()
  end,
  result = function(self) return self.sum / self.count end,
  describe = function(self)
    local parts = {}
    if self.opts.eps ~= "auto" then parts[#parts + 1] = "eps=" .. tostring(self.opts.eps) end
    if self.opts.logits then parts[#parts + 1] = "logits=true" end
    return table.concat(parts, ", ")
  end,
}, function(self, opts)
  self.opts, self.name = opts, "log_loss"
end, "clara.metrics.log_loss", {
  eps = { type = "number|string", min = 0, lt = 0.5, default = "auto", check = check_eps,
          doc = "probabilities are clipped to [eps, 1 - eps]; 'auto': the dtype's machine epsilon" },
  logits = { type = "boolean", default = false, doc = "the output is logits (a sigmoid or softmax first)" },
})

return M
