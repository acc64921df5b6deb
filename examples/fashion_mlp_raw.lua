-- A two-layer perceptron on Fashion-MNIST written with raw tensor
-- operations and a hand-made loop, so every step of training is visible:
-- no experiment, no run directory.  examples/fashion_mlp.lua is the same
-- task through clara.experiment.
-- CLARA_QUICK=1 shortens it (used by `make test`).
local F = torch.nn.functional
local quick = os.getenv("CLARA_QUICK") == "1"

torch.manual_seed(0)

-- 1. data: pixels scaled to [0, 1] and flattened, labels 0..9
local images, labels, classes = clara.data.fashion_mnist{ split = "train" }
local test_images, test_labels = clara.data.fashion_mnist{ split = "test" }
local function prepare(x) return x:float():div(255):view(x:size(1), 784) end
local x, y = prepare(images), labels
local x_test, y_test = prepare(test_images), test_labels
if quick then
  x, y = x[{{1, 6000}}], y[{{1, 6000}}]
  x_test, y_test = x_test[{{1, 2000}}], y_test[{{1, 2000}}]
end

-- 2. the model: parameters initialized as nn.Linear does, U(-1/sqrt(in), 1/sqrt(in))
local function linear(n_in, n_out)
  local bound = 1 / math.sqrt(n_in)
  return torch.empty(n_out, n_in):uniform_(-bound, bound):requires_grad_(),
         torch.empty(n_out):uniform_(-bound, bound):requires_grad_()
end
local W1, b1 = linear(784, 256)
local W2, b2 = linear(256, 10)
local function model(input)
  local h = F.linear(input, W1, b1):relu()
  return F.linear(h, W2, b2)
end

local opt = optim.SGD({ W1, b1, W2, b2 }, { lr = 0.1, momentum = 0.9 })

local function accuracy(input, target)
  return torch.no_grad(function()
    return model(input):argmax(2):eq(target):float():mean():item()
  end)
end

-- 3. training: shuffle, then for each batch forward, loss, backward, step
local epochs, batch_size = quick and 1 or 5, 128
local n = x:size(1)
for epoch = 1, epochs do
  local order = torch.randperm(n)
  local total, batches = 0, 0
  for start = 1, n, batch_size do
    local idx = order[{{start, math.min(start + batch_size - 1, n)}}]
    local xb, yb = x:index_select(1, idx), y:index_select(1, idx)
    local loss = F.cross_entropy(model(xb), yb)
    opt:zero_grad()
    loss:backward()
    opt:step()
    total, batches = total + loss:item(), batches + 1
  end
  print(("epoch %d/%d  loss %.4f  test accuracy %.2f%%")
    :format(epoch, epochs, total / batches, 100 * accuracy(x_test, y_test)))
end

-- 4. a look at a few predictions
local guess = torch.no_grad(function() return model(x_test[{{1, 5}}]):argmax(2) end)
for i = 1, 5 do
  print(("  sample %d: predicted %-12s true %s"):format(i, classes[guess[i]:item() + 1],
                                                    classes[y_test[i]:item() + 1]))
end
local final = accuracy(x_test, y_test)
assert(final > (quick and 0.6 or 0.8), ("accuracy %.3f is too low: training is broken"):format(final))
