-- cv_mlp, clara twin: 5-fold stratified cross-validation of the MLP of
-- mlp_epoch (784-256-128-10, SGD lr 0.1 momentum 0.9, batch 128) on the
-- first 10000 Fashion-MNIST training images, one epoch per fold, accuracy
-- as metric, through exp:cross_validate{folds = 5, stratified = true}
-- (out_dir = false, verbose = false, train_metrics = false).  Timed: the
-- whole cross_validate call: fold assignment, per fold a fresh model, its
-- epoch on 8000 images, the evaluation of the held-out 2000 (the loop
-- evaluates them after the epoch and again for the final metrics), the
-- summary.  CHECK: the mean held-out loss over the folds.
-- Settings (environment): BENCH_ROWS (10000), BENCH_IMPL, BENCH_REPS (5).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local bdata = dofile(here .. "/data.lua")
local etwin = dofile(here .. "/exp_twin.lua")

local x, y = bdata.setup(10000)

local exp, impl = etwin.experiment("cv_mlp", {
  name = "cv_mlp", data = clara.data.TensorDataset(x, y),
  model = function()
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
  end,
  objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
  optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.1, momentum = 0.9 }) end,
  batch_size = 128, epochs = 1, seed = 1, out_dir = false, verbose = false, train_metrics = false,
})

local function rep()
  local cv = exp:cross_validate { folds = 5, stratified = true }
  return cv.summary.val.loss.mean
end

clock.twin {
  name = "cv_mlp", rep = rep, reps = clock.setting("BENCH_REPS", 5),
  warmup = function() exp:with { max_steps = 10 }:cross_validate { folds = 5, stratified = true } end,
  note = function() return etwin.note(impl) end,
}
