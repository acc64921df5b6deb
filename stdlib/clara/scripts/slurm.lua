-- clara.scripts.slurm(battery, opts) -> the text of a SLURM batch script:
-- a job array with one task per battery entry; each task runs
-- `clara battery FILE --entry $SLURM_ARRAY_TASK_ID`.  Before the time limit
-- SLURM sends USR1; clara writes its checkpoint and exits 75, and the task
-- requeues itself, to resume from that checkpoint when it starts again.
--
-- opts (besides those of clara.scripts.context):
--   time = "24:00:00"   the limit of one task (SLURM's formats: MM, MM:SS,
--                       HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)
--   signal_lead = 120   seconds before the limit that USR1 comes
--   cpus = 4, mem = "8G", max_parallel = nil (the array's %M limit),
--   partition, account, gpus (filled in; else placeholders to EDIT),
--   max_requeues = 20   a task requeued that often stops asking
--   nodes, ntasks_per_node   a multi-task job: each array task gets that
--                       many nodes and ranks, and `srun` starts the ranks
--                       (each sees SLURM_PROCID, SLURM_NTASKS, ...; MASTER_ADDR
--                       and MASTER_PORT name the first node); mem is per node
--
-- A search battery (clara.battery.search) gets an array of opts.workers
-- tasks (default 4) that each run `clara battery FILE --worker`: every task
-- pulls the search's next job from its shared state under the search's
-- lock, so a fixed-size array serves an adaptive search; a requeued task's
-- trial is taken up again from its checkpoint.
--
-- clara.scripts.slurm.script(file, opts): the same for one clara script
-- run as `clara FILE ARGS` (opts.args, a list), one job, not an array: the
-- ranks of a data-parallel script.  The script's USR1 handling (exit 75)
-- requeues the job as for a battery entry.
local scripts = require "clara.scripts"

local function fail(msg) scripts.fail("clara.scripts.slurm: " .. msg) end

-- SLURM's time limit formats, and the seconds in a unit of each field
local TIME_FORMS = {
  { "^(%d+)$", { 60 } },                                   -- MM
  { "^(%d+):(%d+)$", { 60, 1 } },                          -- MM:SS
  { "^(%d+):(%d+):(%d+)$", { 3600, 60, 1 } },              -- HH:MM:SS
  { "^(%d+)%-(%d+)$", { 86400, 3600 } },                   -- D-HH
  { "^(%d+)%-(%d+):(%d+)$", { 86400, 3600, 60 } },         -- D-HH:MM
  { "^(%d+)%-(%d+):(%d+):(%d+)$", { 86400, 3600, 60, 1 } }, -- D-HH:MM:SS
}

-- seconds in a SLURM time limit, or nil when s is not one
local function time_seconds(s)
  for _, form in ipairs(TIME_FORMS) do
    local fields = { s:match(form[1]) }
    if fields[1] then
      local total = 0
      for i, unit in ipairs(form[2]) do total = total + tonumber(fields[i]) * unit end
      return total
    end
  end
  return nil
end

local function positive_int(opts, key, default, max)
  local v = opts[key]
  if v == nil then return default end
  local n = math.tointeger(tonumber(v))
  if not n or n < 1 or (max and n > max) then
    local what = max and ("an integer from 1 to " .. max) or "a positive integer"
    fail(("%s must be %s, got '%s'"):format(key, what, tostring(v)))
  end
  return n
end

-- the options' names and types (a value from the command line is a
-- string); `options` checks the values against each other
local COUNT = "number|string"
local SCHEMA = {
  time = { type = "string|number", doc = "the time limit (HH:MM:SS, D-HH:MM:SS, MM ...)" },
  signal_lead = { type = COUNT, doc = "seconds between the warning signal and the limit" },
  cpus = { type = COUNT, doc = "CPUs per task" },
  mem = { type = "string|number", doc = "memory per task, per node with srun (8G, 500M, 16000)" },
  max_parallel = { type = COUNT, doc = "tasks running at once" },
  max_requeues = { type = COUNT, doc = "requeues of a task before it counts as failed" },
  gpus = { type = COUNT, doc = "GPUs per task, per node with srun" },
  partition = { type = "string", doc = "the SLURM partition" },
  account = { type = "string", doc = "the SLURM account" },
  nodes = { type = COUNT, doc = "nodes per task (srun starts the ranks)" },
  ntasks_per_node = { type = COUNT, doc = "ranks per node (srun starts them)" },
  workers = { type = COUNT, doc = "a search battery: the array's tasks, each a worker (default 4)" },
}

