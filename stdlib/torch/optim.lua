-- torch.optim: optimizers over a list of parameter tensors, PyTorch's
-- interface (opt:zero_grad(), opt:step()).  This is the clear version:
-- each update is the textbook formula, one tensor at a time.
local torch = require "torch"

local optim = {}

local SGD = {}
SGD.__index = SGD

-- optim.SGD(params, {lr=, momentum=0, weight_decay=0, dampening=0, nesterov=false})
function optim.SGD(params, opts)
  opts = opts or {}
  assert(type(params) == "table", "SGD: params must be a list of tensors")
  for i, p in ipairs(params) do
    if not torch.is_tensor(p) then error(("SGD: params[%d] is not a tensor"):format(i), 2) end
  end
  if type(opts.lr) ~= "number" or opts.lr < 0 then
    error("SGD: option lr (a non-negative number) is required", 2)
  end
  return setmetatable({
    params = params,
    lr = opts.lr,
    momentum = opts.momentum or 0,
    dampening = opts.dampening or 0,
    weight_decay = opts.weight_decay or 0,
    nesterov = opts.nesterov or false,
    buffers = {},
  }, SGD)
end

function SGD:zero_grad()
  for _, p in ipairs(self.params) do p.grad = nil end
end

function SGD:step()
  torch.no_grad(function()
    for i, p in ipairs(self.params) do
      local g = p.grad
      if g then
        -- 1. weight decay adds lambda * p to the gradient
        if self.weight_decay ~= 0 then g = g + p * self.weight_decay end
        -- 2. momentum keeps a running direction
        if self.momentum ~= 0 then
          local buf = self.buffers[i]
          if buf then
            buf:mul_(self.momentum):add_(g, 1 - self.dampening)
          else
            buf = g:clone()
            self.buffers[i] = buf
          end
          g = self.nesterov and (g + buf * self.momentum) or buf
        end
        -- 3. descend
        p:add_(g, -self.lr)
      end
    end
  end)
end

optim.SGD_class = SGD
return optim
