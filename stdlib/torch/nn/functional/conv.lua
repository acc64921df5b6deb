-- nn.functional's convolutions and linear maps, as PyTorch's: conv1d/2d/3d
-- (padding may be "same" or "valid"), conv_transpose1d/2d/3d, linear,
-- bilinear, and unfold/fold (sliding blocks to columns and back).
local A = require "torch.nn.functional.args"

local aten, call, define, list = A.aten, A.call, A.define, A.list
local INPUT, SIZES, OPT = A.INPUT, A.sizes, A.optional_tensor
local F = {}

-- conv2d(input, weight, bias = nil, stride = 1, padding = 0, dilation = 1, groups = 1)
local function conv(d)
  local name = "conv" .. d .. "d"
  F[name] = define(name, { INPUT, { "weight", A.tensor() }, { "bias", OPT() }, { "stride", SIZES(1) },
    { "padding", { type = "integer|table|string", default = 0 } }, { "dilation", SIZES(1) },
    { "groups", A.int(1, 1) } }, function(api, a)
    A.rank(api, a.input, d + 1, d + 2)
    local stride, dilation = list(api, "stride", a.stride, d, 1), list(api, "dilation", a.dilation, d, 1)
    if type(a.padding) == "string" then
      if a.padding ~= "same" and a.padding ~= "valid" then
        A.E.raise(api, "padding must be numbers, 'same' or 'valid', got '%s'", a.padding)
      end
      return call(api, aten[name .. ".padding"], a.input, a.weight, a.bias, stride, a.padding, dilation, a.groups)
    end
    return call(api, aten[name], a.input, a.weight, a.bias, stride, list(api, "padding", a.padding, d, 0), dilation,
      a.groups)
  end)
end

-- conv_transpose2d(input, weight, bias = nil, stride = 1, padding = 0,
-- output_padding = 0, groups = 1, dilation = 1)
local function conv_transpose(d)
  local name = "conv_transpose" .. d .. "d"
  F[name] = define(name, { INPUT, { "weight", A.tensor() }, { "bias", OPT() }, { "stride", SIZES(1) },
    { "padding", SIZES(0) }, { "output_padding", SIZES(0) }, { "groups", A.int(1, 1) }, { "dilation", SIZES(1) } },
    function(api, a)
      A.rank(api, a.input, d + 1, d + 2)
      return call(api, aten[name], a.input, a.weight, a.bias, list(api, "stride", a.stride, d, 1),
        list(api, "padding", a.padding, d, 0), list(api, "output_padding", a.output_padding, d, 0), a.groups,
        list(api, "dilation", a.dilation, d, 1))
    end)
end

for d = 1, 3 do
  conv(d)
  conv_transpose(d)
end

-- linear(input, weight, bias = nil): y = x W^T + b, PyTorch's weight
-- layout (out_features, in_features); matmul then add, as clara always did
F.linear = define("linear", { INPUT, { "weight", A.tensor() }, { "bias", OPT() } }, function(api, a)
  local ok, y = pcall(a.input.matmul, a.input, a.weight:t())
  if not ok then
    A.E.raise(api, "input of size (%s) does not fit weight of size (%s)", table.concat(a.input:size(), ", "),
      table.concat(a.weight:size(), ", "))
  end
  if a.bias then y = y + a.bias end
  return y
end)

-- bilinear(input1, input2, weight, bias = nil): y = x1^T A x2 + b
F.bilinear = define("bilinear", { { "input1", A.tensor() }, { "input2", A.tensor() }, { "weight", A.tensor() },
  { "bias", OPT() } }, function(api, a)
  return call(api, aten.bilinear, a.input1, a.input2, a.weight, a.bias)
end)

-- unfold(input, kernel_size, dilation = 1, padding = 0, stride = 1):
-- (N, C, H, W) -> (N, C * kh * kw, L), each column one block
F.unfold = define("unfold", { INPUT, { "kernel_size", SIZES() }, { "dilation", SIZES(1) }, { "padding", SIZES(0) },
  { "stride", SIZES(1) } }, function(api, a)
  A.rank(api, a.input, 3, 4)
  return call(api, aten.im2col, a.input, list(api, "kernel_size", a.kernel_size, 2, 1),
    list(api, "dilation", a.dilation, 2, 1), list(api, "padding", a.padding, 2, 0), list(api, "stride", a.stride, 2, 1))
end)

-- fold(input, output_size, kernel_size, dilation = 1, padding = 0, stride = 1):
-- unfold's inverse, overlapping values summed
F.fold = define("fold", { INPUT, { "output_size", SIZES() }, { "kernel_size", SIZES() }, { "dilation", SIZES(1) },
  { "padding", SIZES(0) }, { "stride", SIZES(1) } }, function(api, a)
  A.rank(api, a.input, 2, 3)
  return call(api, aten.col2im, a.input, list(api, "output_size", a.output_size, 2, 1),
    list(api, "kernel_size", a.kernel_size, 2, 1), list(api, "dilation", a.dilation, 2, 1),
    list(api, "padding", a.padding, 2, 0), list(api, "stride", a.stride, 2, 1))
end)

return F
