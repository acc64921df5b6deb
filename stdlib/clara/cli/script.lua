-- `clara script slurm|bash battery.lua [options] [--out FILE]`
--
-- Writes a job script that runs every entry of the battery: a SLURM job
-- array (one task per entry, requeued when the time limit interrupts it)
-- or a bash runner for a server without a scheduler.  The script goes to
-- stdout, or to FILE (atomically, made executable).  See clara.scripts.
local USAGE = [=[
usage: clara script slurm battery.lua [--time HH:MM:SS] [--signal-lead SECONDS] [--cpus N]
                                      [--mem 8G] [--max-parallel M] [--partition P] [--account A]
                                      [--gpus N] [--max-requeues N] [--log-dir DIR] [--out FILE]
       clara script bash battery.lua [--jobs N] [--nohup] [--log-dir DIR] [--out FILE]]=]

local function die(msg)
  io.stderr:write("clara script: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

-- option -> {key in the generator's options, takes a value?}, per kind
local COMMON = { ["--out"] = { "out", true }, ["--log-dir"] = { "log_dir", true } }
local OPTIONS = {
  slurm = {
    ["--time"] = { "time", true }, ["--signal-lead"] = { "signal_lead", true },
    ["--cpus"] = { "cpus", true }, ["--mem"] = { "mem", true },
    ["--max-parallel"] = { "max_parallel", true }, ["--partition"] = { "partition", true },
    ["--account"] = { "account", true }, ["--gpus"] = { "gpus", true },
    ["--max-requeues"] = { "max_requeues", true },
  },
  bash = { ["--jobs"] = { "jobs", true }, ["-j"] = { "jobs", true }, ["--nohup"] = { "nohup", false } },
}

-- 1. the command line
local function parse(args)
  local kind = args[1]
  if kind == "--help" or kind == "-h" then print(USAGE); os.exit(0) end
  if kind == nil then die("which script? 'slurm' or 'bash'") end
  if not OPTIONS[kind] then die("unknown script kind '" .. kind .. "' (slurm or bash)") end
  local o = { kind = kind, opts = {} }
  local i = 2
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    flag = flag or a
    local spec = OPTIONS[kind][flag] or COMMON[flag]
    if a == "--help" or a == "-h" then print(USAGE); os.exit(0)
    elseif spec then
      local v = true
      if spec[2] then
        v = inline
        if v == nil then
          i = i + 1
          v = args[i]
          if v == nil then die(flag .. " needs a value") end
        end
      elseif inline then die(flag .. " takes no value") end
      o.opts[spec[1]] = v
    elseif a:sub(1, 1) == "-" then die("unknown option '" .. a .. "' for clara script " .. kind)
    elseif o.file then die("one battery file expected, got '" .. o.file .. "' and '" .. a .. "'")
    else o.file = a end
    i = i + 1
  end
  if not o.file then die("no battery file given") end
  return o
end

local function main(...)
  local o = parse({ ... })
  local clara = require "clara"
  local fs = require "clara.fs"
  local scripts = require "clara.scripts"
  -- 2. the battery, and the script
  local f = io.open(o.file, "r")
  if not f then die("cannot open " .. o.file) end
  f:close()
  local battery = clara.battery.load(o.file)
  local opts = o.opts
  local out = opts.out
  opts.out = nil
  opts.battery_file = o.file
  local text, ctx = scripts[o.kind](battery, opts)
  -- 3. SLURM opens each task's log before the task runs: its directory
  --    must exist already
  if o.kind == "slurm" then fs.mkdir_p(ctx.log_dir) end
  -- 4. stdout, or the file, whole and executable
  if not out then
    io.write(text)
    return
  end
  fs.write_atomic(out, text)
  if not os.execute("chmod +x " .. scripts.shell_quote(out)) then
    error("cannot make '" .. out .. "' executable")
  end
  io.stderr:write(("clara script: wrote %s (%s, %d entries)\n"):format(out, o.kind, #ctx.entries))
end

-- errors (a bad battery, a bad option value) as one line, no traceback
local ok, err = pcall(main, ...)
if not ok then
  io.stderr:write("clara script: ", (tostring(err):gsub("^[^:]*:%d+: ", "")), "\n")
  os.exit(1)
end
