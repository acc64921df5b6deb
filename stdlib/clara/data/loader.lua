-- clara.data.DataLoader: mini-batches of a dataset, and clara.data.iterate,
-- which takes a loader or any foreign source of batches.
--
--   local loader = clara.data.DataLoader(ds, {batch_size = 128, shuffle = true, seed = 1})
--   for xb, yb in loader do ... end          -- one epoch (also loader:iter())
--   #loader                                  -- batches per epoch
--   local s = loader:state()                 -- {epoch, batch, seed, perm, n}
--   loader:set_state(s)                      -- the next epoch resumes after batch s.batch
--   DataLoader(ds, {..., workers = 2, prefetch = 4})  -- the next 4 batches load in 2 threads
--   loader:close()                           -- the threads end (else when it is collected)
--   DataLoader(ds, {..., augment = aug})     -- each batch's input augmented (T.batch steps in the workers)
--
-- Two ways to assemble a batch, interchangeable (a spec proves they agree):
--   "fast"  (default) when the dataset answers ds:batch(idx) (TensorDataset
--           and Subsets of one): one index_select per tensor;
--   "clear" ds:get(i) for each sample, then collate: torch.stack per field.
-- The shuffle is a permutation from clara.data.rng, a pure function of
-- (seed, epoch): it leaves torch's global generator alone when a seed is
-- given, and a checkpoint needs only the state to resume mid-epoch exactly.
-- workers > 0: batches load in C threads (clara.data.workers), the same
-- batches in the same order.
local torch = require "torch"
local E = require "clara.error"
local rng = require "clara.data.rng"
local length = require("clara.data.dataset").length
local workers = require "clara.data.workers"

-- raise msg (it names the API) at the user's line
local function raise(msg) E.raise(nil, msg) end

local M = {}

local DataLoader = { __name = "DataLoader" }
DataLoader.__index = DataLoader

local OPTIONS = {
  batch_size = { type = "integer", min = 1, default = 1, doc = "samples per batch" },
  shuffle = { type = "boolean", default = false, doc = "a new permutation each epoch" },
  seed = { type = "integer", doc = "the shuffle's seed (else one drawn from torch's generator per epoch)" },
  drop_last = { type = "boolean", default = false, doc = "drop the last batch when it is short" },
  collate = { type = "callable", doc = "collate(samples) -> batch (else stack per field)" },
  impl = { type = "string", enum = { "fast", "clear" }, default = "fast", doc = "how batches are assembled" },
  num_replicas = { type = "integer", min = 1, default = 1, doc = "data-parallel ranks sharing the data" },
  rank = { type = "integer", min = 0, default = 0, doc = "this rank's shard (0-based)" },
  pad = { type = "boolean", default = true,
          doc = "shards padded to equal length by wrapping (DistributedSampler's), else rank r keeps r, r+W, ..." },
  workers = { type = "integer", min = 0, max = 64, default = 0,
              doc = "threads loading the next batches in the background (0: on the calling thread)" },
  prefetch = { type = "integer", min = 1, max = 1024, doc = "batches loading ahead with workers (default 2 per worker)" },
  augment = { type = "callable", doc = "applied to each batch's input (T.batch steps run in the workers)" },
}

