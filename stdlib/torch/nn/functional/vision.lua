-- nn.functional's resampling of images and volumes, as PyTorch 1.13's:
-- pad, interpolate (and the upsample aliases), affine_grid and
-- grid_sample, pixel_shuffle and pixel_unshuffle.  interpolate follows
-- PyTorch's Python step by step: the same checks, the same choice of ATen
-- kernel, the same scales.
local A = require "torch.nn.functional.args"

local aten, call, define = A.aten, A.call, A.define
local E = A.E
local F = {}

-- pad(input, pad, mode = "constant", value = 0): pad lists (before, after)
-- pairs from the last dim backwards, as PyTorch's
F.pad = define("pad", { A.INPUT, { "pad", { type = "table", required = true, what = "a list of sizes" } },
  { "mode", A.enum("constant", { "constant", "reflect", "replicate", "circular" }) },
  { "value", A.number() } }, function(api, a)
  local pad = A.list(api, "pad", a.pad, #a.pad)
  if #pad % 2 ~= 0 or #pad == 0 then E.raise(api, "pad must hold pairs (before, after), got %d sizes", #pad) end
  if a.mode ~= "constant" then
    if a.value ~= nil and a.value ~= 0 then E.raise(api, "value is only for mode 'constant'") end
    local d = #pad // 2
    if d > 3 then E.raise(api, "mode '%s' pads at most 3 dims, got %d pairs", a.mode, d) end
    A.rank(api, a.input, d + 1, d + 2)
  end
  return call(api, aten.pad, a.input, pad, a.mode, a.value)
end)

-- {====================== interpolate ======================

local MODES = { "nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact" }
-- the rank (3, 4 or 5) each interpolating mode needs
local RANK = { linear = 3, bilinear = 4, bicubic = 4, trilinear = 5 }
local KERNEL = { nearest = "upsample_nearest%dd", ["nearest-exact"] = "_upsample_nearest_exact%dd" }

local function per_dim(api, name, v, d, x)
  if type(v) ~= "table" then
    local l = {}
    for i = 1, d do l[i] = v end
    return l
  end
  if #v ~= d then
    E.raise(api, "%s must have one entry per spatial dim: the input has %d (size (%s)), %s has %d", name, d,
      table.concat(x:size(), ", "), name, #v)
  end
  return { table.unpack(v) }
end

-- (output size, scale factors) as PyTorch's interpolate computes them
local function target(api, a, d)
  if a.size ~= nil and a.scale_factor ~= nil then E.raise(api, "give size or scale_factor, not both") end
  if a.size == nil and a.scale_factor == nil then E.raise(api, "size or scale_factor is required") end
  if a.recompute_scale_factor and a.size ~= nil then
    E.raise(api, "recompute_scale_factor is not meaningful with an explicit size")
  end
  if a.size ~= nil then return A.list(api, "size", per_dim(api, "size", a.size, d, a.input), d, 0), nil end
  local scales = per_dim(api, "scale_factor", a.scale_factor, d, a.input)
  for i, s in ipairs(scales) do
    if type(s) ~= "number" or s ~= s or s <= 0 then E.raise(api, "scale_factor must be > 0, got %s", E.show(s)) end
    scales[i] = s + 0.0
  end
  if a.recompute_scale_factor or a.mode == "area" then
    local size = {}
    for i = 1, d do size[i] = math.floor(a.input:size(i + 2) * scales[i]) end
    return size, nil
  end
  return nil, scales
end

-- interpolate(input, {size | scale_factor, mode = "nearest", align_corners,
-- recompute_scale_factor, antialias = false})
F.interpolate = define("interpolate", { A.INPUT, { "size", A.sizes() }, { "scale_factor", { type = "number|table" } },
  { "mode", A.enum("nearest", MODES) }, { "align_corners", A.bool() }, { "recompute_scale_factor", A.bool() },
  { "antialias", A.bool(false) } }, function(api, a)
  local mode, x = a.mode, a.input
  local rank = A.rank(api, x, 3, 4, 5)
  if RANK[mode] and RANK[mode] ~= rank then
    E.raise(api, "mode '%s' needs a %dD input, got a %dD input", mode, RANK[mode], rank)
  end
  local align = a.align_corners
  if not RANK[mode] and align ~= nil then
    E.raise(api, "align_corners is only for the interpolating modes: linear, bilinear, bicubic, trilinear")
  end
  if a.antialias and not (mode == "bilinear" or mode == "bicubic") then
    E.raise(api, "antialias is only for modes bilinear and bicubic")
  end
  local d = rank - 2
  local size, scales = target(api, a, d)
  if mode == "area" then return call(api, aten["adaptive_avg_pool" .. d .. "d"], x, size) end
  if KERNEL[mode] then return call(api, aten[KERNEL[mode]:format(d) .. ".vec"], x, size, scales) end
  local kernel = "upsample_" .. mode .. d .. "d"
  if a.antialias then kernel = "_" .. kernel .. "_aa" end
  return call(api, aten[kernel .. ".vec"], x, size, align or false, scales)
end)

-- the deprecated aliases, as PyTorch keeps them
F.upsample = define("upsample", { A.INPUT, { "size", A.sizes() }, { "scale_factor", { type = "number|table" } },
  { "mode", A.enum("nearest", MODES) }, { "align_corners", A.bool() } }, function(_, a)
  return F.interpolate(a.input, { size = a.size, scale_factor = a.scale_factor, mode = a.mode,
    align_corners = a.align_corners })
end)
F.upsample_nearest = define("upsample_nearest", { A.INPUT, { "size", A.sizes() },
  { "scale_factor", { type = "number|table" } } }, function(_, a)
  return F.interpolate(a.input, { size = a.size, scale_factor = a.scale_factor })
end)
F.upsample_bilinear = define("upsample_bilinear", { A.INPUT, { "size", A.sizes() },
  { "scale_factor", { type = "number|table" } } }, function(_, a)
  return F.interpolate(a.input, { size = a.size, scale_factor = a.scale_factor, mode = "bilinear",
    align_corners = true })
end)

-- }======================================================

-- {====================== sampling grids ======================

local GRID_MODES = { bilinear = 0, nearest = 1, bicubic = 2 }
local GRID_PADDING = { zeros = 0, border = 1, reflection = 2 }

-- affine_grid(theta, size, align_corners = false): the sampling grid of
-- the affine maps theta (N, 2, 3) for size (N, C, H, W), or (N, 3, 4) for
-- (N, C, D, H, W); coordinates in [-1, 1]
F.affine_grid = define("affine_grid", { { "theta", A.tensor() }, { "size", { type = "table", required = true,
  what = "a list of 4 or 5 sizes" } }, { "align_corners", A.bool(false) } }, function(api, a)
  local size, theta = A.list(api, "size", a.size, #a.size, 1), a.theta
  if #size ~= 4 and #size ~= 5 then E.raise(api, "size must have 4 or 5 entries (N, C, [D,] H, W), got %d", #size) end
  local rows, cols = #size - 2, #size - 1 -- PyTorch checks theta's matrix shape, not its batch
  if theta:dim() ~= 3 or theta:size(2) ~= rows or theta:size(3) ~= cols then
    E.raise(api, "theta must have size (N, %d, %d) for size (%s), got (%s)", rows, cols, table.concat(size, ", "),
      table.concat(theta:size(), ", "))
  end
  return call(api, aten.affine_grid_generator, theta, size, a.align_corners)
end)

-- grid_sample(input, grid, mode = "bilinear", padding_mode = "zeros",
-- align_corners = false): input sampled at grid's (x, y[, z]) in [-1, 1]
F.grid_sample = define("grid_sample", { A.INPUT, { "grid", A.tensor() },
  { "mode", A.enum("bilinear", { "bilinear", "nearest", "bicubic" }) },
  { "padding_mode", A.enum("zeros", { "zeros", "border", "reflection" }) }, { "align_corners", A.bool(false) } },
  function(api, a)
    local rank = A.rank(api, a.input, 4, 5)
    if a.mode == "bicubic" and rank ~= 4 then E.raise(api, "mode 'bicubic' needs a 4D input, got a 5D input") end
    return call(api, aten.grid_sampler, a.input, a.grid, GRID_MODES[a.mode], GRID_PADDING[a.padding_mode],
      a.align_corners)
  end)

-- }======================================================

-- pixel_shuffle(input, upscale_factor): (*, C r^2, H, W) -> (*, C, H r, W r);
-- pixel_unshuffle(input, downscale_factor), its inverse
for name, factor in pairs { pixel_shuffle = "upscale_factor", pixel_unshuffle = "downscale_factor" } do
  F[name] = define(name, { A.INPUT, { factor, A.required("integer", 1) } }, function(api, a)
    if a.input:dim() < 3 then E.raise(api, "expected an input of 3 or more dims, got %dD", a.input:dim()) end
    return call(api, aten[name], a.input, a[factor])
  end)
end

return F
