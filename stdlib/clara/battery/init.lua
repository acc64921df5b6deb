-- clara.battery: many runs of one experiment with settings changed.
--
--   local b = clara.battery{
--     name = "mlp_grid",                      -- default: the experiment's name
--     base = exp,                             -- a clara.experiment (or the table it takes,
--                                             -- or a script's path: "examples/fashion_mlp.lua")
--     grid = {lr = {0.1, 0.01}, batch_size = {64, 128}},
--     list = {{lr = 0.5, hidden = 32}},       -- explicit entries, after the grid
--     random = {n = 4, seed = 1, space = {lr = {log_uniform = {1e-4, 1e-1}}}},
--     cv = {folds = 3},                       -- each entry cross-validated (optional)
--     -- or search = {scheduler = "asha", sampler = "random", space = {...},
--     --   budget = {trials = 20}}: entries made as it goes (clara.battery.search)
--     out_dir = "runs",                       -- runs/<name>/<entry>/
--   }
--   b:run{jobs = 2, only = "lr=0.1*"}         -- or `clara battery b.lua --jobs 2`
--
-- Settings go through exp:set: a key of the experiment's hparams or an
-- experiment field; any other name is an error when the battery is made,
-- before anything is written.  Each entry is a run (or a CV) directory
-- named by its settings.  An entry that fails is recorded (error.txt) and
-- the others go on; running the battery again skips finished entries,
-- resumes interrupted ones from their checkpoints and retries failed ones.
-- With jobs > 1 the entries run as separate processes (`clara battery FILE
-- --entry I`), each with cores / jobs threads, so a battery needs to come
-- from a file (clara.battery.load or the CLI) to run in parallel.
-- battery.json lists the entries; summary.csv/.json/.md the results.
-- An entry whose directory another process holds (an orphan of a killed
-- battery, a second battery) is "busy": left untouched, and said so.
local fs = require "clara.fs"
local json = require "clara.run.json"
local entries = require "clara.battery.entries"
local E = require "clara.error"
local S = require "clara.battery.summary"

local M = {}
-- the exit code of `clara battery --entry I` when the entry is busy
-- (EX_CANTCREAT of sysexits.h: the output cannot be written now)
M.BUSY = 73
local Battery = {}
Battery.__index = Battery

local SCHEMA = {
  name = { type = "string", doc = "the battery's name (default: the base experiment's)" },
  base = { type = "table|string", what = "an experiment", required = true,
           doc = "the experiment every entry starts from (or its script's path: clara.experiment.load)" },
  grid = { type = "table", doc = "settings -> lists of values: every combination is an entry" },
  list = { type = "table", doc = "a list of settings tables, one entry each" },
  random = { type = "table", doc = "{n =, seed =, space = {...}}: n sampled entries" },
  cv = { type = "table", doc = "cross_validate options: each entry cross-validated" },
  out_dir = { type = "string", doc = "where the battery's directory goes (default: the base's)" },
  search = { type = "table", doc = "a search instead of fixed entries (clara.battery.search)" },
}

function M.new(spec)
  spec = E.options("clara.battery", spec, SCHEMA)
  -- the CV options are checked now, not when the first entry runs
  if spec.cv ~= nil then require("clara.train.cv").check(spec.cv) end
  local experiment = require "clara.experiment"
  local base = spec.base
  if type(base) == "string" then base = experiment.load(base) end
  if getmetatable(base) ~= experiment.Experiment then base = experiment(base) end
  local name = spec.name or base.name
  if type(name) ~= "string" or name == "" or name:find("/", 1, true) then
    E.raise("clara.battery", "a name (a plain string, no '/') is needed: give name = or an experiment name")
  end
  local self = setmetatable({ name = name, base = base, cv = spec.cv,
    out_dir = spec.out_dir or (type(base.out_dir) == "string" and base.out_dir) or "runs" }, Battery)
  if spec.search ~= nil then
    for _, k in ipairs { "grid", "list", "random", "cv" } do
      if spec[k] ~= nil then E.raise("clara.battery", "search = {...} makes the entries: it does not combine with %s", k) end
    end
    self.search = require("clara.battery.search").check(spec.search, base)
    return self
  end
  -- every entry's settings are checked now: a bad name fails before any run
  local ok, list = pcall(entries.expand, spec, function(msg) error(msg, 0) end)
  if not ok then E.raise("clara.battery", "%s", tostring(list)) end
  self.list = list
  for _, e in ipairs(self.list) do
    local ok, err = pcall(base.set, base, e.settings)
    if not ok then
      E.raise("clara.battery", "entry '%s': %s", e.name, (tostring(err):gsub("^[^:]*:%d+: ", "")))
    end
    e.dir = fs.join(self.out_dir, name, e.name)
  end
  return self
end

function Battery:dir() return fs.join(self.out_dir, self.name) end

function Battery:entries()
  if self.search then return require("clara.battery.search").entries(self) end
  return self.list
end

function Battery:status(i) return S.status(self:entry(i).dir) end

function Battery:entry(i)
  local list = self:entries()
  local e = list[i]
  if not e then E.raise("clara.battery", "no entry %s (the battery has %d)", tostring(i), #list) end
  return e
end

-- the entry's experiment: the base with its settings, writing into its directory
function Battery:experiment(i)
  local e = self:entry(i)
  return self.base:set(e.settings):with { out_dir = self.out_dir }
end

-- one pattern: a glob (* and ?, the whole text) or a plain part of it
local function match_one(pattern, exact)
  if not pattern:find("[*?]") then
    if exact then return function(text) return text == pattern end end
    return function(text) return text:find(pattern, 1, true) ~= nil end
  end
  local lua = "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
  return function(text) return text:find(lua) ~= nil end
end

-- "lr=0.1*" (a glob: * and ?), a plain part of the name, or settings
-- "width=64,lr=0.1" in any order (each part a setting of the entry, or a
-- glob matching one): a name lists its settings sorted, the user need not
local function matcher(pattern)
  if pattern == nil then return function() return true end end
  local whole = match_one(pattern)
  if not pattern:find(",", 1, true) then return whole end
  local parts = {}
  for p in pattern:gmatch("[^,]+") do parts[#parts + 1] = match_one(p, true) end
  return function(name)
    if whole(name) then return true end
    for _, part in ipairs(parts) do
      local found = false
      for setting in name:gmatch("[^,]+") do
        if part(setting) then found = true; break end
      end
      if not found then return false end
    end
    return true
  end
end
M.matcher = matcher

-- selected(only) -> the entries --only (a matcher's pattern) selects; an
-- error when it selects none
function Battery:selected(only)
  local match, out = matcher(only), {}
  for _, e in ipairs(self.list) do if match(e.name) then out[#out + 1] = e end end
  if #out == 0 then E.raise("clara.battery", "no entry matches '%s'", tostring(only)) end
  return out
end

local function write_index(self)
  -- data-parallel: rank 0 alone writes the battery's files
  if require("clara.train.distributed").follower() then return end
  fs.mkdir_p(self:dir())
  local list = {}
  for i, e in ipairs(self:entries()) do list[i] = { name = e.name, settings = e.settings } end
  fs.write_atomic(fs.join(self:dir(), "battery.json"), json.encode({ name = self.name, entries = list,
    cv = self.cv, source = self.source, search = self.search and true or nil }))
end
M.write_index = write_index

-- the entry's directory, held by this process (data-parallel: by rank 0;
-- the other ranks hold nothing: false)
local function claim(dir, lead)
  if not lead then return false end
  fs.mkdir_p(dir)
  return fs.try_lock(dir)
end

-- run_entry(i, {handle_signals =, verbose =}) -> status ("done",
-- "failed", "interrupted", "busy"), message.  In this process.
function Battery:run_entry(i, opts)
  opts = opts or {}
  if self.search then
    E.raise("clara.battery", "a search's trials run as jobs of its workers (run{} or `clara battery FILE --worker`), not as entries")
  end
  local e = self:entry(i)
  -- 1. a finished entry is not run again, one another process holds is not touched
  if S.status(e.dir) == "done" then return "done", "already finished" end
  write_index(self)
  local lead = not require("clara.train.distributed").follower()
  local lock <close>, busy = claim(e.dir, lead)
  if lead and not lock then return "busy", busy end
  if lead then os.remove(fs.join(e.dir, "error.txt")) end
  -- 2. the run, or the CV; each resumes what an earlier attempt left
  local exp = self:experiment(i):with { handle_signals = opts.handle_signals, verbose = opts.verbose }
  local ok, result = pcall(function()
    if self.cv then
      local cv_opts = { dir = e.dir }
      for k, v in pairs(self.cv) do cv_opts[k] = v end
      return exp:cross_validate(cv_opts)
    end
    return exp:run { dir = e.dir, resume = fs.exists(fs.join(e.dir, "checkpoint.pt")) }
  end)
  -- 3. the outcome, on disk for the summary
  if not ok then
    local msg = tostring(result)
    if lead then fs.write_atomic(fs.join(e.dir, "error.txt"), msg .. "\n") end
    return "failed", msg
  end
  if result.interrupted then return "interrupted", result.interrupted end
  return "done"
end

function Battery:summary() return S.rows(self) end
function Battery:write_summary()
  local rows = S.write(self)
  if self.search then require("clara.battery.search.summary").write(self) end
  return rows
end

-- run{jobs = N, only = PATTERN, handle_signals =, verbose =, log = fn}
-- -> {done =, failed =, interrupted =, skipped =, rows = summary rows}
function Battery:run(opts)
  opts = opts or {}
  if type(opts) ~= "table" then E.raise("clara.battery", "run options must be a table, got %s", type(opts)) end
  local jobs = opts.jobs or 1
  if math.type(jobs) ~= "integer" or jobs < 1 then
    E.raise("clara.battery", "jobs must be an integer >= 1, got %s", tostring(jobs))
  end
  if jobs > 1 and not self.source then
    E.raise("clara.battery", "jobs > 1 runs entries as processes, which need the battery's file: "
          .. "use clara.battery.load(path) or `clara battery FILE --jobs N`")
  end
  local log = opts.log or print
  -- signals are answered from here on, between entries too
  local done <close> = setmetatable({ f = opts.handle_signals and require("clara.signal").scope() },
    { __close = function(h) if h.f then h.f() end end })
  if self.search then return require("clara.battery.search.run").run(self, jobs, opts, log) end
  local match, todo, counts = M.matcher(opts.only), {}, { done = 0, failed = 0, interrupted = 0, skipped = 0, busy = 0 }
  for i, e in ipairs(self.list) do
    if match(e.name) then
      if S.status(e.dir) == "done" then counts.skipped = counts.skipped + 1
      else todo[#todo + 1] = i end
    end
  end
  if #todo == 0 and counts.skipped == 0 then
    E.raise("clara.battery", "no entry matches '%s'", tostring(opts.only))
  end
  -- data-parallel entries (every entry's run over the ranks): one at a
  -- time; rank 0 alone writes and logs
  local dp = #todo > 0 and require("clara.train.distributed").active(self:experiment(todo[1]))
  if dp and jobs > 1 then
    E.raise("clara.battery", "data-parallel entries run one at a time (jobs = 1), got jobs = %d", jobs)
  end
  local lead = not (dp and require("clara.train.distributed").follower())
  if not lead then log = function() end end
  write_index(self)
  log(("battery %s: %d %s to run, %d already finished (%s)"):format(self.name, #todo,
    #todo == 1 and "entry" or "entries", counts.skipped, self:dir()))
  if jobs == 1 then
    require("clara.battery.serial").run(self, todo, counts, opts, log, dp)
  else
    require("clara.battery.pool").run(self, todo, counts, jobs, opts, log)
  end
  counts.rows = lead and S.write(self) or nil
  if dp then counts.rows = require("clara.train.distributed").share(counts.rows or false) end
  log(("battery %s: %d done, %d failed, %d interrupted, %d skipped%s; summary in %s")
    :format(self.name, counts.done, counts.failed, counts.interrupted, counts.skipped,
      counts.busy > 0 and (", %d busy (held by another process)"):format(counts.busy) or "",
      fs.join(self:dir(), "summary.md")))
  return counts
end

-- load(path) -> the battery a file returns (a clara.battery or its table)
function M.load(path)
  if type(path) ~= "string" then E.raise("clara.battery.load", "a file name expected, got %s", type(path)) end
  local chunk, err = loadfile(path)
  if not chunk then E.raise("clara.battery.load", "%s", err) end
  local ok, b = pcall(chunk)
  if not ok then E.raise("clara.battery.load", "'%s': %s", path, tostring(b)) end
  if type(b) ~= "table" then E.raise("clara.battery.load", "'%s' must return a battery, got %s", path, type(b)) end
  if getmetatable(b) ~= Battery then
    local made
    ok, made = pcall(M.new, b)
    if not ok then E.raise(nil, "%s", (tostring(made):gsub("^[^:]*:%d+: ", ""))) end
    b = made
  end
  b.source = path
  return b
end

M.Battery = Battery
return setmetatable(M, { __call = function(_, spec) return M.new(spec) end })
