-- clara.transforms.batch (T.batch): image augmentation of whole batches in
-- C, the fast twins of T.augment's per-sample augmentations.  A batch step
-- takes (N, C, H, W) (or (N, H, W)) and returns the batch with each sample
-- augmented once: use it as an experiment's `augment` (training batches
-- only) or call it on a loader's batches.  The random draws are the
-- per-sample twin's, made for the whole batch in one torch call (see
-- clara.transforms.draws): with the same seed, step(xb) equals the twin
-- applied sample by sample (spec/augment_batch_spec.lua).  Computes in
-- float32 (random_crop, center_crop keep uint8).
--
--   T.batch.flip{p = 0.5, dim = -1}                    -- -1 width, -2 height
--   T.batch.random_crop{size =, padding = 0, padding_mode = "constant", fill = 0}
--   T.batch.resize{size =, interpolation = "bilinear", antialias = false}
--   T.batch.center_crop{size =}
--   T.batch.random_resized_crop{size =, scale =, ratio =, interpolation =, antialias =}
--   T.batch.rotation{degrees =, interpolation = "nearest", fill = 0}
--   T.batch.color_jitter{brightness =, contrast =, saturation =}
--   T.batch.random_erasing{p = 0.5, scale =, ratio =, value = 0}
--   T.batch.normalize{mean =, std =}                   -- numbers or per channel
--   step:sample()   the per-sample twin (a T.augment augmentation)
--   step:draw(n, c, h, w)   the step's draws for such a batch (a table)
--   T.batch.plan(step or chain, n, c, h, w)   the draws as a C plan; plan:run(x)
local torch = require "torch"
local base = require "clara.transforms.base"
local augment = require "clara.transforms.augment"
local images = require "clara.transforms.images"
local draws = require "clara.transforms.draws"
local E = require "clara.error"

local core -- clara.transforms.core, loaded on first use
local function kernels()
  core = core or require "clara.transforms.core"
  return core
end

local M = {}
local MODE = { nearest = 0, bilinear = 1, bicubic = 2 }
local PAD = { constant = 0, edge = 1, reflect = 2 }

-- (N, C, H, W) and the function back to the input's shape
local function as_nchw(x, api)
  if not torch.is_tensor(x) then E.raise(api, "expected a batch tensor (N, C, H, W), got %s", E.show(x)) end
  if tostring(x.device) ~= "cpu" then
    E.raise(api, "expected a CPU batch, got one on %s (augment before moving it)", tostring(x.device))
  end
  if x:dim() == 3 then return x:unsqueeze(2), function(y) return y:squeeze(2) end end
  if x:dim() ~= 4 then
    E.raise(api, "expected a batch of images (N, C, H, W) or (N, H, W), got shape (%s)", table.concat(x:size(), ", "))
  end
  if x:size(3) < 1 or x:size(4) < 1 or x:size(2) < 1 then E.raise(api, "expected non-empty images") end
  return x, function(y) return y end
end

local function rep(v, n)
  local out = {}
  for i = 1, n do out[i] = v end
  return out
end

-- each drawn step is a table {kind =, ...} with the arguments of the C
-- kernel of that kind; apply runs it on a (N, C, H, W) batch
local APPLY = {
  crop = function(x, s) return kernels().crop(x, s.oh, s.ow, s.top, s.left, s.flip, s.pad, s.fill) end,
  flip = function(x, s) return kernels().flip(x, s.flip) end,
  resize = function(x, s) return kernels().resize(x, s.oh, s.ow, s.box, s.mode, s.antialias) end,
  rotate = function(x, s) return kernels().rotate(x, s.angle, s.mode, s.fill) end,
  jitter = function(x, s) return kernels().jitter(x, s.factors, s.order) end,
  normalize = function(x, s) return kernels().normalize(x, s.mean, s.std) end,
  erase = function(x, s) return kernels().erase(x, s.box, s.value) end,
}

