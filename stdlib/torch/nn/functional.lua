-- torch.nn.functional: losses and activations as plain functions of
-- tensors, written from tensor operations so autograd differentiates them.
-- Class targets hold 0-based class indices, as in PyTorch.
local F = {}

local function reduce(x, reduction)
  reduction = reduction or "mean"
  if reduction == "mean" then return x:mean() end
  if reduction == "sum" then return x:sum() end
  if reduction == "none" then return x end
  error(("unknown reduction '%s' (mean, sum or none)"):format(tostring(reduction)), 3)
end

function F.relu(x) return x:relu() end
function F.sigmoid(x) return x:sigmoid() end
function F.tanh(x) return x:tanh() end
function F.softmax(x, dim) return x:softmax(dim or -1) end
function F.log_softmax(x, dim) return x:log_softmax(dim or -1) end

-- input (N, C) log-probabilities, target (N) class indices
function F.nll_loss(input, target, opts)
  opts = opts or {}
  if input:dim() ~= 2 or target:dim() ~= 1 then
    error(("nll_loss: expected input (N, C) and target (N), got %dd and %dd")
      :format(input:dim(), target:dim()), 2)
  end
  local picked = input:gather(2, target:long():unsqueeze(2)):squeeze(2)
  return reduce(-picked, opts.reduction)
end

function F.cross_entropy(input, target, opts)
  return F.nll_loss(input:log_softmax(2), target, opts)
end

function F.mse_loss(input, target, opts)
  opts = opts or {}
  return reduce((input - target) ^ 2, opts.reduction)
end

function F.l1_loss(input, target, opts)
  opts = opts or {}
  return reduce((input - target):abs(), opts.reduction)
end

-- y = x W^T + b, with PyTorch's weight layout (out_features, in_features)
function F.linear(x, weight, bias)
  local y = x:matmul(weight:t())
  if bias then y = y + bias end
  return y
end

return F
