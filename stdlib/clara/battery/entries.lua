-- clara.battery.entries: the settings of a battery's entries, from a grid
-- (every combination), an explicit list and a seeded random search, each
-- entry named by its settings ("batch_size=64,lr=0.01", keys sorted).
--
--   grid   = {lr = {0.1, 0.01}, batch_size = {64, 128}}
--   list   = {{lr = 0.5, hidden = 32}, ...}
--   random = {n = 8, seed = 1, space = {
--              lr = {log_uniform = {1e-4, 1e-1}}, dropout = {uniform = {0, 0.5}},
--              hidden = {choice = {32, 64, 128}}, layers = {int = {1, 3}}}}
local rng = require "clara.data.rng"

local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end
M.sorted_keys = sorted_keys

-- a value as it appears in a name: short, exact enough to tell entries apart
local function show(v)
  if math.type(v) == "float" then return ("%.6g"):format(v) end
  return tostring(v)
end

-- "batch_size=64,lr=0.01"; '/' and spaces would make bad directory names
function M.name(settings)
  local parts = {}
  for _, k in ipairs(sorted_keys(settings)) do
    parts[#parts + 1] = (k .. "=" .. show(settings[k])):gsub("[/%s]", "_")
  end
  local name = table.concat(parts, ",")
  return name ~= "" and name or "default"
end

local function plain_value(v)
  local t = type(v)
  return t == "number" or t == "string" or t == "boolean"
end

-- 1. the grid: the cartesian product, the last key varying fastest
local function grid(g, fail)
  if type(g) ~= "table" then fail("grid must be a table of name = {values...}, got " .. type(g)) end
  local keys, out = sorted_keys(g), { {} }
  for _, k in ipairs(keys) do
    local values = g[k]
    if type(values) ~= "table" or #values == 0 then
      fail(("grid.%s must be a non-empty list of values, got %s"):format(tostring(k), type(values)))
    end
    local next_out = {}
    for _, partial in ipairs(out) do
      for _, v in ipairs(values) do
        if not plain_value(v) then fail(("grid.%s: values must be numbers, strings or booleans"):format(k)) end
        local s = {}
        for kk, vv in pairs(partial) do s[kk] = vv end
        s[k] = v
        next_out[#next_out + 1] = s
      end
    end
    out = next_out
  end
  return out
end

-- 2. random search: each draw a pure function of (seed, draw number)
local function unit(r) return (r:next() >> 11) * 2.0 ^ -53 end   -- in [0, 1)

local DRAWS = {
  uniform = function(r, a, b) return a + (b - a) * unit(r) end,
  log_uniform = function(r, a, b) return math.exp(math.log(a) + (math.log(b) - math.log(a)) * unit(r)) end,
  int = function(r, a, b) return a + r:below(b - a + 1) end,
}

local function random(spec, fail)
  if type(spec) ~= "table" or type(spec.space) ~= "table" then
    fail("random must be {n =, seed =, space = {name = {uniform = {a, b}} | {log_uniform =} | {int =} | {choice =}}}")
  end
  local n, seed = spec.n, spec.seed
  if math.type(n) ~= "integer" or n < 1 then fail("random.n must be an integer >= 1, got " .. tostring(n)) end
  if math.type(seed) ~= "integer" then fail("random.seed must be an integer (the search is reproducible), got " .. tostring(seed)) end
  local keys, out = sorted_keys(spec.space), {}
  for i = 1, n do
    local r, s = rng.new(seed, i), {}
    for _, k in ipairs(keys) do
      local d = spec.space[k]
      local kind = type(d) == "table" and sorted_keys(d)[1] or nil
      local args = kind and d[kind]
      if kind == "choice" and type(args) == "table" and #args > 0 then
        s[k] = args[r:below(#args) + 1]
      elseif DRAWS[kind] and type(args) == "table" and type(args[1]) == "number" and type(args[2]) == "number"
             and args[1] <= args[2] and (kind ~= "log_uniform" or args[1] > 0)
             and (kind ~= "int" or (math.type(args[1]) == "integer" and math.type(args[2]) == "integer")) then
        s[k] = DRAWS[kind](r, args[1], args[2])
      else
        fail(("random.space.%s must be {uniform = {a, b}}, {log_uniform = {a > 0, b}}, {int = {a, b}} or {choice = {...}}")
          :format(tostring(k)))
      end
    end
    out[#out + 1] = s
  end
  return out
end

-- all entries: grid, then list, then random; names must be unique
function M.expand(spec, fail)
  local all = {}
  local function add(list)
    for _, s in ipairs(list) do all[#all + 1] = s end
  end
  if spec.grid ~= nil then add(grid(spec.grid, fail)) end
  if spec.list ~= nil then
    if type(spec.list) ~= "table" then fail("list must be a list of settings tables, got " .. type(spec.list)) end
    for i, s in ipairs(spec.list) do
      if type(s) ~= "table" then fail(("list[%d] must be a table of settings, got %s"):format(i, type(s))) end
      for k, v in pairs(s) do
        if type(k) ~= "string" or not plain_value(v) then
          fail(("list[%d]: settings map names to numbers, strings or booleans"):format(i))
        end
      end
    end
    add(spec.list)
  end
  if spec.random ~= nil then add(random(spec.random, fail)) end
  if #all == 0 then all[1] = {} end
  local seen, entries = {}, {}
  for i, s in ipairs(all) do
    local name = M.name(s)
    if seen[name] then fail(("entries %d and %d have the same settings (%s)"):format(seen[name], i, name)) end
    seen[name] = i
    entries[i] = { name = name, settings = s }
  end
  return entries
end

return M
