-- clara.transforms.draws: the random draws of the image augmentations and
-- the parameters made from them, shared by the per-sample versions
-- (images.lua, clear Lua) and their batch twins (batch.lua, C kernels).
--
-- Each random augmentation takes a fixed count of uniforms per sample: the
-- per-sample version draws torch.rand(k) for each sample, the batch version
-- torch.rand(n, k) once, which is the same stream (ATen's CPU uniform_ is a
-- serial loop, one generator call per element), so with the same seed both
-- get the same numbers and the same parameters.  The parameters follow
-- torchvision 0.14's get_params (RandomResizedCrop, RandomErasing,
-- ColorJitter, RandomRotation) but from these uniforms: the distributions
-- are torchvision's, the individual draws are not (spec/augment_batch_spec.lua
-- checks the distributions).
local torch = require "torch"

local M = {}

local floor = math.floor

-- Python's round(): halves to even
function M.round(x)
  local f = floor(x)
  local d = x - f
  if d > 0.5 or (d == 0.5 and f % 2 == 1) then return f + 1 end
  return f
end

-- the k uniforms of each of n samples, as Lua lists
function M.uniforms(n, k)
  if n == 0 then return {} end
  return torch.rand(n, k):totable()
end

-- one sample's k uniforms
function M.sample_uniforms(k)
  return torch.rand(k):totable()
end

-- {lo, hi} from a number v (centre c: {c - v, c + v}, floored at lo_min) or
-- from a pair
local function range(v, centre, lo_min)
  if type(v) == "table" then return v[1], v[2] end
  local lo = centre - v
  if lo_min and lo < lo_min then lo = lo_min end
  return lo, centre + v
end
M.range = range

-- 1. random resized crop: 10 attempts of (scale, log-ratio), then the
-- position; torchvision's fallback is the central crop within the ratio
M.RESIZED_CROP = 22
function M.resized_crop(u, h, w, scale, ratio)
  local area = h * w
  local lr0, lr1 = math.log(ratio[1]), math.log(ratio[2])
  for a = 0, 9 do
    local target = area * (scale[1] + (scale[2] - scale[1]) * u[2 * a + 1])
    local aspect = math.exp(lr0 + (lr1 - lr0) * u[2 * a + 2])
    local cw = M.round(math.sqrt(target * aspect))
    local ch = M.round(math.sqrt(target / aspect))
    if 0 < cw and cw <= w and 0 < ch and ch <= h then
      return floor(u[21] * (h - ch + 1)), floor(u[22] * (w - cw + 1)), ch, cw
    end
  end
  local in_ratio = w / h
  local ch, cw = h, w
  if in_ratio < math.min(ratio[1], ratio[2]) then
    ch = M.round(w / math.min(ratio[1], ratio[2]))
  elseif in_ratio > math.max(ratio[1], ratio[2]) then
    cw = M.round(h * math.max(ratio[1], ratio[2]))
  end
  return (h - ch) // 2, (w - cw) // 2, ch, cw
end

-- 2. random erasing: u[1] < p erases; 10 attempts of (scale, log-ratio);
-- the position.  Returns top, left, height, width (height 0: no erasing)
M.ERASE = 23
function M.erase(u, h, w, p, scale, ratio)
  if not (u[1] < p) then return 0, 0, 0, 0 end
  local area = h * w
  local lr0, lr1 = math.log(ratio[1]), math.log(ratio[2])
  for a = 0, 9 do
    local target = area * (scale[1] + (scale[2] - scale[1]) * u[2 * a + 2])
    local aspect = math.exp(lr0 + (lr1 - lr0) * u[2 * a + 3])
    local eh = M.round(math.sqrt(target * aspect))
    local ew = M.round(math.sqrt(target / aspect))
    if eh < h and ew < w then
      return floor(u[22] * (h - eh + 1)), floor(u[23] * (w - ew + 1)), eh, ew
    end
  end
  return 0, 0, 0, 0
end

-- 3. colour jitter: three factors (1 when that adjustment is off), then
-- their order (the ranks of three more uniforms, as torch.randperm would)
M.JITTER = 6
function M.jitter(u, ranges)
  local f = {}
  for k = 1, 3 do
    local r = ranges[k]
    f[k] = r and (r[1] + (r[2] - r[1]) * u[k]) or 1.0
  end
  local order = { 0, 1, 2 }
  table.sort(order, function(a, b)
    if u[4 + a] ~= u[4 + b] then return u[4 + a] < u[4 + b] end
    return a < b
  end)
  return f, order
end

-- 4. rotation: one angle in [lo, hi], rounded to float32 (the kernels take
-- float angles; the per-sample version then rotates by the same one)
M.ROTATE = 1
function M.angle(u, lo, hi)
  return (string.unpack("f", string.pack("f", lo + (hi - lo) * u[1])))
end

-- 5. random crop: T.augment.random_crop draws torch.randint(0, rh) then
-- torch.randint(0, rw) per sample.  ATen's randint is (32 random bits) %
-- range, serially, and (b % L) % r == b % r when r divides L: so one
-- torch.randint(0, lcm(rh, rw), {n, 2}) gives every sample's pair at once
local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end
function M.crop_offsets(n, rh, rw)
  local l = rh // gcd(rh, rw) * rw
  local top, left = {}, {}
  if n == 0 then return top, left end
  if l < 2 ^ 31 then
    local raw = torch.randint(0, l, { n, 2 }):totable()
    for i = 1, n do top[i], left[i] = raw[i][1] % rh, raw[i][2] % rw end
  else -- beyond 32 random bits: one sample at a time, as the per-sample version
    for i = 1, n do
      top[i] = torch.randint(0, rh, { 1 }):item()
      left[i] = torch.randint(0, rw, { 1 }):item()
    end
  end
  return top, left
end

-- 6. centre crop offsets along one side (torchvision's center_crop: pad
-- when the crop is larger, then round((n - c) / 2))
function M.centre(n, c)
  if c > n then return -((c - n) // 2) end
  return M.round((n - c) / 2)
end

-- torchvision's resize size: a number is the smaller edge
function M.resize_size(size, h, w)
  if type(size) == "table" then return size[1], size[2] end
  if h <= w then return size, floor(size * w / h) end
  return floor(size * h / w), size
end

return M
