-- clara.compare.load: a directory of the on-disk contract (a run, a
-- cross-validation, a battery entry or a whole battery) read into one
-- uniform summary per model:
--   { dir, kind = "run" | "cv", folds = k (cv), config,
--     metrics = { test_acc = {value =} | {mean =, std =, values = {per fold}} },
--     parameters, epochs = {value =} | {mean =, std =}, time_per_epoch,
--     history = rows (run) | fold_histories = {rows per fold} (cv),
--     assignment = cv.json's table (cv), note }
-- Only config.json, report.json, history.csv and cv.json are read (not
-- the weights: clara.run.read would load every model.pt).
-- Errors are raised as {msg = ...} tables; clara.compare re-raises them at
-- its caller's level.
local fs = require "clara.fs"
local json = require "clara.run.json"
local H = require "clara.run.history"
local stats = require "clara.stats"

local load = {}

local SPLITS = { "val", "test" }

-- raised at the user's line, or with no position from the command line
local function fail(fmt, ...) require("clara.error").raise("clara.compare", fmt, ...) end

local function read_json(dir, name)
  local path = fs.join(dir, name)
  local text = fs.read(path)
  if not text then return nil end
  local ok, v = pcall(json.decode, text)
  if not ok then fail("'%s': %s", path, tostring(v)) end
  return v
end

local function read_history(dir)
  local text = fs.read(fs.join(dir, "history.csv"))
  if not text then return nil end
  return (H.decode(text))
end

-- mean and sample std of a list (std nil for one value); a NaN (a diverged
-- fold) makes both NaN rather than disappear
local function mean_std(values)
  if #values == 0 then return nil end
  for _, v in ipairs(values) do
    if v ~= v then return { mean = v, std = #values > 1 and v or nil, values = values } end
  end
  return { mean = stats.mean(values), std = #values > 1 and stats.std(values) or nil, values = values }
end

-- mean of history `time` (seconds per epoch), nil when it has none
local function time_per_epoch(rows)
  local times = {}
  for _, row in ipairs(rows or {}) do
    if type(row.time) == "number" and row.time == row.time then times[#times + 1] = row.time end
  end
  return #times > 0 and stats.mean(times) or nil
end

-- {val = {acc = 0.9}, test = {...}} -> {val_acc = 0.9, ...}: numbers only
-- (NaN included: a diverged run shows as nan)
local function flat_metrics(metrics)
  local out = {}
  for _, split in ipairs(SPLITS) do
    for name, v in pairs(type(metrics) == "table" and metrics[split] or {}) do
      if type(v) == "number" then out[split .. "_" .. name] = v end
    end
  end
  return out
end

-- 1. a single run
local function read_run(dir, config, report)
  local history = read_history(dir) or (report and report.history) or {}
  local m = { dir = dir, kind = "run", config = config, history = history, metrics = {} }
  if not report then
    m.note = "no report.json (unfinished?): no final metrics"
  else
    for k, v in pairs(flat_metrics(report.metrics)) do m.metrics[k] = { value = v } end
    m.parameters = report.parameters
  end
  m.epochs = { value = (report and report.epochs) or #history }
  m.time_per_epoch = time_per_epoch(history)
  return m
end

-- the fold directories of a CV, in fold order: report.json's list, else fold-1, fold-2, ...
local function fold_dirs(dir, report)
  local dirs = {}
  if report and type(report.folds) == "table" then
    local folds = {}
    for _, f in ipairs(report.folds) do folds[#folds + 1] = f end
    table.sort(folds, function(a, b) return (a.fold or 0) < (b.fold or 0) end)
    for i, f in ipairs(folds) do
      dirs[i] = { path = fs.join(dir, f.dir or ("fold-" .. (f.fold or i))), metrics = f.metrics }
    end
    return dirs
  end
  local i = 1
  while fs.isdir(fs.join(dir, "fold-" .. i)) do
    dirs[i] = { path = fs.join(dir, "fold-" .. i) }
    i = i + 1
  end
  return dirs
end

-- 2. a cross-validation: per-fold values from report.json's folds (or the
--    fold dirs' reports), summarized here as mean and sample std
local function read_cv(dir, config, report)
  local m = { dir = dir, kind = "cv", config = config, metrics = {}, fold_histories = {},
              assignment = read_json(dir, "cv.json") }
  local folds = fold_dirs(dir, report)
  m.folds = #folds > 0 and #folds or (config and config.folds) or (report and report.k)
  local per_metric, epochs, times = {}, {}, {}
  for i, f in ipairs(folds) do
    local frep = fs.isdir(f.path) and read_json(f.path, "report.json") or nil
    local hist = fs.isdir(f.path) and (read_history(f.path) or (frep and frep.history)) or nil
    m.fold_histories[i] = hist or {}
    for k, v in pairs(flat_metrics(f.metrics or (frep and frep.metrics))) do
      per_metric[k] = per_metric[k] or {}
      per_metric[k][i] = v
    end
    if frep and frep.epochs or hist then epochs[#epochs + 1] = (frep and frep.epochs) or #hist end
    times[#times + 1] = time_per_epoch(hist)
    if m.parameters == nil and frep then m.parameters = frep.parameters end
  end
  for k, values in pairs(per_metric) do
    -- a metric some fold lacks is left out: its mean would mix other folds
    local complete = true
    for i = 1, #folds do if values[i] == nil then complete = false end end
    if complete then m.metrics[k] = mean_std(values) end
  end
  -- no fold list: the summary's means (and values) as report.json has them
  if #folds == 0 and report and type(report.summary) == "table" then
    for _, split in ipairs(SPLITS) do
      for name, s in pairs(report.summary[split] or {}) do
        if type(s) == "table" and type(s.mean) == "number" then
          m.metrics[split .. "_" .. name] = { mean = s.mean, std = s.std, values = s.values }
        end
      end
    end
  end
  m.parameters = m.parameters or (report and report.parameters)
  m.epochs = mean_std(epochs)
  m.time_per_epoch = #times > 0 and stats.mean(times) or nil
  if #folds == 0 then m.note = "no fold list or fold directories: per-fold values unknown" end
  return m
end

local function is_cv(dir, config, report)
  return (config and config.kind == "cv") or (report and report.kind == "cv")
         or fs.exists(fs.join(dir, "cv.json"))
end

-- one model directory (a run or a CV; a battery entry is one of these)
function load.model(dir)
  if type(dir) ~= "string" or dir == "" then fail("a directory name (a string) expected, got %s", type(dir)) end
  if not fs.isdir(dir) then fail("'%s' is not a directory", dir) end
  local err = fs.read(fs.join(dir, "error.txt"))
  if err then
    fail("'%s' is a failed battery entry: %s", dir, (err:match("[^\n]*") or ""))
  end
  local config, report = read_json(dir, "config.json"), read_json(dir, "report.json")
  if is_cv(dir, config, report) then return read_cv(dir, config, report) end
  if not (config or report or fs.exists(fs.join(dir, "history.csv"))) then
    fail("'%s' is not a run directory (no config.json, report.json or history.csv)", dir)
  end
  return read_run(dir, config, report)
end

-- the final metrics any of the models has: val_* first, then test_*
local SPLIT_RANK = { val = 1, test = 2 }
function load.metric_names(models)
  local set, names = {}, {}
  for _, m in ipairs(models) do
    for k in pairs(m.metrics) do if not set[k] then set[k] = true; names[#names + 1] = k end end
  end
  table.sort(names, function(a, b)
    local ra, rb = SPLIT_RANK[a:match("^(%a+)_")] or 9, SPLIT_RANK[b:match("^(%a+)_")] or 9
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return names
end

-- a battery dir expands into its finished entries (in battery.json order);
-- anything else is one model.  Returns models, notes (entries left out).
function load.entry(dir)
  local battery = fs.isdir(dir) and read_json(dir, "battery.json") or nil
  if not (battery and type(battery.entries) == "table") then return { load.model(dir) }, {} end
  local models, notes = {}, {}
  for _, e in ipairs(battery.entries) do
    local path = fs.join(dir, tostring(e.name))
    if fs.exists(fs.join(path, "error.txt")) then
      notes[#notes + 1] = ("battery entry '%s' failed: left out"):format(path)
    elseif not require("clara.run").is_done(path) then
      notes[#notes + 1] = ("battery entry '%s' has not finished (pending, running or stopped): left out"):format(path)
    else
      models[#models + 1] = load.model(path)
    end
  end
  return models, notes
end

return load
