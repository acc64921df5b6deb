-- Trains a TorchScript model exported from PyTorch (examples/models/
-- make_two_head.py) whose forward returns two outputs: the Fashion-MNIST
-- class and a coarse garment group.  One loss per output, combined into the
-- one loss that is optimized; an intermediate result through a method the
-- model exports (@torch.jit.export features).  The file returns its
-- experiment for `clara run`, `clara analyze` and batteries; run directly
-- it trains it (as examples/fashion_mlp.lua).  CLARA_QUICK=1 shortens it
-- (make test).
local L, M = clara.losses, clara.metrics
local quick = os.getenv("CLARA_QUICK") == "1"
-- the model file sits next to this script, wherever it is run from
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

-- 1. data, and the second target derived from the first:
--    0 top (t-shirt, pullover, dress, coat, shirt), 1 bottom (trouser),
--    2 footwear (sandal, sneaker, ankle boot), 3 bag
local x, y = clara.data.fashion_mnist{ split = "train", limit = quick and 8000 or nil }
local xt, yt = clara.data.fashion_mnist{ split = "test" }
local group_of = torch.tensor{ 0, 1, 0, 0, 0, 2, 0, 2, 3, 2 }
local function groups(labels) return group_of:index_select(1, labels) end
-- each sample is (image, class, group): targets 1 and 2 of a batch
local data = { train = clara.data.TensorDataset(x, y, groups(y)),
               test = clara.data.TensorDataset(xt, yt, groups(yt)) }

-- 2. the model from PyTorch, and the objective: a loss per output, weighted
local exp = clara.experiment{
  name = "torchscript_two_heads",
  data = data,
  preprocess = function(images) return images:float():div(255) end,
  hparams = { lr = 1e-3 },
  model = function() return nn.load(here .. "/models/fashion_two_head.pt") end,
  objective = {
    terms = {
      { name = "classes", loss = L.cross_entropy, output = 1, target = 1, weight = 1.0 },
      { name = "groups", loss = L.cross_entropy, output = 2, target = 2, weight = 0.5 },
    },
  },
  metrics = {
    class_acc = { M.accuracy, output = 1, target = 1 },
    group_acc = { M.accuracy, output = 2, target = 2 },
  },
  optimizer = function(model, hp) return optim.Adam(model:parameters(), { lr = hp.lr }) end,
  batch_size = 128, epochs = quick and 1 or 3, seed = 0,
  out_dir = false,   -- kept in memory: the result holds the model and the history
}
-- loaded by `clara run`, `clara analyze`, `clara lr-find` or a battery
-- (clara.experiment.load): the experiment; run as a script, train it here
if clara.experiment.loading() then return exp end
local result = exp:run()

-- 3. the test numbers, and an intermediate result through the exported method
local test = result.final.test
print(("test accuracy: classes %.2f%%, groups %.2f%%"):format(100 * test.class_acc, 100 * test.group_acc))
local one = xt[{ { 1 } }]:float():div(255)
print("features of one image:", table.concat(result.model:call("features", one):size(), "x"))
assert(test.class_acc > (quick and 0.6 or 0.8), "training did not learn")
