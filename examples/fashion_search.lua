-- A search over the Fashion-MNIST MLP (examples/fashion_mlp.lua's task):
-- learning rate, width and dropout, sampled at random, trained under ASHA
-- (asynchronous successive halving): every trial trains 1 epoch, the best
-- third of those reported goes on to 3, the best third of those to 9.  A
-- promoted trial continues its own run from its checkpoint, so no epoch is
-- trained twice.  Then runs/fashion_search/search.md holds the best
-- settings and a table per rung; `./clara report runs/fashion_search` draws
-- every trial's curve coloured by the rung it reached and a scatter plot
-- per parameter.  Killed (kill -9, SIGTERM, a SLURM time limit), the same
-- command continues the search exactly.
-- To run trials in parallel, return the battery from a file instead of
-- running it, and run `./clara battery FILE --jobs 4` (or `clara script
-- slurm FILE --workers 8` for a SLURM array of workers).
--
-- CLARA_QUICK=1 (make test) searches 4 trials on a subset, in a temporary
-- directory removed at the end.
local T = clara.transforms
local fs = require "clara.fs"
local quick = os.getenv("CLARA_QUICK") == "1"

local images, labels, classes = clara.data.fashion_mnist{ split = "train", limit = quick and 3000 or nil }
local parts = clara.data.split(labels, { ratios = { 0.9, 0.1 }, names = { "train", "val" }, seed = 1 })
local data = parts:subsets(clara.data.TensorDataset(images, labels))
local pre = T.chain{ T.Scale(1 / 255), T.Normalize(), T.Flatten() }
pre:fit(parts:take(images, "train"))

local out_dir = "runs"
if quick then out_dir = os.tmpname(); os.remove(out_dir) end

local battery = clara.battery{
  name = "fashion_search", out_dir = out_dir,
  base = {
    name = "fashion_mlp", classes = classes, data = data, preprocess = pre,
    hparams = { lr = 1e-3, width = 256, dropout = 0.2 },
    model = function(hp)
      return nn.Sequential(nn.Linear(784, hp.width), nn.ReLU(), nn.Dropout(hp.dropout),
                           nn.Linear(hp.width, hp.width // 2), nn.ReLU(), nn.Dropout(hp.dropout),
                           nn.Linear(hp.width // 2, #classes))
    end,
    objective = clara.losses.cross_entropy,
    metrics = { acc = clara.metrics.accuracy },
    optimizer = function(model, hp) return optim.Adam(model, { lr = hp.lr }) end,
    batch_size = 128, seed = 0, monitor = "val_acc", verbose = false,
  },
  search = {
    scheduler = "asha", sampler = "random", seed = 1,
    space = { lr = { type = "float", low = 1e-4, high = 1e-2, log = true },
              width = { type = "choice", choices = { 64, 128, 256, 512 } },
              dropout = { type = "float", low = 0, high = 0.5 } },
    min_epochs = 1, max_epochs = quick and 3 or 9, reduction_factor = 3,
    budget = { trials = quick and 4 or 27 },
  },
}

battery:run{}
print(fs.read(fs.join(battery:dir(), "search.md")))

-- quick mode: the search's files checked, then removed
for _, f in ipairs { "search.md", "search.json", "summary.csv", "battery.json", "search/state.json" } do
  assert(fs.exists(fs.join(battery:dir(), f)), "the search wrote no " .. f)
end
if quick then os.execute(("rm -rf '%s'"):format(out_dir)) end
