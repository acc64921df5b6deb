-- `clara battery b.lua [--jobs N] [--only PATTERN] [--list] [--entry I] [--threads T] [--quiet]`
--
-- b.lua returns a battery (clara.battery{...} or the table it takes).
-- Without --entry every entry that is not finished runs (N processes at a
-- time with --jobs N); --only limits them to the names matching PATTERN (a
-- glob with * and ?, or a plain part of the name); --list prints the entry
-- names, one per line; --entry I runs entry I alone in this process (what a
-- SLURM array task or the bash runner does); --summary only rewrites
-- summary.csv/.json/.md from what is on disk (after parallel tasks, each of
-- which rewrote it when it ended).  Exit codes: 0 all done, 1 an
-- entry failed, 2 a bad command line, 75 interrupted by a signal (a
-- checkpoint was written: run the same command again to resume).
local USAGE = "usage: clara battery b.lua [--jobs N] [--only PATTERN] [--list] [--entry I] [--threads T] [--summary] [--quiet]"

local function die(msg)
  io.stderr:write("clara battery: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

local function integer(flag, s)
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then die(flag .. " expects a positive integer, got '" .. tostring(s) .. "'") end
  return n
end

-- 1. the command line
local function parse(args)
  local o, i = {}, 1
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    flag = flag or a
    local function value()
      if inline then return inline end
      i = i + 1
      if args[i] == nil then die(flag .. " needs a value") end
      return args[i]
    end
    if flag == "--jobs" or flag == "-j" then o.jobs = integer(flag, value())
    elseif flag == "--only" then o.only = value()
    elseif flag == "--entry" then o.entry = integer(flag, value())
    elseif flag == "--threads" then o.threads = integer(flag, value())
    elseif flag == "--list" then o.list = true
    elseif flag == "--summary" then o.summary = true
    elseif flag == "--quiet" or flag == "-q" then o.quiet = true
    elseif flag == "--help" or flag == "-h" then print(USAGE); os.exit(0)
    elseif a:sub(1, 1) == "-" then die("unknown option '" .. a .. "'")
    elseif o.file then die("one battery file expected, got '" .. o.file .. "' and '" .. a .. "'")
    else o.file = a end
    i = i + 1
  end
  if not o.file then die("no battery file given") end
  if o.entry and (o.jobs or o.only) then die("--entry runs one entry: it does not combine with --jobs or --only") end
  return o
end

local function main(...)
  local o = parse({ ... })
  local f = io.open(o.file, "r")
  if not f then die("cannot open " .. o.file) end
  f:close()
  if o.threads then require("torch").set_num_threads(o.threads) end
  local battery = require("clara.battery").load(o.file)
  -- 2. --list: the names, for scripts
  if o.list then
    for _, e in ipairs(battery:entries()) do print(e.name) end
    return 0
  end
  if o.summary then
    local rows = battery:write_summary()
    if not o.quiet then print(("%d entries summarized in %s"):format(#rows, battery:dir())) end
    return 0
  end
  -- 3. one entry (a SLURM task), or all of them
  local REQUEUE = require("clara.signal").REQUEUE
  if o.entry then
    if o.entry > #battery:entries() then
      die(("--entry %d: the battery has %d entries"):format(o.entry, #battery:entries()))
    end
    local status, msg = battery:run_entry(o.entry, { handle_signals = true, verbose = not o.quiet })
    battery:write_summary()
    if status == "failed" then io.stderr:write("clara battery: entry ", o.entry, " failed: ", msg, "\n"); return 1 end
    if status == "interrupted" then return REQUEUE end
    if not o.quiet and msg then print(battery:entry(o.entry).name .. ": " .. msg) end
    return 0
  end
  local counts = battery:run { jobs = o.jobs, only = o.only, handle_signals = true, verbose = not o.quiet,
                               log = o.quiet and function() end or print }
  if counts.interrupted > 0 or counts.stopped then return REQUEUE end
  return counts.failed > 0 and 1 or 0
end

-- errors (an unknown setting in the grid, ...) as one line, no traceback
local ok, code = pcall(main, ...)
if not ok then
  io.stderr:write("clara battery: ", (tostring(code):gsub("^[^:]*:%d+: ", "")), "\n")
  os.exit(1)
end
os.exit(code or 0)