-- 1. the options, checked against each other
local function options(opts)
  local o = {}
  o.time = tostring(opts.time or "24:00:00")
  local limit = time_seconds(o.time)
  if not limit or limit == 0 then
    fail("time must be a SLURM time limit (HH:MM:SS, D-HH:MM:SS, MM ...), got '" .. o.time .. "'")
  end
  o.lead = positive_int(opts, "signal_lead", 120, 65535)   -- SLURM's maximum sig_time
  if o.lead >= limit then
    fail(("signal_lead (%d s) must be shorter than the time limit %s (%d s)"):format(o.lead, o.time, limit))
  end
  o.cpus = positive_int(opts, "cpus", 4)
  o.mem = tostring(opts.mem or "8G")
  if not o.mem:match("^%d+[KMGTkmgt]?$") then
    fail("mem must be a size like 8G, 500M or 16000, got '" .. o.mem .. "'")
  end
  o.max_parallel = positive_int(opts, "max_parallel", nil)
  o.max_requeues = positive_int(opts, "max_requeues", 20)
  o.gpus = positive_int(opts, "gpus", nil)
  o.nodes = positive_int(opts, "nodes", nil)
  o.ntasks_per_node = positive_int(opts, "ntasks_per_node", nil)
  o.srun = o.nodes ~= nil or o.ntasks_per_node ~= nil
  for _, k in ipairs { "partition", "account" } do
    local v = opts[k]
    if v ~= nil and not tostring(v):match("^[%w%._%-,]+$") then
      fail(k .. " must be a SLURM name, got '" .. tostring(v) .. "'")
    end
    o[k] = v and tostring(v)
  end
  return o
end

-- an #SBATCH line when the value is known, else a placeholder sbatch
-- ignores ("##SBATCH" is a comment) for the user to complete
local function directive(flag, value, example)
  if value then return ("#SBATCH --%s=%s"):format(flag, value) end
  return ("##SBATCH --%s=%s"):format(flag, example)
end

local HEADER = [=[
#!/bin/bash
#SBATCH --job-name={{JOB_NAME}}
{{SHAPE}}#SBATCH --time={{TIME}}
#SBATCH --cpus-per-task={{CPUS}}
#SBATCH --mem={{MEM}}
#SBATCH --signal=B:USR1@{{LEAD}}
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output={{LOG}}
#SBATCH --chdir={{CHDIR}}
# >>> EDIT: your cluster's partition, account (and GPUs): remove one '#' <<<
{{PARTITION}}
{{ACCOUNT}}
{{GPUS}}
# <<< EDIT

]=]

local BATTERY_ABOUT = [=[
# Battery "{{NAME_COMMENT}}" generated by `clara script slurm` from
#   {{FILE_COMMENT}}
# {{N}} entries, one array task each (task index -> entry):
{{ENTRIES}}
#
# Submit:         sbatch THIS_FILE
# Some entries:   sbatch --array=2,5 THIS_FILE
# Logs:           {{LOG_COMMENT}}
#                 (the directory exists already: SLURM does not create it)
# Each task runs `clara battery BATTERY --entry I`: a finished entry is
# skipped, an interrupted one resumes from its checkpoint, so submitting
# again is always safe.  {{LEAD}} s before the time limit SLURM sends USR1,
# clara checkpoints and exits with 75, and the task requeues itself.
# Regenerate this script when the battery's entries change.
]=]

