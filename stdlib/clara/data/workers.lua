-- clara.data.workers: a DataLoader's background loading (workers = n,
-- prefetch = k) and its batch augmentation (augment = aug).
--
-- Worker threads of the C side (bindings/workers.c, loader_jobs.c) fill
-- the next k batches while the model trains on this one; they never call
-- Lua.  The main thread decides everything random or Lua-made (the indices,
-- the augmentation draws, the output tensors) when it queues a batch; the
-- workers only copy, decode and compute into those tensors, and batches
-- come back in order, so a loader with workers gives exactly the batches
-- it gives with workers = 0 (spec/loader_workers_spec.lua).
--
-- What a worker can do for a dataset:
--   ds:sources(idx) -> {tensors}, rows   rows of in-memory tensors (TensorDataset,
--                                        Subsets of one): gathered by memcpy;
--   an ImageFolder (or Subsets of one) without transform or target_transform,
--   decoding to uint8 or float32: its files decoded (bindings/image.c, as
--   ImageFolder:get decodes them) and resized and cropped as its size and
--   crop say (bindings/image_fit.c, as ImageFolder:get does), every image
--   then the size of the first one.
-- Any other dataset loads on the main thread, as with workers = 0.
--
-- Augmentation (augment = aug, any callable on a batch's input): T.batch
-- steps (and T.chains of them) on float32 inputs run in the worker after the
-- batch loads, from draws the main thread made (T.batch.plan, the draws of
-- aug(xb) as a C plan); anything else runs on the
-- main thread when the batch is handed out.  Either way the draws of batch
-- b come from torch's generator seeded for (seed, epoch, b), which is put
-- back afterwards: they depend neither on when the batch is queued nor on
-- what else draws (dropout), so workers = 0 and workers = n draw alike, and
-- a resume mid-epoch draws what the uninterrupted run drew.
local torch = require "torch"
local E = require "clara.error"
local rng = require "clara.data.rng"

local M = {}

local core
local function C()
  core = core or require "clara.data.workers.core"
  return core
end

local function named(ds, name)
  local mt = type(ds) == "table" and getmetatable(ds)
  return mt and mt.__name == name
end

-- the ImageFolder workers can decode under ds (through Subsets), and the
-- Subsets from the outermost in, or nil
local function image_folder(ds)
  local chain = {}
  while named(ds, "Subset") do
    chain[#chain + 1] = ds
    ds = rawget(ds, "dataset")
  end
  if not named(ds, "ImageFolder") or rawget(ds, "transform") or rawget(ds, "target_transform") then return nil end
  local dtype = ds.decode_options.dtype
  if dtype ~= "uint8" and dtype ~= "float32" then return nil end
  return ds, chain
end

local NOINDEX = nil
-- can the loader's dataset be loaded by workers?
function M.supported(ds)
  NOINDEX = NOINDEX or torch.zeros(0, { dtype = "int64" })
  return type(ds.sources) == "function" and ds:sources(NOINDEX) ~= nil or image_folder(ds) ~= nil
end

-- the files of samples idx of ds (an ImageFolder under Subsets), their
-- targets, and how to decode them: {mode =, dtype =, exif =, c =, h =, w =}
local function files(loader, idx)
  local folder, chain = image_folder(loader.dataset)
  for _, sub in ipairs(chain) do idx = rawget(sub, "indices"):index_select(1, idx) end
  local paths, labels, samples = {}, {}, folder.samples
  for k, i in ipairs(idx:totable()) do
    paths[k], labels[k] = samples[i + 1][1], samples[i + 1][2]
  end
  local spec = loader.image_spec
  if spec == nil then -- the size of the first image is every image's
    local o = folder.decode_options
    local first = folder:get(1)
    spec = { mode = o.mode, dtype = o.dtype, exif = o.apply_exif_orientation,
             c = first:size(1), h = first:size(2), w = first:size(3) }
    loader.image_spec = spec
  end
  return paths, torch.tensor(labels, { dtype = "int64" }), spec
end

local function pool_of(loader)
  if loader.pool == nil then loader.pool = C().pool(loader.workers, loader.prefetch) end
  return loader.pool
end

-- contiguous CPU versions of a dataset's tensors, made once per tensor
local contiguous_cache = setmetatable({}, { __mode = "k" })
local function contiguous(t)
  local c = contiguous_cache[t]
  if c == nil then
    c = t:contiguous()
    contiguous_cache[t] = c
  end
  return c
end

-- {====================== augmentation ======================

-- fn() with torch's generator seeded for batch b of the loader's epoch
local function seeded(loader, b, fn)
  local saved = torch.get_rng_state()
  torch.manual_seed(rng.new(loader.aug_seed, loader.epoch, b):next() >> 1)
  local ok, r = pcall(fn)
  torch.set_rng_state(saved)
  if not ok then error(r, 0) end
  return r
end

-- batch b's input augmented on this thread (workers = 0; or an augmentation
-- or input a worker cannot take)
function M.augment(loader, b, x)
  return seeded(loader, b, function() return loader.augment(x) end)
end

-- whether T.batch.plan can draw aug: T.batch steps, or a T.chain of them
local function plannable(aug)
  local T = require "clara.transforms"
  local list = getmetatable(aug) == T.Chain and aug.steps or { aug }
  for _, s in ipairs(list) do
    if type(s) ~= "table" or type(s.draw) ~= "function" then return false end
  end
  return #list > 0
end

-- batch b's plan for a float32 input of shape sizes, and the augmented
-- shape; nil when a worker cannot run the augmentation
local function plan(loader, b, sizes, dtype)
  if dtype ~= "float32" or (#sizes ~= 3 and #sizes ~= 4) or not plannable(loader.augment) then return nil end
  local n, c, h, w = sizes[1], #sizes == 4 and sizes[2] or 1, sizes[#sizes - 1], sizes[#sizes]
  local p = seeded(loader, b, function() return require("clara.transforms").batch.plan(loader.augment, n, c, h, w) end)
  n, c, h, w = C().plan_out(p)
  return p, #sizes == 3 and { n, h, w } or { n, c, h, w }
end

-- }================================================================

-- queue batch b: its output tensors, allocated here, filled by a worker
local function queue_rows(loader, pool, label, b, idx)
  local srcs, rows = loader.dataset:sources(idx)
  local outs, ins, steps = {}, {}, nil
  for k, t in ipairs(srcs) do
    ins[k] = contiguous(t)
    local sizes = t:size()
    sizes[1] = rows:numel()
    if k == 1 and loader.augment then
      local s, planned = plan(loader, b, sizes, t.dtype)
      steps, sizes = s, planned or sizes
    end
    outs[k] = torch.empty(sizes, { dtype = t.dtype })
  end
  pool:gather(label, rows:contiguous(), outs, ins, steps)
  outs.late = loader.augment ~= nil and steps == nil
  return outs
end

local function queue_files(loader, pool, label, b, idx)
  local paths, targets, spec = files(loader, idx)
  local sizes = { #paths, spec.c, spec.h, spec.w }
  local steps
  if loader.augment then
    local s, planned = plan(loader, b, sizes, spec.dtype)
    steps, sizes = s, planned or sizes
  end
  local x = torch.empty(sizes, { dtype = spec.dtype })
  pool:images(label, paths, x, spec.mode, require("clara.limits").image_pixels, spec.exif, steps,
    spec.c, spec.h, spec.w, image_folder(loader.dataset).fit)
  return { x, targets, late = loader.augment ~= nil and steps == nil }
end

-- drop every batch in flight (a new epoch, set_state, close)
function M.cancel(loader)
  loader.generation = (loader.generation or 0) + 1
  if loader.pool then loader.pool:cancel() end
end

function M.close(loader)
  loader.generation = (loader.generation or 0) + 1
  if loader.pool then loader.pool:close() end
  loader.pool = nil
end

-- the rest of the current epoch's batches: indices(b) gives batch b's
-- 0-based sample indices, nb the epoch's number of batches
function M.iter(loader, nb, indices)
  M.cancel(loader)
  local generation, pool = loader.generation, nil
  local queue = image_folder(loader.dataset) and queue_files or queue_rows
  local queued, outs = loader.position, {}
  local function fill()
    pool = pool or pool_of(loader) -- threads start with the first batch asked for
    local last = math.min(nb, loader.position + loader.prefetch)
    while queued < last do
      queued = queued + 1
      local ok, r = pcall(queue, loader, pool, ("batch %d of epoch %d"):format(queued, loader.epoch), queued,
        indices(queued))
      if not ok then -- a batch not queued: this iterator is done
        M.cancel(loader)
        error(r, 0)
      end
      outs[queued] = r
    end
  end
  return function()
    if loader.generation ~= generation then
      E.raise("DataLoader", "this epoch's iterator was superseded (a new epoch, set_state or close since)")
    end
    if loader.position >= nb then return nil end
    fill()
    local ok, msg = pool:next()
    if not ok then
      M.cancel(loader)
      E.raise("DataLoader", "a worker failed: %s", msg)
    end
    local b = loader.position + 1
    loader.position = b
    local batch = outs[b]
    outs[b] = nil
    fill() -- the next ones load while the caller trains on this one
    if batch.late then batch[1] = M.augment(loader, b, batch[1]) end
    return table.unpack(batch)
  end
end

return M
