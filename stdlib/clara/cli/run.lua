-- `clara run exp.lua [--set key=value ...] [--resume [DIR]] [--out DIR] [--quiet]`
--
-- The script returns an experiment: the table clara.experiment takes, or
-- a clara.experiment object.  --set sets a hyperparameter (a key of the
-- experiment's hparams; "hparams.x" adds one) or else an experiment field
-- (numbers, true/false and nil are parsed, anything else stays a string);
-- --out sets out_dir,
-- --resume continues the newest run of the experiment (or the run
-- directory given as --resume=DIR; --resume=FILE: a kept checkpoint,
-- checkpoints/epoch-N.pt, continued in a new run) with the settings that
-- run recorded (a --set on the resume changes one, recorded in config.json
-- and the history), --quiet (-q) sets verbose = false: only errors are printed.
-- --help lists this command's options (clara.cli.commands) and every
-- experiment option (clara.experiment.options); --help --markdown writes
-- the experiment options as docs/options.md.
-- Signals are handled: SIGTERM/USR1/INT write a checkpoint at the next
-- step boundary and the process exits with code 75 (clara.signal.REQUEUE).
local cmd = require("clara.cli.args").command("run")
function cmd.more_help(o)
  local options = require "clara.experiment.options"
  if o.markdown then return options.markdown(), true end
  return "\n" .. options.help()
end

-- 1. the command line
local function parse(args)
  local o, rest = cmd:parse(args)
  o.script = cmd:single(rest, "experiment script")
  o.sets = cmd:settings(o.set)
  return o
end

-- A requeued SLURM job of `clara script slurm --script run` passes
-- --resume; an attempt killed before its first checkpoint left no run to
-- continue: then this attempt starts the run
local function nothing_to_resume(exp, o)
  if o.resume ~= true or (tonumber(os.getenv("SLURM_RESTART_COUNT")) or 0) == 0 then return false end
  return not pcall(require("clara.train.checkpoint").find, exp.out_dir, exp.name or "experiment", true)
end

local function main(...)
  -- signals are answered from the start (loading the script, the factories,
  -- the checkpoint), not only in the training loop
  require("clara.signal").install()
  local o = parse({ ... })
  -- 2. the experiment the script returns
  local exp = cmd:experiment(o.script)
  -- 3. this command's own fields, then the overrides (exp:set): a new run
  --    takes them at once, a resume applies them over the run's recorded
  --    settings and records them
  local fields = { out_dir = o.out }
  if exp.handle_signals == nil then fields.handle_signals = true end
  exp = exp:with(fields)
  if exp.handle_signals == false then
    -- the script wants signals to act as they would: what came meanwhile too
    local signal = require "clara.signal"
    local sig = signal.pending()
    signal.restore()
    if sig then signal.raise(sig) end
  end
  local sets = {}
  for _, kv in ipairs(o.sets) do sets[kv[1]] = kv[2] end
  -- --quiet is applied last: neither the script nor a --set turns it off
  if o.quiet then sets.verbose = false end
  -- 4. the run; an interrupted one asks to be requeued
  if nothing_to_resume(exp, o) then
    io.stderr:write("clara run: requeued before its first checkpoint: a new run\n")
    o.resume = nil
  end
  local result = exp:run { resume = o.resume, set = sets }
  if result.interrupted then
    io.stderr:write(("clara run: %s: %s, exiting with code %d\n"):format(result.interrupted,
      result.dir and ("checkpoint written in " .. result.dir) or "stopped before the run began",
      require("clara.signal").REQUEUE))
    require("clara.signal").exit_requeue()
  end
  if not o.quiet and result.dir then print("run: " .. result.dir) end
end

-- errors of the experiment (an unknown --set key, ...) as one line, no traceback
cmd:main(main, ...)
