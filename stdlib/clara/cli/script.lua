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
                                      [--nodes N] [--ntasks-per-node K] [--workers N (a search)]
       clara script slurm --script script.lua [same options] [-- ARGS]
       clara script slurm --script run exp.lua [same options] [-- ARGS]   (any clara command)
       clara script bash battery.lua [--jobs N] [--nohup] [--log-dir DIR] [--out FILE]]=]

local cmd = require("clara.cli.args").command("script", USAGE)

-- the options of each kind (values are checked by the generators)
local COMMON = { out = "string", ["log-dir"] = "string" }
local OPTIONS = {
  slurm = { time = "string", ["signal-lead"] = "string", cpus = "string", mem = "string",
            ["max-parallel"] = "string", partition = "string", account = "string", gpus = "string",
            ["max-requeues"] = "string", nodes = "string", ["ntasks-per-node"] = "string",
            script = "flag", workers = "string" },
  bash = { jobs = "string", nohup = "flag" },
}

-- 1. the command line
local function parse(args)
  local kind = args[1]
  if kind == "--help" or kind == "-h" then print(USAGE); os.exit(0) end
  if kind == nil then cmd:die("which script? 'slurm' or 'bash'") end
  if not OPTIONS[kind] then cmd:die("unknown script kind '" .. kind .. "' (slurm or bash)") end
  local options = {}
  for k, v in pairs(COMMON) do options[k] = v end
  for k, v in pairs(OPTIONS[kind]) do options[k] = v end
  cmd.unknown_suffix = " for clara script " .. kind
  for _, a in ipairs(args) do
    if a == "--" then break end
    if a == "--script" then cmd.unknown_suffix = cmd.unknown_suffix .. " (the script's own options go after '--')" end
  end
  local opts, rest = cmd:parse({ table.unpack(args, 2) }, options, { ["-j"] = kind == "bash" and "jobs" or nil })
  -- --script: a clara script and its arguments, not a battery
  if opts.script then
    if #rest == 0 then cmd:die("no script file given") end
    opts.script, opts.args = nil, { table.unpack(rest, 2) }
    return { kind = kind, opts = opts, file = rest[1], script = true }
  end
  return { kind = kind, opts = opts, file = cmd:single(rest, "battery file") }
end

local function main(...)
  local o = parse({ ... })
  local clara = require "clara"
  local fs = require "clara.fs"
  local scripts = require "clara.scripts"
  -- 2. the battery (or clara script; a clara command's word is no file),
  --    and the job script
  if not (o.script and scripts.is_command(o.file)) then
    local f = io.open(o.file, "r")
    if not f then cmd:die("cannot open " .. o.file) end
    f:close()
  end
  local opts = o.opts
  local out = opts.out
  opts.out = nil
  local text, ctx
  if o.script then
    text, ctx = scripts.slurm_script(o.file, opts)
  else
    opts.battery_file = o.file
    text, ctx = scripts[o.kind](clara.battery.load(o.file), opts)
  end
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
  local what = ctx.entries and (#ctx.entries .. " entries") or "one job"
  io.stderr:write(("clara script: wrote %s (%s, %s)\n"):format(out, o.kind, what))
end

-- errors (a bad battery, a bad option value) as one line, no traceback
cmd:main(main, ...)
