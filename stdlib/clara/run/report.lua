-- clara.run.report: report.md, the run's result for people: final metrics
-- per split (one row per split, one column per metric) and the per-epoch
-- history.  report.json holds the same result for programs.
--
-- result = { metrics = { train = {loss = .., accuracy = ..}, val = {..},
--            test = {..} }, history = { rows } (default: the run's),
--            anything else (best_epoch = 7, elapsed = 12.5, ...) }
local H = require "clara.run.history"

local report = {}

local SPLIT_ORDER = { train = 1, val = 2, valid = 2, validation = 2, test = 3 }

-- train, val, test, then the others by name
function report.split_before(a, b)
  local fa, fb = SPLIT_ORDER[a] or 99, SPLIT_ORDER[b] or 99
  if fa ~= fb then return fa < fb end
  return a < b
end

-- "loss" first, then the others by name
function report.metric_before(a, b)
  if (a == "loss") ~= (b == "loss") then return a == "loss" end
  return a < b
end

-- metrics = {split = {name = value}} -> splits, names (their union), sorted
function report.splits_and_names(metrics, name_before)
  local splits, names, seen = {}, {}, {}
  for split, m in pairs(metrics or {}) do
    if type(m) == "table" then
      splits[#splits + 1] = split
      for k in pairs(m) do
        if not seen[k] then seen[k] = true; names[#names + 1] = k end
      end
    end
  end
  table.sort(splits, report.split_before)
  table.sort(names, name_before)
  return splits, names
end

-- fold_summary(folds) -> summary[split][metric] = {mean, std, values}: the
-- mean and sample std (n - 1) of every number of every split over folds,
-- each fold {metrics = {split = {metric = value}}} (clara.train.cv writes
-- it; clara.report makes it for a CV still running)
function report.fold_summary(folds)
  local summary = {}
  for _, f in ipairs(folds) do
    for split, values in pairs(f.metrics or {}) do
      summary[split] = summary[split] or {}
      for name, v in pairs(type(values) == "table" and values or {}) do
        if type(v) == "number" then
          local s = summary[split][name] or { values = {} }
          summary[split][name] = s
          s.values[#s.values + 1] = v
        end
      end
    end
  end
  for _, by_name in pairs(summary) do
    for _, s in pairs(by_name) do
      local n, sum = #s.values, 0
      for _, v in ipairs(s.values) do sum = sum + v end
      s.mean = sum / n
      local ss = 0
      for _, v in ipairs(s.values) do ss = ss + (v - s.mean) ^ 2 end
      s.std = n > 1 and math.sqrt(ss / (n - 1)) or 0
    end
  end
  return summary
end

-- a number as every report shows it: integers whole, others to 4
-- decimals, scientific when tiny or huge
function report.number(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v then return "nan" end
  if v == math.huge or v == -math.huge then return v > 0 and "inf" or "-inf" end
  local a = math.abs(v)
  if a ~= 0 and (a < 1e-3 or a >= 1e6) then return string.format("%.4e", v) end
  return string.format("%.4f", v)
end

-- a duration in seconds with its unit: "350 ms", "12.3 s", "12.6 min", "2.1 h"
function report.duration(s)
  if type(s) ~= "number" or s ~= s or s < 0 or s == math.huge then return tostring(s) end
  if s < 1 then return ("%d ms"):format(math.floor(s * 1000 + 0.5)) end
  if s < 120 then return ("%.1f s"):format(s) end
  if s < 7200 then return ("%.1f min"):format(s / 60) end
  return ("%.1f h"):format(s / 3600)
end

-- a history column as a table's header: with its unit
function report.column_title(col)
  return col == "time" and "time (s)" or col
end

-- a pipeline's description (clara.transforms' describe(), as config.json
-- records it) as its one-line print: "Scale(1/255) -> Flatten()"; a
-- description the transforms cannot rebuild reads "Name(key=value, ...)"
local function generic(d)
  if type(d) ~= "table" then return tostring(d) end
  if type(d.steps) == "table" and #d.steps > 0 then
    local parts = {}
    for i, step in ipairs(d.steps) do parts[i] = generic(step) end
    return table.concat(parts, " -> ")
  end
  local args = {}
  for k, v in pairs(d) do
    if k ~= "name" and type(v) ~= "table" then args[#args + 1] = ("%s=%s"):format(k, tostring(v)) end
  end
  table.sort(args)
  return ("%s(%s)"):format(tostring(d.name or "?"), table.concat(args, ", "))
end

function report.pipeline_text(d)
  local ok, T = pcall(require, "clara.transforms")
  if ok then
    -- as JSON text: from_description makes JSON's whole floats integers again
    local built, step = pcall(function() return T.from_description(require("cjson").encode(d)) end)
    if built then
      local shown, text = pcall(tostring, step)
      if shown then return text end
    end
  end
  return generic(d)
end

-- a Markdown table cell
local function fmt(v)
  if v == nil then return "" end
  if type(v) == "userdata" and v.item then v = v:item() end
  if type(v) == "number" then return report.number(v) end
  return (tostring(v):gsub("|", "\\|"):gsub("\n", " "))
end

local function table_md(cols, rows, numeric_from)
  local titles = {}
  for i, c in ipairs(cols) do titles[i] = report.column_title(c) end
  local out = { "| " .. table.concat(titles, " | ") .. " |" }
  local rule = {}
  for i = 1, #cols do rule[i] = i >= numeric_from and "---:" or "---" end
  out[2] = "|" .. table.concat(rule, "|") .. "|"
  for _, row in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(cols) do cells[i] = fmt(row[c]) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(out, "\n") .. "\n"
end

-- markdown(title, result, history_rows) -> text
function report.markdown(title, result, rows)
  local out = { "# " .. title .. "\n" }
  -- 1. final metrics, one row per split
  local metrics = result.metrics or {}
  local splits, names = report.splits_and_names(metrics)
  if #splits > 0 then
    local mrows = {}
    for i, s in ipairs(splits) do
      mrows[i] = setmetatable({ split = s }, { __index = metrics[s] })
    end
    local cols = { "split" }
    for _, n in ipairs(names) do cols[#cols + 1] = n end
    out[#out + 1] = "## Final metrics\n\n" .. table_md(cols, mrows, 2)
  end
  -- 2. the other scalar facts (best epoch, time, stop reason)
  local facts = {}
  for k, v in pairs(result) do
    if k ~= "metrics" and k ~= "history" and k ~= "checkpoints" and k ~= "pipelines" then
      if k == "time" and type(v) == "number" then
        facts[#facts + 1] = string.format("- %s: %s", k, report.duration(v))
      elseif type(v) ~= "table" then
        facts[#facts + 1] = string.format("- %s: %s", k, fmt(v))
      else   -- one level down: best = {epoch = 7, value = 0.31}
        for k2, v2 in pairs(v) do
          if type(v2) ~= "table" then
            facts[#facts + 1] = string.format("- %s.%s: %s", k, tostring(k2), fmt(v2))
          end
        end
      end
    end
  end
  table.sort(facts)
  if #facts > 0 then out[#out + 1] = "## Summary\n\n" .. table.concat(facts, "\n") .. "\n" end
  -- the pipelines, by their descriptions (result.pipelines: config.json's)
  local pipes = {}
  for _, k in ipairs { "preprocess", "postprocess" } do
    local d = result.pipelines and result.pipelines[k]
    if d ~= nil then pipes[#pipes + 1] = ("- %s: `%s`"):format(k, report.pipeline_text(d)) end
  end
  if #pipes > 0 then out[#out + 1] = "## Pipeline\n\n" .. table.concat(pipes, "\n") .. "\n" end
  -- 3. the kept checkpoints (clara.train.keep), with their monitored values
  if type(result.checkpoints) == "table" and #result.checkpoints > 0 then
    out[#out + 1] = "## Kept checkpoints\n\n" .. table_md({ "epoch", "value", "file" }, result.checkpoints, 1)
  end
  -- 4. the history, per epoch
  rows = result.history or rows or {}
  if #rows > 0 then
    out[#out + 1] = "## Per epoch\n\n" .. table_md(H.columns(rows), rows, 1)
  end
  return table.concat(out, "\n")
end

return report
