-- clara tests/slurm/ranks.lua DIR ARGS...: a rank of tests/slurm_test.sh's
-- 2-rank job.  It prints what SLURM told it; in attempts 1 and 2 it writes
-- DIR/rank-R-A, waits for USR1 and exits 75 (the requeue code); in
-- attempt 3 it exits 0.
local signal = require "clara.signal"
signal.install { "USR1" }
local rank, attempt = os.getenv("SLURM_PROCID"), (tonumber(os.getenv("SLURM_RESTART_COUNT")) or 0) + 1
print(("rank %s of %s, local %s, master %s:%s, attempt %d, args %s"):format(rank, os.getenv("SLURM_NTASKS"),
  os.getenv("SLURM_LOCALID"), os.getenv("MASTER_ADDR"), os.getenv("MASTER_PORT"), attempt, table.concat(arg, "|")))
io.stdout:flush()
if attempt > 2 then os.exit(0) end
io.open(("%s/rank-%s-%d"):format(arg[1], rank, attempt), "w"):close()
local start = os.time()
while not signal.pending() and os.time() < start + 60 do os.execute("sleep 0.05") end
print(("rank %s got %s in attempt %d, after %d s"):format(rank, tostring(signal.pending()), attempt, os.time() - start))
os.exit(signal.pending() and 75 or 1)
