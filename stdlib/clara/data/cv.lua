-- clara.cv: cross-validation folds, as (train, validation) index tensors
-- (int64, 0-based, ascending, as clara.data.split gives them).
--
--   for train, val, fold in clara.cv.kfold(n, {k = 5, shuffle = true, seed = 1}) do ... end
--   clara.cv.stratified_kfold(labels, {k = 5, seed = 1})
--   clara.cv.repeated_kfold(n, {k = 5, repeats = 3, seed = 1})     -- or (labels, {stratify = true})
--   clara.cv.leave_one_out(n)                                      -- small n only
--   clara.cv.group_kfold(groups, {k = 5})                          -- a group never spans two folds
--   cv:fold(j) -> train, val;  #cv -> number of folds (repeats x k)
--   cv:assignment() -> {scheme, n, k, seed, folds = {fold of each sample}} (JSON-able)
--   clara.cv.from_assignment(a), cv:save(path), clara.cv.load(path)
-- A shuffled scheme without a seed draws one from torch's generator and
-- records it; the assignment alone reproduces every fold.
local torch = require "torch"
local E = require "clara.error"
local rng = require "clara.data.rng"

-- raise msg (it names the API) at the user's line
local function raise(msg) E.raise(nil, msg) end

local M = { LOO_MAX = 1000 }

local CV = { __name = "CV" }
CV.__index = CV

local function fail(fname, fmt, ...) E.raise("clara.cv." .. fname, fmt, ...) end

-- the options of the schemes, one schema each
local K = { type = "integer", min = 2, default = 5, doc = "the number of folds" }
local SEED = { type = "integer", doc = "the shuffle's seed (else one drawn and recorded)" }
local SHUFFLE = { type = "boolean", doc = "deal the samples in a random order" }
local SCHEMAS = {
  kfold = { k = K, seed = SEED, shuffle = SHUFFLE },
  stratified_kfold = { k = K, seed = SEED, shuffle = SHUFFLE },
  group_kfold = { k = K, seed = SEED, shuffle = SHUFFLE },
  repeated_kfold = { k = K, seed = SEED,
                     repeats = { type = "integer", min = 1, default = 2, doc = "rounds of k folds" },
                     stratify = { type = "table|tensor|boolean", doc = "labels to stratify by" } },
  leave_one_out = { max = { type = "integer", min = 2, doc = "the most samples (folds) allowed" } },
}

local function opts_of(fname, opts)
  opts = E.options("clara.cv." .. fname, opts, SCHEMAS[fname])
  opts.k, opts.seed = math.tointeger(opts.k), math.tointeger(opts.seed)
  return opts
end

local function check_k(fname, k, n)
  if k > n then fail(fname, "k = %d folds for only %d samples", k, n) end
  return k
end

-- a sample count, bounded: every scheme keeps one fold number per sample
local function count(fname, n, rounds)
  local what = rounds == 1 and "n (samples)" or ("n x repeats (%d x %d fold numbers)"):format(n, rounds)
  E.limit("clara.cv." .. fname, what, n <= 1 << 31 and rounds <= 1 << 31 and n * rounds or (n + 0.0) * rounds,
    "table_elements")
  return n
end

local function list_of(fname, what, v)
  if torch.is_tensor(v) then
    if v:dim() ~= 1 then fail(fname, "%s must be a 1-d tensor, got %d dims", what, v:dim()) end
    return v:totable()
  end
  if type(v) ~= "table" then fail(fname, "%s must be a tensor or a list, got %s", what, type(v)) end
  for i = 1, #v do
    if v[i] == nil then fail(fname, "%s has a hole at position %d", what, i) end
  end
  return v
end

