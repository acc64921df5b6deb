-- clara.report.search: the part of a battery's section that a search adds
-- (its search.json, clara.battery.search.summary): the best settings, a
-- table per rung, the monitored value per epoch of every trial on one
-- chart coloured by the rung it reached, and one scatter plot per
-- parameter (the value at each rung against the parameter, coloured by
-- rung; a log axis for a parameter searched in log).
local fs = require "clara.fs"
local json = require "clara.run.json"
local C = require "clara.report.common"
local G = require "clara.plot.gnuplot"

local section = {}

function section.read(dir)
  local text = fs.read(fs.join(dir, "search.json"))
  if not text then return nil end
  local ok, r = pcall(json.decode, text)
  return ok and type(r) == "table" and r or nil
end

local function params_text(p)
  return require("clara.battery.entries").name(p or {})
end

local function rung_tables(r)
  local b = {}
  for _, rung in ipairs(r.rungs or {}) do
    local rows = {}
    for i, t in ipairs(rung.trials) do
      rows[i] = { t.trial, C.fmt(t.value), t.promoted and "yes" or "", params_text(t.params) }
    end
    b[#b + 1] = { kind = "table", caption = ("Bracket %d, rung %d: %d epochs (best first)")
      :format(rung.bracket, rung.rung, rung.epochs), cols = { "trial", r.monitor, "promoted", "settings" },
      rows = rows, numeric_from = 2 }
  end
  return b
end

-- trial name -> the highest rung it reported
local function reached(r)
  local top = {}
  for _, rung in ipairs(r.rungs or {}) do
    for _, t in ipairs(rung.trials) do top[t.trial] = math.max(top[t.trial] or -1, rung.rung) end
  end
  return top
end

-- one key entry per rung (the first of its trials), not one per trial:
-- a search has many
local function curves(canvas, bat, r)
  local top, series, count, named = reached(r), {}, {}, {}
  for _, k in pairs(top) do count[k] = (count[k] or 0) + 1 end
  for _, e in ipairs(bat.entries) do
    local d, k = e.data, top[e.name]
    if k and d and d.kind == "run" and #d.history > 0 and d.history[1][r.monitor] ~= nil then
      local x, y = C.column(d.history, r.monitor)
      local name = not named[k] and ("reached rung %d (%d trial%s)"):format(k, count[k], count[k] > 1 and "s" or "") or ""
      named[k] = true
      series[#series + 1] = { name = name, x = x, y = y, color = G.color(k + 1), style = "linespoints" }
    end
  end
  if #series == 0 then return {} end
  return { canvas:draw("lines", "search_curves", { title = r.monitor .. " per epoch, every trial, coloured by rung reached",
    xlabel = "epoch", ylabel = r.monitor, series = series }) }
end

-- a parameter's values as numbers: a choice of strings by its position
local function axis(rungs, name)
  local strings, seen = {}, {}
  for _, rung in ipairs(rungs) do
    for _, t in ipairs(rung.trials) do
      local v = t.params and t.params[name]
      if type(v) ~= "number" and v ~= nil and not seen[tostring(v)] then
        seen[tostring(v)] = true; strings[#strings + 1] = tostring(v)
      end
    end
  end
  table.sort(strings)
  local pos = {}
  for i, s in ipairs(strings) do pos[s] = i end
  local function x(v) return type(v) == "number" and v or pos[tostring(v)] end
  local label = name
  if #strings > 0 then
    local parts = {}
    for i, s in ipairs(strings) do parts[i] = ("%d = %s"):format(i, s) end
    label = name .. " (" .. table.concat(parts, ", ") .. ")"
  end
  return x, label
end

local function scatters(canvas, r, space)
  local items = {}
  for _, name in ipairs(space and space.names or {}) do
    local x_of, label = axis(r.rungs or {}, name)
    local series = {}
    for _, rung in ipairs(r.rungs or {}) do
      local xs, ys = {}, {}
      for _, t in ipairs(rung.trials) do
        local x = t.params and x_of(t.params[name])
        if x and type(t.value) == "number" then xs[#xs + 1], ys[#ys + 1] = x, t.value end
      end
      if #xs > 0 then
        series[#series + 1] = { name = ("bracket %d, rung %d (%d epochs)"):format(rung.bracket, rung.rung, rung.epochs),
                                x = xs, y = ys, style = "points", color = G.color(rung.rung + 1) }
      end
    end
    if #series > 0 then
      items[#items + 1] = canvas:draw("lines", "search_" .. name, { title = r.monitor .. " against " .. name,
        xlabel = label, ylabel = r.monitor, series = series, logx = space[name].log or nil })
    end
  end
  return items
end

-- blocks(bat, canvas, r) -> the search's blocks (r: its search.json)
function section.blocks(bat, canvas, r)
  local b = { { kind = "h2", text = "Search" } }
  b[#b + 1] = { kind = "p", text = ("%s, %s sampler; %d trials, %d epochs trained in all.")
    :format(r.scheduler or "no early stopping", r.sampler or "?", r.trials or 0, r.epochs or 0) }
  if r.best then
    b[#b + 1] = { kind = "p", text = ("Best: %s (%s), %s = %s at rung %d (%d epochs).")
      :format(r.best.trial, params_text(r.best.params), r.monitor, C.fmt(r.best.value), r.best.rung, r.best.epochs) }
  end
  for _, t in ipairs(rung_tables(r)) do b[#b + 1] = t end
  local items = curves(canvas, bat, r)
  for _, f in ipairs(scatters(canvas, r, r.space)) do items[#items + 1] = f end
  if #items > 0 then b[#b + 1] = { kind = "figures", items = items } end
  return b
end

return section
