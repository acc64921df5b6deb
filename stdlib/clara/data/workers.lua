-- clara.data.workers: a DataLoader's background loading (workers = n,
-- prefetch = k).  Worker threads of the C side (bindings/workers.c) fill
-- the next k batches while the model trains on this one; they never call
-- Lua.  The main thread decides everything random or Lua-made (the indices,
-- augmentation draws, the output tensors) when it queues a batch; the
-- workers only copy and compute into those tensors, and batches come back
-- in order, so a loader with workers gives exactly the batches it gives
-- with workers = 0 (spec/loader_workers_spec.lua).
--
-- What a worker can do for a dataset, asked in this order:
--   ds:sources(idx) -> {tensors}, rows   rows of in-memory tensors (TensorDataset,
--                                        Subsets of one): gathered by memcpy
-- Any other dataset loads on the main thread, as with workers = 0.
local torch = require "torch"
local E = require "clara.error"

local M = {}

-- can the loader's dataset be loaded by workers?
function M.supported(ds)
  return type(ds.sources) == "function" and ds:sources(torch.zeros(0, { dtype = "int64" })) ~= nil
end

local core
local function pool_of(loader)
  if loader.pool == nil then
    core = core or require "clara.data.workers.core"
    loader.pool = core.pool(loader.workers, loader.prefetch)
  end
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

-- queue batch b: its output tensors, allocated here, filled by a worker
local function queue(loader, pool, b, idx)
  local srcs, rows = loader.dataset:sources(idx)
  local outs, ins = {}, {}
  for k, t in ipairs(srcs) do
    ins[k] = contiguous(t)
    local sizes = t:size()
    sizes[1] = rows:numel()
    outs[k] = torch.empty(sizes, { dtype = t.dtype })
  end
  pool:gather(("batch %d of epoch %d"):format(b, loader.epoch), rows:contiguous(), outs, ins)
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
  local queued, outs = loader.position, {}
  local function fill()
    local last = math.min(nb, loader.position + loader.prefetch)
    while queued < last do
      queued = queued + 1
      outs[queued] = queue(loader, pool, queued, indices(queued))
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
