-- The search of tests/slurm_test.sh: ASHA over three learning rates of
-- tiny.lua (a grid), rungs at 1 and 2 epochs, so the best of the three
-- first-rung results is promoted; its runs under $CLARA_TEST_RUNS (the test
-- runs it as a SLURM array of two workers, and serially outside SLURM for
-- the reference numbers)
local clara = require "clara"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
return clara.battery{
  name = "tiny_search",
  base = dofile(here .. "/tiny.lua"),
  search = { scheduler = "asha", sampler = "grid", min_epochs = 1, max_epochs = 2, reduction_factor = 3,
             space = { lr = { type = "choice", choices = { 0.1, 0.05, 0.02 } } } },
  out_dir = assert(os.getenv("CLARA_TEST_RUNS"), "CLARA_TEST_RUNS: the runs' directory"),
}
