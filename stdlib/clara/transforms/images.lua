-- clara.transforms.images: image resizing and augmentation, one sample at a
-- time, in clear Lua over torch ops (the reference the batch kernels of
-- batch.lua are proven against).  These join T.augment: aug(x) yields n
-- versions of the sample x, (H, W) or (C, H, W), as the other
-- augmentations.  Options and results follow torchvision 0.14's tensor
-- transforms; the draws come from clara.transforms.draws.
--
--   resize{size =, interpolation = "bilinear", antialias = false}
--   center_crop{size =}
--   random_resized_crop{size =, scale = {0.08, 1}, ratio = {3/4, 4/3}, interpolation, antialias}
--   rotation{degrees =, interpolation = "nearest", fill = 0}
--   color_jitter{brightness =, contrast =, saturation =}
--   random_erasing{p = 0.5, scale = {0.02, 0.33}, ratio = {0.3, 3.3}, value = 0}
local torch = require "torch"
local base = require "clara.transforms.base"
local draws = require "clara.transforms.draws"
local augment = require "clara.transforms.augment"
local E = require "clara.error"

local F = torch.nn.functional
local A = augment.internal
local M = {}

-- {====================== options ======================

local function size_pair(v)
  if math.type(v) == "integer" and v >= 1 then return true end
  if type(v) == "table" and #v == 2 and math.type(v[1]) == "integer" and math.type(v[2]) == "integer"
    and v[1] >= 1 and v[2] >= 1 then return true end
  return false, "must be a positive integer or {h, w}, got " .. E.show(v)
end
local function pair(lo_min)
  return function(v)
    if type(v) == "table" and #v == 2 and type(v[1]) == "number" and type(v[2]) == "number"
      and v[1] <= v[2] and v[1] >= lo_min then return true end
    return false, ("must be {lo, hi} with %s <= lo <= hi, got %s"):format(lo_min, E.show(v))
  end
end
local function number_or_list(v)
  if type(v) == "number" then return true end
  if type(v) == "table" and #v >= 1 then
    for _, x in ipairs(v) do if type(x) ~= "number" then return false, "must hold numbers" end end
    return true
  end
  return false, "must be a number or a list of numbers (one per channel), got " .. E.show(v)
end
local function jitter_amount(v)
  if type(v) == "number" and v >= 0 then return true end
  if pair(0)(v) then return true end
  return false, "must be a number >= 0 or {lo, hi} with 0 <= lo <= hi, got " .. E.show(v)
end

local SIZE = { type = "integer|table", check = size_pair, required = true, what = "a positive integer or {h, w}",
               doc = "output size: {h, w}, or one number" }
local INTERP = { type = "string", enum = { "nearest", "bilinear", "bicubic" }, default = "bilinear",
                 doc = "interpolation" }
local ANTIALIAS = { type = "boolean", default = false, doc = "antialias when downscaling (torchvision's)" }

-- each transform's options (as T.augment's, plus n and keep_original)
M.SCHEMA = {
  Resize = { size = SIZE, interpolation = INTERP, antialias = ANTIALIAS },
  CenterCrop = { size = SIZE },
  RandomResizedCrop = { size = SIZE, interpolation = INTERP, antialias = ANTIALIAS,
    scale = { type = "table", check = pair(0), default = { 0.08, 1.0 }, doc = "range of the crop's area fraction" },
    ratio = { type = "table", check = pair(1e-12), default = { 3 / 4, 4 / 3 }, doc = "range of its aspect ratio" } },
  RandomRotation = { degrees = { type = "number|table", required = true, what = "a number >= 0 or {lo, hi}",
                                 check = function(v) if type(v) == "number" then return v >= 0, "must be >= 0" end
                                   return pair(-math.huge)(v) end, doc = "angles drawn from [-d, d] or {lo, hi}" },
    interpolation = { type = "string", enum = { "nearest", "bilinear" }, default = "nearest", doc = "interpolation" },
    fill = { type = "number|table", check = number_or_list, default = 0, doc = "the value outside the image" } },
  ColorJitter = { brightness = { type = "number|table", check = jitter_amount, doc = "factor range around 1" },
    contrast = { type = "number|table", check = jitter_amount, doc = "factor range around 1" },
    saturation = { type = "number|table", check = jitter_amount, doc = "factor range around 1" } },
  RandomErasing = { p = { type = "number", min = 0, max = 1, default = 0.5, doc = "the chance to erase" },
    scale = { type = "table", check = pair(0), default = { 0.02, 0.33 }, doc = "range of the erased area fraction" },
    ratio = { type = "table", check = pair(1e-12), default = { 0.3, 3.3 }, doc = "range of its aspect ratio" },
    value = { type = "number|table", check = number_or_list, default = 0, doc = "the erasing value (per channel)" } },
}

