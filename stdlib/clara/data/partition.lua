-- clara.data partitions: train/validation/test splits, and the held-out
-- mark that fitting (Normalize.fit, Standardize:fit, ...) refuses.
--
--   local p = clara.data.split(60000, {ratios = {0.8, 0.1, 0.1}, seed = 1})
--   local p = clara.data.split(labels, {counts = {50000, 10000}, seed = 1})  -- stratified by labels
--   p.train, p.val, p.test     -- int64 tensors of 0-based indices, ascending
--   p:subsets(ds)              -- {train = Subset, val = ..., test = Subset (held out)}
--   p:take(x, "train")         -- x:index_select(1, p.train)
--   clara.data.given{train = ds, test = ds2}   -- given partitions, used as they are
--
-- The split is a pure function of (n, labels, sizes, seed): the seed is
-- recorded (drawn from torch's generator when none is given) and
-- p:describe() / clara.data.partition_from(d) save and restore it exactly.
local torch = require "torch"
local E = require "clara.error"
local rng = require "clara.data.rng"
local dataset = require "clara.data.dataset"

-- raise msg (it names the API) at the user's line
local function raise(msg) E.raise(nil, msg) end

local M = {}

-- 1. the held-out registry: tensors and datasets of a test partition.
-- Weak keys: marking keeps nothing alive.
local held = setmetatable({}, { __mode = "k" })

function M.mark_held_out(x)
  held[x] = true
  return x
end

function M.is_held_out(x)
  return held[x] == true or (type(x) == "table" and rawget(x, "held_out") == true)
end

-- for fitters: error if x is (part of) a held-out partition
function M.refuse_held_out(x, fname)
  if M.is_held_out(x) then
    raise(("%s: refusing to fit on the held-out test partition (fit on the training partition)"):format(fname))
  end
end

local DEFAULT_NAMES = { "train", "val", "test" }

local function fail(fmt, ...) E.raise("clara.data.split", fmt, ...) end

-- labels as a Lua list (tensor or list), checked
local function label_list(labels, what)
  if torch.is_tensor(labels) then
    if labels:dim() ~= 1 then
      fail("%s must be a 1-d tensor, got %d dims", what, labels:dim())
    end
    return labels:totable()
  end
  if type(labels) ~= "table" then fail("%s must be a tensor or a list, got %s", what, type(labels)) end
  for k = 1, #labels do
    if labels[k] == nil then fail("%s has a hole at position %d", what, k) end
  end
  return labels
end

-- exact sizes from ratios: floors, then the remainder to the largest fractions
local function sizes_from_ratios(ratios, n)
  local sum, sizes, rest = 0, {}, n
  for k, r in ipairs(ratios) do
    -- written so that NaN fails too
    if type(r) ~= "number" or not (r >= 0 and r <= 1) then
      fail("ratio #%d must be a number in [0, 1], got %s", k, E.show(r))
    end
    sum = sum + r
  end
  if math.abs(sum - 1) > 1e-6 then fail("ratios must sum to 1, got %g", sum) end
  local order = {}
  for k, r in ipairs(ratios) do
    sizes[k] = math.floor(r * n + 1e-9)
    rest = rest - sizes[k]
    order[k] = k
  end
  table.sort(order, function(a, b)
    local fa, fb = ratios[a] * n - sizes[a], ratios[b] * n - sizes[b]
    if fa ~= fb then return fa > fb end
    return a < b
  end)
  for j = 1, rest do sizes[order[j]] = sizes[order[j]] + 1 end
  return sizes
end

-- a sequence of part numbers with exactly sizes[p] of each, spread evenly
-- (each prefix holds each part in proportion, within one): laid over the
-- samples grouped by class, it gives each class its share of every part
local function interleave(sizes, n)
  local seq, given = {}, {}
  for p = 1, #sizes do given[p] = 0 end
  for j = 1, n do
    local best, deficit = nil, -math.huge
    for p = 1, #sizes do
      local d = j * sizes[p] / n - given[p]
      if given[p] < sizes[p] and d > deficit then best, deficit = p, d end
    end
    given[best] = given[best] + 1
    seq[j] = best
  end
  return seq
end

-- the order in which samples are dealt to parts: shuffled, and grouped by
-- class when stratified (classes in sorted order, each shuffled)
local function deal_order(n, strat, r)
  if not strat then
    if r then return r:permutation(n) end
    local order = {}
    for i = 1, n do order[i] = i - 1 end
    return order
  end
  local by_class, keys = {}, {}
  for i = 1, n do
    local c = strat[i]
    if not by_class[c] then by_class[c] = {}; keys[#keys + 1] = c end
    local list = by_class[c]
    list[#list + 1] = i - 1
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return tostring(a) < tostring(b)
  end)
  local order = {}
  for _, c in ipairs(keys) do
    local list = by_class[c]
    if r then r:shuffle(list) end
    table.move(list, 1, #list, #order + 1, order)
  end
  return order
end

local Partition = { __name = "Partition" }
Partition.__index = Partition

-- build from assignment (part number per sample, 1-based positions)
local function from_assignment(assign, names, seed, stratified)
  local lists = {}
  for p = 1, #names do lists[p] = {} end
  for i, p in ipairs(assign) do
    local l = lists[p]
    l[#l + 1] = i - 1
  end
  local self = setmetatable({ names = names, seed = seed, n = #assign, assign = assign,
                              stratified = stratified, kind = "split" }, Partition)
  for p, name in ipairs(names) do
    local t = torch.tensor(lists[p], { dtype = "int64" })
    self[p], self[name] = t, t
    if name == "test" then M.mark_held_out(t) end
  end
  return self
end

local SPLIT_OPTS = {
  ratios = { type = "table", doc = "the parts' shares, summing to 1 (default {0.8, 0.2})" },
  counts = { type = "table", doc = "the parts' sizes, summing to n" },
  stratify = { type = "table|tensor|boolean", doc = "labels to stratify by (false: not by the labels given)" },
  seed = { type = "integer", doc = "the shuffle's seed (else one drawn and recorded)" },
  names = { type = "table", doc = "the parts' names (default train, val, test)" },
  shuffle = { type = "boolean", default = true, doc = "deal the samples in a random order" },
}

-- 2. clara.data.split(n | labels, {ratios = | counts =, stratify =, seed =, names =, shuffle =})
function M.split(what, opts)
  opts = E.options("clara.data.split", opts, SPLIT_OPTS)
  local n, strat
  if math.type(what) == "integer" then
    if what < 0 then fail("n must be non-negative, got %d", what) end
    n = E.limit("clara.data.split", "n (samples)", what, "table_elements")
  elseif torch.is_tensor(what) or type(what) == "table" then
    strat = label_list(what, "labels")
    n = #strat
  else
    fail("expected a sample count or a list/tensor of labels, got %s", type(what))
  end
  if opts.stratify == false then strat = nil
  elseif opts.stratify ~= nil then
    strat = label_list(opts.stratify, "stratify")
    if #strat ~= n then fail("stratify has %d labels for %d samples", #strat, n) end
  end
  -- sizes
  local sizes
  if opts.ratios and opts.counts then fail("give ratios or counts, not both") end
  if opts.counts then
    if type(opts.counts) ~= "table" or #opts.counts == 0 then fail("counts must be a list of integers") end
    local sum = 0
    for k, c in ipairs(opts.counts) do
      if math.type(c) ~= "integer" or c < 0 then fail("count #%d must be a non-negative integer, got %s", k, tostring(c)) end
      sum = sum + c
    end
    if sum ~= n then fail("counts sum to %d, but there are %d samples", sum, n) end
    sizes = opts.counts
  else
    local ratios = opts.ratios or { 0.8, 0.2 }
    if type(ratios) ~= "table" or #ratios == 0 then fail("ratios must be a list of numbers") end
    sizes = sizes_from_ratios(ratios, n)
  end
  local names = opts.names or { table.unpack(DEFAULT_NAMES, 1, math.min(#sizes, 3)) }
  if #names ~= #sizes then fail("%d names for %d parts (name each part: names = {...})", #names, #sizes) end
  for k, name in ipairs(names) do
    if type(name) ~= "string" then fail("names[%d] must be a string, got %s", k, E.show(name)) end
  end
  -- deal
  local shuffle = opts.shuffle
  local seed = math.tointeger(opts.seed)
  if shuffle then seed = seed or rng.draw_seed() end
  local order = deal_order(n, strat, shuffle and rng.new(seed) or nil)
  local seq = strat and interleave(sizes, n) or nil
  local assign, pos = {}, 0
  if seq then
    for j = 1, n do assign[order[j] + 1] = seq[j] end
  else
    for p, size in ipairs(sizes) do
      for j = pos + 1, pos + size do assign[order[j] + 1] = p end
      pos = pos + size
    end
  end
  return from_assignment(assign, names, seed, strat ~= nil)
end

-- 3. given partitions: datasets (or lists of tensors) used as they are
function M.given(parts)
  if type(parts) ~= "table" then
    raise("clara.data.given: expected {train = ds, val = ds, test = ds}, got " .. type(parts))
  end
  local self = setmetatable({ names = {}, kind = "given" }, Partition)
  for _, name in ipairs { "train", "val", "test" } do
    local ds = parts[name]
    if ds ~= nil then
      if type(ds) == "table" and getmetatable(ds) == nil and torch.is_tensor(ds[1]) then
        ds = dataset.TensorDataset(table.unpack(ds))
      end
      local ok, err = pcall(dataset.length, ds, "clara.data.given")
      if not ok then raise(("clara.data.given: %s is not a dataset or a list of tensors"):format(name)) end
      if name == "test" then M.mark_held_out(ds) end
      self[#self + 1], self[name] = ds, ds
      self.names[#self.names + 1] = name
    end
  end
  for k in pairs(parts) do
    if k ~= "train" and k ~= "val" and k ~= "test" then
      raise(("clara.data.given: unknown part '%s' (train, val, test)"):format(tostring(k)))
    end
  end
  if not self.train then raise("clara.data.given: a train partition is required") end
  return self
end

-- the parts as datasets: Subsets of ds (split) or the given datasets
function Partition:subsets(ds)
  local out = {}
  for p, name in ipairs(self.names) do
    if self.kind == "given" then
      out[name] = self[name]
    else
      if #ds ~= self.n then
        raise(("Partition:subsets: the partition covers %d samples, the dataset has %d"):format(self.n, #ds))
      end
      out[name] = dataset.Subset(ds, self[p], { held_out = name == "test" or nil })
    end
  end
  return out
end

-- rows of a tensor for one part; rows of the test part stay marked held out
function Partition:take(t, name)
  local idx = self.kind == "split" and self[name]
  if not idx then
    raise(("Partition:take: no part '%s' in a split (parts: %s)"):format(tostring(name), table.concat(self.names, ", ")))
  end
  if not torch.is_tensor(t) or t:dim() == 0 or t:size(1) ~= self.n then
    raise(("Partition:take: expected a tensor of %d rows"):format(self.n))
  end
  local rows = t:index_select(1, idx)
  if name == "test" then M.mark_held_out(rows) end
  return rows
end

-- the part number (1-based) of every sample
function Partition:assignment() return { table.unpack(self.assign) } end

-- a plain table (JSON-able) from which partition_from rebuilds the split
function Partition:describe()
  if self.kind ~= "split" then
    raise("Partition:describe: given partitions are their files; only splits have a description")
  end
  return { kind = "split", names = self.names, seed = self.seed, n = self.n,
           stratified = self.stratified, assignment = self:assignment() }
end

function M.partition_from(d)
  if type(d) == "string" then d = require("cjson").decode(d) end
  if type(d) ~= "table" or d.kind ~= "split" or type(d.assignment) ~= "table" or type(d.names) ~= "table" then
    raise("clara.data.partition_from: expected a table from Partition:describe()")
  end
  for i, p in ipairs(d.assignment) do
    if math.type(p) ~= "integer" and not (type(p) == "number" and p == math.floor(p)) or p < 1 or p > #d.names then
      raise(("clara.data.partition_from: sample %d has part %s, expected 1..%d"):format(i, tostring(p), #d.names))
    end
    d.assignment[i] = math.tointeger(p)
  end
  return from_assignment(d.assignment, d.names, math.tointeger(d.seed) or d.seed, d.stratified)
end

Partition.__tostring = function(self)
  local parts = {}
  for p, name in ipairs(self.names) do
    parts[p] = ("%s=%d"):format(name, self.kind == "split" and self[p]:numel() or #self[p])
  end
  if self.kind == "given" then return ("Partition(given: %s)"):format(table.concat(parts, ", ")) end
  return ("Partition(%s%s%s)"):format(table.concat(parts, ", "), self.stratified and ", stratified" or "",
    self.seed and (", seed=" .. self.seed) or "")
end

E.methods(Partition, "Partition")

return M
