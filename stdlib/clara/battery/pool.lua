-- clara.battery.pool: a battery's entries as separate processes, `jobs` at
-- a time: each child is `clara battery FILE --entry I --threads T` with
-- T = cores / jobs (at least 1) so the children do not oversubscribe the
-- cores, its output appended to <entry>/log.txt.  The child's exit code is
-- its status: 0 done, 75 interrupted (it checkpointed), 73 busy (another
-- process holds the entry), anything else failed.
-- A signal to this process (with handle_signals) is passed on to the
-- children as SIGTERM; each checkpoints and exits 75, no new entry starts.
-- The children die with this process (clara.process.core.spawn): killed
-- with -9, it leaves none running.
local fs = require "clara.fs"
local proc = require "clara.process.core"
local REQUEUE = require("clara.signal").REQUEUE

local M = {}

local function status_of(code)
  if code == 0 then return "done" end
  if code == REQUEUE then return "interrupted" end
  if code == require("clara.battery").BUSY then return "busy" end
  return "failed"
end

-- guard(running, fn): fn(); after an error in it, every child still
-- running (running: pid -> anything) gets SIGTERM and the error goes on
function M.guard(running, fn)
  local ok, err = pcall(fn)
  if not ok then
    for pid in pairs(running()) do proc.kill(pid, "TERM") end
    error(err, 0)
  end
end

function M.run(battery, todo, counts, jobs, opts, log)
  local clock = require("clara.train.progress").clock
  local signal = opts.handle_signals and require "clara.signal" or nil
  local threads = math.max(1, proc.cpu_count() // jobs)
  local exe, running, next_i, stopping = proc.executable(), {}, 1, false
  local n_running = 0
  M.guard(function() return running end, function()
    while next_i <= #todo or n_running > 0 do
      -- 1. a signal (from the start on): every child checkpoints and stops
      if signal and not stopping and signal.pending() then
        stopping = true
        log("battery: " .. signal.pending() .. " received, stopping the running entries at their next step")
        for pid in pairs(running) do proc.kill(pid, "TERM") end
      end
      -- 2. start entries while there is room (none after a signal)
      while not stopping and n_running < jobs and next_i <= #todo do
        local i = todo[next_i]
        local e = battery:entry(i)
        fs.mkdir_p(e.dir)
        local pid = proc.spawn({ exe, "battery", battery.source, "--entry", tostring(i), "--threads", tostring(threads) },
          { log = fs.join(e.dir, "log.txt"),
            env = { OMP_NUM_THREADS = tostring(threads), MKL_NUM_THREADS = tostring(threads) } })
        running[pid] = { i = i, t0 = clock(), n = next_i }
        n_running, next_i = n_running + 1, next_i + 1
        log(("[%d/%d] %s: started (pid %d, %d thread%s)"):format(running[pid].n, #todo, e.name, pid, threads,
          threads > 1 and "s" or ""))
      end
      -- 3. reap the children that ended
      local pid, code = proc.wait()
      if pid then
        local r = running[pid]
        if r then
          running[pid], n_running = nil, n_running - 1
          local e, status = battery:entry(r.i), status_of(code)
          counts[status] = counts[status] + 1
          local why = ""
          if status == "busy" then
            why = ": another process holds " .. e.dir .. " (see " .. fs.join(e.dir, "log.txt") .. ")"
          elseif status == "failed" then
            local msg = fs.read(fs.join(e.dir, "error.txt"))
            if not msg then
              -- killed before it could say why: the log has the rest
              msg = ("the process exited with code %d (see %s)"):format(code, fs.join(e.dir, "log.txt"))
              fs.write_atomic(fs.join(e.dir, "error.txt"), msg .. "\n")
            end
            why = ": " .. msg:match("[^\n]*")
          end
          log(("[%d/%d] %s: %s (%.1f s)%s"):format(r.n, #todo, e.name, status, clock() - r.t0, why))
        end
      elseif pid == nil then
        proc.sleep(0.05)
      else
        -- no child left (reaped elsewhere): nothing more to wait for
        running, n_running = {}, 0
      end
      if stopping and n_running == 0 then break end
    end
  end)
  counts.stopped = stopping or nil
end

return M
