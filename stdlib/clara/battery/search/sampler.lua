-- clara.battery.search.sampler: what proposes the settings of a search's
-- next trial.  THE INTERFACE every sampler follows (random and grid are
-- here; "tpe" is loaded from clara.battery.search.tpe when present):
--
--   local S = require "clara.battery.search.sampler"
--   local space = S.check_space(api, {           -- checked, normalized
--     lr     = {type = "float", low = 1e-4, high = 0.1, log = true},
--     hidden = {type = "int", low = 16, high = 256, log = false},
--     act    = {type = "choice", choices = {"relu", "tanh"}},
--   })
--   local sampler = S.new(kind, space, seed, opts) -- kind: "random" | "grid" | "tpe"
--   local params = sampler:propose(trials)        -- a table name -> value, or nil when
--                                                  -- the sampler has nothing left (grid)
--   local s = sampler:state()                     -- plain JSON-able table
--   sampler:set_state(s)                          -- back to exactly that point
--
-- `space` after check_space: name -> {type =, low =, high =, log =, choices =}
-- plus space.names, the names sorted (the order every draw follows).
-- `trials`: every trial so far, in the order they were created, each
--   {params = {...}, state = "running" | "paused" | "done" | "failed",
--    rung = the highest rung it reported (0-based; nil: none yet),
--    value = the value it reported at that rung (nil: none yet),
--    values = {[rung + 1] = value, ...},
--    epochs = the epochs it has trained (rungs of different brackets differ)}
-- where value is always "smaller is better" (the search negates the
-- monitored value when the experiment's mode is "max"); a failed trial has
-- no value.  Samplers must not keep the trials list.
-- All randomness comes from a seeded generator (S.rng: clara.data.rng with
-- a state that round-trips through JSON), saved by state() after every
-- proposal: a search killed and re-run proposes exactly the same trials.
-- opts: sampler-specific settings (search.sampler_options; nil for random
-- and grid).  clara.battery.search.tpe returns {new = function(space,
-- seed, opts) -> sampler}; S.new("tpe", ...) calls it.
-- S.unit(r), S.draw(r, p) (a draw from p's prior) and S.rng are for
-- samplers built on this one.
local E = require "clara.error"
local rng = require "clara.data.rng"

local S = {}

-- {====================== the space ======================
local PARAM = {
  type = { type = "string", enum = { "float", "int", "choice" }, required = true, doc = "the kind of value" },
  low = { type = "number", doc = "the smallest value (float, int)" },
  high = { type = "number", doc = "the largest value (float, int)" },
  log = { type = "boolean", default = false, doc = "sample the logarithm uniformly (float, int; low > 0)" },
  choices = { type = "table", doc = "the values (choice): numbers, strings or booleans" },
}

local function plain(v)
  local t = type(v)
  return t == "number" or t == "string" or t == "boolean"
end

function S.check_space(api, space)
  if type(space) ~= "table" or next(space) == nil then
    E.raise(api, "search.space must be a non-empty table name = {type = \"float\"|\"int\"|\"choice\", ...}, got %s",
      E.show(space))
  end
  local out, names = {}, {}
  for name, p in pairs(space) do
    if type(name) ~= "string" then E.raise(api, "search.space keys must be setting names, got %s", E.show(name)) end
    local where = "search.space." .. name
    p = E.options(api, p, PARAM, where)
    if p.type == "choice" then
      if type(p.choices) ~= "table" or #p.choices == 0 then
        E.raise(api, "%s: a choice needs choices = {v1, v2, ...}", where)
      end
      for _, v in ipairs(p.choices) do
        if not plain(v) then E.raise(api, "%s: choices must be numbers, strings or booleans, got %s", where, E.show(v)) end
      end
      if p.low or p.high or p.log then E.raise(api, "%s: a choice takes choices, not low/high/log", where) end
    else
      if type(p.low) ~= "number" or type(p.high) ~= "number" or not (p.low <= p.high) then
        E.raise(api, "%s: a %s needs low <= high, got low = %s, high = %s", where, p.type, E.show(p.low), E.show(p.high))
      end
      if p.type == "int" and not (math.type(p.low) == "integer" and math.type(p.high) == "integer") then
        E.raise(api, "%s: an int's low and high must be integers, got %s and %s", where, E.show(p.low), E.show(p.high))
      end
      if p.log and not (p.low > 0) then E.raise(api, "%s: log = true needs low > 0, got %s", where, E.show(p.low)) end
      if p.choices then E.raise(api, "%s: a %s takes low/high, not choices", where, p.type) end
    end
    out[name] = p
    names[#names + 1] = name
  end
  table.sort(names)
  out.names = names
  return out
end
-- }================================================================

-- {====================== randomness ======================
-- A clara.data.rng whose state survives JSON: the 64-bit state as 16 hex
-- digits (a JSON number would lose its low bits).
local Gen = {}
Gen.__index = Gen

function S.rng(seed, ...)
  return setmetatable({ r = rng.new(seed, ...) }, Gen)
end

function Gen:next() return self.r:next() end
function Gen:below(m) return self.r:below(m) end
function Gen:state() return ("%016x"):format(self.r.state) end
function Gen:set_state(s)
  local v = type(s) == "string" and #s == 16 and tonumber(s, 16)
  if math.type(v) ~= "integer" then E.raise("clara.battery", "search state: a bad generator state %s", E.show(s)) end
  self.r.state = v
end

-- a float in [0, 1)
function S.unit(g) return (g:next() >> 11) * 2.0 ^ -53 end

-- one draw from p's prior (uniform, or uniform in log for log = true)
function S.draw(g, p)
  if p.type == "choice" then return p.choices[g:below(#p.choices) + 1] end
  local u = S.unit(g)
  if p.type == "float" then
    if p.log then return math.exp(math.log(p.low) + (math.log(p.high) - math.log(p.low)) * u) end
    return p.low + (p.high - p.low) * u
  end
  if p.log then   -- an int in log: uniform over log [low, high + 1)
    local v = math.floor(math.exp(math.log(p.low) + (math.log(p.high + 1) - math.log(p.low)) * u))
    return math.max(p.low, math.min(p.high, v))
  end
  return p.low + g:below(p.high - p.low + 1)
end
-- }================================================================

-- {====================== random ======================
local Random = {}
Random.__index = Random

function Random:propose()
  local params = {}
  for _, name in ipairs(self.space.names) do params[name] = S.draw(self.g, self.space[name]) end
  return params
end
function Random:state() return { rng = self.g:state() } end
function Random:set_state(s) self.g:set_state(type(s) == "table" and s.rng or nil) end
-- }================================================================

-- {====================== grid ======================
-- every combination, the last name (sorted) varying fastest; an int range
-- is all its integers; a float has no grid (give it as a choice)
local Grid = {}
Grid.__index = Grid

local function values_of(api, name, p)
  if p.type == "choice" then return p.choices end
  if p.type == "int" then
    if p.high - p.low >= 10000 then E.raise(api, "search.space.%s: a grid over %d ints is too many", name, p.high - p.low + 1) end
    local vs = {}
    for v = p.low, p.high do vs[#vs + 1] = v end
    return vs
  end
  E.raise(api, "search.space.%s: the grid sampler needs choices or ints; give a float as {type = \"choice\", "
    .. "choices = {...}}", name)
end

function Grid:propose()
  local i = self.next_i
  if i > self.size then return nil end
  self.next_i = i + 1
  local params, rest = {}, i - 1
  for k = #self.space.names, 1, -1 do
    local name = self.space.names[k]
    local vs = self.values[name]
    params[name] = vs[rest % #vs + 1]
    rest = rest // #vs
  end
  return params
end
function Grid:state() return { next = self.next_i } end
function Grid:set_state(s)
  local n = type(s) == "table" and s.next
  if math.type(n) ~= "integer" and not (type(n) == "number" and n == math.floor(n)) then
    E.raise("clara.battery", "search state: a bad grid position %s", E.show(n))
  end
  self.next_i = math.tointeger(n)
end
-- }================================================================

S.KINDS = { "random", "grid", "tpe" }

-- new(kind, space, seed, opts): space from check_space, seed an integer
function S.new(kind, space, seed, opts)
  local api = "clara.battery"
  if math.type(seed) ~= "integer" then E.raise(api, "search.seed must be an integer, got %s", E.show(seed)) end
  if kind == "random" then
    return setmetatable({ space = space, g = S.rng(seed, 1) }, Random)
  elseif kind == "grid" then
    local values, size = {}, 1
    for _, name in ipairs(space.names) do
      values[name] = values_of(api, name, space[name])
      size = size * #values[name]
    end
    return setmetatable({ space = space, values = values, size = size, next_i = 1 }, Grid)
  elseif kind == "tpe" then
    local ok, tpe = pcall(require, "clara.battery.search.tpe")
    if not ok then E.raise(api, "search.sampler = \"tpe\" is not available: %s", tostring(tpe)) end
    return tpe.new(space, seed, opts)
  end
  E.raise(api, "search.sampler must be one of \"random\", \"grid\", \"tpe\", got %s", E.show(kind))
end

return S
