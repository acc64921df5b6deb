-- clara.analyze.flops: the cost of one call of a standard layer, from the
-- layer's settings and the shapes of that call's inputs and outputs.
--
--   flops.count(module, type_name, inputs, outputs) -> macs, flops | nil
--
-- The counting convention (inference, the whole batch):
--   MACs  multiply-accumulates of the layer's matrix products;
--   FLOPs floating-point operations: 2 per MAC (a multiply and an add),
--         plus the element-wise work named below.
-- Bias additions are not counted (as fvcore and torchinfo), nor index
-- arithmetic, memory moves or element-wise work inside recurrent cells.
--
--   Linear              MACs = out.numel * in_features
--   Bilinear            MACs = out.numel * in1 * (in2 + 1)      (W x2, then x1 .)
--   Conv1d/2d/3d        MACs = out.numel * in_channels / groups * prod(kernel)
--   ConvTranspose1-3d   MACs = in.numel * out_channels / groups * prod(kernel)
--   RNN/GRU/LSTM        MACs = L * N * dirs * sum over layers of
--                              gates * hidden * (layer_in + h)  (+ hidden * proj
--                              for an LSTM projection); gates 1, 3, 4; h = proj or hidden
--   BatchNorm1-3d       MACs = out.numel (eval: folded into one scale and shift)
--   LayerNorm/GroupNorm MACs = out.numel when affine, else 0; FLOPs + 5 * out.numel
--                       for the statistics and the normalization
--   Max/AvgPool1-3d     FLOPs = out.numel * prod(kernel) (a compare or an add each)
--   AdaptiveMax/AvgPool FLOPs = in.numel (each input read once; overlaps ignored)
--   ReLU, LeakyReLU, ELU, GELU, SiLU, Tanh, Sigmoid   FLOPs = out.numel
--   Softmax, LogSoftmax FLOPs = 3 * out.numel (exponential, sum, divide)
--   Embedding, Dropout, Identity, Flatten, Unflatten  0 (lookups and copies)
-- Any other module without children (a layer written in Lua) is not counted:
-- count returns nil and the summary lists it.
local torch = require "torch"

local M = {}

local function first_tensor(packed)
  for i = 1, packed.n or #packed do
    if torch.is_tensor(packed[i]) then return packed[i] end
  end
  return nil
end

local function prod(list)
  local p = 1
  for _, v in ipairs(list) do p = p * v end
  return p
end

-- a size as given to the layer (a number or a list) as a list of dims
local function sizes(v, dims)
  if type(v) == "table" then return v end
  local list = {}
  for i = 1, dims do list[i] = v end
  return list
end

local function out_numel(outputs)
  local y = first_tensor(outputs)
  return y and y:numel() or 0
end

local function in_numel(inputs)
  local x = first_tensor(inputs)
  return x and x:numel() or 0
end

local GATES = { RNN = 1, GRU = 3, LSTM = 4 }

-- steps (sequence length * batch) of a recurrent layer's input
local function rnn_steps(m, x)
  if x:dim() == 2 then return x:size(1) end -- unbatched (L, H_in)
  return x:size(1) * x:size(2)                -- (L, N, H) or (N, L, H)
end

local function rnn_macs(m, x)
  local gates, hidden, proj = GATES[m.mode], m.hidden_size, m.proj_size or 0
  local dirs = m.bidirectional and 2 or 1
  local h = proj > 0 and proj or hidden
  local per_step = 0
  for layer = 1, m.num_layers do
    local layer_in = layer == 1 and m.input_size or h * dirs
    per_step = per_step + gates * hidden * (layer_in + h) + (proj > 0 and hidden * proj or 0)
  end
  return rnn_steps(m, x) * dirs * per_step
end

-- type name -> function(m, inputs, outputs) -> macs, extra element-wise flops
local RULES = {}

RULES.Linear = function(m, _, outputs) return out_numel(outputs) * m.in_features, 0 end
RULES.Bilinear = function(m, _, outputs)
  return out_numel(outputs) * m.in1_features * (m.in2_features + 1), 0
end

for d = 1, 3 do
  RULES["Conv" .. d .. "d"] = function(m, _, outputs)
    return out_numel(outputs) * (m.in_channels // m.groups) * prod(m.kernel_size), 0
  end
  RULES["ConvTranspose" .. d .. "d"] = function(m, inputs)
    return in_numel(inputs) * (m.out_channels // m.groups) * prod(m.kernel_size), 0
  end
  RULES["BatchNorm" .. d .. "d"] = function(_, _, outputs) return out_numel(outputs), 0 end
  for _, kind in ipairs { "MaxPool", "AvgPool" } do
    RULES[kind .. d .. "d"] = function(m, _, outputs)
      return 0, out_numel(outputs) * prod(sizes(m.kernel_size, d))
    end
  end
  for _, kind in ipairs { "AdaptiveMaxPool", "AdaptiveAvgPool" } do
    RULES[kind .. d .. "d"] = function(_, inputs) return 0, in_numel(inputs) end
  end
end

RULES.LayerNorm = function(m, _, outputs)
  local n = out_numel(outputs)
  return m.elementwise_affine and n or 0, 5 * n
end
RULES.GroupNorm = function(m, _, outputs)
  local n = out_numel(outputs)
  return m.affine and n or 0, 5 * n
end

for _, name in ipairs { "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid" } do
  RULES[name] = function(_, _, outputs) return 0, out_numel(outputs) end
end
for _, name in ipairs { "Softmax", "LogSoftmax" } do
  RULES[name] = function(_, _, outputs) return 0, 3 * out_numel(outputs) end
end
for _, name in ipairs { "Embedding", "Dropout", "Identity", "Flatten", "Unflatten" } do
  RULES[name] = function() return 0, 0 end
end
for name in pairs(GATES) do
  RULES[name] = function(m, inputs)
    local x = first_tensor(inputs)
    return x and rnn_macs(m, x) or 0, 0
  end
end

M.RULES = RULES

-- only libtorch's own layers: a Lua class that happens to be named Linear is not one
function M.count(m, type_name, inputs, outputs)
  local rule = RULES[type_name]
  if not rule or rawget(m, "_handle") == nil then return nil end
  local macs, extra = rule(m, inputs, outputs)
  return macs, 2 * macs + extra
end

return M