-- the samples of rank r's shard of n: every rank as many when padded
local function shard_length(n, W, r, pad)
  if pad then return (n + W - 1) // W end
  return math.max(0, (n - r + W - 1) // W)
end


-- the default collate: field k of every sample stacked into one tensor
-- (numbers become a tensor; anything else stays a Lua list)
function M.collate(samples)
  local out, nfields = {}, 0
  for _, s in ipairs(samples) do nfields = math.max(nfields, s.n or #s) end
  for k = 1, nfields do
    local column = {}
    for j, s in ipairs(samples) do column[j] = s[k] end
    local first = column[1]
    if torch.is_tensor(first) then
      local ok, r = pcall(torch.stack, column)
      if not ok then
        raise(("DataLoader: cannot stack field %d of the samples (%s)"):format(k, tostring(r)))
      end
      out[k] = r
    elseif type(first) == "number" then
      out[k] = torch.tensor(column)
    else
      out[k] = column
    end
  end
  return table.unpack(out, 1, nfields)
end

function M.DataLoader(ds, opts)
  local total = length(ds, "DataLoader")
  opts = E.options("DataLoader", opts, OPTIONS)
  local W, r = math.tointeger(opts.num_replicas), math.tointeger(opts.rank)
  if r >= W then raise(("DataLoader: rank %d is not below num_replicas %d"):format(r, W)) end
  local n = W > 1 and shard_length(total, W, r, opts.pad) or total
  local bs, impl = math.tointeger(opts.batch_size), opts.impl
  local nworkers = math.tointeger(opts.workers)
  local prefetch = math.tointeger(opts.prefetch) or 2 * math.max(nworkers, 1)
  local self = setmetatable({
    dataset = ds, n = n, batch_size = bs, shuffle = opts.shuffle,
    seed = math.tointeger(opts.seed), drop_last = opts.drop_last, collate = opts.collate,
    epoch = 0, position = 0, perm = nil, resume = false,
    total = total, replicas = W, rank = r, workers = nworkers, prefetch = prefetch, augment = opts.augment,
  }, DataLoader)
  -- the fast path only when the dataset can do it and no custom collate asked otherwise
  self.fast = impl == "fast" and opts.collate == nil and type(ds.batch) == "function"
  -- background loading where C can assemble the batch (no Lua collate)
  self.background = nworkers > 0 and opts.collate == nil and workers.supported(ds)
  return self
end

DataLoader.__len = function(self)
  if self.drop_last then return self.n // self.batch_size end
  return (self.n + self.batch_size - 1) // self.batch_size
end

DataLoader.__tostring = function(self)
  return ("DataLoader(%d samples, batch_size=%d, shuffle=%s%s, drop_last=%s: %d batches, %s)")
    :format(self.n, self.batch_size, tostring(self.shuffle),
      self.seed and (", seed=" .. self.seed) or "", tostring(self.drop_last), #self,
      self.background and ("%d workers, prefetch %d"):format(self.workers, self.prefetch)
        or self.fast and "fast index_select" or "per-sample collate")
end

local shard

-- 1. a new epoch: its permutation (0-based indices), position 0
local function start_epoch(self)
  self.epoch = self.epoch + 1
  self.position = 0
  if self.shuffle then
    -- without a seed, each epoch draws one from torch's generator, as
    -- PyTorch's DataLoader does; it is recorded in the state either way
    self.epoch_seed = self.seed or rng.draw_seed()
    local stream = self.seed and self.epoch or 0
    self.perm = torch.tensor(rng.new(self.epoch_seed, stream):permutation(self.total), { dtype = "int64" })
  else
    self.epoch_seed = nil
    self.perm = torch.arange(self.total, { dtype = "int64" })
  end
  if self.replicas > 1 then self.perm = shard(self) end
  -- the augmentation draws' seed (clara.data.workers): the loader's, else one per epoch
  self.aug_seed = self.augment and (self.seed or rng.draw_seed()) or nil
end

-- rank r's part of the epoch's permutation, as DistributedSampler takes
-- it: positions r, r + W, ... of the permutation, wrapped past its end
-- when padded (the same permutation on every rank: seeded)
function shard(self)
  -- an unpadded shard may be empty (fewer samples than ranks)
  if self.n == 0 then return torch.zeros(0, { dtype = "int64" }) end
  local positions = torch.arange(self.rank, self.n * self.replicas, self.replicas, { dtype = "int64" })
  return self.perm:index_select(1, positions:remainder(self.total))
end

-- 2. batch b (1-based) of the current permutation: its 0-based indices
local function indices(self, b)
  local start = (b - 1) * self.batch_size
  return self.perm:narrow(1, start + 1, math.min(self.batch_size, self.n - start))
end

local function assemble(self, b)
  local idx = indices(self, b)
  if self.fast then return self.dataset:batch(idx) end
  local samples, ds = {}, self.dataset
  for j, i in ipairs(idx:totable()) do
    samples[j] = table.pack(ds:get(i + 1))
  end
  return (self.collate or M.collate)(samples)
end

-- one epoch's batches: a fresh epoch, or the rest of the one set_state restored
function DataLoader:iter()
  if not self.resume or self.perm == nil or self.position >= #self then start_epoch(self) end
  self.resume = false
  local nb = #self
  if self.background then
    return workers.iter(self, nb, function(b) return indices(self, b) end)
  end
  return function()
    if self.position >= nb then return nil end
    self.position = self.position + 1
    if not self.augment then return assemble(self, self.position) end
    local r = table.pack(assemble(self, self.position))
    r[1] = workers.augment(self, self.position, r[1])
    return table.unpack(r, 1, r.n)
  end
end

-- `for xb, yb in loader do`: the generic for calls loader(nil, nil) first
-- (a new epoch), then loader(nil, previous xb)
DataLoader.__call = function(self, _, control)
  if control == nil or self.current == nil then self.current = self:iter() end
  local r = table.pack(self.current())
  if r[1] == nil then self.current = nil end
  return table.unpack(r, 1, r.n)
end

-- what a checkpoint needs to resume mid-epoch exactly: the epoch, the
-- batches already handed out, the permutation (int64, 0-based) and its seed
function DataLoader:state()
  return { epoch = self.epoch, batch = self.position, seed = self.epoch_seed,
           perm = self.perm and self.perm:clone() or nil, n = self.n, aug_seed = self.aug_seed }
end

function DataLoader:set_state(s)
  if type(s) ~= "table" then raise("DataLoader:set_state: expected a table from loader:state(), got " .. type(s)) end
  if s.n ~= self.n then
    raise(("DataLoader:set_state: the state is for %s samples, this loader has %d"):format(tostring(s.n), self.n))
  end
  if math.type(s.epoch) ~= "integer" or math.type(s.batch) ~= "integer" or s.batch < 0 then
    raise("DataLoader:set_state: epoch and batch must be non-negative integers")
  end
  local perm = s.perm
  if type(perm) == "table" then perm = torch.tensor(perm, { dtype = "int64" }) end
  if perm == nil and s.epoch > 0 then
    raise("DataLoader:set_state: the state has no permutation (perm)")
  end
  if perm ~= nil and (not torch.is_tensor(perm) or perm:dim() ~= 1 or perm:numel() ~= self.n) then
    raise(("DataLoader:set_state: perm must be a permutation of %d indices"):format(self.n))
  end
  self.epoch, self.position, self.epoch_seed = s.epoch, s.batch, s.seed
  self.aug_seed = s.aug_seed or (self.augment and (self.seed or rng.draw_seed())) or nil
  self.perm = perm and perm:long() or nil
  self.resume, self.current = true, nil
  workers.cancel(self)
  return self
end

-- the worker threads end now (a loader used again starts new ones)
function DataLoader:close()
  workers.close(self)
  self.current = nil
end
DataLoader.__close = DataLoader.close

-- 3. clara.data.iterate(source): an iterator of batches from a loader
-- (anything with :iter()), a Lua iterator function, a coroutine yielding
-- batches, or a list of batches (each a tensor or a list of tensors)
function M.iterate(source, ...)
  local kind = type(source)
  if (kind == "table" or kind == "userdata") and not torch.is_tensor(source) and type(source.iter) == "function" then
    return source:iter()
  end
  if kind == "function" then return source, ... end
  if kind == "thread" then
    return function()
      if coroutine.status(source) == "dead" then return nil end
      local r = table.pack(coroutine.resume(source))
      if not r[1] then raise("clara.data.iterate: the coroutine failed: " .. tostring(r[2])) end
      return table.unpack(r, 2, r.n)
    end
  end
  if kind == "table" and getmetatable(source) == nil then
    local k = 0
    return function()
      k = k + 1
      local b = source[k]
      if type(b) == "table" and not torch.is_tensor(b) then return table.unpack(b) end
      return b
    end
  end
  if kind == "table" and getmetatable(source) and getmetatable(source).__call then return source end
  raise(("clara.data.iterate: expected a loader, an iterator function, a coroutine or a list of batches, got %s")
    :format(torch.is_tensor(source) and "a tensor" or kind))
end

E.methods(DataLoader, "DataLoader")

return M
