-- clara tests/slurm/dp.lua OUT_DIR: one rank of tests/slurm_test.sh's
-- data-parallel job: the tiny experiment of tiny.lua (named "dp"),
-- `distributed = true` (the ranks meet by env://: SLURM's variables and
-- the job's MASTER_ADDR/PORT, or those of `clara launch`, which runs the
-- reference outside SLURM), its runs under OUT_DIR.  A requeued attempt
-- (SLURM_RESTART_COUNT > 0) resumes the newest run; an interrupted one
-- exits 75.  With CLARA_TEST_READY set, rank 0 logs the first step of each
-- attempt to READY.steps, and in the first attempt writes READY at step 6
-- (of the 10 of 2 epochs: 320 samples, 32 per rank), then waits for a
-- signal (the test sends USR1 to the job's steps: both ranks get it).
local clara, dist = require "clara", require "torch.distributed"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local attempt = (tonumber(os.getenv("SLURM_RESTART_COUNT")) or 0) + 1
local ready, logged = os.getenv("CLARA_TEST_READY"), false

local function wait_for_signal(ctx)
  if not ready or dist.get_rank() ~= 0 then return end
  if not logged then
    logged = true
    local f = io.open(ready .. ".steps", "a")
    f:write(attempt, " ", ctx.step, "\n")
    f:close()
  end
  if attempt > 1 or ctx.step ~= 6 then return end
  io.open(ready, "w"):close()
  local signal, deadline = require "clara.signal", os.time() + 60
  while not signal.pending() and os.time() < deadline do os.execute("sleep 0.05") end
end

local spec = dofile(here .. "/tiny.lua")
spec.name, spec.distributed = "dp", true
spec.out_dir = assert(arg[1], "usage: clara tests/slurm/dp.lua OUT_DIR")
spec.hooks, spec.handle_signals = { on_step_end = wait_for_signal }, true
local result = clara.experiment(spec):run { resume = attempt > 1 }
if result.interrupted then
  print(("rank %d interrupted (%s) in attempt %d"):format(dist.get_rank(), result.interrupted, attempt))
  os.exit(require("clara.signal").REQUEUE)
end
print(("rank %d of %d finished in attempt %d, %d steps"):format(dist.get_rank(), dist.get_world_size(), attempt,
  result.steps or -1))
