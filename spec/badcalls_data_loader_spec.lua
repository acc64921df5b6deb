-- Bad calls into datasets, loaders, partitions, cross-validation,
-- transforms and postprocessing: each raises a Lua error naming the
-- function and the problem, with no C++ details.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_data_loader_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local clara = require "clara"
local D, T, P, CV = clara.data, clara.transforms, clara.postprocess, clara.cv

local function ds10() return D.TensorDataset(torch.randn(10, 3), torch.arange(10)) end

local cases = {
  -- datasets
  { "TensorDataset of nothing", "TensorDataset", "at least one tensor", function() return D.TensorDataset() end },
  { "TensorDataset of a number", "TensorDataset", "argument #2 must be a tensor", function() return D.TensorDataset(torch.zeros(2), 3) end },
  { "TensorDataset with different row counts", "TensorDataset", "(10, 3)", function() return D.TensorDataset(torch.zeros(10, 3), torch.zeros(9)) end },
  { "TensorDataset of a 0-d tensor", "TensorDataset", "0-d", function() return D.TensorDataset(torch.tensor(1)) end },
  { "get at position 0", "TensorDataset:get", "out of range 1..10", function() return ds10():get(0) end },
  { "get past the end", "TensorDataset:get", "position 11", function() return ds10():get(11) end },
  { "Subset index out of range", "Subset", "index 10 out of range", function() return D.Subset(ds10(), torch.tensor { 1, 10 }) end },
  { "Subset negative index", "Subset", "index -1", function() return D.Subset(ds10(), torch.tensor { -1 }) end },
  { "Subset with float indices", "Subset", "integer tensor", function() return D.Subset(ds10(), torch.tensor { 1.5 }) end },
  { "Subset with a string", "Subset", "indices must be", function() return D.Subset(ds10(), "1,2") end },
  { "Subset of a non-dataset", "Subset", "expected a dataset", function() return D.Subset(42, { 1 }) end },
  { "Subset position not an integer", "Subset", "position #2", function() return D.Subset(ds10(), { 1, 2.5 }) end },
  { "Concat of nothing", "Concat", "non-empty list", function() return D.Concat {} end },
  { "Concat with a non-dataset", "Concat", "item #2", function() return D.Concat { ds10(), 5 } end },
  { "Concat get out of range", "Concat:get", "out of range", function() return D.Concat { ds10() }:get(11) end },
  -- loader
  { "DataLoader of a table", "DataLoader", "expected a dataset", function() return D.DataLoader({}) end },
  { "DataLoader batch_size 0", "DataLoader", "batch_size must be >= 1, got 0", function() return D.DataLoader(ds10(), { batch_size = 0 }) end },
  { "DataLoader fractional batch_size", "DataLoader", "batch_size", function() return D.DataLoader(ds10(), { batch_size = 2.5 }) end },
  { "DataLoader misspelt option", "DataLoader", "unknown option 'shufle'", function() return D.DataLoader(ds10(), { shufle = true }) end },
  { "DataLoader string seed", "DataLoader", "seed must be an integer", function() return D.DataLoader(ds10(), { seed = "x" }) end },
  { "DataLoader collate not a function", "DataLoader", "collate must be a callable, got 1", function() return D.DataLoader(ds10(), { collate = 1 }) end },
  { "DataLoader unknown impl", "DataLoader", "impl must be", function() return D.DataLoader(ds10(), { impl = "turbo" }) end },
  { "DataLoader options not a table", "DataLoader", "options must be a table", function() return D.DataLoader(ds10(), 4) end },
  { "set_state for another size", "DataLoader:set_state", "this loader has 10", function() return D.DataLoader(ds10()):set_state({ n = 5, epoch = 1, batch = 0 }) end },
  { "set_state of a string", "DataLoader:set_state", "expected a table", function() return D.DataLoader(ds10()):set_state("x") end },
  { "set_state with a short perm", "DataLoader:set_state", "permutation of 10", function() return D.DataLoader(ds10()):set_state({ n = 10, epoch = 1, batch = 0, perm = { 1, 2 } }) end },
  { "collating samples of different shapes", "DataLoader", "cannot stack field 1", function()
      local bad = setmetatable({}, { __len = function() return 2 end,
        __index = { get = function(_, i) return torch.zeros(i), 0 end } })
      for _ in D.DataLoader(bad, { batch_size = 2 }) do end
    end },
  { "iterate over a number", "clara.data.iterate", "expected a loader", function() return D.iterate(3) end },
  { "iterate over a tensor", "clara.data.iterate", "a tensor", function() return D.iterate(torch.zeros(2)) end },
  -- partitions
  { "split with ratios not summing to 1", "clara.data.split", "sum to 1", function() return D.split(10, { ratios = { 0.5, 0.4 } }) end },
  { "split with a negative ratio", "clara.data.split", "ratio #1 must be a number in [0, 1], got 1.5", function() return D.split(10, { ratios = { 1.5, -0.5 } }) end },
  { "split with counts not summing to n", "clara.data.split", "counts sum to 9", function() return D.split(10, { counts = { 5, 4 } }) end },
  { "split with ratios and counts", "clara.data.split", "not both", function() return D.split(10, { ratios = { 1 }, counts = { 10 } }) end },
  { "split of a string", "clara.data.split", "expected a sample count", function() return D.split("10") end },
  { "split with too few names", "clara.data.split", "2 names for 3 parts", function() return D.split(10, { ratios = { 0.5, 0.3, 0.2 }, names = { "a", "b" } }) end },
  { "split stratify length mismatch", "clara.data.split", "stratify has 3 labels for 10 samples", function() return D.split(10, { stratify = { 1, 2, 3 } }) end },
  { "split with 2-d labels", "clara.data.split", "1-d tensor", function() return D.split(torch.zeros(2, 2)) end },
  { "split with a float seed", "clara.data.split", "seed must be an integer", function() return D.split(10, { seed = 1.5 }) end },
  { "take an unknown part", "Partition:take", "no part 'tset'", function() return D.split(10, { seed = 1 }):take(torch.zeros(10), "tset") end },
  { "take from a tensor of the wrong size", "Partition:take", "10 rows", function() return D.split(10, { seed = 1 }):take(torch.zeros(9), "train") end },
  { "subsets of a dataset of the wrong size", "Partition:subsets", "the dataset has 5", function() return D.split(10, { seed = 1 }):subsets(D.TensorDataset(torch.zeros(5))) end },
  { "given without train", "clara.data.given", "train partition is required", function() return D.given { test = ds10() } end },
  { "given with an unknown part", "clara.data.given", "unknown part 'valid'", function() return D.given { train = ds10(), valid = ds10() } end },
  { "given with a non-dataset", "clara.data.given", "not a dataset", function() return D.given { train = 3 } end },
  { "partition_from garbage", "clara.data.partition_from", "Partition:describe", function() return D.partition_from({}) end },
  -- cross-validation
  { "kfold with k = 1", "clara.cv.kfold", "k must be >= 2, got 1", function() return CV.kfold(10, { k = 1 }) end },
  { "kfold with k > n", "clara.cv.kfold", "k = 5 folds for only 3 samples", function() return CV.kfold(3, { k = 5 }) end },
  { "kfold of a string", "clara.cv.kfold", "n must be a sample count", function() return CV.kfold("10") end },
  { "kfold misspelt option", "clara.cv.kfold", "unknown option 'folds'", function() return CV.kfold(10, { folds = 3 }) end },
  { "stratified_kfold of a number", "clara.cv.stratified_kfold", "labels must be a tensor or a list", function() return CV.stratified_kfold(10) end },
  { "repeated_kfold with 0 repeats", "clara.cv.repeated_kfold", "repeats must be >= 1, got 0", function() return CV.repeated_kfold(10, { repeats = 0 }) end },
  { "leave_one_out of a huge n", "clara.cv.leave_one_out", "use kfold", function() return CV.leave_one_out(100000) end },
  { "group_kfold with too few groups", "clara.cv.group_kfold", "distinct groups", function() return CV.group_kfold({ 1, 2 }, { k = 3 }) end },
  { "fold out of range", "CV:fold", "fold 4 out of range 1..3", function() return CV.kfold(9, { k = 3 }):fold(4) end },
  { "from_assignment with a bad fold", "clara.cv.from_assignment", "sample 2 has fold 7", function() return CV.from_assignment({ k = 3, folds = { 1, 7, 2 } }) end },
  { "from_assignment of bad JSON", "clara.cv.from_assignment", "not JSON", function() return CV.from_assignment("{oops") end },
  { "load of a missing file", "clara.cv.load", "/nonexistent/folds.json", function() return CV.load("/nonexistent/folds.json") end },
  -- transforms
  { "Scale of a string", "Scale", "expected a number factor", function() return T.Scale("1/255") end },
  { "Scale of a string input", "Scale", "expected a tensor", function() return T.Scale(2)("x") end },
  { "Normalize with mean only", "Normalize", "give both mean and std", function() return T.Normalize { mean = 0.5 } end },
  { "Normalize with std 0", "Normalize", "std must be positive", function() return T.Normalize { mean = 0, std = 0 } end },
  { "Normalize misspelt option", "Normalize", "unknown option 'sd'", function() return T.Normalize { mean = 0, sd = 1 } end },
  { "Normalize unfitted", "Normalize", "not fitted", function() return T.Normalize()(torch.zeros(2)) end },
  { "Normalize.fit of an empty tensor", "Normalize.fit", "empty tensor", function() return T.Normalize.fit(torch.zeros(0, 3)) end },
  { "Normalize.fit of a table", "Normalize.fit", "expected a tensor of rows", function() return T.Normalize.fit({ 1, 2 }) end },
  { "Standardize unfitted", "Standardize", "not fitted", function() return T.Standardize()(torch.zeros(2, 2)) end },
  { "Standardize on another shape", "Standardize", "fitted on rows of shape (3)", function() return T.Standardize.fit(torch.randn(4, 3))(torch.zeros(2, 4)) end },
  { "Reshape with no shape", "Reshape", "shape of one sample", function() return T.Reshape {} end },
  { "Reshape to the wrong size", "Reshape", "cannot reshape a batch of shape (2, 6) to (N, 5)", function() return T.Reshape { 5 }(torch.zeros(2, 6)) end },
  { "Lambda of a number", "Lambda", "expected a function", function() return T.Lambda(3) end },
  { "chain with a number step", "T.chain", "step #2 is not a transform", function() return T.chain { T.Scale(1), 3 } end },
  { "chain of a non-list", "T.chain", "list of steps", function() return T.chain(T.Scale(1)) end },
  { "from_description of an unknown step", "T.from_description", "unknown step 'Blur'", function() return T.from_description { name = "Blur" } end },
  { "from_description of a Lambda", "T.from_description", "cannot be rebuilt", function() return T.from_description { name = "Lambda", label = "f" } end },
  { "from_description of a number", "T.from_description", "expected a table", function() return T.from_description(5) end },
  { "from_description of bad JSON", "T.from_description", "not a JSON description", function() return T.from_description("{x") end },
  -- augmentation
  { "flip with p > 1", "RandomFlip", "p must be <= 1, got 2", function() return T.augment.flip { p = 2 } end },
  { "flip with n negative", "RandomFlip", "n must be >= 0, got -1", function() return T.augment.flip { n = -1 } end },
  { "crop without a size", "RandomCrop", "size must be", function() return T.augment.random_crop {} end },
  { "crop larger than the image", "RandomCrop", "does not fit a 4x4 image", function() return T.augment.random_crop { size = 8 }(torch.zeros(4, 4)) end },
  { "crop of a vector", "RandomCrop", "expected an image", function() return T.augment.random_crop { size = 2 }(torch.zeros(4)) end },
  { "shift with a fractional max", "RandomShift", "max must be a non-negative integer", function() return T.augment.shift { max = 1.5 } end },
  { "noise with a negative std", "Noise", "std must be >= 0, got -1", function() return T.augment.noise { std = -1 } end },
  { "noise of a string", "Noise", "expected a tensor sample", function() return T.augment.noise { std = 1 }("x") end },
  { "augment chain of a transform", "augment.chain", "step #1 is not an augmentation", function() return T.augment.chain { T.Scale(1) } end },
  { "augment misspelt option", "RandomCrop", "unknown option 'pad'", function() return T.augment.random_crop { size = 2, pad = 1 } end },
  -- postprocessing
  { "Softmax dim 0", "Softmax", "non-zero integer", function() return P.Softmax { dim = 0 } end },
  { "Softmax dim out of range", "Softmax", "dim 3 out of range", function() return P.Softmax { dim = 3 }(torch.zeros(2, 2)) end },
  { "Argmax of a table", "Argmax", "expected a tensor", function() return P.Argmax()({ 1, 2 }) end },
  { "Threshold of a string", "Threshold", "value must be a number", function() return P.Threshold { value = "x" } end },
  { "TopK with k 0", "TopK", "k must be >= 1, got 0", function() return P.TopK { k = 0 } end },
  { "TopK with k too large", "TopK", "k = 5 but dim -1 has only 3 entries", function() return P.TopK { k = 5 }(torch.zeros(2, 3)) end },
  { "LabelNames of nothing", "LabelNames", "list of class names", function() return P.LabelNames {} end },
  { "LabelNames with a number name", "LabelNames", "name #2 is a number", function() return P.LabelNames { "a", 2 } end },
  { "LabelNames of floats", "LabelNames", "integer class ids", function() return P.LabelNames { "a" }(torch.zeros(2)) end },
  { "LabelNames id out of range", "LabelNames", "class id 3 out of range 0..1", function() return P.LabelNames { "a", "b" }(torch.tensor { 3 }) end },
}

describe("bad calls: data, loaders, partitions, cv, transforms", function()
  badcalls(cases)
end)
