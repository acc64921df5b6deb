-- Convolutions and pooling (1d, 2d, 3d): libtorch's own modules, with
-- PyTorch's arguments (kernel sizes as a number or a list) and printing.
local core = require "torch.nn.core"
local native = require "torch.nn.native"

local int, bool, opts, pyrepr, sizes = native.int, native.bool, native.opts, native.pyrepr, native.sizes
local M = {}

local function all(list, v)
  for _, x in ipairs(list) do if x ~= v then return false end end
  return true
end

-- {======================================================
-- Convolutions
-- =======================================================

local PADDING_MODES = { zeros = true, reflect = true, replicate = true, circular = true }

-- nn.Conv2d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0,
--   dilation = 1, groups = 1, bias = true, padding_mode = "zeros"});
-- padding may be "same" or "valid".  ConvTranspose adds output_padding.
local function conv_class(name, dims, transposed)
  local known = { "stride", "padding", "dilation", "groups", "bias", "padding_mode" }
  if transposed then known[#known + 1] = "output_padding" end
  local class = native.class(name, function(self, in_channels, out_channels, kernel_size, o)
    o = opts(name, o, known)
    self.in_channels = int(name, "in_channels", in_channels, 1)
    self.out_channels = int(name, "out_channels", out_channels, 1)
    self.kernel_size = sizes(name, "kernel_size", kernel_size, dims, 1)
    self.stride = sizes(name, "stride", o.stride or 1, dims, 1)
    self.dilation = sizes(name, "dilation", o.dilation or 1, dims, 1)
    self.groups = int(name, "groups", o.groups or 1, 1)
    self.output_padding = sizes(name, "output_padding", o.output_padding or 0, dims, 0)
    native.weights(name, self.in_channels, self.out_channels / self.groups, table.unpack(self.kernel_size))
    local padding = o.padding or 0
    if padding == "same" or padding == "valid" then
      if transposed then native.raise(name, "padding must be numbers, got '%s'", padding) end
      if padding == "same" and not all(self.stride, 1) then
        native.raise(name, "padding='same' is not supported for strided convolutions")
      end
      self.padding = padding
    else
      self.padding = sizes(name, "padding", padding, dims, 0)
    end
    self.padding_mode = o.padding_mode or "zeros"
    if not PADDING_MODES[self.padding_mode] then
      native.raise(name, "padding_mode must be zeros, reflect, replicate or circular, got '%s'",
        tostring(self.padding_mode))
    end
    if transposed and self.padding_mode ~= "zeros" then
      native.raise(name, "only padding_mode 'zeros' is supported")
    end
    for _, what in ipairs { "in_channels", "out_channels" } do
      if self[what] % self.groups ~= 0 then
        native.raise(name, "%s (%d) must be divisible by groups (%d)", what, self[what], self.groups)
      end
    end
    return core.conv {
      dims = dims, transposed = transposed,
      in_channels = self.in_channels, out_channels = self.out_channels, groups = self.groups,
      kernel_size = self.kernel_size, stride = self.stride, padding = self.padding,
      output_padding = self.output_padding, dilation = self.dilation,
      padding_mode = self.padding_mode, bias = bool(name, "bias", o.bias, true),
    }
  end)
  -- as PyTorch's _ConvNd.extra_repr
  function class:extra_repr()
    local s = ("%d, %d, kernel_size=%s, stride=%s"):format(self.in_channels, self.out_channels,
      pyrepr(self.kernel_size), pyrepr(self.stride))
    if type(self.padding) == "string" or not all(self.padding, 0) then s = s .. ", padding=" .. pyrepr(self.padding) end
    if not all(self.dilation, 1) then s = s .. ", dilation=" .. pyrepr(self.dilation) end
    if not all(self.output_padding, 0) then s = s .. ", output_padding=" .. pyrepr(self.output_padding) end
    if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
    if self.bias == nil then s = s .. ", bias=False" end
    if self.padding_mode ~= "zeros" then s = s .. ", padding_mode=" .. self.padding_mode end
    return s
  end
  return class
end

for d = 1, 3 do
  M["Conv" .. d .. "d"] = conv_class("Conv" .. d .. "d", d, false)
  M["ConvTranspose" .. d .. "d"] = conv_class("ConvTranspose" .. d .. "d", d, true)
end

-- }======================================================

