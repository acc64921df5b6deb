-- clara.train.place: an experiment's `device` and `dtype`.  The model is
-- placed once, after its factory and before the optimizer factory (so the
-- optimizer holds placed parameters); every batch is placed as the batcher
-- yields it: each tensor moves to the device and each floating point one
-- takes the dtype (class labels keep theirs), in plain tables too.  On the
-- CPU with no dtype nothing changes: the batcher is the same object (so
-- the fast loop keeps assembling batches in C) and no batch is touched.
local torch = require "torch"
local placement = require "torch.nn.placement"

local M = {}

-- nothing to do: the CPU (where every tensor starts) and the data's dtype
local function idle(device, dtype) return device == "cpu" and dtype == nil end

-- the model placed (in place, as module:to) and returned; device checked
-- here, before the first step: "cuda" on this build is a clear error
function M.model(api, model, device, dtype)
  device = placement.device(api, device)
  if idle(device, dtype) then return model end
  if type(model) ~= "table" or type(model.to) ~= "function" then
    require("clara.error").raise(api, "device = '%s'%s needs a model with to() (an nn.Module or a TorchScript model)",
      device, dtype and (", dtype = '" .. dtype .. "'") or "")
  end
  model:to { device = device, dtype = dtype }
  return model
end

-- a value of a batch placed: tensors and plain tables of them
local function place(v, device, dtype)
  if torch.is_tensor(v) then
    return v:to { device = device, dtype = v:is_floating_point() and dtype or v.dtype }
  end
  if type(v) == "table" and getmetatable(v) == nil then
    local out = {}
    for k, x in pairs(v) do out[k] = place(x, device, dtype) end
    return out
  end
  return v
end
function M.value(v, device, dtype)
  if idle(device, dtype) then return v end
  return place(v, device, dtype)
end

-- the batcher whose batches come placed; its other methods (state,
-- set_state) and fields are the original's, called on the wrapper
-- preprocessing that makes floating tensors (uint8 images scaled to
-- float32, say) gives them the run's dtype and device too: the batcher
-- placed the batch before it
function M.preprocess(pre, device, dtype)
  if pre == nil or idle(device, dtype) then return pre end
  return function(x) return place(pre(x), device, dtype) end
end

function M.batcher(b, device, dtype)
  if idle(device, dtype) then return b end
  local wrapper = setmetatable({}, { __index = b })
  function wrapper.batches(self, dataset, info)
    local it, count = b.batches(self, dataset, info)
    return function()
      local batch = table.pack(it())
      if batch[1] == nil then return nil end
      for i = 1, batch.n do batch[i] = place(batch[i], device, dtype) end
      return table.unpack(batch, 1, batch.n)
    end, count
  end
  return wrapper
end

return M