local function sorted_keys(set)
  local keys = {}
  for key in pairs(set) do keys[#keys + 1] = key end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function seed_of(fname, opts, shuffle)
  local seed = opts.seed
  if seed ~= nil and math.type(seed) ~= "integer" then fail(fname, "seed must be an integer, got %s", tostring(seed)) end
  if shuffle and seed == nil then seed = rng.draw_seed() end
  return seed
end

local function new(scheme, n, k, seed, rounds, extra)
  local self = setmetatable({ scheme = scheme, n = n, k = k, seed = seed, rounds = rounds }, CV)
  for key, v in pairs(extra or {}) do self[key] = v end
  return self
end

-- 1. the assignments: fold number (1..k) of each sample, for one round

-- contiguous blocks of `order` (0-based indices), the first n % k one longer
local function blocks(order, k)
  local n, folds, pos = #order, {}, 0
  for f = 1, k do
    local size = n // k + (f <= n % k and 1 or 0)
    for j = pos + 1, pos + size do folds[order[j] + 1] = f end
    pos = pos + size
  end
  return folds
end

local function identity(n)
  local order = {}
  for i = 1, n do order[i] = i - 1 end
  return order
end

local function kfold_round(n, k, r)
  return blocks(r and r:permutation(n) or identity(n), k)
end

-- samples grouped by class (each class shuffled), dealt round-robin: every
-- class splits evenly over the folds, and fold sizes differ by at most one
local function stratified_round(labels, k, r)
  local by_class = {}
  for i, c in ipairs(labels) do
    local l = by_class[c]
    if not l then l = {}; by_class[c] = l end
    l[#l + 1] = i - 1
  end
  local folds, j = {}, 0
  for _, c in ipairs(sorted_keys(by_class)) do
    local l = by_class[c]
    if r then r:shuffle(l) end
    for _, i in ipairs(l) do
      folds[i + 1] = j % k + 1
      j = j + 1
    end
  end
  return folds
end

-- 2. the schemes
function M.kfold(n, opts)
  opts = opts_of("kfold", opts)
  if math.type(n) ~= "integer" or n < 0 then fail("kfold", "n must be a sample count, got %s", E.show(n)) end
  count("kfold", n, 1)
  local k = check_k("kfold", opts.k, n)
  local shuffle = opts.shuffle or false
  local seed = seed_of("kfold", opts, shuffle)
  return new("kfold", n, k, seed, { kfold_round(n, k, shuffle and rng.new(seed) or nil) }, { shuffle = shuffle })
end

function M.stratified_kfold(labels, opts)
  opts = opts_of("stratified_kfold", opts)
  labels = list_of("stratified_kfold", "labels", labels)
  local n = #labels
  local k = check_k("stratified_kfold", opts.k, n)
  local shuffle = opts.shuffle ~= false -- stratification without shuffling keeps file order per class
  local seed = seed_of("stratified_kfold", opts, shuffle)
  return new("stratified_kfold", n, k, seed, { stratified_round(labels, k, shuffle and rng.new(seed) or nil) },
    { shuffle = shuffle })
end

function M.repeated_kfold(what, opts)
  opts = opts_of("repeated_kfold", opts)
  local labels, n
  if math.type(what) == "integer" and what >= 0 then
    n = what
    if opts.stratify ~= nil and opts.stratify ~= false then
      labels = list_of("repeated_kfold", "stratify", opts.stratify)
      if #labels ~= n then fail("repeated_kfold", "stratify has %d labels for %d samples", #labels, n) end
    end
  elseif torch.is_tensor(what) or type(what) == "table" then
    labels = list_of("repeated_kfold", "labels", what)
    n = #labels
    if opts.stratify == false then labels = nil end
  else
    fail("repeated_kfold", "expected a sample count or labels, got %s", tostring(what))
  end
  local k = check_k("repeated_kfold", opts.k, n)
  local repeats = math.tointeger(opts.repeats)
  count("repeated_kfold", n, repeats)
  local seed = seed_of("repeated_kfold", opts, true)
  local rounds = {}
  for r = 1, repeats do
    local g = rng.new(seed, r) -- each repeat its own stream: different folds, all reproducible
    rounds[r] = labels and stratified_round(labels, k, g) or kfold_round(n, k, g)
  end
  return new("repeated_kfold", n, k, seed, rounds, { stratified = labels ~= nil })
end

function M.leave_one_out(n, opts)
  opts = opts_of("leave_one_out", opts)
  if math.type(n) ~= "integer" or n < 2 then fail("leave_one_out", "n must be an integer >= 2, got %s", E.show(n)) end
  local max = math.tointeger(opts.max) or M.LOO_MAX
  count("leave_one_out", n, 1)
  if n > max then
    fail("leave_one_out", "n = %d samples would make %d folds (more than %d): use kfold, or raise {max = }", n, n, max)
  end
  local folds = {}
  for i = 1, n do folds[i] = i end
  return new("leave_one_out", n, n, nil, { folds })
end

-- the largest groups first, each into the fold with the fewest samples so
-- far (scikit-learn's GroupKFold); shuffle breaks ties between equal sizes
function M.group_kfold(groups, opts)
  opts = opts_of("group_kfold", opts)
  groups = list_of("group_kfold", "groups", groups)
  local n = #groups
  local members, order = {}, {}
  for i, g in ipairs(groups) do
    if not members[g] then members[g] = {}; order[#order + 1] = g end
    local m = members[g]
    m[#m + 1] = i
  end
  local k = opts.k
  if #order < k then fail("group_kfold", "k = %d folds but only %d distinct groups", k, #order) end
  local shuffle = opts.shuffle or false
  local seed = seed_of("group_kfold", opts, shuffle)
  local rank = {}
  if shuffle then rng.new(seed):shuffle(order) end
  for j, g in ipairs(order) do rank[g] = j end
  table.sort(order, function(a, b)
    if #members[a] ~= #members[b] then return #members[a] > #members[b] end
    return rank[a] < rank[b]
  end)
  local load, folds = {}, {}
  for f = 1, k do load[f] = 0 end
  for _, g in ipairs(order) do
    local best = 1
    for f = 2, k do if load[f] < load[best] then best = f end end
    load[best] = load[best] + #members[g]
    for _, i in ipairs(members[g]) do folds[i] = best end
  end
  return new("group_kfold", n, k, seed, { folds }, { shuffle = shuffle })
end

-- 3. folds
CV.__len = function(self) return #self.rounds * self.k end

-- fold j (1..#cv): train and validation indices
function CV:fold(j)
  if math.type(j) ~= "integer" or j < 1 or j > #self then
    raise(("CV:fold: fold %s out of range 1..%d"):format(tostring(j), #self))
  end
  local round, f = (j - 1) // self.k + 1, (j - 1) % self.k + 1
  local train, val = {}, {}
  for i, g in ipairs(self.rounds[round]) do
    if g == f then val[#val + 1] = i - 1 else train[#train + 1] = i - 1 end
  end
  return torch.tensor(train, { dtype = "int64" }), torch.tensor(val, { dtype = "int64" }), f, round
end

-- for train, val, fold, round in cv:split() do
function CV:split()
  local j = 0
  return function()
    j = j + 1
    if j > #self then return nil end
    return self:fold(j)
  end
end

-- for train, val in cv do: the generic for calls cv(nil, nil) first
CV.__call = function(self, _, control)
  if control == nil or self.current == nil then self.current = self:split() end
  local train, val, f, r = self.current()
  if train == nil then self.current = nil end
  return train, val, f, r
end

CV.__tostring = function(self)
  local what = self.scheme == "repeated_kfold" and ("%d x %d folds"):format(#self.rounds, self.k)
    or ("%d folds"):format(self.k)
  return ("CV(%s, %s of %d samples%s)"):format(self.scheme, what, self.n, self.seed and (", seed=" .. self.seed) or "")
end

-- 4. saving and restoring the assignment
function CV:assignment()
  local rounds = {}
  for r, folds in ipairs(self.rounds) do rounds[r] = { table.unpack(folds) } end
  return { scheme = self.scheme, n = self.n, k = self.k, seed = self.seed,
           folds = #rounds == 1 and rounds[1] or rounds }
end

function M.from_assignment(a)
  if type(a) == "string" then
    local ok, decoded = pcall(require("cjson").decode, a)
    if not ok then raise("clara.cv.from_assignment: not JSON: " .. tostring(decoded)) end
    a = decoded
  end
  if type(a) ~= "table" or type(a.folds) ~= "table" or math.type(math.tointeger(a.k)) ~= "integer" then
    raise("clara.cv.from_assignment: expected a table from cv:assignment() (scheme, k, folds)")
  end
  local k = math.tointeger(a.k)
  local rounds = type(a.folds[1]) == "table" and a.folds or { a.folds }
  local n = #rounds[1]
  for r, folds in ipairs(rounds) do
    if #folds ~= n then raise(("clara.cv.from_assignment: repeat %d has %d samples, repeat 1 has %d"):format(r, #folds, n)) end
    for i, f in ipairs(folds) do
      local fi = math.tointeger(f)
      if not fi or fi < 1 or fi > k then
        raise(("clara.cv.from_assignment: sample %d has fold %s, expected 1..%d"):format(i, tostring(f), k))
      end
      folds[i] = fi
    end
  end
  return new(a.scheme or "given", n, k, math.tointeger(a.seed), rounds)
end

-- written whole to a temporary file, then renamed: never half a file
function CV:save(path)
  local text = require("cjson").encode(self:assignment())
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "w")
  if not f then raise("CV:save: " .. tostring(err)) end
  f:write(text, "\n")
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then raise("CV:save: " .. tostring(rerr)) end
  return path
end

function M.load(path)
  local f, err = io.open(path, "r")
  if not f then raise("clara.cv.load: " .. tostring(err)) end
  local text = f:read("a")
  f:close()
  local ok, cv = pcall(M.from_assignment, text)
  if not ok then raise(("clara.cv.load: %s: %s"):format(path, tostring(cv):gsub("^clara%.cv%.from_assignment: ", ""))) end
  return cv
end

E.methods(CV, "CV")

-- a misspelt name raises, naming the closest
return E.namespace(M, "clara.cv")
