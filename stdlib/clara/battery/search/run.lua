-- clara.battery.search.run: a search battery's run{jobs = N}.  One job
-- at a time in this process (jobs = 1), or N worker processes (`clara
-- battery FILE --worker --threads T`, T = cores / N, output appended to
-- <battery>/search/worker-K.log) that each pull jobs from the shared state
-- until the search is over.  A signal to this process is passed on to the
-- workers as SIGTERM: each checkpoints its trial and exits 75; re-running
-- the battery continues.  The workers die with this process.
local fs = require "clara.fs"
local search = require "clara.battery.search"
local state = require "clara.battery.search.state"

local M = {}

local function workers(battery, jobs, opts, log, counts)
  local proc = require "clara.process.core"
  local signal = opts.handle_signals and require "clara.signal" or nil
  local REQUEUE = require("clara.signal").REQUEUE
  local threads = math.max(1, proc.cpu_count() // jobs)
  local exe, running, n, stopping = proc.executable(), {}, 0, false
  fs.mkdir_p(state.dir(battery))
  for k = 1, jobs do
    local pid = proc.spawn({ exe, "battery", battery.source, "--worker", "--threads", tostring(threads) },
      { log = fs.join(state.dir(battery), ("worker-%d.log"):format(k)),
        env = { OMP_NUM_THREADS = tostring(threads), MKL_NUM_THREADS = tostring(threads) } })
    running[pid], n = k, n + 1
  end
  log(("search %s: %d workers (%d thread%s each)"):format(battery.name, jobs, threads, threads > 1 and "s" or ""))
  require("clara.battery.pool").guard(function() return running end, function()
    while n > 0 do
      if signal and not stopping and signal.pending() then
        stopping = true
        log("search: " .. signal.pending() .. " received, stopping the workers at their next step")
        for pid in pairs(running) do proc.kill(pid, "TERM") end
      end
      local pid, code = proc.wait()
      if pid and running[pid] then
        local k = running[pid]
        running[pid], n = nil, n - 1
        local status = code == 0 and "done" or code == REQUEUE and "interrupted" or "failed"
        if status ~= "done" then counts[status] = counts[status] + 1 end
        log(("search worker %d: exit %d"):format(k, code))
      elseif pid == nil then
        proc.sleep(0.05)
      elseif pid == false then
        running, n = {}, 0
      end
    end
  end)
  counts.stopped = stopping or counts.interrupted > 0 or nil
end

function M.run(battery, jobs, opts, log)
  if opts.only then
    require("clara.error").raise("clara.battery", "only = %q: a search chooses its trials itself (no only)", opts.only)
  end
  log(("search %s: %s, %s sampler (%s)"):format(battery.name, battery.search.scheduler or "no early stopping",
    battery.search.sampler, battery:dir()))
  local counts
  if jobs == 1 then
    counts = search.work(battery, opts, log)
  else
    counts = { done = 0, failed = 0, interrupted = 0, skipped = 0, busy = 0 }
    workers(battery, jobs, opts, log, counts)
  end
  M.write(battery)
  counts.rows = battery:summary()
  log(("search %s: %d trials; summary in %s"):format(battery.name, #counts.rows,
    fs.join(battery:dir(), "search.md")))
  return counts
end

-- the battery's files from the state: battery.json (the trials, for
-- clara report), summary.csv/.json/.md, search.md/.json; under the search
-- lock, so that two workers ending together write them one after the other
function M.write(battery)
  state.with(battery, os.time(), function()
    require("clara.battery").write_index(battery)
    battery:write_summary()
    return false
  end)
end

-- worker(battery, opts): `clara battery FILE --worker`
function M.worker(battery, opts)
  local counts = search.work(battery, opts, opts.log or print)
  M.write(battery)
  return counts
end

return M
