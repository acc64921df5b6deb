-- clara.battery.serial: a battery's entries one after the other, in this
-- process.  A signal (with handle_signals) interrupts the running entry at
-- its next step (it checkpoints) and ends the battery there.
local M = {}

function M.run(battery, todo, counts, opts, log)
  local clock = require("clara.train.progress").clock
  for n, i in ipairs(todo) do
    local e, t0 = battery:entry(i), clock()
    log(("[%d/%d] %s"):format(n, #todo, e.name))
    local status, msg = battery:run_entry(i, { handle_signals = opts.handle_signals, verbose = opts.verbose })
    counts[status] = counts[status] + 1
    log(("[%d/%d] %s: %s (%.1f s)%s"):format(n, #todo, e.name, status, clock() - t0,
      status == "failed" and ": " .. msg or ""))
    if status == "interrupted" then break end
  end
end

return M
