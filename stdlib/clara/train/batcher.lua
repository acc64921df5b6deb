-- clara.train.batcher: where an experiment's batches come from.  The
-- piece is replaceable: `batcher = obj` in an experiment, obj having
--
--   obj:batches(dataset, info) -> iterator, count
--
-- info = {split = "train" | "val" | "test", epoch =, batch_size =,
-- drop_last =, shuffle =, seed =}; the iterator yields one batch per call
-- as several values (input, target1, target2, ...) and nil at the end;
-- count is the number of batches (nil when unknown: the progress display
-- then shows no total).  The default below wraps clara.data.DataLoader,
-- one loader per split so a seeded shuffle follows (seed, epoch).
local DataLoader = require("clara.data.loader").DataLoader

local M = {}

local Default = {}
Default.__index = Default

function M.default()
  return setmetatable({ loaders = {} }, Default)
end

function Default:batches(dataset, info)
  local train = info.split == "train"
  local key = info.split
  local loader = self.loaders[key]
  if loader == nil or loader.dataset ~= dataset then
    loader = DataLoader(dataset, { batch_size = info.batch_size, shuffle = train and info.shuffle ~= false,
                                   seed = info.seed, drop_last = train and info.drop_last or false })
    self.loaders[key] = loader
  end
  return loader:iter(), #loader
end

-- the loaders' states (a checkpoint can keep them), by split
function Default:state()
  local s = {}
  for k, l in pairs(self.loaders) do s[k] = l:state() end
  return s
end

-- anything answering batches() passes; a plain function(dataset, info) too
function M.resolve(b)
  if b == nil then return M.default() end
  if type(b) == "function" then return { batches = function(_, ds, info) return b(ds, info) end } end
  if type(b) == "table" and type(b.batches) == "function" then return b end
  error("clara.experiment: batcher must have a batches(dataset, info) method or be a function", 3)
end

return M
