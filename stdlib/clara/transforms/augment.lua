-- clara.transforms.augment (T.augment): data augmentation as generators.
-- aug(x) takes ONE sample and returns an iterator (a coroutine) over its
-- augmented versions: `for s in aug(x) do ... end` yields n samples (option
-- n, default 1), preceded by x itself with keep_original = true.  Random
-- choices come from torch's generator: torch.manual_seed reproduces them.
--
--   flip{p = 0.5, dim = -1}           mirror along dim (default: width)
--   random_crop{size =, padding = 0}  a size x size (or {h, w}) window of the zero-padded image
--   shift{max =}                      translate by up to max pixels each way, zero fill
--   noise{std =}                      x + N(0, std^2) noise: images or vectors
--   chain{a, b, ...}                  every output of a fed to b, ...
--   aug:expand(xb, yb, ...)           a batch with every sample's augmentations, targets repeated
-- Images are (H, W) or (C, H, W): the last two dims.
local torch = require "torch"
local base = require "clara.transforms.base"
local E = require "clara.error"

local M = {}

local COMMON = {
  n = { type = "integer", min = 0, default = 1, doc = "augmented samples per sample" },
  keep_original = { type = "boolean", default = false, doc = "yield the sample itself first" },
}

-- a description's arguments, as options
local function args(d)
  local o = {}
  for k, v in pairs(d) do if k ~= "name" then o[k] = v end end
  return o
end

local function options(opts, extra, fname)
  local schema = {}
  for k, spec in pairs(COMMON) do schema[k] = spec end
  for k, spec in pairs(extra) do schema[k] = spec end
  opts = base.options(opts, schema, fname)
  -- expand keeps the n samples of each input in a Lua list
  local n = E.limit(fname, "n (augmented samples per sample)", math.tointeger(opts.n), "table_elements")
  return opts, n, opts.keep_original and true or false
end

local function suffix(self)
  return (self.n ~= 1 and (", n=" .. self.n) or "") .. (self.keep_original and ", keep_original" or "")
end

-- the generator all augmentations share: original first if kept, then n draws
local function generate(self, x, fname)
  if not torch.is_tensor(x) then base.raise(("%s: expected a tensor sample, got %s"):format(fname, type(x))) end
  self:check(x)
  return coroutine.wrap(function()
    if self.keep_original then coroutine.yield(x) end
    for _ = 1, self.n do coroutine.yield(self:draw(x)) end
  end)
end

-- how many samples one input yields
local function count(self) return self.n + (self.keep_original and 1 or 0) end

