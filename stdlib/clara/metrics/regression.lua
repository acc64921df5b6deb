-- clara.metrics.regression: MAE, MSE, RMSE and R², streaming.
--
-- update(output, target): tensors of the same shape (N, ...), or (N, 1)
-- against (N).  MAE, MSE and RMSE average over every element, as
-- torch.nn.functional's losses with reduction "mean"; R² is computed per
-- output column (everything after the batch dim) and then averaged.
-- Sums are kept in float64 whatever the inputs' dtype.
local torch = require "torch"
local base = require "clara.metrics.base"

local fail, shape_str = base.fail, base.shape_str
local M = {}

-- output and target as float64 (N, D) matrices, D the values per sample
local function check_values(fname, output, target)
  base.check_pair(fname, output, target)
  local n = output:size(1)
  local o, t = output, target
  if o:dim() == 2 and o:size(2) == 1 and t:dim() == 1 then o = o:squeeze(2) end
  if t:dim() == 2 and t:size(2) == 1 and o:dim() == 1 then t = t:squeeze(2) end
  local os, ts = o.shape, t.shape
  local same = #os == #ts
  for i = 1, #os do same = same and os[i] == ts[i] end
  if not same then
    fail(("%s: output and target must have the same shape, got %s and %s")
      :format(fname, shape_str(output), shape_str(target)))
  end
  if output.dtype == "bool" or target.dtype == "bool" then
    fail(("%s: expected numeric values, got a bool tensor"):format(fname))
  end
  -- the values per sample counted, not inferred: reshape(0, -1) is
  -- ambiguous, and an empty batch must pass as it does for the classifiers
  local d = 1
  for i = 2, #os do d = d * os[i] end
  return { o:double():reshape(n, d), t:double():reshape(n, d) }
end

local function describe_nothing() return "" end

-- the shared state of MAE, MSE and RMSE: a sum over elements and their count
local function error_metric(kind, name, elementwise, finish)
  return base.class(kind, {
    check = function(self, output, target) return check_values(self.name, output, target) end,
    init = function(self) self.sum, self.elements = 0.0, 0 end,
    accumulate = function(self, _, _, checked)
      local e = checked[1] - checked[2]
      self.sum = self.sum + elementwise(e):sum():item()
      self.elements = self.elements + e:numel()
      self.count = self.count + e:size(1)
    end,
    result = function(self)
      if self.elements == 0 then return 0.0 end
      return finish(self.sum / self.elements)
    end,
    describe = describe_nothing,
  }, function(self) self.name = name end, "clara.metrics." .. name)
end

local function identity(x) return x end

M.mae = error_metric("MAE", "mae", function(e) return e:abs() end, identity)
M.mse = error_metric("MSE", "mse", function(e) return e * e end, identity)
M.rmse = error_metric("RMSE", "rmse", function(e) return e * e end, math.sqrt)

-- {====================== R² ======================

-- R² = 1 - SSE / SST per column.  SST comes from the targets' running mean
-- and sum of squared deviations, merged batch by batch with Chan's formula,
-- which stays exact where sum(y²) - n mean² would cancel digits away.
local multioutputs = { "uniform_average", "raw_values", "variance_weighted" }

-- nb more samples with their sum of squared errors, mean and sum of
-- squared deviations, into the running state
local function combine(self, nb, sse_b, mean_b, m2_b)
  if not self.sse then
    self.sse, self.mean, self.m2 = sse_b, mean_b, m2_b
  else
    local na = self.count
    local n = na + nb
    local delta = mean_b - self.mean
    self.mean = self.mean + delta * (nb / n)
    self.m2 = self.m2 + m2_b + delta * delta * (na * nb / n)
    self.sse = self.sse + sse_b
  end
  self.count = self.count + nb
end

M.r2 = base.class("R2", {
  check = function(self, output, target)
    local checked = check_values(self.name, output, target)
    if self.sse and checked[1]:size(2) ~= self.sse:numel() then
      fail(("%s: output has %d values per sample, earlier batches had %d (shape %s)")
        :format(self.name, checked[1]:size(2), self.sse:numel(), shape_str(output)))
    end
    return checked
  end,
  init = function(self) self.sse, self.mean, self.m2 = nil, nil, nil end,
  accumulate = function(self, _, _, checked)
    local o, t = checked[1], checked[2]
    local nb = t:size(1)
    if nb == 0 then return end
    local e = o - t
    local mean_b = t:mean(1)
    local d = t - mean_b
    combine(self, nb, (e * e):sum(1), mean_b, (d * d):sum(1))
  end,
  -- another state's samples in (another rank's), as another batch
  merge = function(self, st)
    if (st.count or 0) > 0 then combine(self, st.count, st.sse:clone(), st.mean:clone(), st.m2:clone()) end
    return self
  end,
  result = function(self)
    local sse, sst = self.sse:totable(), self.m2:totable()
    local per, sum, wsum, wtotal = {}, 0, 0, 0
    for j = 1, #sse do
      -- a constant target: perfect predictions score 1, anything else 0 (as sklearn)
      if sst[j] == 0 then
        per[j] = sse[j] == 0 and 1.0 or 0.0
      else
        per[j] = 1 - sse[j] / sst[j]
      end
      sum, wsum, wtotal = sum + per[j], wsum + per[j] * sst[j], wtotal + sst[j]
    end
    if self.multioutput == "raw_values" then return per end
    if self.multioutput == "variance_weighted" and wtotal > 0 then return wsum / wtotal end
    return sum / #per
  end,
  describe = function(self)
    return self.multioutput == "uniform_average" and "" or "multioutput=" .. self.multioutput
  end,
}, function(self, opts)
  self.name = "r2"
  self.multioutput = opts.multioutput
end, "clara.metrics.r2", { multioutput = { type = "string", enum = multioutputs, default = "uniform_average",
                                         doc = "how the columns' R² combine" } })

-- }================================================

return M
