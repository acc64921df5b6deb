-- Trains a TorchScript model exported from PyTorch (examples/models/
-- make_two_head.py) whose forward returns two outputs: the Fashion-MNIST
-- class and a coarse garment group.  One loss per output, combined into the
-- one loss that is optimized.  CLARA_QUICK=1 shortens it (make test).
local L = clara.losses
local quick = os.getenv("CLARA_QUICK") == "1"
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

torch.manual_seed(0)

-- 1. data, and the second target derived from the first:
--    0 top (t-shirt, pullover, dress, coat, shirt), 1 bottom (trouser),
--    2 footwear (sandal, sneaker, ankle boot), 3 bag
local x, y = clara.data.fashion_mnist{ split = "train" }
local xt, yt = clara.data.fashion_mnist{ split = "test" }
local n = quick and 8000 or x:size(1)
x, y = x[{{1, n}}]:float():div(255), y[{{1, n}}]
xt, yt = xt:float():div(255), yt
local group_of = torch.tensor{ 0, 1, 0, 0, 0, 2, 0, 2, 3, 2 }
local function groups(labels) return group_of:index_select(1, labels) end

-- 2. the model from PyTorch, and the objective: a loss per output, weighted
local model = nn.load(here .. "/models/fashion_two_head.pt")
local weights = { classes = 1.0, groups = 0.5 }
local function objective(outputs, target)
  local class_logits, group_logits = outputs[1], outputs[2]
  local terms = {
    classes = L.cross_entropy(class_logits, target),
    groups = L.cross_entropy(group_logits, groups(target)),
  }
  local total = terms.classes * weights.classes + terms.groups * weights.groups
  return total, terms
end

local opt = optim.Adam(model:parameters(), { lr = 1e-3 })
local accuracy = clara.metrics.accuracy()

-- 3. training: batch -> forward (two outputs) -> combined loss -> backward -> step
local loader = clara.data.DataLoader(clara.data.TensorDataset(x, y),
                                     { batch_size = 128, shuffle = true, seed = 0 })
model:train()
for epoch = 1, quick and 1 or 3 do
  local sum, sum_c, sum_g, batches = 0, 0, 0, 0
  for xb, yb in loader do
    local loss, terms = objective(model(xb), yb)
    opt:zero_grad()
    loss:backward()
    opt:step()
    sum, batches = sum + loss:item(), batches + 1
    sum_c, sum_g = sum_c + terms.classes:item(), sum_g + terms.groups:item()
  end
  print(("epoch %d  loss %.4f  (classes %.4f, groups %.4f)")
    :format(epoch, sum / batches, sum_c / batches, sum_g / batches))
end

-- 4. evaluation, and an intermediate result through the exported method
model:eval()
torch.no_grad(function()
  local out = model(xt)
  accuracy:update(out[1], yt)
  local group_acc = out[2]:argmax(2):eq(groups(yt)):float():mean():item()
  print(("test accuracy: classes %.2f%%, groups %.2f%%"):format(100 * accuracy:compute(), 100 * group_acc))
  print("features of one image:", table.concat(model:call("features", xt[{{1}}]):size(), "x"))
end)
assert(accuracy:compute() > (quick and 0.6 or 0.8), "training did not learn")
