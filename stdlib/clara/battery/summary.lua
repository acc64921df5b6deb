-- clara.battery.summary: one row per entry, read from what is on disk (so
-- the summary of a battery run by several processes, or by SLURM tasks, is
-- the same as that of one run): name, status, settings, the final metrics
-- (for a cross-validated entry the fold means, and <metric>_std), time,
-- error.  Written as summary.csv, summary.json and summary.md.
local fs = require "clara.fs"
local json = require "clara.run.json"
local H = require "clara.run.history"
local entries = require "clara.battery.entries"

local M = {}

local function read_json(path)
  local text = fs.read(path)
  if not text then return nil end
  local ok, v = pcall(json.decode, text)
  return ok and v or nil
end

-- done: a whole report and every file it lists (clara.run.is_done);
-- failed: error.txt; interrupted: a checkpoint or a CV begun
function M.status(dir)
  if require("clara.run").is_done(dir) then return "done" end
  if fs.exists(fs.join(dir, "error.txt")) then return "failed" end
  if fs.exists(fs.join(dir, "checkpoint.pt")) or fs.exists(fs.join(dir, "cv.json")) then return "interrupted" end
  return "pending"
end

-- the numbers of a finished entry: report.metrics (a run) or the CV summary
local function metrics_into(row, report)
  if report.kind == "cv" then
    for split, by_name in pairs(report.summary or {}) do
      for name, s in pairs(by_name) do
        row[split .. "_" .. name] = s.mean
        row[split .. "_" .. name .. "_std"] = s.std
      end
    end
    row.folds = report.k
  else
    for split, values in pairs(report.metrics or {}) do
      for name, v in pairs(values) do
        if type(v) == "number" then row[split .. "_" .. name] = v end
      end
    end
    row.epochs, row.time = report.epochs, report.time
  end
end

function M.rows(battery)
  local rows = {}
  for i, e in ipairs(battery:entries()) do
    local row = { name = e.name, status = M.status(e.dir) }
    for k, v in pairs(e.settings) do row[k] = v end
    for k, v in pairs(e.extra or {}) do row[k] = v end   -- a search's trial: its rung, state
    if row.status == "done" then
      local report = read_json(fs.join(e.dir, "report.json"))
      if report then metrics_into(row, report) end
    elseif row.status == "failed" then
      row.error = ((fs.read(fs.join(e.dir, "error.txt")) or ""):match("[^\n]*"))
    end
    rows[i] = row
  end
  return rows
end

-- columns: name, status, the settings, the metrics (sorted), time, error
local function columns(battery, rows)
  local first, seen = { "name", "status" }, { name = true, status = true, error = true, time = true, epochs = true, folds = true }
  local settings = {}
  for _, e in ipairs(battery:entries()) do
    for k in pairs(e.settings) do if not seen[k] then seen[k] = true; settings[#settings + 1] = k end end
  end
  table.sort(settings)
  for _, k in ipairs(settings) do first[#first + 1] = k end
  local metrics = {}
  for _, row in ipairs(rows) do
    for k in pairs(row) do if not seen[k] then seen[k] = true; metrics[#metrics + 1] = k end end
  end
  table.sort(metrics)
  for _, k in ipairs(metrics) do first[#first + 1] = k end
  for _, k in ipairs { "folds", "epochs", "time", "error" } do first[#first + 1] = k end
  return first
end

local function cell(v)
  if v == nil then return "" end
  if math.type(v) == "float" then return ("%.4g"):format(v) end
  return (tostring(v):gsub("|", "\\|"))
end

local function markdown(battery, cols, rows)
  local counts = {}
  for _, r in ipairs(rows) do counts[r.status] = (counts[r.status] or 0) + 1 end
  local parts = {}
  for _, s in ipairs(entries.sorted_keys(counts)) do parts[#parts + 1] = ("%d %s"):format(counts[s], s) end
  local out = { "# Battery " .. battery.name, "", ("%d entries: %s."):format(#rows, table.concat(parts, ", ")), "" }
  local shown = {}
  for _, c in ipairs(cols) do
    local any = false
    for _, r in ipairs(rows) do any = any or r[c] ~= nil end
    if any then shown[#shown + 1] = c end
  end
  out[#out + 1] = "| " .. table.concat(shown, " | ") .. " |"
  local rule = {}
  for i = 1, #shown do rule[i] = "---" end
  out[#out + 1] = "|" .. table.concat(rule, "|") .. "|"
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(shown) do cells[i] = cell(r[c]) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

-- write(battery) -> rows: the three summary files, each atomically
function M.write(battery)
  local rows = M.rows(battery)
  local cols = columns(battery, rows)
  local dir = battery:dir()
  fs.mkdir_p(dir)
  fs.write_atomic(fs.join(dir, "summary.csv"), H.encode(cols, rows))
  fs.write_atomic(fs.join(dir, "summary.json"), json.encode({ name = battery.name, columns = cols, entries = rows }))
  fs.write_atomic(fs.join(dir, "summary.md"), markdown(battery, cols, rows))
  return rows
end

return M
