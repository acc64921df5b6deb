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
-- What a worker can do for a dataset, asked in this order:
--   ds:sources(idx) -> {tensors}, rows      rows of in-memory tensors (TensorDataset,
--                                           Subsets of one): gathered by memcpy
--   ds:files(idx) -> paths, {targets}, spec image files (ImageFolder): decoded,
--                                           spec = {mode =, dtype =, c =, h =, w =}
-- Any other dataset loads on the main thread, as with workers = 0.
--
-- Augmentation: aug:plan(dims) draws one batch's parameters from torch's
-- generator and returns the steps (bindings/l_workers.c's plan format) for
-- a batch of dims {n =, c =, h =, w =}.  The draws of batch b are made with
-- the generator seeded for (seed, epoch, b) and put back afterwards: they
-- depend neither on when the batch is queued nor on what else draws
-- (dropout), so workers = 0 and workers = n draw alike, and a resume
-- mid-epoch draws what the uninterrupted run drew.
local torch = require "torch"
local E = require "clara.error"
local rng = require "clara.data.rng"

local M = {}

local core
local function C()
  core = core or require "clara.data.workers.core"
  return core
end

local NOINDEX = nil
-- can the loader's dataset be loaded by workers?
function M.supported(ds)
  NOINDEX = NOINDEX or torch.zeros(0, { dtype = "int64" })
  return type(ds.sources) == "function" and ds:sources(NOINDEX) ~= nil
      or type(ds.files) == "function"
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

-- {====================== augmentation draws ======================

-- fn() with torch's generator seeded for batch b of the loader's epoch
local function seeded(loader, b, fn)
  local saved = torch.get_rng_state()
  torch.manual_seed(rng.new(loader.aug_seed, loader.epoch, b):next() >> 1)
  local ok, r = pcall(fn)
  torch.set_rng_state(saved)
  if not ok then error(r, 0) end
  return r
end

local function dims_of(sizes)
  if #sizes == 4 then return { n = sizes[1], c = sizes[2], h = sizes[3], w = sizes[4] } end
  if #sizes == 3 then return { n = sizes[1], c = 1, h = sizes[2], w = sizes[3] } end
  E.raise("DataLoader", "augment needs image batches (N, C, H, W) or (N, H, W), got shape (%s)",
    table.concat(sizes, ", "))
end

-- batch b's steps for an input of shape sizes, and the augmented shape
local function plan(loader, b, sizes)
  local d = dims_of(sizes)
  local steps = seeded(loader, b, function() return loader.augment:plan(d) end)
  local n, c, h, w = C().plan_dims(steps, d.n, d.c, d.h, d.w)
  local out = #sizes == 3 and c == 1 and { n, h, w } or { n, c, h, w }
  return steps, out
end

-- batch b's input augmented on this thread (workers = 0, or a dataset
-- workers cannot load)
function M.augment(loader, b, x)
  if x.dtype ~= "float32" or x.device ~= "cpu" then
    E.raise("DataLoader", "augment needs float32 CPU inputs, got %s on %s", x.dtype, x.device)
  end
  x = x:contiguous()
  local steps, sizes = plan(loader, b, x:size())
  local out = torch.empty(sizes)
  C().augment(x, out, steps)
  return out
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
    if k == 1 and loader.augment then steps, sizes = plan(loader, b, sizes) end
    outs[k] = torch.empty(sizes, { dtype = steps and k == 1 and "float32" or t.dtype })
  end
  pool:gather(label, rows:contiguous(), outs, ins, steps)
  return outs
end

local function queue_files(loader, pool, label, b, idx)
  local paths, extra, spec = loader.dataset:files(idx)
  local sizes = { #paths, spec.c, spec.h, spec.w }
  local steps
  if loader.augment then
    if spec.dtype ~= "float32" then
      E.raise("DataLoader", "augment needs float32 CPU inputs, got %s images (give the dataset dtype = 'float32')",
        spec.dtype)
    end
    steps, sizes = plan(loader, b, sizes)
  end
  local x = torch.empty(sizes, { dtype = steps and "float32" or spec.dtype })
  pool:images(label, paths, x, spec.mode, require("clara.limits").image_pixels, steps, spec.c, spec.h, spec.w)
  local outs = { x }
  for k, t in ipairs(extra or {}) do outs[k + 1] = t end
  return outs
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
  local generation, pool = loader.generation, pool_of(loader)
  local queue = type(loader.dataset.files) == "function" and queue_files or queue_rows
  local queued, outs = loader.position, {}
  local function fill()
    local last = math.min(nb, loader.position + loader.prefetch)
    while queued < last do
      queued = queued + 1
      outs[queued] = queue(loader, pool, ("batch %d of epoch %d"):format(queued, loader.epoch), queued,
        indices(queued))
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
    return table.unpack(batch)
  end
end

return M
