-- clara.compare.render: the comparison as Markdown (compare.md and what
-- `clara compare` prints): the side-by-side table, the paired tests with
-- their sentences, notes, and links to the learning curves.
local load = require "clara.compare.load"

local render = {}

-- a metric value as report.md writes it
function render.num(v)
  if type(v) ~= "number" then return "" end
  return require("clara.run.report").number(v)
end

-- p-values and differences: three significant digits ("0.013", "+0.0156")
function render.p(v) return string.format("%.3g", v) end
function render.signed(v) return string.format("%+.3g", v) end

local function cell(s) return (tostring(s):gsub("|", "\\|"):gsub("\n", " ")) end

local function table_md(header, align, rows)
  local out = { "| " .. table.concat(header, " | ") .. " |", "|" .. table.concat(align, "|") .. "|" }
  for _, row in ipairs(rows) do
    local cells = {}
    for i = 1, #header do cells[i] = cell(row[i] or "") end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(out, "\n") .. "\n"
end

-- {value =} or {mean =, std =} -> "0.8160" or "0.8160 ± 0.0247"
local function summary_text(s, fmt)
  fmt = fmt or render.num
  if s == nil then return "" end
  if s.value ~= nil then return fmt(s.value) end
  if s.mean == nil then return "" end
  if s.std == nil then return fmt(s.mean) end
  return fmt(s.mean) .. " ± " .. fmt(s.std)
end

-- 1. the settings that differ between the runs, one row per model
local function settings_section(c)
  local S = require "clara.compare.settings"
  if #c.settings == 0 then return "## Settings\n\nEvery run has the same settings.\n" end
  local header, align, rows = { "run" }, { "---" }, {}
  for _, k in ipairs(c.settings) do header[#header + 1] = k; align[#align + 1] = "---" end
  for i, m in ipairs(c.models) do
    rows[i] = { m.label }
    for _, k in ipairs(c.settings) do rows[i][#rows[i] + 1] = S.value(m, k) end
  end
  return "## Settings that differ\n\n" .. table_md(header, align, rows)
end

-- 2. one row per model (the metric columns asked for, else every one)
local function models_table(c)
  local names = c.columns or load.metric_names(c.models)
  local header = { "run", "kind", "epochs", "parameters", "time / epoch (s)" }
  local align = { "---", "---", "---:", "---:", "---:" }
  for _, n in ipairs(names) do header[#header + 1] = n; align[#align + 1] = "---:" end
  local rows = {}
  for i, m in ipairs(c.models) do
    local row = { m.label, m.kind == "cv" and ("cv (%s folds)"):format(tostring(m.folds or "?")) or "run",
                  summary_text(m.epochs, function(v) return v == math.floor(v) and ("%d"):format(v) or ("%.1f"):format(v) end),
                  m.parameters and ("%d"):format(m.parameters) or "",
                  m.time_per_epoch and ("%.3g"):format(m.time_per_epoch) or "" }
    for _, n in ipairs(names) do row[#row + 1] = summary_text(m.metrics[n]) end
    rows[i] = row
  end
  local legend = {}
  for _, m in ipairs(c.models) do legend[#legend + 1] = ("- %s: `%s`"):format(m.label, m.dir) end
  return table_md(header, align, rows) .. "\n" .. table.concat(legend, "\n") .. "\n"
end

-- 3. the paired tests against the first model: a table, one sentence per
--    test (with its caveats), and the notes all tests share, once
local function tests_section(c)
  local out = { ("## Paired tests on %s (%s is better), against %s\n")
                :format(c.metric, c.mode == "max" and "higher" or "lower", c.models[1].label) }
  local rows, lines, shared, seen = {}, {}, {}, {}
  for _, t in ipairs(c.tests) do
    if t.paired then
      local w = t.wilcoxon
      rows[#rows + 1] = { t.b, ("%d"):format(t.n), render.signed(t.ttest.mean_diff),
                          ("%.4g"):format(t.ttest.statistic), render.p(t.ttest.p),
                          ("%.4g"):format(w.statistic), render.p(w.p), w.method }
      lines[#lines + 1] = "- " .. t.sentence
      local extras = { t.caveat or false, t.ttest.note or false, w.note and ("Wilcoxon: " .. w.note) or false }
      for _, extra in ipairs(extras) do
        if extra then lines[#lines + 1] = "  (" .. extra .. ")" end
      end
      if t.wilcoxon_note and not seen[t.wilcoxon_note] then
        seen[t.wilcoxon_note] = true
        shared[#shared + 1] = "Note: " .. t.wilcoxon_note .. "."
      end
    else
      lines[#lines + 1] = ("- No paired test of %s against %s: %s."):format(t.b, t.a, t.reason)
    end
  end
  if #rows > 0 then
    out[#out + 1] = table_md({ "run", "folds", "mean diff (run − " .. c.models[1].label .. ")", "t", "t-test p",
                               "W", "Wilcoxon p", "Wilcoxon p from" },
                             { "---", "---:", "---:", "---:", "---:", "---:", "---:", "---" }, rows)
  end
  out[#out + 1] = table.concat(lines, "\n") .. "\n"
  if #shared > 0 then out[#out + 1] = table.concat(shared, "\n") .. "\n" end
  return table.concat(out, "\n")
end

-- 4. the learning curves drawn, as image links relative to compare.md
local function curves_section(c)
  local out = {}
  for _, p in ipairs(c.plots) do
    local file = p.files.png or p.files.svg
    if file then out[#out + 1] = ("![%s](%s)"):format(p.name, file:match("[^/]+$")) end
  end
  if #out == 0 then return nil end
  return "## Learning curves\n\n" .. table.concat(out, "\n\n") .. "\n"
end

function render.markdown(c)
  local parts = { "# Model comparison\n", settings_section(c), "## Results\n\n" .. models_table(c),
                  tests_section(c) }
  local curves = curves_section(c)
  if curves then parts[#parts + 1] = curves end
  if #c.notes > 0 then
    local lines = {}
    for _, n in ipairs(c.notes) do lines[#lines + 1] = "- " .. n end
    parts[#parts + 1] = "## Notes\n\n" .. table.concat(lines, "\n") .. "\n"
  end
  return table.concat(parts, "\n")
end

return render
