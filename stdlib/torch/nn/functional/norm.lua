-- nn.functional's normalizations, as PyTorch's: batch_norm, instance_norm
-- (running statistics updated in place when given and training),
-- layer_norm, group_norm, local_response_norm, normalize.
local A = require "torch.nn.functional.args"

local aten, call, define = A.aten, A.call, A.define
local INPUT, OPT = A.INPUT, A.optional_tensor
local F = {}

-- (input, running_mean, running_var, weight, bias, <training>, momentum, eps)
local function statistics_params(training, default)
  return { INPUT, { "running_mean", OPT() }, { "running_var", OPT() }, { "weight", OPT() }, { "bias", OPT() },
    { training, A.bool(default) }, { "momentum", A.number(0.1, 0, 1) }, { "eps", A.number(1e-5, 0) } }
end

-- statistics over one value are no statistics: PyTorch refuses them in
-- training; `what` is "value per channel" or "spatial element", counted
-- from dim `first` on (the batch too for batch_norm)
local function more_than_one(api, x, first, what)
  local size, n = x:size(), 1
  for i = first, #size do if i ~= 2 then n = n * size[i] end end
  if n == 1 then
    A.E.raise(api, "expected more than 1 %s when training, got input of size (%s)", what, table.concat(size, ", "))
  end
end

-- batch_norm(input, running_mean, running_var, weight, bias, training = false,
-- momentum = 0.1, eps = 1e-5)
F.batch_norm = define("batch_norm", statistics_params("training", false), function(api, a)
  if a.training then more_than_one(api, a.input, 1, "value per channel") end
  return call(api, aten.batch_norm, a.input, a.weight, a.bias, a.running_mean, a.running_var, a.training,
    a.momentum, a.eps, true)
end)

-- instance_norm(input, running_mean, running_var, weight, bias,
-- use_input_stats = true, momentum = 0.1, eps = 1e-5)
F.instance_norm = define("instance_norm", statistics_params("use_input_stats", true), function(api, a)
  if a.use_input_stats and a.input:dim() >= 3 then more_than_one(api, a.input, 3, "spatial element") end
  return call(api, aten.instance_norm, a.input, a.weight, a.bias, a.running_mean, a.running_var,
    a.use_input_stats, a.momentum, a.eps, true)
end)

-- layer_norm(input, normalized_shape, weight, bias, eps = 1e-5)
F.layer_norm = define("layer_norm", { INPUT, { "normalized_shape", A.sizes() }, { "weight", OPT() },
  { "bias", OPT() }, { "eps", A.number(1e-5, 0) } }, function(api, a)
  local shape = a.normalized_shape
  if type(shape) ~= "table" then shape = { shape } end
  return call(api, aten.layer_norm, a.input, A.list(api, "normalized_shape", shape, #shape, 0), a.weight, a.bias,
    a.eps)
end)

-- group_norm(input, num_groups, weight, bias, eps = 1e-5)
F.group_norm = define("group_norm", { INPUT, { "num_groups", A.required("integer", 1) },
  { "weight", OPT() }, { "bias", OPT() }, { "eps", A.number(1e-5, 0) } }, function(api, a)
  A.rank(api, a.input, 2, 3, 4, 5, 6)
  return call(api, aten.group_norm, a.input, a.num_groups, a.weight, a.bias, a.eps)
end)

-- local_response_norm(input, size, alpha = 1e-4, beta = 0.75, k = 1.0):
-- each value over the average square of `size` neighbouring channels,
-- computed as PyTorch's Python does
F.local_response_norm = define("local_response_norm", { INPUT, { "size", A.required("integer", 1) },
  { "alpha", A.number(1e-4) }, { "beta", A.number(0.75) }, { "k", A.number(1.0) } }, function(api, a)
  local x, size = a.input, a.size
  local dim = x:dim()
  if dim < 3 then A.E.raise(api, "expected 3D or higher input, got a %dD input", dim) end
  if x:numel() == 0 then return x end
  local div = aten.unsqueeze(x * x, 1)
  if dim == 3 then
    div = aten.constant_pad_nd(div, { 0, 0, size // 2, (size - 1) // 2 }, 0)
    div = aten.squeeze(aten.avg_pool2d(div, { size, 1 }, { 1, 1 }), 1)
  else
    local sizes = x:size()
    div = aten.view(div, { sizes[1], 1, sizes[2], sizes[3], -1 })
    div = aten.constant_pad_nd(div, { 0, 0, 0, 0, size // 2, (size - 1) // 2 }, 0)
    div = aten.view(aten.squeeze(aten.avg_pool3d(div, { size, 1, 1 }, { 1, 1, 1 }), 1), sizes)
  end
  return x / div:mul(a.alpha):add(a.k):pow(a.beta)
end)

-- normalize(input, p = 2.0, dim = 2, eps = 1e-12): dim 1-based (PyTorch's dim=1)
F.normalize = define("normalize", { INPUT, { "p", A.number(2.0) }, { "dim", A.int(2) }, { "eps", A.number(1e-12, 0) } },
  function(api, a)
    local d = A.dim0(api, "dim", a.dim)
    local norm = call(api, aten["norm.ScalarOpt_dim"], a.input, a.p, { d }, true)
    return a.input / aten.expand_as(aten.clamp_min(norm, a.eps), a.input)
  end)

return F
