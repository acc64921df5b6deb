-- `clara battery b.lua [--jobs N] [--only PATTERN] [--list] [--entry I] [--threads T] [--quiet]`
--
-- b.lua returns a battery (clara.battery{...} or the table it takes).
-- Without --entry every entry that is not finished runs (N processes at a
-- time with --jobs N); --only limits them to the names matching PATTERN (a
-- glob with * and ?, a plain part of the name, or key=value settings in
-- any order); --list prints the entry names (those --only selects), one
-- per line; --entry I runs entry I alone in this process (what a
-- SLURM array task or the bash runner does); --summary only rewrites
-- summary.csv/.json/.md from what is on disk (after parallel tasks, each of
-- which rewrote it when it ended).  Exit codes: 0 all done, 1 an
-- entry failed (or was busy), 2 a bad command line, 73 (--entry) the entry
-- is held by another process, 75 interrupted by a signal (a checkpoint was
-- written, if there was one to write: run the same command again to resume).
-- --worker (a search battery) does the search's next jobs in this process
-- until it is over: what each --jobs child and each SLURM array task runs.
-- Signals are answered from the start: SIGTERM/USR1/INT during start-up
-- or between entries end the battery with 75 too.
local cmd = require("clara.cli.args").command("battery")

-- 1. the command line
local function parse(args)
  local o, rest = cmd:parse(args)
  o.file = cmd:single(rest, "battery file")
  if o.worker and (o.entry or o.jobs or o.only) then cmd:die("--worker does not combine with --entry, --jobs or --only") end
  if o.entry and (o.jobs or o.only) then cmd:die("--entry runs one entry: it does not combine with --jobs or --only") end
  return o
end

local function main(...)
  local signal = require "clara.signal"
  signal.install()
  local o = parse({ ... })
  local f = io.open(o.file, "r")
  if not f then cmd:die("cannot open " .. o.file) end
  f:close()
  if o.threads then require("torch").set_num_threads(o.threads) end
  local battery = require("clara.battery").load(o.file)
  -- 2. --list: the names (those --only selects), for scripts
  --    (a search's: the trials it has made so far)
  if o.list then
    if battery.search then
      if o.only then cmd:die("--only: a search chooses its own trials (--list shows those made so far)") end
      for _, e in ipairs(require("clara.battery.search").entries(battery)) do print(e.name) end
      return 0
    end
    for _, e in ipairs(battery:selected(o.only)) do print(e.name) end
    return 0
  end
  if o.summary then
    local rows = battery:write_summary()
    if not o.quiet then print(("%d entries summarized in %s"):format(#rows, battery:dir())) end
    return 0
  end
  -- 3. one entry (a SLURM task), or all of them
  local REQUEUE, BUSY = signal.REQUEUE, require("clara.battery").BUSY
  if signal.pending() then return REQUEUE end   -- during start-up: nothing begun
  if o.worker then
    if not battery.search then cmd:die("--worker runs a search's jobs: " .. o.file .. " has no search = {...}") end
    local counts = require("clara.battery.search.run").worker(battery, { handle_signals = true, verbose = not o.quiet,
      log = o.quiet and function() end or print })
    if counts.stopped then return REQUEUE end
    return counts.failed > 0 and 1 or 0
  end
  if o.entry then
    if o.entry > #battery:entries() then
      cmd:die(("--entry %d: the battery has %d entries"):format(o.entry, #battery:entries()))
    end
    local status, msg = battery:run_entry(o.entry, { handle_signals = true, verbose = not o.quiet })
    battery:write_summary()
    if status == "failed" then io.stderr:write("clara battery: entry ", o.entry, " failed: ", msg, "\n"); return 1 end
    if status == "interrupted" then return REQUEUE end
    if status == "busy" then io.stderr:write("clara battery: entry ", o.entry, ": ", msg, "\n"); return BUSY end
    if not o.quiet and msg then print(battery:entry(o.entry).name .. ": " .. msg) end
    return 0
  end
  local counts = battery:run { jobs = o.jobs, only = o.only, handle_signals = true, verbose = not o.quiet,
                               log = o.quiet and function() end or print }
  if counts.interrupted > 0 or counts.stopped then return REQUEUE end
  return (counts.failed > 0 or counts.busy > 0) and 1 or 0
end

-- errors (an unknown setting in the grid, ...) as one line, no traceback
cmd:main(main, ...)
