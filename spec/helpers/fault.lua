-- Fault specs' helpers (not a spec): a tiny experiment script whose faults
-- are chosen by environment variables, so one file serves every scenario
-- of spec/fault_*_spec.lua, run as `clara run`, as a battery, or as a CV.
--
--   local F = require "spec.helpers.fault"
--   local path = F.experiment(dir, {epochs = 2})   -- or F.battery(dir, {cv = 2})
--   local out, rc = F.clara("run " .. path, {FAULT_SIGNAL = "factory"})
--
-- FAULT_SIGNAL   startup | factory | load | epoch_end:K (the K-th epoch end
--                of this process): the process sends itself SIGTERM there
--                (FAULT_SIGNAL_NAME=USR1|INT: that one), from a shell, as a
--                scheduler would
-- FAULT_KILL_AFTER=N   SIGKILL after the N-th file written (clara.fs.on_write)
-- FAULT_SLOW=s   seconds to sleep at each step (so two processes overlap)
-- FAULT_HOLD=FILE  each step waits (up to 60 s) until FILE exists: the
--                process holds its run until the spec lets it go
local fs = require "clara.fs"
local sh = require("spec.helpers.shell").sh

local M = {}

M.CLARA = fs.join(require("lfs").currentdir(), "clara")

local PRELUDE = [[
local fs = require "clara.fs"
local proc = require "clara.process.core"
local pid = require("clara.signal").getpid()
local FAULT = os.getenv("FAULT_SIGNAL") or ""
local function term()
  -- kill(2), as a scheduler sends it (not os.execute: system() ignores
  -- SIGINT while it waits, and a signal then is lost), then wait for it
  proc.kill(pid, os.getenv("FAULT_SIGNAL_NAME") or "TERM")
  for _ = 1, 3000 do -- up to 30 s on a loaded machine
    if require("clara.signal").pending() then break end
    proc.sleep(0.01)
  end
end
if FAULT == "startup" then term() end
local limit, writes = tonumber(os.getenv("FAULT_KILL_AFTER") or ""), 0
if limit then
  fs.on_write = function()
    writes = writes + 1
    if writes >= limit then proc.kill(pid, "KILL"); proc.sleep(10) end
  end
end
if FAULT == "load" then
  local load = torch.load
  torch.load = function(...) local v = load(...); term(); return v end
end
local slow = tonumber(os.getenv("FAULT_SLOW") or "0")
local hold = os.getenv("FAULT_HOLD")
local function held()
  if slow > 0 then proc.sleep(slow) end
  for _ = 1, hold and 6000 or 0 do
    if fs.exists(hold) then break end
    proc.sleep(0.01)
  end
end
local epoch_ends = 0
torch.manual_seed(3)
local x = torch.randn(64, 4)
local y = x[{ {}, 1 }]:add(x[{ {}, 2 }]):gt(0):long()
local function experiment(out_dir, epochs, data)
  return {
    name = "fault", out_dir = out_dir, seed = 1, epochs = epochs, batch_size = 16, verbose = false,
    data = data or { train = { x[{ { 1, 48 } }], y[{ { 1, 48 } }] }, val = { x[{ { 49, 64 } }], y[{ { 49, 64 } }] } },
    hparams = { lr = 0.1, hidden = 6 },
    model = function(hp)
      if FAULT == "factory" then term() end
      return nn.Sequential(nn.Linear(4, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, 2))
    end,
    objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
    optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
    hooks = {
      on_step_end = held,
      on_epoch_end = function()
        epoch_ends = epoch_ends + 1
        if FAULT == "epoch_end:" .. epoch_ends then term() end
      end,
    },
  }
end
]]

local function write(dir, name, body)
  local path = fs.join(dir, name)
  fs.write_atomic(path, PRELUDE .. body)
  return path
end

-- experiment(dir, {epochs =, handle_signals =}) -> the path of a script `clara run` takes
-- (runs under dir/runs/fault/)
function M.experiment(dir, opts)
  opts = opts or {}
  return write(dir, "exp.lua", ("local e = experiment(%q, %d)\ne.handle_signals = %s\nreturn e\n")
    :format(fs.join(dir, "runs"), opts.epochs or 3, tostring(opts.handle_signals)))
end

-- battery(dir, {entries = n, epochs =, cv = k}) -> the path of a battery
-- file: n entries (lr = 0.1, 0.05, ...) under dir/runs/grid/
function M.battery(dir, opts)
  opts = opts or {}
  local lrs = {}
  for i = 1, opts.entries or 2 do lrs[i] = ("%g"):format(0.1 / i) end
  return write(dir, "battery.lua", ([[
return clara.battery{ name = "grid", out_dir = %q, base = experiment(nil, %d, %s),
  grid = { lr = { %s } }, cv = %s }
]]):format(fs.join(dir, "runs"), opts.epochs or 2, opts.cv and "{ train = { x, y } }" or "nil",
    table.concat(lrs, ", "), opts.cv and ("{ folds = %d }"):format(opts.cv) or "nil"))
end

-- clara(args, env) -> output, exit code of `clara ARGS` with env set
function M.clara(args, env)
  local prefix = {}
  for k, v in pairs(env or {}) do prefix[#prefix + 1] = ("%s=%q"):format(k, tostring(v)) end
  table.sort(prefix)
  return sh(table.concat(prefix, " ") .. " " .. M.CLARA .. " " .. args)
end

-- the run directories under dir/runs/fault (a script of M.experiment), sorted
function M.runs(dir)
  return require("spec.helpers.runs")(fs.join(dir, "runs", "fault"))
end

-- the epochs of a run's history.csv, in order
function M.epochs(dir)
  local info = require("clara.run").read(dir, { model = "none" })
  local out = {}
  for i, row in ipairs(info.history or {}) do out[i] = row.epoch end
  return out
end

-- every file under dir (relative names, sorted) with its size and bytes
function M.snapshot(dir)
  local out = {}
  local function walk(d, rel)
    for name in require("lfs").dir(d) do
      if name ~= "." and name ~= ".." then
        local p, r = fs.join(d, name), rel and (rel .. "/" .. name) or name
        if fs.isdir(p) then walk(p, r) else out[r] = fs.read(p) end
      end
    end
  end
  if fs.isdir(dir) then walk(dir, nil) end
  return out
end

-- tmpdir(), cleanup(): fresh directories, in memory (/dev/shm) when it is
-- there: the fault specs run hundreds of runs, whose fsyncs cost nothing there
local SHM = fs.isdir("/dev/shm") and os.tmpname():gsub("^/tmp/", "/dev/shm/clara-") or nil
local made = {}
function M.tmpdir()
  local d
  if SHM then d = SHM .. "-" .. (#made + 1) else d = os.tmpname(); os.remove(d) end
  fs.mkdir_p(d)
  made[#made + 1] = d
  return d
end
function M.cleanup()
  for _, d in ipairs(made) do os.execute("rm -rf '" .. d .. "'") end
  made = {}
end

-- whether pid runs (a zombie has ended)
M.alive = require("clara.sys.core").alive

-- wait_until(fn, seconds) -> fn's value once truthy, or nil at the deadline
function M.wait_until(fn, seconds)
  local clock = require("clara.sys.core").clock
  local deadline = clock() + (seconds or 10)
  repeat
    local v = fn()
    if v then return v end
    require("clara.process.core").sleep(0.05)
  until clock() > deadline
  return nil
end

return M
