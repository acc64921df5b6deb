-- clara.train.sums: an epoch's running numbers, for the clear loop and its
-- fast twin alike: the loss and its terms summed by samples, the metrics'
-- accumulators, and the columns of the history row they become.
local M = {}

-- {n, loss, raw[term], weighted[term]}: sums weighted by samples
function M.new() return { n = 0, loss = 0, raw = {}, weighted = {} } end

-- a batch of n samples whose objective gave `terms` (clara.train.objective)
function M.add(s, terms, n)
  s.n = s.n + n
  s.loss = s.loss + terms.loss * n
  for k, v in pairs(terms.raw) do s.raw[k] = (s.raw[k] or 0) + v * n end
  for k, v in pairs(terms.weighted) do s.weighted[k] = (s.weighted[k] or 0) + v * n end
end

-- the split's means into the row: <split>_loss, <split>_<term>, <split>_<term>_w
function M.into(row, split, s, columns)
  if s.n == 0 then return end
  row[split .. "_loss"] = s.loss / s.n
  for _, col in ipairs(columns) do
    local name, kind = col[1], col[2]
    local v = s[kind][name]
    if v then row[split .. "_" .. name .. (kind == "weighted" and "_w" or "")] = v / s.n end
  end
end

-- every metric sees the batch: what its reader picks (clara.train.select)
function M.update_metrics(metrics, outputs, captured, targets)
  for _, m in ipairs(metrics) do m.metric:update(m.read(outputs, captured, targets)) end
end

-- the metrics' values into the row (a confusion matrix, a table, into
-- `tables`), then reset
function M.metrics_into(row, split, metrics, tables)
  for _, m in ipairs(metrics) do
    local v = m.metric:compute()
    if type(v) == "number" then row[split .. "_" .. m.name] = v
    elseif tables and type(v) == "table" and m.metric.name == "confusion_matrix" then tables.confusion = v end
    m.metric:reset()
  end
end

-- what the progress display shows mid-epoch: {{"loss", v}, {metric, v} ...}
function M.running(s, metrics, with_metrics)
  local stats = { { "loss", s.n > 0 and s.loss / s.n or nil } }
  if with_metrics then
    for _, m in ipairs(metrics) do
      local v = m.metric.count > 0 and m.metric:compute() or nil
      if type(v) == "number" then stats[#stats + 1] = { m.name, v } end
    end
  end
  return stats
end

return M
