-- A model built in Lua with two outputs, trained through clara.experiment:
-- a shared trunk, a head for the 10 Fashion-MNIST classes and a head for
-- a coarse group derived from the label (clothing, footwear, bag).
-- The objective gives each output its loss and weight, says how they
-- combine, adds a penalty on an intermediate result (the trunk's
-- activations, captured by name) and a conditional regularizer with its
-- weight.  Metrics are per output, plus one that combines both.  The
-- history keeps every term raw and weighted; the end prints them.
-- (examples/torchscript_two_heads.lua does the same with a model exported
-- from PyTorch and a hand-written loop.)
-- The file returns its experiment for `clara run`, `clara analyze` and
-- batteries; run directly it trains it (as examples/fashion_mlp.lua).
-- CLARA_QUICK=1 (make test) trains on a subset for two epochs.
local L, R, M = clara.losses, clara.regularizers, clara.metrics
local quick = os.getenv("CLARA_QUICK") == "1"

-- 1. data: the images, their class, and the group derived from the class:
--    0 clothing (t-shirt, trouser, pullover, dress, coat, shirt),
--    1 footwear (sandal, sneaker, ankle boot), 2 bag
local images, labels, classes = clara.data.fashion_mnist{ split = "train", limit = quick and 6000 or nil }
local test_images, test_labels = clara.data.fashion_mnist{ split = "test", limit = quick and 2000 or nil }
local group_of = torch.tensor{ 0, 0, 0, 0, 0, 1, 0, 1, 2, 1 }
local function groups(y) return group_of:index_select(1, y) end
-- each sample is (image, class, group): targets 1 and 2 of a batch
local parts = clara.data.split(labels, { ratios = { 0.9, 0.1 }, names = { "train", "val" }, seed = 1 })
local data = parts:subsets(clara.data.TensorDataset(images, labels, groups(labels)))
data.test = clara.data.TensorDataset(test_images, test_labels, groups(test_labels))

-- 2. the model: forward returns two results; the trunk is a named child,
--    so its output can be captured as the intermediate result "trunk"
local TwoHeads = nn.Module:extend("TwoHeads")
function TwoHeads:init(hp)
  self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(784, hp.hidden), nn.ReLU(),
                             nn.Linear(hp.hidden, hp.features), nn.ReLU())
  self.classes = nn.Linear(hp.features, 10)
  self.groups = nn.Linear(hp.features, 3)
end
function TwoHeads:forward(x)
  local h = self.trunk(x)
  return self.classes(h), self.groups(h)
end

-- 3. the objective: one loss per output, weighted, combined into the one
--    loss; a penalty on the trunk's activations (a term reading an
--    intermediate result, no target); and the regularizer: a confidence
--    penalty on the class output, only for the samples it gets wrong
local objective = {
  terms = {
    { name = "classes", loss = L.cross_entropy, output = 1, target = 1, weight = 1 },
    { name = "groups", loss = L.cross_entropy, output = 2, target = 2, weight = 0.5 },
    { name = "trunk", loss = R.activity_l2(), intermediate = "trunk", target = false, weight = 1e-3 },
  },
  -- the default is this sum of the weighted terms: written out to show where
  -- another combination goes (raw holds the unweighted values as numbers)
  combine = function(weighted, raw) return weighted.classes + weighted.groups + weighted.trunk end,
  regularizer = R.conditional{ R.confidence_penalty(), skip_correct = true },
  reg_weight = 0.1,
  reg_on = 1,
}

-- 4. metrics: each reads one output and one target, or selects its own pair
local function consistency(outputs)
  -- how often the group head agrees with the group of the predicted class
  return groups(outputs[1]:argmax(2)), outputs[2]:argmax(2)
end
local metrics = {
  class_acc = { M.accuracy, output = 1, target = 1 },
  class_f1 = { function() return M.f1{ average = "macro" } end, output = 1, target = 1 },
  group_acc = { M.accuracy, output = 2, target = 2 },
  agree = { M.accuracy, select = consistency },
}

local exp = clara.experiment{
  name = "two_outputs",
  data = data,
  preprocess = function(x) return x:float():div(255) end,
  hparams = { lr = 1e-3, hidden = 256, features = 128 },
  model = function(hp) return TwoHeads(hp) end,
  objective = objective,
  metrics = metrics,
  optimizer = function(model, hp) return optim.Adam(model, { lr = hp.lr }) end,
  batch_size = 128, epochs = quick and 2 or 10, seed = 0, monitor = "val_class_acc", patience = 3,
  out_dir = false,   -- kept in memory: the result holds the history
}
-- loaded by `clara run`, `clara analyze`, `clara lr-find` or a battery
-- (clara.experiment.load): the experiment; run as a script, train it here
if clara.experiment.loading() then return exp end
local result = exp:run()

-- 5. the history: per epoch, each term raw and weighted (train split)
local names = { "classes", "groups", "trunk", "reg" }
local head = { "epoch", "   loss" }
for _, n in ipairs(names) do head[#head + 1] = ("%9s %9s"):format(n, n .. "_w") end
print(table.concat(head, " "))
for _, row in ipairs(result.history) do
  local cells = { ("%5d"):format(row.epoch), ("%7.4f"):format(row.train_loss) }
  for _, n in ipairs(names) do
    cells[#cells + 1] = ("%9.4f %9.4f"):format(row["train_" .. n], row["train_" .. n .. "_w"])
  end
  print(table.concat(cells, " "))
end

-- 6. per-output test metrics
local test = result.final.test
print(("test: classes acc %.4f (macro F1 %.4f), groups acc %.4f, heads agree %.4f")
  :format(test.class_acc, test.class_f1, test.group_acc, test.agree))
-- the weighted terms are the raw ones times their weights, and add up to the loss
local last = result.history[#result.history]
local sum = last.train_classes_w + last.train_groups_w + last.train_trunk_w + last.train_reg_w
assert(math.abs(sum - last.train_loss) < 1e-4, "the weighted terms do not add up to the loss")
assert(math.abs(last.train_groups_w - 0.5 * last.train_groups) < 1e-9, "groups_w is not 0.5 * groups")
assert(math.abs(last.train_reg_w - 0.1 * last.train_reg) < 1e-9, "reg_w is not 0.1 * reg")
assert(test.class_acc > (quick and 0.7 or 0.87), ("class accuracy %.3f: training is broken"):format(test.class_acc))
assert(test.group_acc > (quick and 0.9 or 0.98), ("group accuracy %.3f: training is broken"):format(test.group_acc))