-- checked options o of transform `name`, with its derived settings
function M.finish(name, o)
  if type(o.size) == "table" then o.size = { o.size[1], o.size[2] } end
  if name == "RandomRotation" then o.lo, o.hi = draws.range(o.degrees, 0) end
  if name == "ColorJitter" then
    o.ranges = {}
    for k, key in ipairs { "brightness", "contrast", "saturation" } do
      if o[key] ~= nil then o.ranges[k] = { draws.range(o[key], 1, 0) } end
    end
  end
  return o
end

-- per-channel values (a number for every channel, or one per channel)
function M.channel_values(v, c, fname)
  if type(v) == "number" then
    local out = {}
    for k = 1, c do out[k] = v end
    return out
  end
  if #v == 1 then return M.channel_values(v[1], c, fname) end
  if #v ~= c then base.raise(("%s: %d values for an image of %d channels"):format(fname, #v, c)) end
  return v
end

-- one line: Name(key=value, ...) in the schema's key order
local ORDER = { "size", "scale", "ratio", "degrees", "brightness", "contrast", "saturation", "p", "padding",
                "padding_mode", "interpolation", "antialias", "fill", "value" }
function M.label(name, o)
  local parts = {}
  for _, k in ipairs(ORDER) do
    if o[k] ~= nil and M.SCHEMA[name] and M.SCHEMA[name][k] then
      parts[#parts + 1] = k .. "=" .. base.value(o[k])
    end
  end
  return ("%s(%s)"):format(name, table.concat(parts, ", "))
end

function M.describe(name, o)
  local d = { name = name }
  for k in pairs(M.SCHEMA[name]) do d[k] = o[k] end
  return d
end

-- }======================================================

-- {====================== pixels, one sample ======================

-- (C, H, W) float view of a sample, and the function back to its shape
local function as_chw(x, fname)
  x = base.float(x, fname)
  if x:dim() < 2 then
    base.raise(("%s: expected an image (H, W) or (C, H, W), got shape (%s)"):format(fname, table.concat(x:size(), ", ")))
  end
  if x:dim() == 2 then return x:unsqueeze(1), function(y) return y:squeeze(1) end end
  if x:dim() > 3 then base.raise(("%s: expected one image (H, W) or (C, H, W), got %d dims"):format(fname, x:dim())) end
  return x, function(y) return y end
end
M.as_chw = as_chw

-- resize a (C, H, W) image as torchvision's F.resize on tensors
function M.resize_chw(x, h, w, mode, antialias)
  local opts = { size = { h, w }, mode = mode, antialias = antialias and mode ~= "nearest" or nil }
  if mode ~= "nearest" then opts.align_corners = false end
  return F.interpolate(x:unsqueeze(1), opts):squeeze(1)
end

-- the window (top, left, h, w) of x, padded where it leaves the image as
-- padding_mode says: "constant" (fill), "edge" or "reflect"
local PAD_MODE = { constant = "constant", edge = "replicate", reflect = "reflect" }
function M.window(x, top, left, h, w, mode, fill)
  local H, W = x:size(2), x:size(3)
  local pt, pl = math.max(0, -top), math.max(0, -left)
  local pb, pr = math.max(0, top + h - H), math.max(0, left + w - W)
  if pt + pl + pb + pr > 0 then
    x = F.pad(x:unsqueeze(1), { pl, pr, pt, pb }, PAD_MODE[mode or "constant"],
      (mode or "constant") == "constant" and (fill or 0) or nil):squeeze(1)
    top, left = top + pt, left + pl
  end
  return x:narrow(2, top + 1, h):narrow(3, left + 1, w):clone()
end

-- torchvision's rgb_to_grayscale, (1, H, W)
local function gray(x)
  return (x[1] * 0.2989 + x[2] * 0.587 + x[3] * 0.114):unsqueeze(1)
end
local function blend(a, b, r)
  return (a * r + b * (1.0 - r)):clamp(0, 1)
end
-- adjustment k (0 brightness, 1 contrast, 2 saturation) by factor f
function M.adjust(x, k, f)
  if k == 0 then return blend(x, torch.zeros_like(x), f) end
  local c = x:size(1)
  if k == 1 then
    local m = (c == 3 and gray(x) or x):mean()
    return blend(x, m, f)
  end
  if c == 1 then return x end
  return blend(x, gray(x), f)
end

-- torchvision's F.rotate on a tensor: inverse matrix, a grid of pixel
-- centres scaled to [-1, 1], grid_sample, the fill blended by a mask
function M.rotate_chw(x, angle, mode, fill)
  local C, H, W = x:size(1), x:size(2), x:size(3)
  local rot = math.rad(-angle)
  local theta = torch.tensor({ { math.cos(rot), math.sin(rot), 0 }, { -math.sin(rot), math.cos(rot), 0 } },
    { dtype = "float32" })
  local xs = torch.arange(0, W, 1, { dtype = "float32" }) + (-W * 0.5 + 0.5)
  local ys = torch.arange(0, H, 1, { dtype = "float32" }) + (-H * 0.5 + 0.5)
  local base_grid = torch.stack({ xs:view(1, W):expand(H, W), ys:view(H, 1):expand(H, W), torch.ones(H, W) }, 3)
  local scaled = theta:t() / torch.tensor({ 0.5 * W, 0.5 * H }, { dtype = "float32" })
  local grid = base_grid:reshape(1, H * W, 3):bmm(scaled:unsqueeze(1)):reshape(1, H, W, 2)
  local img = torch.cat({ x, torch.ones(1, H, W) }, 1):unsqueeze(1)
  local out = F.grid_sample(img, grid, { mode = mode, padding_mode = "zeros", align_corners = false }):squeeze(1)
  local mask = out:narrow(1, C + 1, 1):expand(C, H, W)
  out = out:narrow(1, 1, C)
  local fills = torch.tensor(fill, { dtype = "float32" }):view(C, 1, 1):expand(C, H, W)
  if mode == "nearest" then return torch.where(mask:lt(0.5), fills, out) end
  return out * mask + (1.0 - mask) * fills
end

-- }======================================================

