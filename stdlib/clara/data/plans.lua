-- clara.data.plans: a batch augmentation (T.batch steps, or a T.chain of
-- them) as a plan a loader's worker thread runs without Lua
-- (bindings/l_workers.c's step tables over augment.h).
--
-- plans.of(aug, dims) draws one batch's parameters on this thread, exactly
-- as aug(xb) draws them (clara.transforms.batch: the same torch calls in the
-- same order, then the same kernels), and returns the steps; nil when aug
-- holds a step C cannot run (a Lua function, a per-sample T.augment step):
-- the loader then calls aug(xb) on the main thread.
-- spec/loader_workers_spec.lua proves plan and aug(xb) bitwise equal.
local torch = require "torch"
local draws = require "clara.transforms.draws"
local images = require "clara.transforms.images"
local E = require "clara.error"

local M = {}

local function tensor(list, dtype) return torch.tensor(list, { dtype = dtype }) end
local function rep(v, n)
  local out = {}
  for i = 1, n do out[i] = v end
  return out
end
local function quads(n, k, fn)
  local boxes = {}
  for i, u in ipairs(draws.uniforms(n, k)) do
    boxes[4 * i - 3], boxes[4 * i - 2], boxes[4 * i - 1], boxes[4 * i] = fn(u)
  end
  return tensor(boxes, "int64")
end

-- each T.batch step's draws and kernel, by its name; t is its twin (the
-- per-sample step holding the options), d the batch's dims
local PLAN = {}

PLAN["batch.RandomFlip"] = function(t, d, api)
  if t.dim ~= -1 and t.dim ~= -2 then E.raise(api, "dim must be -1 (width) or -2 (height), got %s", t.dim) end
  local flags = {}
  for i, v in ipairs(torch.rand(d.n):totable()) do flags[i] = v < t.p and (t.dim == -1 and 1 or 2) or 0 end
  return { kind = "flip", flip = tensor(flags, "uint8") }
end

PLAN["batch.RandomCrop"] = function(t, d)
  local p = t.padding
  t:check(torch.zeros(d.c, d.h, d.w))
  local top, left = draws.crop_offsets(d.n, d.h + 2 * p - t.h + 1, d.w + 2 * p - t.w + 1)
  for i = 1, d.n do top[i], left[i] = top[i] - p, left[i] - p end
  return { kind = "crop", oh = t.h, ow = t.w, top = tensor(top, "int64"), left = tensor(left, "int64"),
           pad = t.padding_mode, fill = t.fill }
end

PLAN["batch.Resize"] = function(t, d)
  local o = t.o
  local h, w = draws.resize_size(o.size, d.h, d.w)
  return { kind = "resize", oh = h, ow = w, mode = o.interpolation,
           antialias = o.antialias and o.interpolation ~= "nearest" }
end

PLAN["batch.CenterCrop"] = function(t, d)
  local h, w = images.size_hw(t.o.size)
  return { kind = "crop", oh = h, ow = w, top = tensor(rep(draws.centre(d.h, h), d.n), "int64"),
           left = tensor(rep(draws.centre(d.w, w), d.n), "int64"), pad = "constant", fill = 0 }
end

PLAN["batch.RandomResizedCrop"] = function(t, d)
  local o = t.o
  local box = quads(d.n, draws.RESIZED_CROP, function(u) return draws.resized_crop(u, d.h, d.w, o.scale, o.ratio) end)
  local h, w = images.size_hw(o.size)
  return { kind = "resize", oh = h, ow = w, box = box, mode = o.interpolation,
           antialias = o.antialias and o.interpolation ~= "nearest" }
end

PLAN["batch.RandomRotation"] = function(t, d, api)
  local o, angles = t.o, {}
  for i, u in ipairs(draws.uniforms(d.n, draws.ROTATE)) do angles[i] = draws.angle(u, o.lo, o.hi) end
  return { kind = "rotate", angle = tensor(angles, "float32"), mode = o.interpolation,
           values = tensor(images.channel_values(o.fill, d.c, api), "float32") }
end

PLAN["batch.ColorJitter"] = function(t, d, api)
  if d.c ~= 1 and d.c ~= 3 then E.raise(api, "expected 1 or 3 channels, got %d", d.c) end
  local factors, order = {}, {}
  for i, u in ipairs(draws.uniforms(d.n, draws.JITTER)) do
    local f, o = draws.jitter(u, t.o.ranges)
    for k = 1, 3 do factors[3 * i - 3 + k], order[3 * i - 3 + k] = f[k], o[k] end
  end
  return { kind = "jitter", factors = tensor(factors, "float32"), order = tensor(order, "uint8") }
end

PLAN["batch.RandomErasing"] = function(t, d, api)
  local o = t.o
  local box = quads(d.n, draws.ERASE, function(u) return draws.erase(u, d.h, d.w, o.p, o.scale, o.ratio) end)
  return { kind = "erase", box = box, values = tensor(images.channel_values(o.value, d.c, api), "float32") }
end

PLAN["batch.Normalize"] = function(step, d, api)
  return { kind = "normalize", mean = tensor(images.channel_values(step.mean, d.c, api), "float32"),
           std = tensor(images.channel_values(step.std, d.c, api), "float32") }
end

-- the names errors speak of
local API = {
  ["batch.RandomFlip"] = "T.batch.flip", ["batch.RandomCrop"] = "T.batch.random_crop",
  ["batch.Resize"] = "T.batch.resize", ["batch.CenterCrop"] = "T.batch.center_crop",
  ["batch.RandomResizedCrop"] = "T.batch.random_resized_crop", ["batch.RandomRotation"] = "T.batch.rotation",
  ["batch.ColorJitter"] = "T.batch.color_jitter", ["batch.RandomErasing"] = "T.batch.random_erasing",
  ["batch.Normalize"] = "T.batch.normalize",
}

-- the T.batch steps of aug in order, or nil when one is not a T.batch step
local function steps_of(aug)
  local Chain = require("clara.transforms").Chain
  local list = getmetatable(aug) == Chain and aug.steps or { aug }
  for _, s in ipairs(list) do
    if type(s) ~= "table" or not PLAN[s.name] then return nil end
  end
  return list
end

-- whether a worker can run aug
function M.plannable(aug) return steps_of(aug) ~= nil end

-- one batch's plan: the step tables (dims {n, c, h, w} of the input)
function M.of(aug, dims, kernels_dims)
  local list = steps_of(aug)
  if not list then return nil end
  local out, d = {}, { n = dims.n, c = dims.c, h = dims.h, w = dims.w }
  for k, s in ipairs(list) do
    out[k] = PLAN[s.name](s.name == "batch.Normalize" and s or s.twin, d, API[s.name])
    d.n, d.c, d.h, d.w = kernels_dims({ out[k] }, d.n, d.c, d.h, d.w)
  end
  return out
end

return M
