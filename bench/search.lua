-- bench/search.lua: clara's side of the "search" benchmark (bench/search.py
-- runs it and Optuna's side, and prints the table): a TPE + ASHA search of
-- the Fashion-MNIST MLP's learning rate (log-uniform), width (int, log) and
-- dropout, on the first BENCH_TRAIN training images, validated on the next
-- BENCH_VAL, within BENCH_EPOCHS epochs trained in all (rungs at 1, 3 and 9
-- epochs, reduction factor 3), from seed BENCH_SEED.  Prints one line:
--   RESULT <best val_acc reported at any rung> <wall seconds> <trials> <epochs>
-- The search's files go to a temporary directory, removed at the end.
local fs = require "clara.fs"
local state = require "clara.battery.search.state"
local data = dofile("bench/data.lua")
local clock = dofile("bench/clock.lua")

local function env(name, default) return math.tointeger(tonumber(os.getenv(name) or "")) or default end
local n_train, n_val = env("BENCH_TRAIN", 10000), env("BENCH_VAL", 2000)
local budget, seed = env("BENCH_EPOCHS", 40), env("BENCH_SEED", 1)

torch.set_num_threads(1)
local x, y = data.fashion_mnist(n_train + n_val)
-- standardized by the training images' mean and std (one number each), as bench/search.py
local xt = x:narrow(1, 1, n_train)
local mean, std = xt:mean():item(), xt:std():item()
x = (x - mean) / std
local sets = { train = clara.data.TensorDataset(x:narrow(1, 1, n_train), y:narrow(1, 1, n_train)),
               val = clara.data.TensorDataset(x:narrow(1, n_train + 1, n_val), y:narrow(1, n_train + 1, n_val)) }

local out_dir = os.tmpname()
os.remove(out_dir)
local battery = clara.battery {
  name = "bench_search", out_dir = out_dir,
  base = {
    name = "mlp", data = sets,
    hparams = { lr = 1e-3, width = 256, dropout = 0.2 },
    model = function(hp)
      return nn.Sequential(nn.Linear(784, hp.width), nn.ReLU(), nn.Dropout(hp.dropout),
                           nn.Linear(hp.width, hp.width // 2), nn.ReLU(), nn.Dropout(hp.dropout),
                           nn.Linear(hp.width // 2, 10))
    end,
    objective = clara.losses.cross_entropy,
    metrics = { acc = clara.metrics.accuracy },
    optimizer = function(model, hp) return optim.Adam(model, { lr = hp.lr }) end,
    batch_size = 128, seed = seed, monitor = "val_acc", verbose = false,
  },
  search = {
    scheduler = "asha", sampler = os.getenv("BENCH_SAMPLER") or "tpe", seed = seed,
    space = { lr = { type = "float", low = 1e-4, high = 1e-1, log = true },
              width = { type = "int", low = 32, high = 512, log = true },
              dropout = { type = "float", low = 0, high = 0.5 } },
    min_epochs = 1, max_epochs = 9, reduction_factor = 3,
    budget = { epochs = budget },
  },
}

local t0 = clock.now()
battery:run { log = function() end }
local wall = clock.now() - t0

local st = state.read(battery)
local best = -math.huge
for _, t in ipairs(st.trials) do
  for _, v in pairs(t.values) do if v == v and v > best then best = v end end
end
print(("RESULT %.6f %.3f %d %d"):format(best, wall, #st.trials, st.epochs))
os.execute(("rm -rf '%s'"):format(out_dir))
assert(not fs.exists(out_dir))
