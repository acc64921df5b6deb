-- torch.nn.functional: losses and activations as plain functions of
-- tensors, written from tensor operations so autograd differentiates them.
-- The losses are clara.losses' under their PyTorch names (the same
-- functions: F.cross_entropy == clara.losses.cross_entropy).
-- Class targets hold 0-based class indices, as in PyTorch.
local losses = require "clara.losses"

local F = {}

function F.relu(x) return x:relu() end
function F.sigmoid(x) return x:sigmoid() end
function F.tanh(x) return x:tanh() end
-- opts: {dtype = "float64"} (or the dtype name), as PyTorch's dtype=
function F.softmax(x, dim, opts) return x:softmax(dim or -1, opts) end
function F.log_softmax(x, dim, opts) return x:log_softmax(dim or -1, opts) end

for name, entry in pairs(losses.info) do
  F[entry.torch_name or name] = entry.fn
end

-- y = x W^T + b, with PyTorch's weight layout (out_features, in_features)
function F.linear(x, weight, bias)
  local y = x:matmul(weight:t())
  if bias then y = y + bias end
  return y
end

return F
