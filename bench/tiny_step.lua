-- tiny_step, clara twin: the cost of one training step through the
-- experiment machinery when the model is tiny (so nearly all of it is
-- overhead): an MLP 10-32-2, ReLU, cross-entropy, SGD lr 0.1 momentum 0.9,
-- batch 16, on 4096 in-memory samples (x ~ randn(4096, 10) after
-- manual_seed(0), y = x1 + x2 > 0), 4 epochs = 1024 steps, through
-- clara.experiment{...}:run() (out_dir = false, verbose = false,
-- train_metrics = false).  Timed: from the on_run_start hook to on_run_end,
-- so every step and the loop's per-epoch bookkeeping (shuffle, history
-- rows); not timed: making the data, model and optimizer.  The time is per
-- step.  CHECK: the last epoch's mean training loss.
-- Settings (environment): BENCH_IMPL (clear | fast), BENCH_REPS (5).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local etwin = dofile(here .. "/exp_twin.lua")

local N, EPOCHS, BS = 4096, 4, 16
local STEPS = EPOCHS * ((N + BS - 1) // BS)

torch.set_num_threads(1)
torch.manual_seed(0)
local x = torch.randn(N, 10)
local y = x:narrow(2, 1, 1):add(x:narrow(2, 2, 1)):gt(0):long():reshape(N)

local hooks, timed = etwin.timer(clock, "on_run_start", "on_run_end")
local exp, impl = etwin.experiment("tiny_step", {
  name = "tiny_step", data = { train = clara.data.TensorDataset(x, y) },
  model = function() return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2)) end,
  objective = clara.losses.cross_entropy,
  optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.1, momentum = 0.9 }) end,
  batch_size = BS, epochs = EPOCHS, seed = 1, out_dir = false, verbose = false, train_metrics = false,
  hooks = hooks,
})

local function rep()
  return timed(function()
    local h = exp:run().history
    return h[#h].train_loss
  end)
end

clock.twin {
  name = "tiny_step", rep = rep, per = STEPS, reps = clock.setting("BENCH_REPS", 5),
  warmup = function() exp:with { max_steps = 100 }:run() end, note = function() return etwin.note(impl) end,
}
