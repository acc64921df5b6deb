-- clara.report.battery: the section of a battery: the summary table (one
-- row per entry: status, settings, metrics; mean ± std for CV entries), a
-- bar chart per metric over the entries (error bars: the std over folds),
-- the entries' validation losses overlaid, and the failed entries with
-- their errors.
local C = require "clara.report.common"
local G = require "clara.plot.gnuplot"

local section = {}

local NOT_METRICS = { name = true, status = true, error = true, settings = true, dir = true, kind = true }
-- facts of a row shown in the table, not charted
local INFO = { "folds", "epochs", "time", "rung", "value" }   -- rung, value: a search's trial
for _, k in ipairs(INFO) do NOT_METRICS[k] = true end

-- an entry's metrics as split_metric -> value (and std for a CV entry):
-- from its summary row when clara.battery wrote one, else from its directory
local function entry_metrics(e)
  local values, stds = {}, {}
  local d = e.data
  if d and d.kind == "cv" then
    for split, ms in pairs(d.summary or {}) do
      for k, m in pairs(ms) do
        if type(m) == "table" and type(m.mean) == "number" then
          values[split .. "_" .. k], stds[split .. "_" .. k] = m.mean, m.std
        end
      end
    end
  elseif d and d.report and type(d.report.metrics) == "table" then
    for split, ms in pairs(d.report.metrics) do
      if type(ms) == "table" then
        for k, v in pairs(ms) do
          if type(v) == "number" then values[split .. "_" .. k] = v end
        end
      end
    end
  end
  -- clara.battery's row: metric means, and <metric>_std for CV entries
  for k, v in pairs(e.row or {}) do
    if not NOT_METRICS[k] and e.settings[k] == nil and type(v) == "number" then
      local base = k:match("^(.+)_std$")
      if base and (e.row[base] ~= nil or values[base] ~= nil) then stds[base] = v else values[k] = v end
    end
  end
  return values, stds
end

-- the columns: settings keys, then metric columns (by split, "loss" first)
local function columns(entries)
  local settings, metrics = {}, {}
  for _, e in ipairs(entries) do
    for k in pairs(e.settings) do settings[k] = true end
    for k in pairs(e.values) do metrics[k] = true end
  end
  local function metric_before(a, b)
    local sa, qa = a:match("^(%a+)_(.+)$")
    local sb, qb = b:match("^(%a+)_(.+)$")
    if sa and sb and sa ~= sb then return C.split_before(sa, sb) end
    return C.metric_before(qa or a, qb or b)
  end
  return C.sorted_keys(settings), C.sorted_keys(metrics, metric_before)
end

local function summary_table(entries, skeys, mkeys)
  local cols = { "entry", "status" }
  for _, k in ipairs(skeys) do cols[#cols + 1] = k end
  for _, k in ipairs(mkeys) do cols[#cols + 1] = k end
  local info = {}
  for _, k in ipairs(INFO) do
    for _, e in ipairs(entries) do
      if e.row and e.row[k] ~= nil then info[#info + 1] = k; cols[#cols + 1] = k; break end
    end
  end
  local rows = {}
  for i, e in ipairs(entries) do
    local row = { e.name, e.status }
    for _, k in ipairs(skeys) do row[#row + 1] = C.value(e.settings[k]) end
    for _, k in ipairs(mkeys) do
      local v = e.values[k]
      row[#row + 1] = e.stds[k] and C.mean_std({ mean = v, std = e.stds[k] }) or C.fmt(v)
    end
    for _, k in ipairs(info) do
      local v = e.row and e.row[k]
      row[#row + 1] = k == "time" and type(v) == "number" and C.duration(v) or C.value(v)
    end
    row.class = e.status == "failed" and "failed" or nil
    rows[i] = row
  end
  return { kind = "table", caption = "Summary (CV entries: mean ± std over folds)", cols = cols, rows = rows,
           numeric_from = 3 }
end

-- one bar chart per metric: the entries that have it
local function bar_charts(canvas, entries, mkeys)
  local items = {}
  for _, k in ipairs(mkeys) do
    if C.weighted_twin(k, mkeys) then goto continue end
    local labels, values, errors, any_std = {}, {}, {}, false
    for _, e in ipairs(entries) do
      local v = e.values[k]
      if type(v) == "number" and v == v then
        labels[#labels + 1], values[#values + 1] = e.name, v
        errors[#errors + 1] = e.stds[k] or 0
        any_std = any_std or e.stds[k] ~= nil
      end
    end
    if #values > 0 then
      items[#items + 1] = canvas:draw("bars", "battery_" .. k, {
        title = k .. " per entry" .. (any_std and " (CV: mean, error bars ± std over folds)" or ""), ylabel = k,
        labels = labels, values = values, errors = errors })
    end
    ::continue::
  end
  return items
end

-- the validation loss (else the training loss) of each single-run entry
local function loss_curves(canvas, entries)
  local series = {}
  for i, e in ipairs(entries) do
    local d = e.data
    if d and d.kind == "run" and #d.history > 0 then
      local col = (d.history[1].val_loss ~= nil and "val_loss") or (d.history[1].train_loss ~= nil and "train_loss")
      if col then
        local x, y = C.column(d.history, col)
        series[#series + 1] = { name = e.name .. " " .. col, x = x, y = y, color = G.color(i) }
      end
    end
  end
  if #series < 2 then return {} end
  return { canvas:draw("lines", "battery_loss_curves", {
    title = "loss per epoch, all entries", xlabel = "epoch", ylabel = "loss", series = series }) }
end

-- blocks(bat, canvas) -> the blocks of battery bat (from clara.report.load.battery)
function section.blocks(bat, canvas)
  local b, counts = {}, {}
  -- 1. each entry's numbers
  for _, e in ipairs(bat.entries) do
    e.values, e.stds = entry_metrics(e)
    counts[e.status] = (counts[e.status] or 0) + 1
  end
  local parts = {}
  for _, s in ipairs(C.sorted_keys(counts)) do parts[#parts + 1] = ("%d %s"):format(counts[s], s) end
  b[#b + 1] = { kind = "p", text = ("%d entries: %s."):format(#bat.entries, table.concat(parts, ", ")) }
  local skeys, mkeys = columns(bat.entries)
  b[#b + 1] = summary_table(bat.entries, skeys, mkeys)
  -- a search's rungs, curves and scatter plots (clara.report.search)
  local found = require("clara.report.search").read(bat.dir)
  if found then
    for _, block in ipairs(require("clara.report.search").blocks(bat, canvas, found)) do b[#b + 1] = block end
  end
  -- 2. the comparison charts
  local items = bar_charts(canvas, bat.entries, mkeys)
  for _, f in ipairs(loss_curves(canvas, bat.entries)) do items[#items + 1] = f end
  if #items > 0 then
    b[#b + 1] = { kind = "h2", text = "Entries compared" }
    b[#b + 1] = { kind = "figures", items = items }
  end
  -- 3. what went wrong
  local failed = {}
  for _, e in ipairs(bat.entries) do
    if e.status == "failed" then failed[#failed + 1] = { e.name, e.error or "(no message)" } end
  end
  if #failed > 0 then
    b[#b + 1] = { kind = "h2", text = "Failed entries" }
    b[#b + 1] = { kind = "list", items = failed }
  end
  return b
end

return section
