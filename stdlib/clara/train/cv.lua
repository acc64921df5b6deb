-- clara.train.cv: cross-validation of an experiment, exp:cross_validate{...}.
--
--   local cv = exp:cross_validate{folds = 5, stratified = true}
--   print(cv.summary.val.acc.mean, cv.summary.val.acc.std)
--
-- Options: folds (k, default 5), stratified (default true when the
-- training data has integer labels), seed (of the fold assignment; default
-- the experiment's), groups (a tensor: group k-fold), labels (the labels to
-- stratify on, when the dataset cannot give them), scheme (a clara.cv object
-- made by the user), resume (true: the newest CV of the experiment, or a
-- directory), dir (the CV directory exactly; a battery entry).
--
-- The experiment's training data is split into k folds; each fold trains
-- a fresh model (the factories run again, with the experiment's seed) on
-- k-1 folds and validates on the held-out one; a test set, if given, is
-- tested by every fold.  On disk (out_dir ~= false) the CV is a directory
-- of runs: config.json (kind = "cv"), cv.json (the assignment), fold-1/ ..
-- fold-k/ (each a run), folds.csv, report.json and report.md (mean ± std
-- of every metric, sample std).  A resumed CV reuses the folds that have a
-- report (result.folds[j].reused) and resumes the one that has only a
-- checkpoint.
local torch = require "torch"
local E = require "clara.error"
local fs = require "clara.fs"
local json = require "clara.run.json"
local H = require "clara.run.history"
local R = require "clara.run.report"
local dataset = require "clara.data.dataset"
local cvs = require "clara.data.cv"
local checkpoint = require "clara.train.checkpoint"
local distributed = require "clara.train.distributed"

local M = {}

local API = "clara.experiment: cross_validate"

local OPTIONS = {
  folds = { type = "integer", min = 2, default = 5, what = "an integer >= 2", doc = "the number of folds k" },
  stratified = { type = "boolean", doc = "keep the class proportions in every fold (default: with integer labels)" },
  seed = { type = "integer", min = 0, what = "an integer >= 0",
           doc = "seed of the fold assignment (default: the experiment's)" },
  groups = { type = "tensor", doc = "group k-fold: samples of one group stay in one fold" },
  labels = { type = "tensor", doc = "the labels to stratify on, when the dataset cannot give them" },
  scheme = { type = "table", doc = "a clara.cv object made by the user" },
  resume = { type = "boolean|string", doc = "true: the newest CV of the experiment, or its directory" },
  dir = { type = "string", doc = "the CV directory exactly (a battery entry)" },
}

-- 1. the labels of a dataset, for stratification: the second tensor of a
-- TensorDataset, through Subsets and Concats
local function labels_of(ds)
  local mt = getmetatable(ds)
  if mt and mt.__name == "Subset" then
    local parent = labels_of(rawget(ds, "dataset"))
    return parent and parent:index_select(1, rawget(ds, "indices")) or nil
  end
  if mt and mt.__name == "Concat" then
    local parts = {}
    for k, d in ipairs(ds.datasets) do
      parts[k] = labels_of(d)
      if not parts[k] then return nil end
    end
    return torch.cat(parts, 1)
  end
  if type(ds) == "table" and type(rawget(ds, "tensors")) == "table" then return ds.tensors[2] end
  return nil
end

local function is_class_labels(y)
  return torch.is_tensor(y) and y:dim() == 1 and not y:is_floating_point() and y.dtype ~= "bool"
end

-- 2. the folds, as a clara.cv object
local function scheme_of(opts, dev, seed)
  if opts.scheme ~= nil then
    if type(opts.scheme) ~= "table" or type(opts.scheme.fold) ~= "function" then
      E.raise(API, "scheme must be a clara.cv object (clara.cv.kfold(...), ...), got " .. type(opts.scheme))
    end
    if opts.scheme.n ~= #dev then
      E.raise(API, ("scheme covers %d samples, the training data has %d"):format(opts.scheme.n, #dev))
    end
    return opts.scheme
  end
  local k = opts.folds
  if k > #dev then E.raise(API, ("%d folds for only %d training samples"):format(k, #dev)) end
  if opts.groups ~= nil then return cvs.group_kfold(opts.groups, { k = k, shuffle = true, seed = seed }) end
  local labels = opts.labels or labels_of(dev)
  local stratified = opts.stratified
  if stratified == nil then stratified = is_class_labels(labels) end
  if stratified then
    if not is_class_labels(labels) then
      E.raise(API, "stratified folds need integer class labels: the training data gives none "
           .. "(pass labels = tensor, or stratified = false)")
    end
    if labels:size(1) ~= #dev then
      E.raise(API, ("labels has %d entries, the training data %d samples"):format(labels:size(1), #dev))
    end
    return cvs.stratified_kfold(labels, { k = k, seed = seed })
  end
  return cvs.kfold(#dev, { k = k, shuffle = true, seed = seed })
end

local SPLITS = { "train", "val", "test" }

local function sorted_names(t)
  local names = {}
  for k in pairs(t or {}) do names[#names + 1] = k end
  table.sort(names, function(a, b)
    if a == "loss" or b == "loss" then return a == "loss" and b ~= "loss" end
    return a < b
  end)
  return names
end

-- "val acc 0.8912 ± 0.0041  loss 0.3120 ± 0.0100"
function M.summary_text(summary)
  local lines = {}
  for _, split in ipairs(SPLITS) do
    if summary[split] then
      local parts = {}
      for _, name in ipairs(sorted_names(summary[split])) do
        local s = summary[split][name]
        parts[#parts + 1] = ("%s %.4f ± %.4f"):format(name, s.mean, s.std)
      end
      lines[#lines + 1] = ("%-5s %s"):format(split, table.concat(parts, "  "))
    end
  end
  return table.concat(lines, "\n")
end

local function markdown(title, folds, summary)
  local out = { "# " .. title, "", ("%d folds; mean ± sample standard deviation."):format(#folds), "" }
  out[#out + 1] = "| split | metric | mean ± std | per fold |"
  out[#out + 1] = "|---|---|---:|---|"
  for _, split in ipairs(SPLITS) do
    for _, name in ipairs(sorted_names(summary[split])) do
      local s, each = summary[split][name], {}
      for i, v in ipairs(s.values) do each[i] = ("%.4f"):format(v) end
      out[#out + 1] = ("| %s | %s | %.4f ± %.4f | %s |"):format(split, name, s.mean, s.std, table.concat(each, ", "))
    end
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

local function folds_rows(folds)
  local rows = {}
  for i, f in ipairs(folds) do
    local row = { fold = i }
    for split, values in pairs(f.metrics or {}) do
      for name, v in pairs(values) do
        if type(v) == "number" then row[split .. "_" .. name] = v end
      end
    end
    rows[i] = row
  end
  return rows
end

-- 4. the CV directory: made anew, given, or the one to resume
local function cv_dir(exp, opts)
  if exp.out_dir == false and not opts.dir then
    if opts.resume then E.raise(API, "resume needs a directory (out_dir is false)") end
    return nil
  end
  if opts.dir then return opts.dir end
  local out_dir, name = exp.out_dir or "runs", exp.name or "experiment"
  if opts.resume == true then
    local parent, newest = fs.join(out_dir, name), nil
    if fs.isdir(parent) then
      for e in require("lfs").dir(parent) do
        if e:sub(1, 1) ~= "." and fs.exists(fs.join(parent, e, "cv.json")) and (newest == nil or e > newest) then
          newest = e
        end
      end
    end
    if not newest then E.raise(API, "resume: no cross-validation under '" .. parent .. "'") end
    return fs.join(parent, newest)
  elseif type(opts.resume) == "string" then
    if not fs.exists(fs.join(opts.resume, "cv.json")) then E.raise(API, "resume: '" .. opts.resume .. "' is not a CV directory (no cv.json)") end
    return opts.resume
  end
  local r = require("clara.run").open(out_dir, name)
  r:close()   -- M.run holds it
  return r.dir
end

local function read_json(path)
  local text = fs.read(path)
  return text and json.decode(text) or nil
end

-- 5. one fold: finished (its report), resumed (its checkpoint) or new
local function run_fold(exp, data, dir)
  if dir and require("clara.run").is_done(dir) then
    local report = read_json(fs.join(dir, "report.json"))
    return { metrics = report.metrics, dir = dir, reused = true }
  end
  local resume = dir and fs.exists(fs.join(dir, "checkpoint.pt")) or false
  local result = exp:with { data = data }:run { dir = dir, resume = resume }
  return { metrics = result.final, dir = dir, result = result, interrupted = result.interrupted }
end

-- the options checked, defaults filled in: what a battery's cv = {...}
-- can check when it is loaded, before any entry runs
function M.check(opts) return E.options(API, opts, OPTIONS) end

function M.run(exp, opts)
  opts = M.check(opts)
  local verbose = require("clara.train.progress").level(exp.verbose) > 0
  -- 1. the development data: what the folds split; the test set stays aside
  local data = exp:data_parts()
  if data.val ~= nil then
    E.raise(API, "the experiment has a validation set; cross-validation makes its own from the folds "
         .. "(give data = dataset or {train =, test =})")
  end
  local dev = data.train
  -- signals are answered from here on (between folds too), and the CV's
  -- directory is this process's until the end
  local signal = exp.handle_signals and require "clara.signal" or nil
  local held <close> = setmetatable({ done = signal and signal.scope() }, { __close = function(h)
    if h.done then h.done() end
    if h.lock then h.lock:release() end
  end })
  -- data-parallel: every fold is data-parallel; rank 0 alone decides the
  -- directory and folds and writes the CV's files
  local dp = distributed.active(exp)
  local lead = not (dp and distributed.follower())
  verbose = verbose and lead
  -- 2. the folds (reused from cv.json when resuming)
  local dir = lead and cv_dir(exp, opts) or nil
  if dir then
    fs.mkdir_p(dir)
    held.lock = fs.lock(dir, "clara.experiment: cross_validate")
  end
  local scheme, resumed
  if dir and fs.exists(fs.join(dir, "cv.json")) then
    scheme, resumed = cvs.from_assignment(read_json(fs.join(dir, "cv.json"))), true
  else
    scheme = scheme_of(opts, dev, opts.seed or exp.seed)
  end
  if dp then
    local shared = distributed.share(lead and { dir = dir, folds = scheme:assignment(), resumed = resumed } or false)
    dir, resumed, scheme = shared.dir, shared.resumed, cvs.from_assignment(shared.folds)
  end
  -- a resumed CV continues with the settings it recorded, not the script's
  local cfg = resumed and read_json(fs.join(dir, "config.json"))
  if cfg then exp = require("clara.experiment").resumed(exp, cfg, nil, dir) end
  -- 3. the CV's own files first, so that an interrupted CV can be resumed
  if dir and lead then
    fs.mkdir_p(dir)
    if not fs.exists(fs.join(dir, "cv.json")) then
      local cfg = checkpoint.config(exp)
      cfg.kind, cfg.folds, cfg.scheme = "cv", #scheme, scheme.scheme
      cfg.clara_version, cfg.libtorch_version, cfg.lua_version = require("clara").version, torch.__version__, _VERSION
      fs.write_atomic(fs.join(dir, "config.json"), json.encode(cfg))
      fs.write_atomic(fs.join(dir, "cv.json"), json.encode(scheme:assignment()))
    end
  end
  -- 4. every fold: a fresh model, trained on the other folds
  local folds = {}
  for j = 1, #scheme do
    -- a signal between two folds: the finished ones are on disk
    local sig = signal and signal.pending() or nil
    if dp then sig = distributed.agree_signal(sig) end
    if sig then
      signal.clear()
      return { interrupted = sig, folds = folds, dir = dir, fold = j }
    end
    local train_idx, val_idx = scheme:fold(j)
    if verbose then print(("fold %d/%d: %d train, %d validation samples"):format(j, #scheme, train_idx:numel(), val_idx:numel())) end
    local fold_data = { train = dataset.Subset(dev, train_idx), val = dataset.Subset(dev, val_idx), test = data.test }
    local f = run_fold(exp, fold_data, dir and fs.join(dir, "fold-" .. j))
    f.fold, f.dir_name = j, "fold-" .. j
    folds[j] = f
    if f.interrupted then
      return { interrupted = f.interrupted, folds = folds, dir = dir, fold = j }
    end
  end
  -- 5. mean ± std, on disk and in the result
  local summary = R.fold_summary(folds)
  local report = { kind = "cv", folds = {}, summary = summary, scheme = scheme.scheme, k = #scheme }
  for j, f in ipairs(folds) do report.folds[j] = { fold = j, dir = f.dir_name, metrics = f.metrics } end
  if dir and lead then
    local rows = folds_rows(folds)
    fs.write_atomic(fs.join(dir, "folds.csv"), H.encode(H.columns(rows, { "fold" }), rows))
    fs.write_atomic(fs.join(dir, "report.md"), markdown((exp.name or "experiment") .. " / cross-validation", folds, summary))
    fs.write_atomic(fs.join(dir, "report.json"), json.encode(report))
  end
  if verbose then print(M.summary_text(summary)) end
  report.dir = dir
  for j, f in ipairs(folds) do report.folds[j].result, report.folds[j].reused = f.result, f.reused end
  return report
end

return M
