-- torch.nn.functional: PyTorch's functional names over ATen's operators
-- (torch.ops.aten), with clara's conventions: 1-based dims, PyTorch's
-- positional arguments or a trailing options table, errors naming the
-- function.  The families live in torch/nn/functional/*.lua; the losses
-- are clara.losses' under their PyTorch names (the same functions:
-- F.cross_entropy == clara.losses.cross_entropy).  Class targets and
-- indices hold 0-based values, as in PyTorch.
local losses = require "clara.losses"

local F = {}

for _, family in ipairs { "activation", "dropout", "pooling", "norm", "conv", "vision", "sparse" } do
  for name, fn in pairs(require("torch.nn.functional." .. family)) do F[name] = fn end
end

for name, entry in pairs(losses.info) do
  F[entry.torch_name or name] = entry.fn
end

return F