-- expand a batch: each sample's augmentations, with its targets/extras repeated
local function expand(self, xb, ...)
  local others = table.pack(...)
  local xs, cols = {}, {}
  for k = 1, others.n do cols[k] = {} end
  for i = 1, xb:size(1) do
    for s in self(xb[i]) do
      xs[#xs + 1] = s
      for k = 1, others.n do cols[k][#cols[k] + 1] = others[k][i] end
    end
  end
  if #xs == 0 then base.raise(self.name .. ":expand: the augmentation yielded no samples") end
  local out = { torch.stack(xs) }
  for k = 1, others.n do out[k + 1] = torch.stack(cols[k]) end
  return table.unpack(out, 1, others.n + 1)
end

-- an augmentation class: check(x) validates a sample, draw(x) makes one
local function class(name)
  local C = base.class(name)
  C.forward = function(self, x) return generate(self, x, name) end
  C.count = count
  C.expand = expand
  C.check = function() end
  return C
end

local function image_dims(x, fname)
  if x:dim() < 2 then
    base.raise(("%s: expected an image (H, W) or (C, H, W), got shape (%s)"):format(fname, table.concat(x:size(), ", ")))
  end
  return x:size(-2), x:size(-1)
end

-- x padded by p on both sides of its last two dims: zeros, or as mode says
-- ("constant" with fill, "edge", "reflect": torch.nn.functional.pad's)
local PAD_MODE = { constant = "constant", edge = "replicate", reflect = "reflect" }
local function pad(x, p, mode, fill)
  if p == 0 then return x end
  if (mode or "constant") ~= "constant" or (fill or 0) ~= 0 then
    local plane = x:dim() == 2
    local y = torch.nn.functional.pad(plane and x:unsqueeze(1) or x, { p, p, p, p }, PAD_MODE[mode],
      mode == "constant" and fill or nil)
    return plane and y:squeeze(1) or y
  end
  local sizes = x:size()
  local d = #sizes
  local h, w = sizes[d - 1], sizes[d]
  sizes[d - 1], sizes[d] = h + 2 * p, w + 2 * p
  local out = torch.zeros(sizes, { dtype = x.dtype })
  local region = {}
  for k = 1, d - 2 do region[k] = {} end
  region[d - 1], region[d] = { p + 1, p + h }, { p + 1, p + w }
  out[region] = x
  return out
end

local function window(x, top, left, h, w)
  local d = x:dim()
  return x:narrow(d - 1, top + 1, h):narrow(d, left + 1, w):clone()
end

-- 1. flip
local Flip = class("RandomFlip")
function M.flip(opts)
  local o, n, keep = options(opts, { p = { type = "number", min = 0, max = 1, default = 0.5, doc = "the chance of a flip" },
                                       dim = { type = "integer", doc = "the dim flipped (default: the last)" } }, "RandomFlip")
  local p, dim = o.p or 0.5, o.dim or -1
  if math.type(dim) ~= "integer" then base.raise("RandomFlip: dim must be an integer, got " .. tostring(dim)) end
  return setmetatable({ p = p, dim = dim, n = n, keep_original = keep }, Flip)
end
function Flip:draw(x)
  if torch.rand(1):item() < self.p then return x:flip({ self.dim }) end
  return x
end
function Flip:label()
  return ("RandomFlip(p=%s%s%s)"):format(base.num(self.p), self.dim ~= -1 and (", dim=" .. self.dim) or "", suffix(self))
end
function Flip:describe()
  return { name = "RandomFlip", p = self.p, dim = self.dim, n = self.n, keep_original = self.keep_original }
end
base.register("RandomFlip", function(d) return M.flip(args(d)) end)

-- 2. random crop
local Crop = class("RandomCrop")
function M.random_crop(opts)
  local o, n, keep = options(opts, { size = true, padding = true,
    padding_mode = { type = "string", enum = { "constant", "edge", "reflect" }, default = "constant",
                     doc = "how the padding is filled" },
    fill = { type = "number", default = 0, doc = "the padding value of padding_mode 'constant'" } }, "RandomCrop")
  local size, padding = o.size, o.padding or 0
  local h, w
  if math.type(size) == "integer" then h, w = size, size
  elseif type(size) == "table" then h, w = size[1], size[2] end
  if math.type(h) ~= "integer" or math.type(w) ~= "integer" or h < 1 or w < 1 then
    base.raise("RandomCrop: size must be a positive integer or {h, w}, got " .. tostring(size))
  end
  if math.type(padding) ~= "integer" or padding < 0 then
    base.raise("RandomCrop: padding must be a non-negative integer, got " .. tostring(padding))
  end
  return setmetatable({ h = h, w = w, padding = padding, padding_mode = o.padding_mode, fill = o.fill, n = n,
                        keep_original = keep }, Crop)
end
function Crop:check(x)
  local h, w = image_dims(x, "RandomCrop")
  if self.h > h + 2 * self.padding or self.w > w + 2 * self.padding then
    base.raise(("RandomCrop: a %dx%d crop does not fit a %dx%d image padded by %d"):format(self.h, self.w, h, w, self.padding))
  end
  if self.padding_mode == "reflect" and self.padding >= math.min(h, w) then
    base.raise(("RandomCrop: padding_mode 'reflect' needs padding < the image side, got %d for a %dx%d image")
      :format(self.padding, h, w))
  end
end
function Crop:draw(x)
  local padded = pad(x, self.padding, self.padding_mode, self.fill)
  local ph, pw = padded:size(-2), padded:size(-1)
  local top = torch.randint(0, ph - self.h + 1, { 1 }):item()
  local left = torch.randint(0, pw - self.w + 1, { 1 }):item()
  return window(padded, top, left, self.h, self.w)
end
function Crop:label()
  local size = self.h == self.w and tostring(self.h) or ("{%d, %d}"):format(self.h, self.w)
  local how = (self.padding_mode ~= "constant" and (", padding_mode=" .. self.padding_mode) or "")
    .. (self.fill ~= 0 and (", fill=" .. base.num(self.fill)) or "")
  return ("RandomCrop(size=%s, padding=%d%s%s)"):format(size, self.padding, how, suffix(self))
end
function Crop:describe()
  return { name = "RandomCrop", size = { self.h, self.w }, padding = self.padding, padding_mode = self.padding_mode,
           fill = self.fill, n = self.n, keep_original = self.keep_original }
end
base.register("RandomCrop", function(d) return M.random_crop(args(d)) end)

-- 3. shift: translate by (dy, dx) in [-max, max]^2, the same size, zero fill
local Shift = class("RandomShift")
function M.shift(opts)
  local o, n, keep = options(opts, { max = true }, "RandomShift")
  local max = o.max
  if math.type(max) ~= "integer" or max < 0 then
    base.raise("RandomShift: max must be a non-negative integer (pixels), got " .. tostring(max))
  end
  return setmetatable({ max = max, n = n, keep_original = keep }, Shift)
end
function Shift:check(x) image_dims(x, "RandomShift") end
function Shift:draw(x)
  local m = self.max
  local dy = torch.randint(-m, m + 1, { 1 }):item()
  local dx = torch.randint(-m, m + 1, { 1 }):item()
  -- content moves by (dy, dx): the window starts (dy, dx) before the centre
  return window(pad(x, m), m - dy, m - dx, x:size(-2), x:size(-1))
end
function Shift:label() return ("RandomShift(max=%d%s)"):format(self.max, suffix(self)) end
function Shift:describe()
  return { name = "RandomShift", max = self.max, n = self.n, keep_original = self.keep_original }
end
base.register("RandomShift", function(d) return M.shift(args(d)) end)

-- 4. Gaussian noise, any shape
local Noise = class("Noise")
function M.noise(opts)
  local o, n, keep = options(opts, { std = { type = "number", min = 0, doc = "the noise's standard deviation" } }, "Noise")
  local std = o.std
  if type(std) ~= "number" or std < 0 then base.raise("Noise: std must be a non-negative number, got " .. tostring(std)) end
  return setmetatable({ std = std, n = n, keep_original = keep }, Noise)
end
function Noise:draw(x)
  x = base.float(x, "Noise")
  return x + torch.randn_like(x) * self.std
end
function Noise:label() return ("Noise(std=%s%s)"):format(base.num(self.std), suffix(self)) end
function Noise:describe()
  return { name = "Noise", std = self.std, n = self.n, keep_original = self.keep_original }
end
base.register("Noise", function(d) return M.noise(args(d)) end)

-- 5. chain: every sample of the first fed to the second, ...
local AugChain = base.class("AugmentChain")
AugChain.count = function(self)
  local c = 1
  for _, a in ipairs(self.steps) do c = c * a:count() end
  return c
end
AugChain.expand = expand
function M.chain(steps)
  if type(steps) ~= "table" or #steps == 0 then
    base.raise("augment.chain: expected a non-empty list of augmentations")
  end
  for k, a in ipairs(steps) do
    if type(a) ~= "table" or type(a.count) ~= "function" then
      base.raise(("augment.chain: step #%d is not an augmentation (T.augment.*)"):format(k))
    end
  end
  return setmetatable({ steps = { table.unpack(steps) } }, AugChain)
end
function AugChain:forward(x)
  local steps = self.steps
  local function feed(k, s)
    if k > #steps then coroutine.yield(s) return end
    for out in steps[k](s) do feed(k + 1, out) end
  end
  return coroutine.wrap(function() feed(1, x) end)
end
function AugChain:label()
  local parts = {}
  for k, a in ipairs(self.steps) do parts[k] = a:label() end
  return table.concat(parts, " -> ")
end
function AugChain:describe()
  local steps = {}
  for k, a in ipairs(self.steps) do steps[k] = a:describe() end
  return { name = "AugmentChain", steps = steps }
end
base.register("AugmentChain", function(d)
  local T = require "clara.transforms"
  local steps = {}
  for k, sd in ipairs(d.steps or {}) do steps[k] = T.from_description(sd) end
  return M.chain(steps)
end)

-- what clara.transforms.images builds its augmentations from
M.internal = { class = class, options = options, args = args, suffix = suffix }

return M
