-- The experiment of the SLURM tests' batteries (tests/slurm_test.sh on the
-- real cluster, tests/scripts_test.sh outside it): a tiny classifier (320
-- random samples, 2 epochs of 10 steps, dropout and momentum, so that an
-- exact resume has RNG and optimizer state to restore).  With
-- CLARA_TEST_READY set, array task 1 logs the first step of each attempt
-- to READY.steps, and in its first attempt writes READY at step 12, then
-- waits for a signal (the test sends USR1).
local clara, torch, nn, optim = require "clara", require "torch", require "torch.nn", require "torch.optim"
local function data(n, seed)
  torch.manual_seed(seed)
  local x = torch.randn(n, 4)
  return clara.data.TensorDataset(x, (x[{ {}, 1 }] - x[{ {}, 3 }]):gt(0):long())
end
local logged
local function wait_for_signal(ctx)
  local ready = os.getenv("CLARA_TEST_READY")
  if not ready or os.getenv("SLURM_ARRAY_TASK_ID") ~= "1" then return end
  -- each attempt's first step: where it started (or resumed)
  local attempt = (tonumber(os.getenv("SLURM_RESTART_COUNT")) or 0) + 1
  if not logged then
    logged = true
    local f = io.open(ready .. ".steps", "a")
    f:write(attempt, " ", ctx.step, "\n")
    f:close()
  end
  if attempt > 1 or ctx.step ~= 12 then return end
  io.open(ready, "w"):close()
  local signal, deadline = require "clara.signal", os.time() + 60
  while not signal.pending() and os.time() < deadline do os.execute("sleep 0.05") end
end
return {
  name = "tiny",
  data = { train = data(320, 1), val = data(100, 2) },
  hparams = { lr = 0.1 },
  model = function() return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2)) end,
  objective = clara.losses.cross_entropy,
  metrics = { acc = clara.metrics.accuracy },
  optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
  batch_size = 32, epochs = 2, seed = 3, verbose = false,
  hooks = { on_step_end = wait_for_signal },
}
