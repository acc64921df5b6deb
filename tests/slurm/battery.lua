-- The battery of tests/slurm_test.sh: two entries of tiny.lua, its runs
-- under $CLARA_TEST_RUNS (the test runs it twice: on the cluster, and
-- uninterrupted outside SLURM for the reference numbers)
local clara = require "clara"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
return clara.battery{
  name = "tiny",
  base = dofile(here .. "/tiny.lua"),
  grid = { lr = { 0.1, 0.05 } },
  out_dir = assert(os.getenv("CLARA_TEST_RUNS"), "CLARA_TEST_RUNS: the runs' directory"),
}
