-- clara.report.load: what a directory holds, read whole before anything is
-- written.  A directory is (see the on-disk contract in clara.run,
-- clara.experiment:cross_validate and clara.battery):
--   a battery   battery.json (entries, each a run or a CV directory)
--   a CV dir    cv.json, or kind = "cv" in config.json / report.json
--   a run       config.json, report.json or history.csv
-- Anything else, or a file that does not parse, is an error naming it.
local fs = require "clara.fs"
local json = require "clara.run.json"
local H = require "clara.run.history"
local lfs = require "lfs"

local load = {}

local function fail(msg) require("clara.error").raise("clara.report", msg) end

-- a JSON object (or, with list_ok, a list) from dir/name; nil when the
-- file is absent
local function read_json(dir, name, list_ok)
  local path = fs.join(dir, name)
  local text = fs.read(path)
  if text == nil then return nil end
  local ok, v = pcall(json.decode, text)
  if not ok then fail(("'%s' is not valid JSON (%s)"):format(path, tostring(v))) end
  if type(v) ~= "table" or (#v > 0 and not list_ok) then
    fail(("'%s' holds %s, a JSON object expected"):format(path, type(v) == "table" and "a list" or type(v)))
  end
  return v
end

local function read_csv(dir, name)
  local text = fs.read(fs.join(dir, name))
  if not text then return nil end
  return H.decode(text)
end

-- kind(dir) -> "battery" | "cv" | "run" | nil, reason
function load.kind(dir)
  if not fs.isdir(dir) then return nil, "is not a directory" end
  local function has(name) return fs.exists(fs.join(dir, name)) end
  if has("battery.json") then return "battery" end
  if has("cv.json") then return "cv" end
  if has("config.json") or has("report.json") then
    local cfg, rep = read_json(dir, "config.json"), read_json(dir, "report.json")
    if (cfg and cfg.kind == "cv") or (rep and rep.kind == "cv") then return "cv" end
    return "run"
  end
  if has("history.csv") then return "run" end
  return nil, "is not a run, CV or battery directory (no config.json, report.json, history.csv, "
              .. "cv.json or battery.json)"
end

-- a short name: the experiment / run id when config.json has them
local function title_of(dir, cfg)
  local base = dir:gsub("/+$", ""):match("[^/]+$") or dir
  if cfg and cfg.experiment and cfg.run_id then return cfg.experiment .. " / " .. cfg.run_id end
  if cfg and cfg.name and cfg.name ~= base then return cfg.name .. " / " .. base end
  return base
end

-- run(dir) -> {kind = "run", dir, title, config, report, history, columns, model_txt}
function load.run(dir)
  local r = { kind = "run", dir = dir }
  r.config = read_json(dir, "config.json")
  r.report = read_json(dir, "report.json")
  r.history, r.columns = read_csv(dir, "history.csv")
  if not r.history and r.report and type(r.report.history) == "table" then
    r.history = r.report.history
    r.columns = H.columns(r.history)
  end
  r.history, r.columns = r.history or {}, r.columns or {}
  r.model_txt = fs.read(fs.join(dir, "model.txt"))
  r.title = title_of(dir, r.config)
  return r
end

-- {==================== cross-validation ====================

-- fold-1, fold-2, ... in numeric order (when report.json does not list them)
local function fold_dirs(dir)
  local found = {}
  for name in lfs.dir(dir) do
    local k = name:match("^fold%-(%d+)$")
    if k and fs.isdir(fs.join(dir, name)) then found[#found + 1] = { fold = tonumber(k), dir = name } end
  end
  table.sort(found, function(a, b) return a.fold < b.fold end)
  return found
end

-- the mean ± std over folds (sample std, n - 1), when report.json has none
-- (a CV still running), as clara.train.cv computes it
load.summarize = require("clara.run.report").fold_summary

-- cv(dir) -> {kind = "cv", dir, title, config, report, folds = {{fold, dir, run, metrics}}, summary}
function load.cv(dir)
  local c = { kind = "cv", dir = dir }
  c.config = read_json(dir, "config.json")
  c.report = read_json(dir, "report.json")
  c.title = title_of(dir, c.config)
  local listed = c.report and type(c.report.folds) == "table" and c.report.folds or fold_dirs(dir)
  c.folds = {}
  for i, f in ipairs(listed) do
    local fdir = fs.join(dir, f.dir or ("fold-" .. (f.fold or i)))
    local run = fs.isdir(fdir) and load.run(fdir) or nil
    c.folds[i] = { fold = f.fold or i, dir = fdir, run = run,
                   metrics = f.metrics or (run and run.report and run.report.metrics) or {} }
  end
  if #c.folds == 0 then fail(("'%s' is a CV directory with no folds (no fold-N directories)"):format(dir)) end
  c.summary = c.report and type(c.report.summary) == "table" and c.report.summary or load.summarize(c.folds)
  return c
end
-- }====================

-- {==================== batteries ====================

-- the summary rows clara.battery wrote (summary.json: a list, or
-- {rows|entries = list}; else summary.csv), keyed by entry name
local function summary_rows(dir)
  local s = read_json(dir, "summary.json", true)
  local rows = s and (s.rows or s.entries or (#s > 0 and s))
  if not rows then rows = read_csv(dir, "summary.csv") end
  local by_name = {}
  for _, row in ipairs(rows or {}) do
    if type(row) == "table" and row.name then by_name[row.name] = row end
  end
  return by_name
end

-- one entry: its status, error and (when it ran) its run or CV directory
local function entry(dir, e, i, rows)
  if type(e) ~= "table" or type(e.name) ~= "string" then
    fail(("'%s': entry %d has no name"):format(fs.join(dir, "battery.json"), i))
  end
  local edir = fs.join(dir, e.name)
  local x = { name = e.name, settings = e.settings or {}, dir = edir, row = rows[e.name] }
  local err = fs.read(fs.join(edir, "error.txt"))
  local kind = fs.isdir(edir) and load.kind(edir)
  -- a CV that failed before its first fold has cv.json and nothing to show
  if kind == "run" then x.data = load.run(edir)
  elseif kind == "cv" and #fold_dirs(edir) > 0 then x.data = load.cv(edir) end
  -- the status as clara.battery.summary tells it: a report wins over an
  -- old error.txt (a retried entry)
  if x.row and x.row.status then x.status = x.row.status
  elseif x.data and require("clara.run").is_done(edir) then x.status = "done"
  elseif err then x.status = "failed"
  elseif x.data then x.status = "interrupted"
  else x.status = "pending" end
  if x.status == "failed" then x.error = err and err:gsub("%s+$", "") or (x.row and x.row.error) end
  return x
end

-- battery(dir) -> {kind = "battery", dir, title, spec, entries = {{name, settings, status, error, data, row}}}
function load.battery(dir)
  local spec = read_json(dir, "battery.json")
  if type(spec.entries) ~= "table" then
    fail(("'%s' has no entries list"):format(fs.join(dir, "battery.json")))
  end
  local b = { kind = "battery", dir = dir, spec = spec, entries = {} }
  b.title = spec.name or (dir:gsub("/+$", ""):match("[^/]+$") or dir)
  local rows = summary_rows(dir)
  for i, e in ipairs(spec.entries) do b.entries[i] = entry(dir, e, i, rows) end
  return b
end
-- }====================

-- newest(dir) -> the newest run or CV directory in dir (an experiment's
-- directory, runs/NAME), or nil.  Run ids begin with their UTC start time
-- (20260102-130405-...), so the greatest such name is the newest; other
-- names count by their directory's modification time, after those.
function load.newest(dir)
  local best, best_key
  for name in require("lfs").dir(dir) do
    local sub = fs.join(dir, name)
    if name:sub(1, 1) ~= "." and fs.isdir(sub) and load.kind(sub) then
      local stamp = name:match("%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d")
      local key = stamp and ("1" .. stamp .. name)
        or ("0" .. ("%020d"):format(require("lfs").attributes(sub, "modification") or 0) .. name)
      if best_key == nil or key > best_key then best, best_key = sub, key end
    end
  end
  return best
end

-- load(dir) -> the run, CV or battery it holds; for an experiment's
-- directory holding runs, its newest run's
function load.load(dir)
  if type(dir) ~= "string" or dir == "" then fail("a directory (a string) expected, got " .. type(dir)) end
  local kind, why = load.kind(dir)
  if not kind and fs.isdir(dir) then
    local newest = load.newest(dir)
    if newest then return load.load(newest) end
  end
  if not kind then fail(("'%s' %s, nor does it hold one"):format(dir, why)) end
  return load[kind](dir)
end

return load
