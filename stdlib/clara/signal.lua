-- clara.signal: a run on a time-limited server is told to stop by a signal
-- (SLURM sends SIGTERM at the time limit, or SIGUSR1 some minutes before it
-- with `--signal=USR1@300`; Ctrl-C is SIGINT).  The handlers only record
-- which signal came; the training loop asks `pending()` after each step,
-- writes its checkpoint and leaves with `signal.REQUEUE`.
--
--   signal.install()                  -- TERM, USR1, INT (or a list of names)
--   ... if signal.pending() then save_checkpoint(); signal.exit_requeue() end
--   signal.restore()                  -- the handlers that were there before
--
-- Exit code 75 is EX_TEMPFAIL of sysexits.h ("temporary failure, the user
-- is invited to retry").  SLURM has no requeue exit code of its own; the
-- usual job-script idiom is to test the code and call `scontrol requeue`:
--   ./clara train.lua; rc=$?
--   if [ $rc -eq 75 ]; then scontrol requeue "$SLURM_JOB_ID"; fi
-- 75 cannot be confused with a crash (1, a Lua error) or with death by a
-- signal (128 + n: 143 for TERM, 137 for KILL), which must not requeue.
--
-- `clara run`, `clara battery` and a cross-validation install the handlers
-- when they start (signal.scope), so that a signal during start-up, the
-- model factory, a checkpoint's loading, or between folds and entries is
-- answered the same way: what exists is saved and the process exits 75.
local core = require "clara.signal.core"
local E = require "clara.error"

local signal = {}

signal.REQUEUE = 75
signal.DEFAULT = { "TERM", "USR1", "INT" }

-- install(names): our flag-setting handler for each name (default
-- TERM, USR1, INT); the previous handlers are kept for restore().  Under
-- the REPL or `clara -e`, the runtime's own Ctrl-C handler is the one
-- kept, and it is back after restore() (or at the end of the chunk).
function signal.install(names)
  names = names or signal.DEFAULT
  if type(names) == "string" then names = { names } end
  if type(names) ~= "table" then
    E.raise("clara.signal.install", "list of signal names expected, got %s", type(names))
  end
  local ok, err = pcall(core.install, names)
  if not ok then E.raise(nil, "%s", err) end   -- at the caller's line
end

-- scope() -> done: the default handlers, unless a caller further out (the
-- command line, a battery, a CV) installed them; done() undoes exactly
-- what scope did, so an inner run does not drop the outer one's handlers
local function nothing() end
function signal.scope()
  local have = {}
  for _, name in ipairs(core.installed()) do have[name] = true end
  for _, name in ipairs(signal.DEFAULT) do
    if not have[name] then
      signal.install()
      return core.restore
    end
  end
  return nothing
end

signal.restore = core.restore
signal.pending = core.pending    -- "TERM", "USR1", ... or nil
signal.clear = core.clear
signal.installed = core.installed
-- raise(name): deliver a signal to this process (tests)
function signal.raise(name)
  local ok, err = pcall(core.raise, name)
  if not ok then E.raise(nil, "%s", err) end
end
signal.getpid = core.getpid
signal.fsync_path = core.fsync_path
signal.fsync_dir = core.fsync_dir

-- exit_requeue(): the checkpoint is written; end the process with the
-- code that asks the job script to requeue
function signal.exit_requeue()
  io.stdout:flush()
  io.stderr:flush()
  os.exit(signal.REQUEUE, true)
end

return signal
