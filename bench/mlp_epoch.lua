-- mlp_epoch, clara twin: one Fashion-MNIST training epoch of an MLP
-- 784-H-H/2-10 (H = 256: 784-256-128-10), ReLU, cross-entropy, SGD lr 0.1
-- momentum 0.9, batch 128, shuffled, through clara.experiment{...}:run()
-- (out_dir = false, verbose = false, train_metrics = false, one epoch).
-- Timed: the epoch alone, from the on_epoch_start hook to on_validation_end
-- (no validation set: the training epoch), i.e. the batcher's shuffle,
-- batch assembly, forward, objective, backward, step and the loop's own
-- bookkeeping.  Not timed: loading and scaling the data, model and
-- optimizer construction.  CHECK: the epoch's mean training loss.
-- Settings (environment): BENCH_ROWS (60000), BENCH_BATCH (128),
-- BENCH_HIDDEN (256), BENCH_IMPL (clear | fast), BENCH_REPS (5).
-- Same work as mlp_epoch.cpp (clara's shuffle, so the same batches) and
-- mlp_epoch.py (DataLoader's shuffle: a close, not equal, loss).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local bdata = dofile(here .. "/data.lua")
local etwin = dofile(here .. "/exp_twin.lua")

local bs = clock.setting("BENCH_BATCH", 128)
local hidden = clock.setting("BENCH_HIDDEN", 256)

local x, y = bdata.setup(60000)

local hooks, timed = etwin.timer(clock, "on_epoch_start", "on_validation_end")
local exp, impl = etwin.experiment("mlp_epoch", {
  name = "mlp_epoch", data = { train = clara.data.TensorDataset(x, y) },
  model = function()
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden // 2), nn.ReLU(),
                         nn.Linear(hidden // 2, 10))
  end,
  objective = clara.losses.cross_entropy,
  optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.1, momentum = 0.9 }) end,
  batch_size = bs, epochs = 1, seed = 1, out_dir = false, verbose = false, train_metrics = false,
  hooks = hooks,
})

etwin.serve_epoch(clock, "mlp_epoch", exp, impl, timed, 20)
