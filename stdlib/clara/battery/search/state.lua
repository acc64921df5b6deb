-- clara.battery.search.state: a search's state on disk,
-- <battery>/search/state.json, and the lock every worker takes to read
-- and change it (a flock on <battery>/search/.lock, clara.fs): the
-- settings, the sampler's state, every trial (its parameters, bracket,
-- state, the values it reported per rung, the job it runs), the epochs the
-- jobs claimed, the jobs in the order they were given.  Each change is
-- written whole and atomically (fs.write_atomic) before the lock is let
-- go, so a worker killed at any moment leaves the state before or after
-- its change, never half of it.
local fs = require "clara.fs"
local json = require "clara.run.json"
local E = require "clara.error"

local M = {}

M.VERSION = 1

function M.dir(battery) return fs.join(battery:dir(), "search") end
function M.path(battery) return fs.join(M.dir(battery), "state.json") end

-- JSON gives every number back as a float: the integers the state and the
-- experiment need (ids, rungs, epochs, int parameters) are made integers
-- again, a choice is the space's own value
local function int(v) return type(v) == "number" and math.tointeger(v) or v end

local function params_back(space, params)
  for _, name in ipairs(space.names) do
    local p, v = space[name], params[name]
    if p.type == "int" then params[name] = int(v)
    elseif p.type == "choice" then
      for _, c in ipairs(p.choices) do if c == v then params[name] = c end end
    end
  end
  return params
end

local function decode(path, text, space)
  local ok, st = pcall(json.decode, text)
  if not ok or type(st) ~= "table" or st.version ~= M.VERSION or type(st.trials) ~= "table" then
    E.raise("clara.battery", "'%s' is not a search state this clara wrote: move it away to start the search over", path)
  end
  st.epochs, st.started = int(st.epochs) or 0, st.started or 0
  st.jobs = st.jobs or {}
  for _, t in ipairs(st.trials) do
    t.id, t.bracket, t.rung, t.epochs = int(t.id), int(t.bracket), int(t.rung), int(t.epochs)
    t.values = t.values or {}
    t.params = params_back(space, t.params or {})
    if t.job then t.job.rung, t.job.epochs = int(t.job.rung), int(t.job.epochs) end
  end
  for _, j in ipairs(st.jobs) do j.trial, j.rung = int(j.trial), int(j.rung) end
  return st
end

-- read(battery) -> the state, or nil before the search began
function M.read(battery)
  local path = M.path(battery)
  local text = fs.read(path)
  if not text then return nil end
  return decode(path, text, battery.search.space)
end

-- the settings that make a search what it is (not its budget, which a
-- re-run may raise to search further)
function M.fingerprint(cfg)
  local copy = {}
  for k, v in pairs(cfg) do if k ~= "budget" and k ~= "sign" then copy[k] = v end end
  return json.encode(copy)
end

function M.new(cfg, now)
  return { version = M.VERSION, settings = M.fingerprint(cfg), started = now, epochs = 0, trials = {}, jobs = {} }
end

function M.write(battery, st)
  fs.write_atomic(M.path(battery), json.encode(st))
end

-- with(battery, fn) -> fn(state)'s results: fn runs holding the lock (it
-- waits for another worker's turn), on the state on disk (a new one
-- before the search began); the state is written back after fn when it
-- returns true first
function M.with(battery, now, fn)
  local dir = M.dir(battery)
  fs.mkdir_p(dir)
  local lock
  while true do
    local why
    lock, why = fs.try_lock(dir)
    if lock then break end
    if not why:find("in use by", 1, true) then E.raise("clara.battery", "%s", why) end
    require("clara.process.core").sleep(0.02)
  end
  local ok, res = pcall(function()
    fs.remove_stale_temps(dir)   -- a killed worker's half-written state
    local st = M.read(battery)
    if not st then st = M.new(battery.search, now)
    elseif st.settings ~= M.fingerprint(battery.search) then
      E.raise("clara.battery", "the search settings changed since the search in '%s' began: "
        .. "keep them, or move that directory away to start over", dir)
    end
    local out = table.pack(fn(st))
    if out[1] then M.write(battery, st) end
    return out
  end)
  lock:release()
  if not ok then error(res, 0) end
  return table.unpack(res, 2, res.n)
end

return M
