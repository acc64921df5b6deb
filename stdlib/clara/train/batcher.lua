-- clara.train.batcher: where an experiment's batches come from.  The
-- piece is replaceable: `batcher = obj` in an experiment, obj having
--
--   obj:batches(dataset, info) -> iterator, count
--
-- info = {split = "train" | "val" | "test", epoch =, batch_size =,
-- drop_last =, shuffle =, seed =, rank =, world_size =, evaluate =}: a
-- data-parallel run (world_size > 1) wants rank's shard of the split
-- (evaluate: for an evaluation, which counts no sample twice); the iterator yields one batch per call
-- as several values (input, target1, target2, ...) and nil at the end;
-- count is the number of batches (nil when unknown: the progress display
-- then shows no total).  The default below wraps clara.data.DataLoader,
-- one loader per split so a seeded shuffle follows (seed, epoch).
local DataLoader = require("clara.data.loader").DataLoader

local M = {}

local Default = {}
Default.__index = Default

-- loading = {workers =, prefetch =, augment =}: the loaders' background
-- loading, and the training batches' augmentation
function M.default(loading)
  loading = loading or {}
  return setmetatable({ loaders = {}, workers = loading.workers, prefetch = loading.prefetch,
                        augment = loading.augment }, Default)
end

-- the loader a split's batches come from: data-parallel, the training
-- data evaluated (final_train) has its own, unpadded shards
function M.key(info)
  if info.split == "train" and info.evaluate and (info.world_size or 1) > 1 then return "train_eval" end
  return info.split
end

function Default:batches(dataset, info)
  local key = M.key(info)
  local train = key == "train"
  local loader = self.loaders[key]
  if loader == nil or loader.dataset ~= dataset then
    -- data-parallel shards: training ones padded (every rank the same
    -- number of steps), evaluation ones not (no sample counted twice)
    loader = DataLoader(dataset, { batch_size = info.batch_size, shuffle = train and info.shuffle ~= false,
                                   seed = info.seed, drop_last = train and info.drop_last or false,
                                   num_replicas = info.world_size, rank = info.rank, pad = train,
                                   workers = self.workers, prefetch = self.prefetch })
    self.loaders[key] = loader
  end
  -- training batches are augmented; the training data evaluated is not
  loader.augment = train and not info.evaluate and self.augment or nil
  -- a resumed run: the loader continues the epoch a checkpoint cut
  local saved = self.saved and self.saved[key]
  if saved then
    self.saved[key] = nil
    loader:set_state(saved)
    -- a cut epoch whose last step was done: nothing left of it
    if self.cut_epoch and saved.batch >= #loader then return function() return nil end, #loader end
  end
  return loader:iter(), #loader
end

-- the loaders' states (a checkpoint can keep them), by split
function Default:state()
  local s = {}
  for k, l in pairs(self.loaders) do s[k] = l:state() end
  return s
end

-- set_state(states, cut_epoch): the states state() gave, applied as each
-- split's loader is next asked for batches; cut_epoch: the next batches()
-- continues the saved epoch (else a new epoch follows it)
function Default:set_state(states, cut_epoch)
  self.saved, self.cut_epoch = {}, cut_epoch
  for k, v in pairs(states) do self.saved[k] = v end
end

-- the loaders' threads end (a finished run's)
function Default:close()
  for _, l in pairs(self.loaders) do l:close() end
end

-- anything answering batches() passes; a plain function(dataset, info)
-- too; loading = the experiment's {workers =, prefetch =, augment =} for the default
function M.resolve(b, loading)
  if b == nil then return M.default(loading) end
  if type(b) == "function" then return { batches = function(_, ds, info) return b(ds, info) end } end
  if type(b) == "table" and type(b.batches) == "function" then return b end
  require("clara.error").raise("clara.experiment", "batcher must have a batches(dataset, info) method or be a function")
end

return M
