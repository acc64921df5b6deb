-- clara.data datasets.  A dataset is anything with `#ds` and `ds:get(i)`
-- (i a 1-based position) returning tensors: input, target[, extras].
-- Those defined here may also answer `ds:batch(idx)`: the whole batch for
-- an int64 tensor of 0-based indices in one index_select per tensor, which
-- the DataLoader takes as its fast path.
--
-- Index convention (as in the rest of clara): positions are 1-based (get),
-- index tensors are 0-based (batch, Subset's index tensor, the partitions
-- and folds), as index_select takes them.
local torch = require "torch"
local E = require "clara.error"

-- raise msg (it names the API) at the user's line
local function raise(msg) E.raise(nil, msg) end

local M = {}

local function shape_of(t)
  return "(" .. table.concat(t:size(), ", ") .. ")"
end

-- the length of any dataset, with an error that names the caller
function M.length(ds, fname)
  local ok, n = pcall(function() return #ds end)
  if not ok or math.type(n) ~= "integer" or type(ds) ~= "table" and type(ds) ~= "userdata"
      or type(ds.get) ~= "function" then
    raise(("%s: expected a dataset (#ds and ds:get(i)), got %s"):format(fname, type(ds)))
  end
  return n
end

local function check_position(ds, i, n, name)
  if math.type(i) ~= "integer" or i < 1 or i > n then
    raise(("%s:get: position %s out of range 1..%d"):format(name, tostring(i), n))
  end
end

-- 1. TensorDataset(inputs, targets[, extras]): rows of tensors sharing dim 1
local TensorDataset = { __name = "TensorDataset" }
TensorDataset.__index = TensorDataset

function M.TensorDataset(...)
  local tensors = { ... }
  if #tensors == 0 then raise("TensorDataset: expected at least one tensor") end
  local n
  for k = 1, select("#", ...) do
    local t = tensors[k]
    if not torch.is_tensor(t) then
      raise(("TensorDataset: argument #%d must be a tensor, got %s"):format(k, type(t)))
    end
    if t:dim() == 0 then raise(("TensorDataset: argument #%d is a 0-d tensor (no rows)"):format(k)) end
    n = n or t:size(1)
    if t:size(1) ~= n then
      raise(("TensorDataset: tensors differ in their number of rows: argument #1 has shape %s, argument #%d %s")
        :format(shape_of(tensors[1]), k, shape_of(t)))
    end
  end
  return setmetatable({ tensors = tensors, n = n }, TensorDataset)
end

TensorDataset.__len = function(self) return self.n end

function TensorDataset:get(i)
  check_position(self, i, self.n, "TensorDataset")
  local ts, out = self.tensors, {}
  for k = 1, #ts do out[k] = ts[k][i] end
  return table.unpack(out, 1, #ts)
end

function TensorDataset:batch(idx)
  local ts, out = self.tensors, {}
  for k = 1, #ts do out[k] = ts[k]:index_select(1, idx) end
  return table.unpack(out, 1, #ts)
end

-- what a loader's worker threads gather without Lua: the tensors whose
-- rows idx are the batch, and those rows (nil when they are not all on the CPU)
function TensorDataset:sources(idx)
  for _, t in ipairs(self.tensors) do
    if t.device ~= "cpu" then return nil end
  end
  return self.tensors, idx
end

TensorDataset.__tostring = function(self)
  local parts = {}
  for k, t in ipairs(self.tensors) do parts[k] = shape_of(t) .. " " .. t.dtype end
  return ("TensorDataset(%d samples: %s)"):format(self.n, table.concat(parts, ", "))
end

-- 2. Subset(ds, indices): an int64 tensor of 0-based indices, or a Lua list
-- of 1-based positions.  Subsets of held-out partitions stay held out.
local Subset = { __name = "Subset" }

function M.Subset(ds, indices, opts)
  local n = M.length(ds, "Subset")
  local idx
  if torch.is_tensor(indices) then
    if indices:dim() ~= 1 or indices:is_floating_point() or indices.dtype == "bool" then
      raise(("Subset: indices must be a 1-d integer tensor of 0-based indices, got %s %s")
        :format(shape_of(indices), indices.dtype))
    end
    idx = indices:long()
  elseif type(indices) == "table" then
    local zero = {}
    for k, p in ipairs(indices) do
      if math.type(p) ~= "integer" then
        raise(("Subset: position #%d is %s, expected an integer"):format(k, tostring(p)))
      end
      zero[k] = p - 1
    end
    idx = torch.tensor(zero, { dtype = "int64" })
  else
    raise(("Subset: indices must be an int64 tensor (0-based) or a list of positions (1-based), got %s")
      :format(type(indices)))
  end
  if idx:numel() > 0 then
    local lo, hi = idx:min():item(), idx:max():item()
    if lo < 0 or hi >= n then
      raise(("Subset: index %d out of range for a dataset of %d samples (0-based indices 0..%d)")
        :format(lo < 0 and lo or hi, n, n - 1))
    end
  end
  local positions = idx:totable()
  for k = 1, #positions do positions[k] = positions[k] + 1 end
  local part = package.loaded["clara.data.partition"]
  local held = (opts and opts.held_out) or (part and (part.is_held_out(ds) or part.is_held_out(indices))) or nil
  return setmetatable({ dataset = ds, indices = idx, positions = positions, held_out = held }, Subset)
end

Subset.__len = function(self) return #self.positions end

function Subset:get(i)
  check_position(self, i, #self.positions, "Subset")
  return self.dataset:get(self.positions[i])
end

-- the fast path composes: a batch of a subset is a batch of its dataset
function Subset:batch(idx)
  return self.dataset:batch(self.indices:index_select(1, idx))
end

function Subset:sources(idx)
  return self.dataset:sources(self.indices:index_select(1, idx))
end

Subset.__index = function(self, k)
  if k == "batch" or k == "sources" then
    return type(rawget(self, "dataset")[k]) == "function" and Subset[k] or nil
  end
  return Subset[k]
end

Subset.__tostring = function(self)
  return ("Subset(%d of %s%s)"):format(#self.positions, tostring(self.dataset),
    self.held_out and ", held out" or "")
end

-- 3. Concat{ds1, ds2, ...}: the samples of each, one after the other
local Concat = { __name = "Concat" }
Concat.__index = Concat

function M.Concat(list)
  if type(list) ~= "table" or #list == 0 then
    raise("Concat: expected a non-empty list of datasets, e.g. Concat{a, b}")
  end
  local ends, total = {}, 0
  for k, ds in ipairs(list) do
    local ok, n = pcall(M.length, ds, "Concat")
    if not ok then raise(("Concat: item #%d is not a dataset (#ds and ds:get(i)), got %s"):format(k, type(ds))) end
    total = total + n
    ends[k] = total
  end
  return setmetatable({ datasets = list, ends = ends, n = total }, Concat)
end

Concat.__len = function(self) return self.n end

function Concat:get(i)
  check_position(self, i, self.n, "Concat")
  local ends, lo, hi = self.ends, 1, #self.ends
  while lo < hi do -- the first part whose end reaches i
    local mid = (lo + hi) // 2
    if ends[mid] >= i then hi = mid else lo = mid + 1 end
  end
  return self.datasets[lo]:get(i - (ends[lo - 1] or 0))
end

Concat.__tostring = function(self)
  local parts = {}
  for k, ds in ipairs(self.datasets) do parts[k] = tostring(ds) end
  return ("Concat(%d samples: %s)"):format(self.n, table.concat(parts, ", "))
end

E.methods(TensorDataset, "TensorDataset")
E.methods(Subset, "Subset")
E.methods(Concat, "Concat")

return M