-- a batch step: its draw for a batch of dims {n, c, h, w}, then the kernel
-- (whose failures, memory for one, are raised at the user's line)
local function forward(self, x)
  local xb, back = as_nchw(x, self.api)
  local s = self:draw(xb:size(1), xb:size(2), xb:size(3), xb:size(4))
  local ok, y = pcall(APPLY[s.kind], xb, s)
  if not ok then E.raise(self.api, "%s", (tostring(y):gsub("^[^\n]-:%d+: ", ""):gsub("^clara.transforms: ", ""))) end
  return back(y)
end

-- a batch step named batch.<name>: twin(opts) makes the per-sample twin,
-- draw(twin, n, c, h, w, api) the kernel's arguments for a batch of that size
local function define(name, key, twin, draw)
  local api = "T.batch." .. key
  local C = base.class("batch." .. name)
  M[key] = function(opts)
    if type(opts) == "table" and (opts.n ~= nil or opts.keep_original ~= nil) then
      E.raise(api, "a batch step makes one version of each sample: n and keep_original are T.augment's options")
    end
    return setmetatable({ twin = twin(opts, api), api = api }, C)
  end
  C.forward = forward
  C.draw = function(self, n, c, h, w) return draw(self.twin, n, c, h, w, api) end
  C.sample = function(self) return self.twin end
  C.label = function(self) return "batch." .. self.twin:label() end
  C.describe = function(self)
    local d = self.twin:describe()
    d.name, d.n, d.keep_original = "batch." .. d.name, nil, nil
    return d
  end
  base.register("batch." .. name, function(d)
    local o = {}
    for k, v in pairs(d) do if k ~= "name" then o[k] = v end end
    return M[key](o)
  end)
end

-- 1. flip: the per-sample flip's torch.rand(1) < p, for all at once
define("RandomFlip", "flip", augment.flip, function(t, n, _, _, _, api)
  if t.dim ~= -1 and t.dim ~= -2 then E.raise(api, "dim must be -1 (width) or -2 (height), got %s", t.dim) end
  local flags = {}
  if n > 0 then
    for i, v in ipairs(torch.rand(n):totable()) do flags[i] = v < t.p and (t.dim == -1 and 1 or 2) or 0 end
  end
  return { kind = "flip", flip = flags }
end)

-- 2. random crop with padding: the per-sample crop's two randints, for all
define("RandomCrop", "random_crop", augment.random_crop, function(t, n, c, H, W)
  local p = t.padding
  t:check(torch.zeros(c, H, W))
  local top, left = draws.crop_offsets(n, H + 2 * p - t.h + 1, W + 2 * p - t.w + 1)
  for i = 1, n do top[i], left[i] = top[i] - p, left[i] - p end
  return { kind = "crop", oh = t.h, ow = t.w, top = top, left = left, pad = PAD[t.padding_mode], fill = t.fill }
end)

-- 3. resize, center crop: no draws
define("Resize", "resize", images.resize, function(t, _, _, H, W)
  local o = t.o
  local h, w = draws.resize_size(o.size, H, W)
  return { kind = "resize", oh = h, ow = w, mode = MODE[o.interpolation],
           antialias = o.antialias and o.interpolation ~= "nearest" }
end)

define("CenterCrop", "center_crop", images.center_crop, function(t, n, _, H, W)
  local h, w = images.size_hw(t.o.size)
  return { kind = "crop", oh = h, ow = w, top = rep(draws.centre(H, h), n), left = rep(draws.centre(W, w), n),
           pad = PAD.constant, fill = 0 }
end)

-- 4. random resized crop: each sample's box, then one resize of all boxes
define("RandomResizedCrop", "random_resized_crop", images.random_resized_crop, function(t, n, _, H, W)
  local o, boxes = t.o, {}
  for i, u in ipairs(draws.uniforms(n, draws.RESIZED_CROP)) do
    local top, left, ch, cw = draws.resized_crop(u, H, W, o.scale, o.ratio)
    boxes[4 * i - 3], boxes[4 * i - 2], boxes[4 * i - 1], boxes[4 * i] = top, left, ch, cw
  end
  local h, w = images.size_hw(o.size)
  return { kind = "resize", oh = h, ow = w, box = boxes, mode = MODE[o.interpolation],
           antialias = o.antialias and o.interpolation ~= "nearest" }
end)

-- 5. rotation
define("RandomRotation", "rotation", images.rotation, function(t, n, c, _, _, api)
  local o, angles = t.o, {}
  for i, u in ipairs(draws.uniforms(n, draws.ROTATE)) do angles[i] = draws.angle(u, o.lo, o.hi) end
  return { kind = "rotate", angle = angles, mode = MODE[o.interpolation], fill = images.channel_values(o.fill, c, api) }
end)

-- 6. colour jitter
define("ColorJitter", "color_jitter", images.color_jitter, function(t, n, c, _, _, api)
  if c ~= 1 and c ~= 3 then E.raise(api, "expected 1 or 3 channels, got %d", c) end
  local factors, order = {}, {}
  for i, u in ipairs(draws.uniforms(n, draws.JITTER)) do
    local f, o = draws.jitter(u, t.o.ranges)
    for k = 1, 3 do factors[3 * i - 3 + k], order[3 * i - 3 + k] = f[k], o[k] end
  end
  return { kind = "jitter", factors = factors, order = order }
end)

-- 7. random erasing
define("RandomErasing", "random_erasing", images.random_erasing, function(t, n, c, H, W, api)
  local o, boxes = t.o, {}
  for i, u in ipairs(draws.uniforms(n, draws.ERASE)) do
    local top, left, h, w = draws.erase(u, H, W, o.p, o.scale, o.ratio)
    boxes[4 * i - 3], boxes[4 * i - 2], boxes[4 * i - 1], boxes[4 * i] = top, left, h, w
  end
  return { kind = "erase", box = boxes, value = images.channel_values(o.value, c, api) }
end)

-- 8. normalize: fixed per-channel statistics (T.Normalize fits them)
local Normalize = base.class("batch.Normalize")
local NORMALIZE = {
  mean = { type = "number|table", required = true, doc = "a number or one per channel" },
  std = { type = "number|table", required = true, doc = "a number or one per channel, > 0" },
}
function M.normalize(opts)
  local o = base.options(opts, NORMALIZE, "T.batch.normalize")
  for _, key in ipairs { "mean", "std" } do
    local v = type(o[key]) == "table" and o[key] or { o[key] }
    for k, x in ipairs(v) do
      if type(x) ~= "number" or x ~= x then E.raise("T.batch.normalize", "%s[%d] must be a number, got %s", key, k, E.show(x)) end
      if key == "std" and x <= 0 then E.raise("T.batch.normalize", "std must be > 0, got %s", E.show(x)) end
    end
  end
  return setmetatable({ mean = o.mean, std = o.std, api = "T.batch.normalize" }, Normalize)
end
Normalize.forward = forward
function Normalize:draw(_, c)
  return { kind = "normalize", mean = images.channel_values(self.mean, c, self.api),
           std = images.channel_values(self.std, c, self.api) }
end
function Normalize:label()
  return ("batch.Normalize(mean=%s, std=%s)"):format(base.value(self.mean), base.value(self.std))
end
function Normalize:describe() return { name = "batch.Normalize", mean = self.mean, std = self.std } end
base.register("batch.Normalize", function(d) return M.normalize { mean = d.mean, std = d.std } end)

-- {====================== plans ======================

-- T.batch.plan(steps, n, c, h, w): the draws of a batch step or a T.chain of
-- them for a batch of that size, made now (on this thread, from torch's
-- generator), as a C plan (augment.h's aug_plan_run) that a loader worker
-- can run later on another thread; plan:run(x) runs it here.
function M.plan(steps, n, c, h, w)
  local api = "T.batch.plan"
  local list = getmetatable(steps) == require("clara.transforms").Chain and steps.steps or { steps }
  for k, v in ipairs { n, c, h, w } do
    if math.type(v) ~= "integer" or v < (k == 1 and 0 or 1) then
      E.raise(api, "expected the batch's sizes n, c, h, w (integers), got %s as #%d", E.show(v), k + 1)
    end
  end
  local drawn, dims = {}, { n, c, h, w }
  for k, s in ipairs(list) do
    if type(s) ~= "table" or type(s.draw) ~= "function" then
      E.raise(api, "step #%d is not a T.batch step, got %s", k, E.show(s))
    end
    drawn[k] = s:draw(table.unpack(dims))
    if drawn[k].oh then dims[3], dims[4] = drawn[k].oh, drawn[k].ow end
  end
  return kernels().plan(drawn, n, c, h, w)
end

-- }======================================================

return M
