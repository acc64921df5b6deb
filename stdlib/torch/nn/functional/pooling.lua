-- nn.functional's pooling, as PyTorch's: max (with return_indices), avg,
-- adaptive, power-average and max_unpool, in 1, 2 and 3 spatial dims.
-- Kernel sizes, strides and paddings are a number or a list per dim;
-- the indices max pooling returns are 0-based flat positions, as
-- PyTorch's, and max_unpool takes them back.
local A = require "torch.nn.functional.args"

local aten, call, define, list = A.aten, A.call, A.define, A.list
local F = {}

local INPUT, SIZES, BOOL = A.INPUT, A.sizes, A.bool

-- max_pool2d(input, kernel_size, stride = kernel_size, padding = 0,
-- dilation = 1, ceil_mode = false, return_indices = false)
local function max_pool(d)
  local name = "max_pool" .. d .. "d"
  F[name] = define(name, { INPUT, { "kernel_size", SIZES() }, { "stride", SIZES() }, { "padding", SIZES(0) },
    { "dilation", SIZES(1) }, { "ceil_mode", BOOL(false) }, { "return_indices", BOOL(false) } }, function(api, a)
    A.rank(api, a.input, d + 1, d + 2)
    local k = list(api, "kernel_size", a.kernel_size, d, 1)
    local args = { k, list(api, "stride", a.stride or k, d, 1), list(api, "padding", a.padding, d, 0),
      list(api, "dilation", a.dilation, d, 1), a.ceil_mode }
    if a.return_indices then return call(api, aten[name .. "_with_indices"], a.input, table.unpack(args)) end
    return call(api, aten[name], a.input, table.unpack(args))
  end)
end

-- avg_pool2d(input, kernel_size, stride = kernel_size, padding = 0,
-- ceil_mode = false, count_include_pad = true, divisor_override = nil)
local function avg_pool(d)
  local name = "avg_pool" .. d .. "d"
  local params = { INPUT, { "kernel_size", SIZES() }, { "stride", SIZES() }, { "padding", SIZES(0) },
    { "ceil_mode", BOOL(false) }, { "count_include_pad", BOOL(true) } }
  if d > 1 then params[#params + 1] = { "divisor_override", A.int(nil, 1) } end
  F[name] = define(name, params, function(api, a)
    A.rank(api, a.input, d + 1, d + 2)
    local k = list(api, "kernel_size", a.kernel_size, d, 1)
    local args = { k, list(api, "stride", a.stride or k, d, 1), list(api, "padding", a.padding, d, 0),
      a.ceil_mode, a.count_include_pad }
    if d > 1 then args[6] = a.divisor_override end -- avg_pool1d has none
    return call(api, aten[name], a.input, table.unpack(args, 1, d > 1 and 6 or 5))
  end)
end

-- an adaptive output size: a number or a list; in 2d and 3d an entry may
-- be false to keep the input's size there (PyTorch's None)
local function output_size(api, x, v, d)
  if type(v) ~= "table" or #v ~= d then return list(api, "output_size", v, d, 0) end -- or says what is wrong
  local filled = {}
  for i = 1, d do filled[i] = v[i] == false and x:size(x:dim() - d + i) or v[i] end
  return list(api, "output_size", filled, d, 0)
end

local function adaptive(d)
  local avg = "adaptive_avg_pool" .. d .. "d"
  F[avg] = define(avg, { INPUT, { "output_size", SIZES() } }, function(api, a)
    A.rank(api, a.input, d + 1, d + 2)
    return call(api, aten[avg], a.input, output_size(api, a.input, a.output_size, d))
  end)
  local name = "adaptive_max_pool" .. d .. "d"
  F[name] = define(name, { INPUT, { "output_size", SIZES() }, { "return_indices", BOOL(false) } }, function(api, a)
    A.rank(api, a.input, d + 1, d + 2)
    local y, indices = call(api, aten[name], a.input, output_size(api, a.input, a.output_size, d))
    if a.return_indices then return y, indices end
    return y
  end)
end

-- lp_pool2d(input, norm_type, kernel_size, stride = kernel_size, ceil_mode = false):
-- (sum of x^p over the window)^(1/p), as PyTorch computes it
local function lp_pool(d)
  local name = "lp_pool" .. d .. "d"
  F[name] = define(name, { INPUT, { "norm_type", A.number() }, { "kernel_size", SIZES() }, { "stride", SIZES() },
    { "ceil_mode", BOOL(false) } }, function(api, a)
    if a.norm_type == nil then A.E.raise(api, "norm_type is required (a number, e.g. 2)") end
    A.rank(api, a.input, d + 1, d + 2)
    local k = list(api, "kernel_size", a.kernel_size, d, 1)
    local out = call(api, aten["avg_pool" .. d .. "d"], a.input:pow(a.norm_type), k,
      list(api, "stride", a.stride or k, d, 1), list(api, "padding", 0, d), a.ceil_mode)
    local n = 1
    for i = 1, d do n = n * k[i] end
    return (out:sign() * out:abs():relu()):mul(n):pow(1.0 / a.norm_type)
  end)
end

-- the default output size of max_unpool, or the one asked for, checked
-- as PyTorch's _unpool_output_size does
local function unpool_size(api, x, k, s, p, asked)
  local d, size = #k, {}
  for i = 1, d do size[i] = (x:size(x:dim() - d + i) - 1) * s[i] + k[i] - 2 * p[i] end
  if asked == nil then return size end
  if type(asked) == "table" and #asked == d + 2 then asked = { table.unpack(asked, 3) } end
  asked = list(api, "output_size", asked, d, 0)
  for i = 1, d do
    if not (size[i] - s[i] < asked[i] and asked[i] < size[i] + s[i]) then
      A.E.raise(api, "output_size %d in spatial dim %d must be between %d and %d (exclusive)", asked[i], i,
        size[i] - s[i], size[i] + s[i])
    end
  end
  return asked
end

-- max_unpool2d(input, indices, kernel_size, stride = kernel_size, padding = 0, output_size = nil)
local function max_unpool(d)
  local name = "max_unpool" .. d .. "d"
  F[name] = define(name, { INPUT, { "indices", A.tensor() }, { "kernel_size", SIZES() }, { "stride", SIZES() },
    { "padding", SIZES(0) }, { "output_size", { type = "integer|table" } } }, function(api, a)
    A.rank(api, a.input, d + 1, d + 2)
    local k = list(api, "kernel_size", a.kernel_size, d, 1)
    local s, p = list(api, "stride", a.stride or k, d, 1), list(api, "padding", a.padding, d, 0)
    local size = unpool_size(api, a.input, k, s, p, a.output_size)
    if d == 1 then -- as PyTorch: a 2d unpool over a trailing dim of 1
      size[2] = 1
      return call(api, aten.max_unpool2d, a.input:unsqueeze(-1), a.indices:unsqueeze(-1), size):squeeze(-1)
    elseif d == 2 then
      return call(api, aten.max_unpool2d, a.input, a.indices, size)
    end
    return call(api, aten.max_unpool3d, a.input, a.indices, size, s, p)
  end)
end

for d = 1, 3 do
  max_pool(d)
  avg_pool(d)
  adaptive(d)
  max_unpool(d)
  if d < 3 then lp_pool(d) end
end

return F
