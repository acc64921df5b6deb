-- Resampling modules, written in Lua over nn.functional: Upsample (and
-- UpsamplingNearest2d, UpsamplingBilinear2d), PixelShuffle, PixelUnshuffle.
local F = require "torch.nn.functional"
local L = require "torch.nn.functional_module"

local A, pyrepr = L.A, L.pyrepr
local M = {}

local MODES = { "nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact" }

-- scale factors are kept as floats, as PyTorch's Upsample keeps them
local function floats(v)
  if type(v) == "number" then return v + 0.0 end
  if type(v) ~= "table" then return v end
  local list = {}
  for i, x in ipairs(v) do list[i] = type(x) == "number" and x + 0.0 or x end
  return list
end

-- exactly one of size and scale_factor; the factors as floats
local function one_target(self)
  if (self.size == nil) == (self.scale_factor == nil) then
    A.E.raise("nn." .. self:_get_name(), "give size or scale_factor (one of them)")
  end
  self.scale_factor = floats(self.scale_factor)
end

-- Upsample(size, scale_factor, mode = "nearest", align_corners, recompute_scale_factor):
-- nn.Upsample{scale_factor = 2, mode = "bilinear"}
M.Upsample = L.class("Upsample", { { "size", A.sizes() }, { "scale_factor", { type = "number|table" } },
  { "mode", A.enum("nearest", MODES) }, { "align_corners", A.bool() }, { "recompute_scale_factor", A.bool() } },
  one_target)
function M.Upsample:forward(x)
  return L.run(self, 1, F.interpolate, x, { size = self.size, scale_factor = self.scale_factor, mode = self.mode,
    align_corners = self.align_corners, recompute_scale_factor = self.recompute_scale_factor })
end
function M.Upsample:extra_repr()
  local s = self.scale_factor ~= nil and ("scale_factor=" .. pyrepr(self.scale_factor)) or ("size=" .. pyrepr(self.size))
  return s .. ", mode=" .. self.mode
end

-- UpsamplingNearest2d(size, scale_factor), UpsamplingBilinear2d (align_corners = true)
local function fixed(name, mode, align_corners)
  local class = L.class(name, { { "size", A.sizes() }, { "scale_factor", { type = "number|table" } } }, function(self)
    self.mode, self.align_corners = mode, align_corners
    one_target(self)
  end)
  class.forward, class.extra_repr = M.Upsample.forward, M.Upsample.extra_repr
  return class
end
M.UpsamplingNearest2d = fixed("UpsamplingNearest2d", "nearest")
M.UpsamplingBilinear2d = fixed("UpsamplingBilinear2d", "bilinear", true)

-- PixelShuffle(upscale_factor), PixelUnshuffle(downscale_factor)
for name, arg in pairs { PixelShuffle = "upscale_factor", PixelUnshuffle = "downscale_factor" } do
  local fn = name == "PixelShuffle" and "pixel_shuffle" or "pixel_unshuffle"
  M[name] = L.class(name, { { arg, A.required("integer", 1) } })
  M[name].forward = function(self, x) return L.run(self, 1, F[fn], x, self[arg]) end
  M[name].extra_repr = function(self) return arg .. "=" .. self[arg] end
end

return M
