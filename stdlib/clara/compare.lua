-- clara.compare: models side by side, from their directories on disk.
--
--   local c = clara.compare({"runs/mlp/cv-a", "runs/cnn/cv-b"}, {metric = "test_acc", out = "cmp"})
--   print(c.markdown)          -- the table, the paired tests, what they mean
--   c.models[2].metrics.test_acc.mean, c.tests[1].ttest.p, c.tests[1].sentence
--
-- Each directory is a run, a cross-validation (CV), a battery entry (one
-- of those) or a whole battery (its finished entries).  The table holds
-- every final val/test metric (mean ± sample std over folds for a CV), the
-- parameter count, the time per epoch (mean of history `time`) and the
-- epochs.  The first model is the reference: each other CV with as many
-- folds, cross-validated on the same fold assignment (cv.json), gets a
-- paired t-test and a Wilcoxon signed-rank test over matching folds of the
-- chosen metric (clara.stats), and one sentence saying what they mean.
-- Learning curves (val_loss and the metric's per-epoch column; a CV's
-- fold mean) are drawn with clara.plot when opts.out is given.
--
-- The settings that differ between the runs (config.json's hparams and
-- fields) come first.
--
-- opts: metric (default: the first of test_acc, val_acc, test_loss,
-- val_loss the runs have; "acc" means test_acc or else val_acc; a list of
-- names: the first is tested and plotted, and the table shows only these
-- metrics' columns; "a,b" is the list {"a", "b"}), alpha
-- (0.05), mode ("max" | "min": better is higher or lower; default from the
-- name: loss, error, mse, ... are "min"), names (labels, one per model),
-- out (a directory: compare.md, compare.json, curves-*.png/.svg), plots
-- (false: none).  Nothing is written unless every directory reads.
local E = require "clara.error"
local fs = require "clara.fs"
local json = require "clara.run.json"
local stats = require "clara.stats"
local load = require "clara.compare.load"
local render = require "clara.compare.render"

local compare = {}

local DEFAULT_METRICS = { "test_acc", "val_acc", "test_loss", "val_loss" }
local LOWER_IS_BETTER = { "loss", "error", "err", "mse", "mae", "rmse", "mape", "nll", "perplexity",
                          "distance", "time" }
-- names that say little without their parent: run ids and fold dirs
local BARE_NAMES = { "^%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d%-%x%x%x%x$", "^fold%-%d+$" }
local OPTIONS = {
  metric = { type = "string|table", doc = "the metric compared (default: the first of test_acc, val_acc, ...), or a list: the columns shown" },
  alpha = { type = "number", gt = 0, lt = 1, default = 0.05, doc = "the tests' significance level" },
  mode = { type = "string", enum = { "max", "min" }, doc = "whether higher or lower is better" },
  names = { type = "table", doc = "one label per model" },
  out = { type = "string", check = function(v) return v ~= "" end, doc = "a directory for compare.md, .json, plots" },
  plots = { type = "boolean", default = true, doc = "draw the learning curves (with out)" },
}

-- raised at the user's line, or with no position from the command line
local function fail(fmt, ...) E.raise("clara.compare", fmt, ...) end

-- 1. labels: the directory's name, with its parent when the name is a bare
--    run id or fold-N; longer path suffixes until no two models share one
local function labels_for(models, names)
  local labels = {}
  if names then
    if type(names) ~= "table" or #names ~= #models then
      fail("names must be a list of %d labels, one per model", #models)
    end
    for i, n in ipairs(names) do labels[i] = tostring(n) end
    return labels
  end
  local parts = {}
  for i, m in ipairs(models) do
    parts[i] = {}
    for p in m.dir:gmatch("[^/]+") do parts[i][#parts[i] + 1] = p end
  end
  local function suffix(i, k)
    local p = parts[i]
    return table.concat(p, "/", math.max(1, #p - k + 1), #p)
  end
  local function bare(name)
    for _, pattern in ipairs(BARE_NAMES) do if name:match(pattern) then return true end end
    return false
  end
  local depth = {}
  for i = 1, #models do depth[i] = (#parts[i] > 1 and bare(parts[i][#parts[i]])) and 2 or 1 end
  for _ = 1, 64 do
    local seen, clash = {}, false
    for i = 1, #models do
      labels[i] = suffix(i, depth[i])
      if seen[labels[i]] then clash = true end
      seen[labels[i]] = seen[labels[i]] or {}
      table.insert(seen[labels[i]], i)
    end
    if not clash then return labels end
    for _, idx in pairs(seen) do
      if #idx > 1 then for _, i in ipairs(idx) do depth[i] = depth[i] + 1 end end
    end
  end
  for i = 1, #models do labels[i] = labels[i] .. " #" .. i end   -- the same dir twice
  return labels
end

-- 2. the metric: the one asked for (or its split-less name), else the
--    first default that every model has, else the first any model has
local function has(models, name, all)
  local count = 0
  for _, m in ipairs(models) do if m.metrics[name] then count = count + 1 end end
  return all and count == #models or count > 0
end

local function choose_metric(models, wanted)
  if wanted ~= nil then
    if type(wanted) ~= "string" or wanted == "" then fail("metric must be a name such as 'test_acc', got %s", tostring(wanted)) end
    for _, name in ipairs { wanted, "test_" .. wanted, "val_" .. wanted } do
      if has(models, name) then return name end
    end
    local list = load.metric_names(models)
    fail("no run has the metric '%s' (they have: %s)", wanted, #list > 0 and table.concat(list, ", ") or "no final metrics")
  end
  for _, all in ipairs { true, false } do
    for _, name in ipairs(DEFAULT_METRICS) do
      if has(models, name, all) then return name end
    end
  end
  local list = load.metric_names(models)
  if #list == 0 then fail("none of the runs has a final metric (no report.json metrics)") end
  return list[1]
end

-- opts.metric as a list of names ("a,b", {"a", "b"}), or nil
local function metric_list(metric)
  if metric == nil then return nil end
  local list = {}
  for _, m in ipairs(type(metric) == "table" and metric or { metric }) do
    if type(m) ~= "string" or m == "" then fail("metric must be a name such as 'test_acc' or a list of names, got %s", tostring(m)) end
    for name in m:gmatch("[^,]+") do list[#list + 1] = name end
  end
  if #list == 0 then fail("metric names no metric") end
  return list
end

local function mode_for(metric, mode)
  if mode ~= nil then
    if mode ~= "max" and mode ~= "min" then fail("mode must be 'max' or 'min', got %s", tostring(mode)) end
    return mode
  end
  local base = metric:gsub("^[^_]+_", "")
  for _, word in ipairs(LOWER_IS_BETTER) do
    if base == word or base:find("^" .. word .. "_") or base:find("_" .. word .. "$") then return "min" end
  end
  return "max"
end

-- 3. the paired tests of model b against the reference a
local function same_assignment(x, y)
  if type(x) ~= "table" or type(y) ~= "table" then return x == y end
  for k, v in pairs(x) do if not same_assignment(v, y[k]) then return false end end
  for k in pairs(y) do if x[k] == nil then return false end end
  return true
end

-- why a and b cannot be paired, or nil and a caveat
local function unpaired_reason(a, b, metric)
  if a.kind ~= "cv" or b.kind ~= "cv" then
    return "a paired test needs two cross-validations; " .. (a.kind ~= "cv" and a.label or b.label)
      .. " is a single run (cross-validate both on the same folds to test the difference)"
  end
  if a.folds ~= b.folds then
    return ("%s has %s folds and %s has %s: the folds do not pair up"):format(a.label, tostring(a.folds), b.label, tostring(b.folds))
  end
  for _, m in ipairs { a, b } do
    local s = m.metrics[metric]
    if not (s and s.values and #s.values == m.folds) then
      return ("%s has no per-fold values of %s"):format(m.label, metric)
    end
    for i, v in ipairs(s.values) do
      if v ~= v then return ("%s has %s = NaN in fold %d"):format(m.label, metric, i) end
    end
  end
  if (a.folds or 0) < 2 then return "fewer than 2 folds" end
  if a.assignment and b.assignment then
    local fa, fb = a.assignment.folds, b.assignment.folds
    if not same_assignment(fa, fb) or a.assignment.n ~= b.assignment.n then
      return ("%s and %s were cross-validated on different fold assignments (their cv.json differ): "
              .. "fold i of one holds other samples than fold i of the other, so the pairing is invalid")
             :format(a.label, b.label)
    end
    return nil
  end
  return nil, "no cv.json in " .. (a.assignment and b.label or a.label)
    .. ": folds are paired by number, assuming the same assignment"
end

local function better_word(mode, diff)
  if mode == "max" then return diff > 0 end
  return diff < 0
end

local function sentence(t, alpha)
  local n, m = t.n, t.metric
  if t.ttest.mean_diff == 0 and t.ttest.std_diff == 0 then
    return ("The %d paired folds give the same %s for %s and %s: no difference (p = 1)."):format(n, m, t.a, t.b)
  end
  local diff = ("mean %s, t-test p = %s"):format(render.signed(t.ttest.mean_diff), render.p(t.ttest.p))
  if t.ttest.p < alpha then
    local b_better = better_word(t.mode, t.ttest.mean_diff)
    return ("At the %s level the %d paired folds show a difference in %s (%s): %s is better than %s on this data split.")
      :format(("%g"):format(alpha), n, m, diff, b_better and t.b or t.a, b_better and t.a or t.b)
  end
  return ("At the %s level the %d paired folds do not show a difference in %s (%s); this does not prove they are equal.")
    :format(("%g"):format(alpha), n, m, diff)
end

local function paired_test(a, b, metric, mode, alpha)
  local t = { a = a.label, b = b.label, metric = metric, mode = mode, paired = false }
  local reason, caveat = unpaired_reason(a, b, metric)
  if reason then t.reason = reason; return t end
  local va, vb = a.metrics[metric].values, b.metrics[metric].values
  -- b - a: a positive mean difference means b scored higher
  t.paired, t.n, t.caveat = true, #va, caveat
  t.ttest = stats.ttest_rel(vb, va)
  t.wilcoxon = stats.wilcoxon(vb, va)
  t.sentence = sentence(t, alpha)
  local w = t.wilcoxon
  if w.method == "exact" and 2 / 2 ^ w.n_used > alpha then
    t.wilcoxon_note = ("with %d folds the exact Wilcoxon test cannot go below p = %s, so it can never reach %s")
      :format(w.n_used, render.p(2 / 2 ^ w.n_used), ("%g"):format(alpha))
  end
  return t
end

-- 4. learning curves: per-epoch values of a history column, one series
--    per model; a CV's is the mean over its folds at the epochs every fold
--    reached (past that, a mean over fewer folds would jump)
local function column_points(rows, col)
  local pts = {}
  for i, row in ipairs(rows or {}) do
    local v = row[col]
    if type(v) == "number" and v == v then pts[#pts + 1] = { row.epoch or i, v } end
  end
  return pts
end

local function fold_mean(histories, col)
  local sums, counts, k = {}, {}, #histories
  for _, rows in ipairs(histories) do
    for _, p in ipairs(column_points(rows, col)) do
      sums[p[1]] = (sums[p[1]] or 0) + p[2]
      counts[p[1]] = (counts[p[1]] or 0) + 1
    end
  end
  local pts = {}
  for epoch, c in pairs(counts) do
    if c == k then pts[#pts + 1] = { epoch, sums[epoch] / k } end
  end
  table.sort(pts, function(x, y) return x[1] < y[1] end)
  return pts
end

-- the per-epoch column that follows a final metric: test_x -> val_x
local function curve_column(metric)
  local name = metric:match("^test_(.+)$") or metric:match("^val_(.+)$")
  return name and ("val_" .. name) or metric
end

function compare.curves(models, metric)
  local cols = { "val_loss" }
  local extra = metric and curve_column(metric)
  if extra and extra ~= "val_loss" then cols[2] = extra end
  local charts = {}
  for _, col in ipairs(cols) do
    local series = {}
    for i, m in ipairs(models) do
      local pts = m.kind == "cv" and fold_mean(m.fold_histories or {}, col) or column_points(m.history, col)
      if #pts > 0 then
        local s = { name = m.label or ("model " .. i), x = {}, y = {} }
        for j, p in ipairs(pts) do s.x[j], s.y[j] = p[1], p[2] end
        if m.kind == "cv" then s.name = s.name .. " (fold mean)" end
        series[#series + 1] = s
      end
    end
    if #series > 0 then
      charts[#charts + 1] = { name = col, title = col .. " per epoch", xlabel = "epoch", ylabel = col, series = series }
    end
  end
  return charts
end

-- 5. the files: plots (a failure is a note, not an error), compare.md,
--    compare.json, each written atomically
local function draw(charts, out, notes)
  local ok, plot = pcall(require, "clara.plot")
  if not ok or type(plot) ~= "table" or type(plot.lines) ~= "function" then
    notes[#notes + 1] = "learning curves not drawn: clara.plot is not available"
    return {}
  end
  local drawn = {}
  for _, c in ipairs(charts) do
    local done, files = pcall(plot.lines, { file = fs.join(out, "curves-" .. c.name), title = c.title,
                                            xlabel = c.xlabel, ylabel = c.ylabel, series = c.series })
    if done then
      drawn[#drawn + 1] = { name = c.name, files = type(files) == "table" and files or {} }
    else
      notes[#notes + 1] = ("learning curve %s not drawn: %s"):format(c.name, tostring(files):gsub("^[^:]*:%d+: ", ""))
    end
  end
  return drawn
end

local function json_view(c)
  local runs = {}
  for i, m in ipairs(c.models) do
    runs[i] = { label = m.label, dir = m.dir, kind = m.kind, folds = m.folds, metrics = m.metrics,
                parameters = m.parameters, epochs = m.epochs, time_per_epoch = m.time_per_epoch, note = m.note }
  end
  local plots = {}
  for _, p in ipairs(c.plots) do plots[p.name] = p.files end
  return { metric = c.metric, columns = c.columns, settings = c.settings, mode = c.mode, alpha = c.alpha, runs = runs, tests = c.tests,
           notes = c.notes, plots = plots }
end

local function run(dirs, opts)
  opts = E.options("clara.compare", opts, OPTIONS)
  local alpha = opts.alpha
  if type(dirs) == "string" then dirs = { dirs } end
  if type(dirs) ~= "table" then fail("a list of run directories expected, got %s", type(dirs)) end
  -- 1. every directory read (a battery expands) before anything is written
  local models, notes = {}, {}
  for _, d in ipairs(dirs) do
    local found, skipped = load.entry(d)
    for _, m in ipairs(found) do models[#models + 1] = m end
    for _, n in ipairs(skipped) do notes[#notes + 1] = n end
  end
  if #models < 2 then
    fail("at least two runs to compare needed, got %d%s", #models, #dirs > 0 and (" (from " .. table.concat(dirs, ", ") .. ")") or "")
  end
  for i, label in ipairs(labels_for(models, opts.names)) do models[i].label = label end
  for _, m in ipairs(models) do
    if m.note then notes[#notes + 1] = m.label .. ": " .. m.note end
  end
  -- 2. the metric and the tests against the first model
  local c = { models = models, alpha = alpha, notes = notes, plots = {} }
  local wanted = metric_list(opts.metric)
  if wanted then
    c.columns = {}
    for i, w in ipairs(wanted) do c.columns[i] = choose_metric(models, w) end
  end
  c.metric = c.columns and c.columns[1] or choose_metric(models, nil)
  c.settings = require("clara.compare.settings").differing(models)
  c.mode = mode_for(c.metric, opts.mode)
  c.tests = {}
  for i = 2, #models do c.tests[#c.tests + 1] = paired_test(models[1], models[i], c.metric, c.mode, alpha) end
  c.curves = compare.curves(models, c.metric)
  -- 3. the files
  if opts.out then
    fs.mkdir_p(opts.out)
    if opts.plots ~= false then c.plots = draw(c.curves, opts.out, notes) end
  end
  c.markdown = render.markdown(c)
  if opts.out then
    fs.write_atomic(fs.join(opts.out, "compare.md"), c.markdown)
    fs.write_atomic(fs.join(opts.out, "compare.json"), json.encode(json_view(c)))
    c.files = { md = fs.join(opts.out, "compare.md"), json = fs.join(opts.out, "compare.json") }
  end
  return c
end

compare.load = load

-- clara.compare(dirs, opts); a misspelt name (clara.compare.lod) raises
E.namespace(compare, "clara.compare")
getmetatable(compare).__call = function(_, dirs, opts) return run(dirs, opts) end
return compare
