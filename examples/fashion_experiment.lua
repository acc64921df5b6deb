-- The default example again, as an experiment: a 784-256-128-10 perceptron
-- on Fashion-MNIST.  The experiment is a table of the user's objects;
-- clara trains, validates on a held-out tenth, keeps the best epoch and
-- tests.  CLARA_QUICK=1 shortens it (used by `make test`).
local quick = os.getenv("CLARA_QUICK") == "1"
local T = clara.transforms

-- 1. data: the training images split 90/10 (stratified), the test set as given
local images, labels = clara.data.fashion_mnist{ split = "train" }
local test_images, test_labels = clara.data.fashion_mnist{ split = "test" }
if quick then
  images, labels = images[{{1, 6000}}], labels[{{1, 6000}}]
  test_images, test_labels = test_images[{{1, 2000}}], test_labels[{{1, 2000}}]
end
local parts = clara.data.split(labels, { ratios = { 0.9, 0.1 }, names = { "train", "val" }, seed = 1 })
local full = clara.data.TensorDataset(images, labels)
local data = parts:subsets(full)
data.test = clara.data.TensorDataset(test_images, test_labels)

-- 2. the experiment
local exp = clara.experiment{
  name = "fashion_mlp",
  data = data,
  preprocess = function(x) return x:float():div(255):view(x:size(1), 784) end,
  model = function()
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
  end,
  objective = clara.losses.cross_entropy,
  metrics = { acc = clara.metrics.accuracy, f1 = function() return clara.metrics.f1{ average = "macro" } end },
  optimizer = function(model) return optim.SGD(model, { lr = 0.1, momentum = 0.9 }) end,
  scheduler = function(opt) return optim.lr_scheduler.StepLR(opt, { step_size = 3, gamma = 0.5 }) end,
  batch_size = 128, epochs = quick and 2 or 10, patience = 3, monitor = "val_acc", seed = 0,
}

local result = exp:run()

-- 3. the result is in memory: history rows and final numbers
local best = result.best
print(("best epoch %d (val_acc %.4f); test accuracy %.2f%%")
  :format(best.epoch, best.value, 100 * result.final.test.acc))
local acc = result.final.test.acc
assert(acc > (quick and 0.7 or 0.85), ("accuracy %.3f is too low: training is broken"):format(acc))
