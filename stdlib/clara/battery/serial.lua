-- clara.battery.serial: a battery's entries one after the other, in this
-- process.  A signal (with handle_signals) interrupts the running entry at
-- its next step (it checkpoints) and ends the battery there; one that comes
-- between two entries ends it before the next starts.
local M = {}

-- dp: data-parallel entries, whose ranks agree on a signal between two
function M.run(battery, todo, counts, opts, log, dp)
  local clock = require("clara.train.progress").clock
  local signal = opts.handle_signals and require "clara.signal" or nil
  for n, i in ipairs(todo) do
    local e, t0 = battery:entry(i), clock()
    local sig = signal and signal.pending() or nil
    if dp then sig = require("clara.train.distributed").agree_signal(sig) end
    if sig then
      log(("battery: %s received, stopping before %s"):format(sig, e.name))
      signal.clear()
      counts.stopped = true
      break
    end
    log(("[%d/%d] %s"):format(n, #todo, e.name))
    local status, msg = battery:run_entry(i, { handle_signals = opts.handle_signals, verbose = opts.verbose })
    counts[status] = counts[status] + 1
    log(("[%d/%d] %s: %s (%.1f s)%s"):format(n, #todo, e.name, status, clock() - t0,
      (status == "failed" or status == "busy") and ": " .. msg or ""))
    if status == "interrupted" then break end
  end
end

return M
