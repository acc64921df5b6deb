-- cnn_epoch, clara twin: one training epoch of a small CNN on the first
-- 10000 Fashion-MNIST training images (a fixed subset, to keep make bench
-- short): conv 1->16 3x3 (padding 1), ReLU, maxpool 2, conv 16->32 3x3
-- (padding 1), ReLU, maxpool 2, flatten, linear 1568->64, ReLU, linear
-- 64->10; cross-entropy, SGD lr 0.05 momentum 0.9, batch 64, shuffled,
-- through clara.experiment{...}:run() (out_dir = false, verbose = false,
-- train_metrics = false).  Timed: the epoch, from on_epoch_start to
-- on_validation_end; not timed: loading the data, model and optimizer.
-- CHECK: the epoch's mean training loss.
-- Settings (environment): BENCH_ROWS (10000), BENCH_BATCH (64), BENCH_IMPL, BENCH_REPS (5),
-- BENCH_PRECISION (float32; bf16 is the "cnn_epoch bf16" row: the same
-- epoch under CPU autocast, against this one in float32); BENCH_AUG=1 and
-- BENCH_WORKERS=n (the "cnn_epoch augmented" row): random crops (padding 4)
-- and flips of each training batch (T.batch, in C), in n loader threads.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local bdata = dofile(here .. "/data.lua")
local etwin = dofile(here .. "/exp_twin.lua")

local x, y = bdata.setup(10000, false)
local T = clara.transforms
local augment = clock.setting("BENCH_AUG", 0) == 1
  and T.chain { T.batch.random_crop { size = 28, padding = 4 }, T.batch.flip {} } or nil

local hooks, timed = etwin.timer(clock, "on_epoch_start", "on_validation_end")
local exp, impl = etwin.experiment("cnn_epoch", {
  name = "cnn_epoch", data = { train = clara.data.TensorDataset(x, y) },
  model = function()
    return nn.Sequential(nn.Conv2d(1, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
  end,
  objective = clara.losses.cross_entropy,
  optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.05, momentum = 0.9 }) end,
  batch_size = clock.setting("BENCH_BATCH", 64), epochs = 1, seed = 1, out_dir = false, verbose = false, train_metrics = false,
  hooks = hooks, precision = os.getenv("BENCH_PRECISION") or "float32",
  augment = augment, workers = clock.setting("BENCH_WORKERS", 0), prefetch = 4,
})

etwin.serve_epoch(clock, "cnn_epoch", exp, impl, timed, 10)
