-- clara.report.run: the section of one run: what it reached (final
-- metrics, best epoch), its learning curves (train and validation on one
-- chart per quantity), confusion matrices, and its config, history and
-- model as tables.
local C = require "clara.report.common"

local section = {}

-- the result's scalar facts: best epoch, epochs, steps, time, parameters
local FACTS = { "epochs", "steps", "time", "parameters", "restored", "skipped", "stopped", "interrupted" }

local function facts(report)
  local rows = {}
  local best = report.best
  if type(best) == "table" and best.epoch then
    rows[#rows + 1] = { "best epoch", ("%s (%s = %s)"):format(C.value(best.epoch), tostring(best.monitor or "?"),
                        C.fmt(best.value)) }
  end
  for _, k in ipairs(FACTS) do
    local v = report[k]
    if v ~= nil and type(v) ~= "table" then rows[#rows + 1] = { k, k == "time" and C.duration(v) or C.value(v) } end
  end
  return rows
end

-- final metrics: one row per split, one column per metric
function section.metrics_table(metrics, caption)
  local splits, names = C.splits_and_names(metrics)
  if #splits == 0 then return nil end
  local cols, rows = { "split" }, {}
  for _, n in ipairs(names) do cols[#cols + 1] = n end
  for i, s in ipairs(splits) do
    local row = { s }
    for j, n in ipairs(names) do row[j + 1] = C.fmt(metrics[s][n]) end
    rows[i] = row
  end
  return { kind = "table", caption = caption or "Final metrics", cols = cols, rows = rows }
end

-- one chart per quantity: each split's column; a term's weighted value
-- dashed, on its own axis at the right (its scale is the weight's)
function section.curve_figures(canvas, rows, columns, prefix)
  local items = {}
  for _, g in ipairs(C.curves(columns, rows)) do
    local series, weighted = {}, false
    for _, c in ipairs(g.cols) do
      local x, y = C.column(rows, c.col)
      series[#series + 1] = { name = c.col, x = x, y = y, dash = c.weighted, y2 = c.weighted,
                              color = C.SPLIT_COLOR[c.split or ""] }
      weighted = weighted or c.weighted
    end
    items[#items + 1] = canvas:draw("lines", (prefix or "") .. g.quantity, {
      title = g.quantity .. " per epoch", xlabel = "epoch", ylabel = weighted and g.quantity .. " (raw)" or g.quantity,
      y2label = weighted and g.quantity .. " x weight (dashed)" or nil, series = series })
  end
  if C.lr_varies(rows) then
    local x, y = C.column(rows, "lr")
    items[#items + 1] = canvas:draw("lines", (prefix or "") .. "lr", {
      title = "learning rate per epoch", xlabel = "epoch", ylabel = "lr", series = { { name = "lr", x = x, y = y } } })
  end
  return items
end

-- class names for a confusion matrix's axes, when the run recorded them
local function class_names(r, n)
  local sources = { r.report and r.report.classes or false, r.config and r.config.classes or false }
  for _, t in ipairs(sources) do
    if type(t) == "table" and #t == n then
      local names = {}
      for i, v in ipairs(t) do names[i] = tostring(v) end
      return names
    end
  end
  return nil
end

-- heatmaps of confusion = {split = matrix} (rows true, columns predicted)
function section.confusion_figures(canvas, confusion, names_for, caption_suffix)
  local items = {}
  for _, split in ipairs(C.sorted_keys(confusion, C.split_before)) do
    local m = confusion[split]
    if type(m) == "table" and #m > 0 then
      local names = names_for and names_for(#m)
      items[#items + 1] = canvas:draw("heatmap", "confusion_" .. split, {
        title = ("confusion matrix (%s%s)"):format(split, caption_suffix or ""), matrix = m,
        row_labels = names, col_labels = names, xlabel = "predicted", ylabel = "true" })
    end
  end
  return items
end

local function history_table(r)
  if #r.history == 0 then return nil end
  local rows = {}
  for i, h in ipairs(r.history) do
    local row = {}
    for j, c in ipairs(r.columns) do row[j] = C.fmt(h[c]) end
    rows[i] = row
  end
  local titles = {}
  for i, c in ipairs(r.columns) do titles[i] = C.column_title(c) end
  return { kind = "table", caption = "History (one row per epoch)", cols = titles, rows = rows,
           numeric_from = 1, collapsed = #rows > 30 }
end

-- blocks(r, canvas) -> the blocks of run r (from clara.report.load.run)
function section.blocks(r, canvas)
  local b = {}
  local report = r.report or {}
  -- 1. where it ended
  if not r.report then b[#b + 1] = { kind = "p", text = "No report.json: the run has not finished." } end
  b[#b + 1] = section.metrics_table(report.metrics)
  local f = facts(report)
  if #f > 0 then b[#b + 1] = { kind = "table", caption = "Summary", cols = { "", "" }, rows = f, numeric_from = 99 } end
  -- 2. how it got there
  local curves = section.curve_figures(canvas, r.history, r.columns)
  if #curves > 0 then
    b[#b + 1] = { kind = "h2", text = "Learning curves" }
    b[#b + 1] = { kind = "figures", items = curves }
  end
  if type(report.confusion) == "table" then
    local items = section.confusion_figures(canvas, report.confusion, function(n) return class_names(r, n) end)
    if #items > 0 then
      b[#b + 1] = { kind = "h2", text = "Confusion matrices" }
      b[#b + 1] = { kind = "figures", items = items }
    end
  end
  -- 3. what it was
  b[#b + 1] = { kind = "h2", text = "Configuration and history" }
  if r.config then
    b[#b + 1] = { kind = "table", caption = "Configuration", cols = { "key", "value" },
                  rows = C.flatten(r.config), numeric_from = 99 }
  end
  b[#b + 1] = history_table(r)
  if r.model_txt then b[#b + 1] = { kind = "pre", caption = "Model (model.txt)", text = r.model_txt } end
  return b   -- (b[#b + 1] = nil, for an absent table, adds nothing)
end

return section
