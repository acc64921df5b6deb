-- profile_epoch: where clara's epoch time goes (not part of make bench).
-- Runs the mlp_epoch (or cnn_epoch) epoch three ways, alternately, and
-- prints medians:
--   experiment  clara.experiment{...}:run(), timed as in mlp_epoch.lua
--   plain loop  the same loader, model, loss and optimizer in a bare Lua
--               loop (no experiment machinery): experiment - plain loop is
--               the cost of the clear loop's bookkeeping
--   phases      the plain loop again with a clock read between phases:
--               batch (shuffle + index_select), forward, loss, item,
--               backward, step (zero_grad + step)
-- Compare with the C++ twin (build/bench/mlp_epoch) for the binding's cost.
-- Usage: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ./clara bench/profile_epoch.lua [mlp|cnn] [reps]
-- Settings (environment): BENCH_ROWS, BENCH_HIDDEN (mlp: 784-H-H/2-10)
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local bdata = dofile(here .. "/data.lua")

local which, reps = arg[1] or "mlp", tonumber(arg[2] or "5")
torch.set_num_threads(1)

local H = clock.setting("BENCH_HIDDEN", 256)
local cfg = {
  mlp = { rows = clock.setting("BENCH_ROWS", 60000), flat = true, bs = 128, lr = 0.1, model = function()
    return nn.Sequential(nn.Linear(784, H), nn.ReLU(), nn.Linear(H, H // 2), nn.ReLU(), nn.Linear(H // 2, 10))
  end },
  cnn = { rows = clock.setting("BENCH_ROWS", 10000), flat = false, bs = 64, lr = 0.05, model = function()
    return nn.Sequential(nn.Conv2d(1, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
  end },
}
local c = cfg[which] or error("profile_epoch: mlp or cnn, got " .. tostring(which))
local x, y = bdata.fashion_mnist(c.rows, c.flat)
local ds = clara.data.TensorDataset(x, y)
local function make_opt(m) return optim.SGD(m:parameters(), { lr = c.lr, momentum = 0.9 }) end
local ce = clara.losses.cross_entropy

-- 1. through the experiment
local t = {}
local exp = clara.experiment {
  data = { train = ds }, model = c.model, objective = ce, optimizer = make_opt,
  batch_size = c.bs, epochs = 1, seed = 1, out_dir = false, verbose = false, train_metrics = false,
  hooks = { on_epoch_start = function() t.w0 = clock.cpu() end,
            on_validation_end = function() t.w1 = clock.cpu() end },
}
local function experiment()
  local r = exp:run()
  return t.w1 - t.w0, r.history[1].train_loss
end

-- 2. and 3. the bare loop, with or without a clock between phases
local PHASES = { "batch", "forward", "loss", "item", "backward", "step" }
local function plain(phases)
  torch.manual_seed(1)
  local model = c.model()
  local opt = make_opt(model)
  local loader = clara.data.DataLoader(ds, { batch_size = c.bs, shuffle = true, seed = 1 })
  local acc, sum, n = {}, 0, 0
  for _, p in ipairs(PHASES) do acc[p] = 0 end
  local now = clock.cpu -- CPU time: the machine may be shared
  local w0 = now()
  local it = loader:iter()
  while true do
    local a = phases and now()
    local xb, yb = it()
    if xb == nil then break end
    local b = phases and now()
    opt:zero_grad()
    local out = model(xb)
    local f = phases and now()
    local loss = ce(out, yb)
    local l = phases and now()
    local v = loss:item()
    local i = phases and now()
    loss:backward()
    local k = phases and now()
    opt:step()
    if phases then
      local s = now()
      acc.batch, acc.forward, acc.loss = acc.batch + (b - a), acc.forward + (f - b), acc.loss + (l - f)
      acc.item, acc.backward, acc.step = acc.item + (i - l), acc.backward + (k - i), acc.step + (s - k)
    end
    sum, n = sum + v * xb:size(1), n + xb:size(1)
  end
  return now() - w0, sum / n, acc
end

experiment(); plain(false) -- warm-up
local times = { experiment = {}, plain = {}, phases = {} }
local per_phase, loss_e, loss_p = {}, nil, nil
for _, p in ipairs(PHASES) do per_phase[p] = {} end
for _ = 1, reps do
  times.experiment[#times.experiment + 1], loss_e = experiment()
  times.plain[#times.plain + 1], loss_p = plain(false)
  local w, _, acc = plain(true)
  times.phases[#times.phases + 1] = w
  for _, p in ipairs(PHASES) do per_phase[p][#per_phase[p] + 1] = acc[p] end
end
local steps = #clara.data.DataLoader(ds, { batch_size = c.bs })
print(("%s epoch: %d steps, loss experiment %.6g, plain %.6g"):format(which, steps, loss_e, loss_p))
for _, k in ipairs { "experiment", "plain", "phases" } do
  local m = clock.median(times[k])
  print(("%-12s %8.3f s  %7.1f us/step"):format(k, m, m / steps * 1e6))
end
for _, p in ipairs(PHASES) do
  local m = clock.median(per_phase[p])
  print(("  %-10s %8.3f s  %7.1f us/step"):format(p, m, m / steps * 1e6))
end