-- {====================== the per-sample augmentations ======================

-- a T.augment class for transform `name`: draw(self, x) on the (C, H, W) view
local function image_class(name, draw)
  local C = A.class(name)
  C.check = function(_, x) as_chw(x, name) end
  C.draw = function(self, x)
    local chw, back = as_chw(x, name)
    return back(draw(self, chw))
  end
  C.label = function(self) return M.label(name, self.o):sub(1, -2) .. A.suffix(self) .. ")" end
  C.describe = function(self)
    local d = M.describe(name, self.o)
    d.n, d.keep_original = self.n, self.keep_original
    return d
  end
  return C
end

local function constructor(name, C, key)
  M[key] = function(opts)
    local o, n, keep = A.options(opts, M.SCHEMA[name], name)
    o = M.finish(name, o)
    return setmetatable({ o = o, n = n, keep_original = keep }, C)
  end
  base.register(name, function(d) return M[key](A.args(d)) end)
end

local Resize = image_class("Resize", function(self, x)
  local h, w = draws.resize_size(self.o.size, x:size(2), x:size(3))
  return M.resize_chw(x, h, w, self.o.interpolation, self.o.antialias)
end)
constructor("Resize", Resize, "resize")

local function size_hw(size) if type(size) == "table" then return size[1], size[2] end return size, size end
M.size_hw = size_hw

local CenterCrop = image_class("CenterCrop", function(self, x)
  local h, w = size_hw(self.o.size)
  return M.window(x, draws.centre(x:size(2), h), draws.centre(x:size(3), w), h, w)
end)
constructor("CenterCrop", CenterCrop, "center_crop")

local ResizedCrop = image_class("RandomResizedCrop", function(self, x)
  local o = self.o
  local u = draws.sample_uniforms(draws.RESIZED_CROP)
  local top, left, ch, cw = draws.resized_crop(u, x:size(2), x:size(3), o.scale, o.ratio)
  local h, w = size_hw(o.size)
  return M.resize_chw(x:narrow(2, top + 1, ch):narrow(3, left + 1, cw), h, w, o.interpolation, o.antialias)
end)
constructor("RandomResizedCrop", ResizedCrop, "random_resized_crop")

local Rotation = image_class("RandomRotation", function(self, x)
  local o = self.o
  local angle = draws.angle(draws.sample_uniforms(draws.ROTATE), o.lo, o.hi)
  return M.rotate_chw(x, angle, o.interpolation, M.channel_values(o.fill, x:size(1), "RandomRotation"))
end)
constructor("RandomRotation", Rotation, "rotation")

local Jitter = image_class("ColorJitter", function(self, x)
  if x:size(1) ~= 1 and x:size(1) ~= 3 then
    base.raise(("ColorJitter: expected 1 or 3 channels, got %d"):format(x:size(1)))
  end
  local f, order = draws.jitter(draws.sample_uniforms(draws.JITTER), self.o.ranges)
  for _, k in ipairs(order) do
    if f[k + 1] ~= 1 then x = M.adjust(x, k, f[k + 1]) end
  end
  return x
end)
constructor("ColorJitter", Jitter, "color_jitter")

local Erasing = image_class("RandomErasing", function(self, x)
  local o = self.o
  local u = draws.sample_uniforms(draws.ERASE)
  local top, left, h, w = draws.erase(u, x:size(2), x:size(3), o.p, o.scale, o.ratio)
  if h == 0 then return x end
  local out = x:clone()
  local values = M.channel_values(o.value, x:size(1), "RandomErasing")
  for c = 1, x:size(1) do out[c]:narrow(1, top + 1, h):narrow(2, left + 1, w):fill_(values[c]) end
  return out
end)
constructor("RandomErasing", Erasing, "random_erasing")

-- }======================================================

return M