-- {======================================================
-- Pooling
-- =======================================================

-- With return_indices, m(x) returns values, indices (0-based, for
-- MaxUnpool) through nn.functional: F[fn](x, arguments(self)...), the last
-- argument an options table that return_indices joins.  An instance field
-- forward, so the fast loop's plan takes the module for a Lua one.
local function with_indices(self, fn, arguments)
  local F, run = require "torch.nn.functional", require("torch.nn.functional_module").run
  rawset(self, "return_indices", true)
  rawset(self, "forward", function(m, x)
    local args = arguments(m)
    args[#args].return_indices = true
    return run(m, 1, F[fn], x, table.unpack(args))
  end)
end

local function max_pool_arguments(m)
  return { m.kernel_size, { stride = m.stride, padding = m.padding, dilation = m.dilation, ceil_mode = m.ceil_mode } }
end

-- nn.MaxPool2d(kernel_size, {stride = kernel_size, padding = 0, dilation = 1,
-- ceil_mode = false, return_indices = false}); printed with the values as
-- given, as PyTorch does
local function max_pool_class(name, dims)
  local class = native.class(name, function(self, kernel_size, o)
    o = opts(name, o, { "stride", "padding", "dilation", "ceil_mode", "return_indices" })
    if bool(name, "return_indices", o.return_indices, false) then
      with_indices(self, "max_pool" .. dims .. "d", max_pool_arguments)
    end
    self.kernel_size, self.stride = kernel_size, o.stride or kernel_size
    self.padding, self.dilation = o.padding or 0, o.dilation or 1
    self.ceil_mode = bool(name, "ceil_mode", o.ceil_mode, false)
    local k = sizes(name, "kernel_size", kernel_size, dims, 1)
    local p = sizes(name, "padding", self.padding, dims, 0)
    for i = 1, dims do
      if p[i] > k[i] // 2 then
        native.raise(name, "padding %s should be at most half of kernel_size %s",
          pyrepr(self.padding), pyrepr(kernel_size))
      end
    end
    return core.pool {
      kind = "max", dims = dims, kernel_size = k, stride = sizes(name, "stride", self.stride, dims, 1),
      padding = p, dilation = sizes(name, "dilation", self.dilation, dims, 1), ceil_mode = self.ceil_mode,
    }
  end)
  function class:extra_repr()
    return ("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s"):format(pyrepr(self.kernel_size),
      pyrepr(self.stride), pyrepr(self.padding), pyrepr(self.dilation), pyrepr(self.ceil_mode))
  end
  return class
end

-- nn.AvgPool2d(kernel_size, {stride = kernel_size, padding = 0, ceil_mode =
-- false, count_include_pad = true, divisor_override})
local function avg_pool_class(name, dims)
  local class = native.class(name, function(self, kernel_size, o)
    local known = { "stride", "padding", "ceil_mode", "count_include_pad" }
    if dims > 1 then known[#known + 1] = "divisor_override" end
    o = opts(name, o, known)
    local k = sizes(name, "kernel_size", kernel_size, dims, 1)
    local s = sizes(name, "stride", o.stride or kernel_size, dims, 1)
    local p = sizes(name, "padding", o.padding or 0, dims, 0)
    for i = 1, dims do
      if p[i] > k[i] // 2 then
        native.raise(name, "padding %s should be at most half of kernel_size %s",
          pyrepr(o.padding), pyrepr(kernel_size))
      end
    end
    if dims == 1 then -- AvgPool1d keeps tuples, the others the values as given
      self.kernel_size, self.stride, self.padding = k, s, p
    else
      self.kernel_size, self.stride, self.padding = kernel_size, o.stride or kernel_size, o.padding or 0
    end
    self.ceil_mode = bool(name, "ceil_mode", o.ceil_mode, false)
    self.count_include_pad = bool(name, "count_include_pad", o.count_include_pad, true)
    if o.divisor_override ~= nil then self.divisor_override = int(name, "divisor_override", o.divisor_override, 1) end
    return core.pool {
      kind = "avg", dims = dims, kernel_size = k, stride = s, padding = p, ceil_mode = self.ceil_mode,
      count_include_pad = self.count_include_pad, divisor_override = self.divisor_override,
    }
  end)
  function class:extra_repr()
    return ("kernel_size=%s, stride=%s, padding=%s"):format(pyrepr(self.kernel_size), pyrepr(self.stride),
      pyrepr(self.padding))
  end
  return class
end

-- nn.AdaptiveAvgPool2d(output_size): a number or a list; in 2d and 3d an
-- entry may be nil (or false) to keep the input's size there;
-- AdaptiveMaxPool2d(output_size, {return_indices = false})
local function adaptive_class(name, dims, kind)
  local class = native.class(name, function(self, output_size, o)
    o = opts(name, o, kind == "adaptive_max" and { "return_indices" } or {})
    if bool(name, "return_indices", o.return_indices, false) then
      local given = output_size
      if type(output_size) == "table" then
        given = {}
        for i = 1, dims do given[i] = output_size[i] or false end -- nil: keep the input's size
      end
      with_indices(self, "adaptive_max_pool" .. dims .. "d", function() return { given, {} } end)
    end
    local list, shown = {}, {}
    if type(output_size) == "number" then
      for i = 1, dims do list[i] = int(name, "output_size", output_size, 1) end
      shown = output_size
    elseif type(output_size) == "table" and dims > 1 then
      for i = 1, dims do
        local v = output_size[i]
        if v == nil or v == false then
          list[i] = -1
          shown[i] = "None"
        else
          list[i] = int(name, "output_size", v, 1)
          shown[i] = list[i]
        end
      end
    else
      native.raise(name, "output_size must be a number%s, got %s",
        dims > 1 and (" or a list of " .. dims) or "", type(output_size))
    end
    self.output_size = shown
    return core.pool { kind = kind, dims = dims, kernel_size = list }
  end)
  function class:extra_repr() return "output_size=" .. pyrepr(self.output_size) end
  return class
end

for d = 1, 3 do
  M["MaxPool" .. d .. "d"] = max_pool_class("MaxPool" .. d .. "d", d)
  M["AvgPool" .. d .. "d"] = avg_pool_class("AvgPool" .. d .. "d", d)
  M["AdaptiveAvgPool" .. d .. "d"] = adaptive_class("AdaptiveAvgPool" .. d .. "d", d, "adaptive_avg")
  M["AdaptiveMaxPool" .. d .. "d"] = adaptive_class("AdaptiveMaxPool" .. d .. "d", d, "adaptive_max")
end

-- }======================================================

return M