local SEARCH_ABOUT = [=[
# Search battery "{{NAME_COMMENT}}" generated by `clara script slurm` from
#   {{FILE_COMMENT}}
# {{N}} array tasks, each a worker: it runs `clara battery BATTERY --worker`,
# which takes the search's next job (a new trial or a promotion) from the
# shared state in {{STATE_COMMENT}}
# under a file lock, trains it, reports, and asks again until the search is
# over.  The number of tasks is how many trials train at once, not how many
# trials there are.
#
# Submit:         sbatch THIS_FILE   (again after the search ended: it does nothing)
# Logs:           {{LOG_COMMENT}}
#                 (the directory exists already: SLURM does not create it)
# {{LEAD}} s before the time limit SLURM sends USR1, clara checkpoints the
# trial and exits with 75, and the task requeues itself; the trial is taken
# up again from its checkpoint by the next worker that asks.
]=]

local SCRIPT_ABOUT = [=[
# {{RUNS_COMMENT}}
# as one SLURM job, generated by `clara script slurm --script`.
#
# Submit:         sbatch THIS_FILE
# Logs:           {{LOG_COMMENT}}
#                 (the directory exists already: SLURM does not create it)
# {{LEAD}} s before the time limit SLURM sends USR1, which reaches the
# script; a script that then saves its state and exits with 75 is
# requeued, to resume when it starts again.
]=]

-- the ranks: srun starts them on the job's nodes, and passes USR1 on to
-- every one of them
local RANKS = [=[
#
# {{RANKS}} ranks ({{NODES}} node(s) x {{PER_NODE}}), started by srun: each sees SLURM_PROCID
# (its rank), SLURM_NTASKS (the world size), SLURM_LOCALID and SLURM_NODEID.
]=]

local BODY = [=[

set -u

# The paths this script was generated with
CLARA={{CLARA}}
{{TARGET}}
WORKDIR={{WORKDIR}}
# a task requeued this often stops asking (a run that cannot progress)
MAX_REQUEUES=${MAX_REQUEUES:-{{MAX_REQUEUES}}}

# >>> EDIT: modules and environment, e.g. <<<
# module load gcc
# source "$HOME/venv/bin/activate"
# <<< EDIT

cd "$WORKDIR" || exit 1
# libtorch and BLAS use the cores SLURM gave this task, no more
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"
export MKL_NUM_THREADS="$OMP_NUM_THREADS" OPENBLAS_NUM_THREADS="$OMP_NUM_THREADS"
{{TASK}}
{{RENDEZVOUS}}echo "== {{WHAT}}, attempt $(( ${SLURM_RESTART_COUNT:-0} + 1 )), $(hostname), $(date)"

# How the warning reaches clara.  Without "B:", --signal goes to the job
# steps started by srun only, not to the processes this shell starts, so
# clara would never hear it.  With "B:" it goes to this batch shell only;
# a shell runs a trap only after its foreground command ends, so clara
# runs in the background, the shell waits for it (`wait` returns as soon
# as a trapped signal comes) and the trap passes USR1 on.  Clara then
# writes its checkpoint and exits with 75.  (exec-ing clara would also let
# it receive USR1, but then nothing is left to requeue the task.){{FORWARD_NOTE}}
clara_pid=
forwarded=0
# shellcheck disable=SC2317  # run by the trap (shellcheck 0.9 does not see it)
forward_usr1() {
  forwarded=$((forwarded + 1))
  if [ -n "$clara_pid" ]; then kill -USR1 "$clara_pid" 2>/dev/null; fi
}
trap forward_usr1 USR1

{{LAUNCH}} &
clara_pid=$!
while :; do
  seen=$forwarded
  wait "$clara_pid"
  rc=$?
  # a wait cut short by our trap (status > 128): clara is still checkpointing
  if [ "$forwarded" -eq "$seen" ] || [ "$rc" -le 128 ]; then break; fi
done

if [ "$rc" -eq 75 ]; then
  if [ "${SLURM_RESTART_COUNT:-0}" -ge "$MAX_REQUEUES" ]; then
    echo "== {{WHO}} interrupted again after $MAX_REQUEUES requeues: not requeued" >&2
    exit "$rc"
  fi
  echo "== {{WHO}} interrupted, checkpoint written: requeueing {{JOB_ID}}"
  scontrol requeue "{{JOB_ID}}" || exit "$rc"
fi
echo "== {{WHO}} exited with $rc, $(date)"
exit "$rc"
]=]

