-- clara.report.common: what the run, CV and battery sections share: number
-- formatting, split order, the canvas that names chart files, and the
-- learning-curve columns of a history.
local fs = require "clara.fs"
local plot = require "clara.plot"
local R = require "clara.run.report"

local C = {}

-- {==================== values ====================

-- a value as a table cell: integers whole, other numbers to 4 decimals
-- (scientific when tiny or huge), like report.md
function C.fmt(v)
  if v == nil then return "" end
  if type(v) == "number" then return R.number(v) end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = C.fmt(x) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  return tostring(v)
end

-- a setting or a count: a whole float (JSON numbers decode as floats) as
-- an integer, anything else as fmt does
function C.value(v)
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    return string.format("%d", math.tointeger(v))
  end
  return C.fmt(v)
end

function C.mean_std(m)
  if type(m) ~= "table" or type(m.mean) ~= "number" then return "" end
  if type(m.std) ~= "number" then return C.fmt(m.mean) end
  return C.fmt(m.mean) .. " ± " .. C.fmt(m.std)
end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- a duration with its unit (clara.run.report's), a history column's title
C.duration, C.column_title = R.duration, R.column_title

-- settings shown by their one-line print, not their nested description
local PIPELINES = { preprocess = true, postprocess = true }

-- {a = 1, hparams = {lr = 0.1}} -> rows {"a", "1"}, {"hparams.lr", "0.1000"}, sorted;
-- a pipeline's description as its print: {"preprocess", "Scale(1/255) -> Flatten()"}
function C.flatten(tbl)
  local rows = {}
  local function walk(prefix, t)
    for k, v in pairs(t) do
      local key = prefix .. tostring(k)
      if prefix == "" and PIPELINES[k] and type(v) == "table" then rows[#rows + 1] = { key, R.pipeline_text(v) }
      elseif type(v) == "table" and not is_list(v) then walk(key .. ".", v)
      else rows[#rows + 1] = { key, C.value(v) } end
    end
  end
  walk("", tbl or {})
  table.sort(rows, function(a, b) return a[1] < b[1] end)
  return rows
end

C.SPLIT_COLOR = { train = "#1f77b4", val = "#ff7f0e", valid = "#ff7f0e", validation = "#ff7f0e",
                  test = "#2ca02c" }
C.split_before, C.metric_before = R.split_before, R.metric_before

function C.sorted_keys(t, before)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys, before)
  return keys
end

-- a term's weighted value (<term>_w) next to its raw value: charted once,
-- through the raw one (names: a set or a list of the names present)
function C.weighted_twin(name, names)
  local base = name:match("^(.+)_w$")
  if not base then return false end
  if names[base] then return true end
  for _, n in ipairs(names) do if n == base then return true end end
  return false
end

-- metrics = {split = {name = value}} -> splits, names (union), each sorted
function C.splits_and_names(metrics) return R.splits_and_names(metrics, R.metric_before) end
-- }====================

-- {==================== canvas ====================
-- A canvas draws charts into one directory under unique file names and
-- returns figure items for clara.report.html.
local Canvas = {}
Canvas.__index = Canvas

function C.canvas(dir, formats)
  return setmetatable({ dir = dir, used = {}, formats = formats or { "png", "svg" } }, Canvas)
end

-- a file name from any text: letters, digits, - _ . only, unique here
function Canvas:name(text)
  local base = tostring(text):gsub("[^%w_%.%-]+", "_"):gsub("^[_%.]+", ""):sub(1, 80)
  if base == "" then base = "chart" end
  local name, k = base, 1
  while self.used[name] do k = k + 1; name = base .. "-" .. k end
  self.used[name] = true
  return name
end

-- draw(kind, name, opts) -> {caption =, png =, svg =}
function Canvas:draw(kind, name, opts)
  opts.file = fs.join(self.dir, self:name(name))
  opts.formats = self.formats
  local paths = plot[kind](opts)
  return { caption = opts.title or name, png = paths.png, svg = paths.svg }
end
-- }====================

-- {==================== learning curves ====================
local NOT_CURVES = { epoch = true, step = true, split = true, lr = true, time = true, stopped = true }
local SPLIT_PREFIX = { "train", "val", "valid", "validation", "test" }

-- "val_acc" -> "val", "acc"; "loss" -> nil, "loss"
local function split_of(col)
  for _, s in ipairs(SPLIT_PREFIX) do
    local q = col:match("^" .. s .. "_(.+)$")
    if q then return s, q end
  end
  return nil, col
end

local function numeric(rows, col)
  for _, r in ipairs(rows) do
    local v = r[col]
    if type(v) == "number" and v == v then return true end
  end
  return false
end

local function same_values(rows, a, b)
  for _, r in ipairs(rows) do
    if r[a] ~= r[b] then return false end
  end
  return true
end

-- curves(columns, rows) -> {{quantity =, cols = {{col =, split =, weighted =}}}}:
-- one group per quantity (loss, each objective term, each metric), its
-- columns over splits; a term's weighted column (<term>_w) joins its term
function C.curves(columns, rows)
  local present = {}
  for _, c in ipairs(columns) do present[c] = true end
  local groups, order = {}, {}
  for _, col in ipairs(columns) do
    if not NOT_CURVES[col] and numeric(rows, col) then
      local split, q = split_of(col)
      local weighted, same = false, false
      local base = q:match("^(.+)_w$")
      local raw = base and (split and split .. "_" or "") .. base
      if raw and present[raw] then q, weighted, same = base, true, same_values(rows, col, raw) end
      -- a term of weight 1 would draw its line twice
      if not same then
        if not groups[q] then groups[q] = { quantity = q, cols = {} }; order[#order + 1] = q end
        table.insert(groups[q].cols, { col = col, split = split, weighted = weighted })
      end
    end
  end
  table.sort(order, C.metric_before)
  local out = {}
  for i, q in ipairs(order) do
    table.sort(groups[q].cols, function(a, b)
      if a.weighted ~= b.weighted then return not a.weighted end
      return C.split_before(a.split or "", b.split or "")
    end)
    out[i] = groups[q]
  end
  return out
end

-- the x (epoch, else the row number) and y of one column
function C.column(rows, col)
  local x, y = {}, {}
  for i, r in ipairs(rows) do
    x[i] = type(r.epoch) == "number" and r.epoch or i
    local v = r[col]
    y[i] = type(v) == "number" and v or 0 / 0
  end
  return x, y
end

-- does the learning rate change over the run (a scheduler)?
function C.lr_varies(rows)
  local first
  for _, r in ipairs(rows) do
    if type(r.lr) == "number" then
      if first == nil then first = r.lr elseif r.lr ~= first then return true end
    end
  end
  return false
end
-- }====================

return C
