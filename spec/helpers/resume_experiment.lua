-- a small experiment for the resume and `clara run` specs: dropout (torch's
-- RNG), a shuffled loader, momentum, a step scheduler and a validation
-- split (best weights) and training metrics, so an exact resume must
-- restore all of them.
-- Returned as a table, as `clara run` expects of an experiment script.
local clara = require "clara"
local torch = require "torch"
local nn, optim = torch.nn, torch.optim

local function data(n, seed)
  local g = torch.manual_seed(seed)
  local x = torch.randn(n, 4)
  local y = (x[{ {}, 1 }] + x[{ {}, 2 }]):gt(0):long()
  return clara.data.TensorDataset(x, y)
end

return {
  name = "resume_mlp",
  data = { train = data(96, 1), val = data(32, 2) },
  hparams = { lr = 0.1, hidden = 16 },
  model = function(hp)
    return nn.Sequential(nn.Linear(4, hp.hidden), nn.ReLU(), nn.Dropout(0.3), nn.Linear(hp.hidden, 2))
  end,
  objective = clara.losses.cross_entropy,
  metrics = { acc = clara.metrics.accuracy, cm = clara.metrics.confusion_matrix },
  optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
  scheduler = function(o) return optim.lr_scheduler.StepLR(o, { step_size = 1, gamma = 0.7 }) end,
  batch_size = 8, epochs = 3, seed = 7, verbose = false,
}
