-- clara.report.cv: the section of a cross-validation: mean ± std over
-- folds, each fold's metrics, a box plot per metric over folds, the folds'
-- learning curves overlaid (one colour per fold; train dashed, validation
-- solid) and the confusion matrices summed over folds.
local C = require "clara.report.common"
local G = require "clara.plot.gnuplot"
local run_section = require "clara.report.run"

local section = {}

local function summary_table(summary, nfolds)
  local splits, names = C.splits_and_names(summary)
  if #splits == 0 then return nil end
  local cols, rows = { "metric" }, {}
  for _, s in ipairs(splits) do cols[#cols + 1] = s .. " (mean ± std)" end
  for i, n in ipairs(names) do
    local row = { n }
    for j, s in ipairs(splits) do row[j + 1] = C.mean_std(summary[s][n]) end
    rows[i] = row
  end
  return { kind = "table", caption = ("Mean ± std over %d folds (sample std)"):format(nfolds),
           cols = cols, rows = rows }
end

-- one row per fold: split_metric columns
local function folds_table(folds)
  local metrics = {}
  for _, f in ipairs(folds) do
    for split, m in pairs(f.metrics) do
      if type(m) == "table" then
        metrics[split] = metrics[split] or {}
        for k in pairs(m) do metrics[split][k] = true end
      end
    end
  end
  local cols, keys = { "fold" }, {}
  for _, s in ipairs(C.sorted_keys(metrics, C.split_before)) do
    for _, n in ipairs(C.sorted_keys(metrics[s], C.metric_before)) do
      cols[#cols + 1] = s .. "_" .. n
      keys[#keys + 1] = { s, n }
    end
  end
  if #keys == 0 then return nil end
  local rows = {}
  for i, f in ipairs(folds) do
    local row = { C.value(f.fold) }
    for j, k in ipairs(keys) do row[j + 1] = C.fmt((f.metrics[k[1]] or {})[k[2]]) end
    rows[i] = row
  end
  return { kind = "table", caption = "Per fold", cols = cols, rows = rows }
end

-- a box plot per metric: one box per split, a point per fold
local function boxplots(canvas, summary)
  local splits, names = C.splits_and_names(summary)
  local items = {}
  for _, n in ipairs(names) do
    if C.weighted_twin(n, names) then goto continue end
    local groups = {}
    for _, s in ipairs(splits) do
      local m = summary[s][n]
      if type(m) == "table" and type(m.values) == "table" and #m.values > 0 then
        groups[#groups + 1] = { name = s, values = m.values, color = C.SPLIT_COLOR[s] }
      end
    end
    if #groups > 0 then
      items[#items + 1] = canvas:draw("boxplot", "folds_" .. n, {
        title = n .. " over folds", ylabel = n, groups = groups })
    end
    ::continue::
  end
  return items
end

-- the folds' curves overlaid, one chart per quantity (weighted terms left
-- out: the raw term tells the same story with half the lines)
local function overlaid_curves(canvas, folds)
  local charts, order = {}, {}
  for fi, f in ipairs(folds) do
    local r = f.run
    if r and #r.history > 0 then
      for _, g in ipairs(C.curves(r.columns, r.history)) do
        if not charts[g.quantity] then
          charts[g.quantity] = {}
          order[#order + 1] = g.quantity
        end
        for _, c in ipairs(g.cols) do
          if not c.weighted then
            local x, y = C.column(r.history, c.col)
            table.insert(charts[g.quantity], { name = ("fold %s %s"):format(C.value(f.fold), c.col),
              x = x, y = y, color = G.color(fi), dash = c.split == "train" })
          end
        end
      end
    end
  end
  table.sort(order, C.metric_before)
  local items = {}
  for _, q in ipairs(order) do
    items[#items + 1] = canvas:draw("lines", "folds_curve_" .. q, {
      title = q .. " per epoch, all folds (train dashed)", xlabel = "epoch", ylabel = q,
      series = charts[q] })
  end
  return items
end

-- each split's confusion matrix summed over folds (every sample of a
-- k-fold split is held out once, so "val" sums to the whole data set)
local function summed_confusion(folds)
  local sum = {}
  for _, f in ipairs(folds) do
    local conf = f.run and f.run.report and f.run.report.confusion
    if type(conf) ~= "table" then return nil end
    for split, m in pairs(conf) do
      if type(m) == "table" then
        local s = sum[split]
        if not s then
          s = {}
          for i, row in ipairs(m) do s[i] = {}; for j = 1, #row do s[i][j] = 0 end end
          sum[split] = s
        end
        for i, row in ipairs(m) do
          for j, v in ipairs(row) do
            if s[i] and s[i][j] then s[i][j] = s[i][j] + v end
          end
        end
      end
    end
  end
  return next(sum) and sum or nil
end

-- blocks(c, canvas) -> the blocks of CV c (from clara.report.load.cv)
function section.blocks(c, canvas)
  local b = {}
  -- 1. the result: mean ± std, per fold, spread
  if not c.report then b[#b + 1] = { kind = "p", text = "No report.json: the cross-validation has not finished." } end
  b[#b + 1] = summary_table(c.summary, #c.folds)
  b[#b + 1] = folds_table(c.folds)
  local boxes = boxplots(canvas, c.summary)
  if #boxes > 0 then
    b[#b + 1] = { kind = "h2", text = "Metrics over folds" }
    b[#b + 1] = { kind = "figures", items = boxes }
  end
  -- 2. training, fold by fold
  local curves = overlaid_curves(canvas, c.folds)
  if #curves > 0 then
    b[#b + 1] = { kind = "h2", text = "Learning curves, all folds" }
    b[#b + 1] = { kind = "figures", items = curves }
  end
  local conf = summed_confusion(c.folds)
  if conf then
    b[#b + 1] = { kind = "h2", text = "Confusion matrices (summed over folds)" }
    b[#b + 1] = { kind = "figures", items = run_section.confusion_figures(canvas, conf, nil, ", all folds") }
  end
  -- 3. what it was
  if c.config then
    b[#b + 1] = { kind = "h2", text = "Configuration" }
    b[#b + 1] = { kind = "table", caption = "Configuration", cols = { "key", "value" },
                  rows = C.flatten(c.config), numeric_from = 99 }
  end
  return b
end

return section
