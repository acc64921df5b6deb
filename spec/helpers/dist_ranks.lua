-- Starting the ranks of a process group for spec/distributed_spec.lua (not
-- a spec): each rank is `clara spec/helpers/dist_rank.lua` (or any command)
-- with its own environment, log and results file.  Every process started
-- here is killed by its PID when the spec is done with it (and dies with
-- the spec, by PDEATHSIG, if the spec itself dies).
--
--   local R = require "spec.helpers.dist_ranks"
--   local group = R.start(dir, {{env...}, {env...}})   -- one entry per rank
--   local done = R.wait(group, 30)                     -- {rank -> {code, seconds}}
--   R.stop(group)                                      -- kills what is left
--   local out = R.run_all(dir, ranks, 60)  -- all three; out[rank] = its results,
--                                          -- every rank must end with 0
local proc = require "clara.process.core"
local clock = require("clara.sys.core").clock
local fs = require "clara.fs"

local M = {}

M.CLARA = fs.join(require("lfs").currentdir(), "clara")
M.RANK = "spec/helpers/dist_rank.lua"

-- a port unlikely to be in use by another test running at the same time
function M.port()
  math.randomseed(os.time() + require("clara.sys.core").getpid())
  return math.random(30000, 59999)
end

-- ranks: a list of {env = {...}, argv = {...} (default: clara dist_rank.lua)}
function M.start(dir, ranks)
  local group = { dir = dir, procs = {}, started = clock() }
  for i, r in ipairs(ranks) do
    local p = {
      log = fs.join(dir, "rank" .. i .. ".log"),
      out = fs.join(dir, "rank" .. i .. ".out.lua"),
    }
    local env = { DIST_OUT = p.out }
    for k, v in pairs(r.env or {}) do env[k] = tostring(v) end
    p.pid = proc.spawn(r.argv or { M.CLARA, M.RANK }, { log = p.log, env = env })
    group.procs[i] = p
  end
  return group
end

-- Wait until every rank ends or `limit` seconds pass; returns the list of
-- {code, at} (at: seconds since start; nil for a rank still running)
function M.wait(group, limit, only)
  local deadline = clock() + limit
  local left = 0
  for i, p in ipairs(group.procs) do
    if not (only and not only[i]) and not p.code then left = left + 1 end
  end
  while left > 0 and clock() < deadline do
    for i, p in ipairs(group.procs) do
      if not p.code and not (only and not only[i]) then
        local pid, code = proc.wait(p.pid)
        if pid then
          p.code, p.at, left = code, clock() - group.started, left - 1
        end
      end
    end
    if left > 0 then proc.sleep(0.05) end
  end
  return group.procs
end

function M.kill(group, i)
  local p = group.procs[i]
  proc.kill(p.pid, "KILL")
  local pid, code = nil, nil
  for _ = 1, 200 do
    pid, code = proc.wait(p.pid)
    if pid then break end
    proc.sleep(0.02)
  end
  p.code, p.killed = code, true
end

function M.stop(group)
  for i, p in ipairs(group.procs) do
    if not p.code then M.kill(group, i) end
  end
end

-- the rank's results table (nil if it wrote none)
function M.results(p)
  local f = loadfile(p.out)
  return f and f() or nil
end

-- start the ranks, wait (limit seconds), stop what is left; every rank's
-- results by 0-based rank, or an error showing the log of one that failed
function M.run_all(dir, ranks, limit)
  local group = M.start(dir, ranks)
  local ok, err = pcall(M.wait, group, limit or 60)
  M.stop(group)
  assert(ok, err)
  local out = {}
  for i, p in ipairs(group.procs) do
    local res = M.results(p)
    assert(p.code == 0 and res, ("rank %d ended with %s:\n%s"):format(i - 1, tostring(p.code), M.log(p)))
    out[i - 1] = res
  end
  return out
end

function M.log(p)
  local f = io.open(p.log)
  if not f then return "" end
  local s = f:read("a"); f:close()
  return s
end

return M