-- srun's options: one rank per task slot of the job, each with the task's
-- CPUs (srun of SLURM 22.05 does not take --cpus-per-task from sbatch)
local SRUN = 'srun --cpus-per-task="$SLURM_CPUS_PER_TASK" '

-- torch.distributed's env:// rendezvous: the first node, a port from the
-- job's id (two jobs sharing a node do not collide)
local RENDEZVOUS = [=[
# torch.distributed's rendezvous (env://): the first node of the job
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))
export MASTER_ADDR MASTER_PORT
]=]

-- with srun, what the signal paths are
local FORWARD_SRUN = [=[

# Here the trap signals srun, which passes USR1 on to every rank on every
# node.  A USR1 sent to the job's steps instead (`scancel --signal=USR1
# JOBID`, or --signal without "B:") reaches the ranks directly; they exit
# with 75 and so does srun.]=]

-- the values every form fills: the #SBATCH lines and the shared body
local function common_values(ctx, o, log)
  local shape = o.array and ("#SBATCH --array=" .. o.array .. "\n") or ""
  if o.srun then
    shape = shape .. ("#SBATCH --nodes=%d\n#SBATCH --ntasks-per-node=%d\n"):format(o.nodes or 1, o.ntasks_per_node or 1)
  end
  return {
    JOB_NAME = ctx.job_name, SHAPE = shape, TIME = o.time, CPUS = o.cpus, MEM = o.mem, LEAD = o.lead,
    LOG = scripts.sbatch_quote(log), CHDIR = scripts.sbatch_quote(ctx.workdir),
    PARTITION = directive("partition", o.partition, "EDIT_ME"),
    ACCOUNT = directive("account", o.account, "EDIT_ME"),
    GPUS = directive("gres", o.gpus and ("gpu:" .. o.gpus), "gpu:1"),
    LOG_COMMENT = scripts.comment_text(log), CLARA = scripts.shell_quote(ctx.clara),
    WORKDIR = scripts.shell_quote(ctx.workdir), MAX_REQUEUES = o.max_requeues,
    RENDEZVOUS = o.srun and RENDEZVOUS or "",
    FORWARD_NOTE = o.srun and FORWARD_SRUN or "",
  }
end

-- the script: header, what it runs, the ranks (with srun), the body
local function render(about, values, o)
  local text = HEADER .. about .. (o.srun and RANKS or "") .. BODY
  if o.srun then
    values.NODES, values.PER_NODE = o.nodes or 1, o.ntasks_per_node or 1
    values.RANKS = values.NODES * values.PER_NODE
    values.LAUNCH = SRUN .. values.LAUNCH
  end
  return scripts.fill(text, values)
end

-- a log path for sbatch: a '%' of the directory is "%%"
local function log_path(ctx, pattern) return ctx.log_dir:gsub("%%", "%%%%") .. "/" .. pattern end

-- the values of a battery's array job, one task per ctx.entries
local function array_values(ctx, o)
  o.array = "1-" .. #ctx.entries .. (o.max_parallel and ("%" .. o.max_parallel) or "")
  -- %x job name, %A array job id, %a task index
  local v = common_values(ctx, o, log_path(ctx, "%x-%A_%a.out"))
  v.NAME_COMMENT, v.FILE_COMMENT = scripts.comment_text(ctx.name), scripts.comment_text(ctx.battery_file)
  v.N, v.ENTRIES = #ctx.entries, scripts.entry_lines(ctx)
  v.TARGET = "BATTERY=" .. scripts.shell_quote(ctx.battery_file)
  v.TASK = 'task="${SLURM_ARRAY_TASK_ID:?not a SLURM array task: submit this script with sbatch}"'
  v.JOB_ID = "${SLURM_ARRAY_JOB_ID}_${task}"
  return v
end

-- a search's array: `workers` tasks, each `clara battery FILE --worker`
local function search_job(b, opts)
  local o = options(opts or {})
  local n = positive_int(opts or {}, "workers", 4, 10000)
  -- the context's entries are the workers (the trials come and go)
  local view = setmetatable({ entries = function()
    local list = {}
    for k = 1, n do list[k] = { name = "worker " .. k } end
    return list
  end }, { __index = b })
  local ctx = scripts.context(view, opts, "clara.scripts.slurm", SCHEMA)
  local v = array_values(ctx, o)
  v.STATE_COMMENT = scripts.comment_text(ctx.battery_dir .. "/search/state.json")
  v.WHAT, v.WHO = "clara search worker $task", "worker $task"
  v.LAUNCH = '"$CLARA" battery "$BATTERY" --worker --threads "$OMP_NUM_THREADS"'
  return render(SEARCH_ABOUT, v, o), ctx
end

local function battery_job(b, opts)
  if type(b) == "table" and b.search then return search_job(b, opts) end
  if type(opts) == "table" and opts.workers ~= nil then
    fail("workers is for a search battery (search = {...}); this battery's entries are its array's tasks")
  end
  local ctx = scripts.context(b, opts, "clara.scripts.slurm", SCHEMA)
  local o = options(opts or {})
  local v = array_values(ctx, o)
  v.WHAT, v.WHO = "clara battery entry $task", "entry $task"
  v.LAUNCH = '"$CLARA" battery "$BATTERY" --entry "$task" --threads "$OMP_NUM_THREADS"'
  return render(BATTERY_ABOUT, v, o), ctx
end

local SCRIPT_SCHEMA = { args = { type = "table", doc = "the script's arguments (a list of strings)" } }
for k, v in pairs(SCHEMA) do SCRIPT_SCHEMA[k] = v end
SCRIPT_SCHEMA.max_parallel, SCRIPT_SCHEMA.workers = nil, nil

local function script_job(file, opts)
  opts = opts or {}
  local ctx = scripts.script_context(file, opts, "clara.scripts.slurm", SCRIPT_SCHEMA)
  local o = options(opts)
  local args = {}
  for i, a in ipairs(opts.args or {}) do args[i] = " " .. scripts.shell_quote(a) end
  local log = log_path(ctx, "%x-%j.out")   -- %j the job id
  local v = common_values(ctx, o, log)
  local runs = ctx.command and ("`clara " .. ctx.script .. "`") or ("The clara script " .. ctx.script)
  v.RUNS_COMMENT = scripts.comment_text(runs .. (#args > 0 and " with its arguments" or ""))
  v.TARGET = "SCRIPT=" .. scripts.shell_quote(ctx.script)
  v.TASK = ': "${SLURM_JOB_ID:?not a SLURM job: submit this script with sbatch}"'
  v.WHAT, v.WHO = "clara script, job $SLURM_JOB_ID", "job $SLURM_JOB_ID"
  v.LAUNCH = '"$CLARA" "$SCRIPT"' .. table.concat(args)
  if ctx.command and ctx.script == "run" then
    -- a requeued attempt continues the run the first one began
    v.TASK = v.TASK .. "\n# a requeued attempt continues the newest run of the experiment\n"
      .. "resume=()\n" .. 'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then resume=(--resume); fi'
    v.LAUNCH = v.LAUNCH .. ' "${resume[@]}"'
  end
  v.JOB_ID = "$SLURM_JOB_ID"
  return render(SCRIPT_ABOUT, v, o), ctx
end

return setmetatable({ script = script_job }, {
  __call = function(_, b, opts) return battery_job(b, opts) end,
})
