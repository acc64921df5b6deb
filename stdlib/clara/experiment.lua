-- clara.experiment: an experiment is a Lua table of the user's objects.
--
--   local exp = clara.experiment{
--     name = "mlp",
--     data = {train = ds, val = ds2, test = ds3},  -- or one dataset (train only),
--                                                  -- or {dataset = ds, split = partition}
--     preprocess = fn,                 -- applied to each batch's input
--     postprocess = fn,                -- used by result.predict(x), not by the loss
--     hparams = {lr = 0.1, hidden = 64},  -- the user's hyperparameters, given to every factory
--     model = function(hp) return nn.Sequential(...) end,     -- a factory: fresh per run
--     objective = clara.losses.cross_entropy,                  -- see clara.train.objective
--     metrics = {acc = clara.metrics.accuracy},  -- name -> metric, factory, or
--       {metric, output = 2 | intermediate = "name", target = 1 | false, select = fn}
--     optimizer = function(model, hp) return optim.SGD(model, {lr = hp.lr}) end,
--     scheduler = function(opt, hp) return optim.lr_scheduler.StepLR(opt, {step_size = 5}) end,
--     batch_size = 32, accumulate = 1, drop_last = false, max_steps = nil, epochs = 10,
--     seed = 1, verbose = true, monitor = "val_loss", mode = "min", keep_best = true,
--     patience = nil (early stopping after that many epochs without improvement), min_delta = 0,
--     on_nonfinite = "stop" | "skip", hooks = {...}, recorder = obj, batcher = obj,
--     classes = {"T-shirt", ...} (class names, 0-based label order, for reports),
--     impl = "clear",
--   }
--   local result = exp:run()   -- {history = {rows}, final = {val =, test =}, best =, model =, ...}
--
-- Any piece can be swapped without touching the rest: exp:with{optimizer = ...}
-- returns a copy with that piece replaced; exp:set{lr = 0.01, batch_size = 64}
-- returns a copy with settings changed: a key of hparams sets that
-- hyperparameter, another key an experiment field (what `clara run --set`
-- and batteries use).  exp:cross_validate{folds = 5} (clara.train.cv) runs
-- one fresh model per fold.
-- History rows hold epoch, lr, time, <split>_loss, per objective term
-- <split>_<term> (raw) and <split>_<term>_w (weighted), and <split>_<metric>.
-- Disk output (clara.train.checkpoint): out_dir = "runs" (the default;
-- false: nothing on disk) makes runs/<name>/<run-id>/ with config.json,
-- model.txt, history.csv, report.json/.md, model.pt, best.pt and
-- checkpoint.pt (written every `checkpoint_every` steps and at each
-- epoch's end).  exp:run{resume = true} continues the newest run of the
-- experiment (resume = dir: that run) exactly where its checkpoint was.
-- handle_signals = true (set by `clara run`): SIGTERM/USR1/INT make the
-- loop write its checkpoint at the next step boundary and return
-- result.interrupted = "TERM" (`clara run` then exits with code 75).
local torch = require "torch"
local objective = require "clara.train.objective"
local batcher = require "clara.train.batcher"
local progress = require "clara.train.progress"
local checkpoint = require "clara.train.checkpoint"

local Experiment = {}
Experiment.__index = Experiment

local KEYS = {
  name = true, data = true, preprocess = true, postprocess = true, model = true, objective = true,
  metrics = true, optimizer = true, scheduler = true, scheduler_step = true, batch_size = true,
  eval_batch_size = true, accumulate = true, drop_last = true, shuffle = true, max_steps = true,
  epochs = true, seed = true, verbose = true, out_dir = true, impl = true, monitor = true, mode = true,
  keep_best = true, patience = true, min_delta = true, on_nonfinite = true, hooks = true,
  recorder = true, batcher = true, train_metrics = true, final_train = true, progress = true, classes = true,
  checkpoint_every = true, handle_signals = true, hparams = true,
}

local IMPLS = { clear = "clara.train.clear", fast = "clara.train.fast" }

local function fail(msg) error("clara.experiment: " .. msg, 3) end

local function check_int(spec, key, min)
  local v = spec[key]
  if v ~= nil and (math.type(v) ~= "integer" or v < min) then
    fail(("%s must be an integer >= %d, got %s"):format(key, min, tostring(v)))
  end
end

local function new(_, spec)
  if type(spec) ~= "table" then fail("expected a table, got " .. type(spec)) end
  for k in pairs(spec) do
    if not KEYS[k] then fail(("unknown key '%s'"):format(tostring(k))) end
  end
  if type(spec.model) ~= "function" then fail("model must be a factory function returning a model") end
  if type(spec.optimizer) ~= "function" then fail("optimizer must be a factory function(model) returning an optimizer") end
  if spec.data == nil then fail("data is required") end
  if spec.objective == nil then fail("objective is required (a loss function or {terms = ...})") end
  objective.new(spec.objective) -- fails early on a malformed objective
  check_int(spec, "batch_size", 1); check_int(spec, "accumulate", 1); check_int(spec, "epochs", 1)
  check_int(spec, "max_steps", 1); check_int(spec, "patience", 1); check_int(spec, "seed", 0)
  check_int(spec, "checkpoint_every", 1)
  if spec.out_dir ~= nil and spec.out_dir ~= false and (type(spec.out_dir) ~= "string" or spec.out_dir == "") then
    fail("out_dir must be a directory name or false, got " .. tostring(spec.out_dir))
  end
  if spec.on_nonfinite ~= nil and spec.on_nonfinite ~= "stop" and spec.on_nonfinite ~= "skip" then
    fail("on_nonfinite must be 'stop' or 'skip', got " .. tostring(spec.on_nonfinite))
  end
  if spec.impl ~= nil and not IMPLS[spec.impl] then
    fail(("impl '%s' is not available (clear, fast)"):format(tostring(spec.impl)))
  end
  if spec.hooks ~= nil and type(spec.hooks) ~= "table" then fail("hooks must be a table of functions") end
  if spec.classes ~= nil and (type(spec.classes) ~= "table" or #spec.classes == 0) then
    fail("classes must be a list of class names (label 0 first), got " .. type(spec.classes))
  end
  if spec.hparams ~= nil and (type(spec.hparams) ~= "table" or getmetatable(spec.hparams) ~= nil) then
    fail("hparams must be a plain table of hyperparameters, got " .. type(spec.hparams))
  end
  local self = {}
  for k, v in pairs(spec) do self[k] = v end
  return setmetatable(self, Experiment)
end

-- a copy with some pieces replaced
function Experiment:with(changes)
  local spec = {}
  for k, v in pairs(self) do spec[k] = v end
  for k, v in pairs(changes) do spec[k] = v end
  return new(nil, spec)
end

-- a copy with settings changed: hyperparameters first, then experiment
-- fields.  "hparams.x" names a hyperparameter explicitly (to add one).
function Experiment:set(settings)
  if type(settings) ~= "table" then fail("set expects a table of settings, got " .. type(settings)) end
  local hp, changes = {}, {}
  for k, v in pairs(self.hparams or {}) do hp[k] = v end
  local keys = {}
  for k in pairs(settings) do
    if type(k) ~= "string" then fail(("set: setting names are strings, got %s %s"):format(type(k), tostring(k))) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v, name = settings[k], k:match("^hparams%.(.+)$")
    if name then hp[name] = v
    elseif hp[k] ~= nil then hp[k] = v
    elseif KEYS[k] and k ~= "hparams" then changes[k] = v
    else
      local known = {}
      for h in pairs(hp) do known[#known + 1] = h end
      table.sort(known)
      fail(("unknown setting '%s': not a hyperparameter (hparams has: %s) nor an experiment field")
        :format(k, #known > 0 and table.concat(known, ", ") or "none"))
    end
  end
  changes.hparams = hp
  return self:with(changes)
end

-- a copy of the hyperparameters for one factory call (a factory that
-- changes its table does not change the next run's)
local function count_parameters(model)
  if type(model.parameters) ~= "function" then return nil end
  local n = 0
  for _, p in ipairs(model:parameters()) do n = n + p:numel() end
  return n
end

local function hparams_copy(self)
  local hp = {}
  for k, v in pairs(self.hparams or {}) do hp[k] = v end
  return hp
end

-- data: one dataset, {train =, val =, test =} (datasets or lists of tensors),
-- or {dataset =, split = partition}
local function resolve_data(d)
  local ds = require "clara.data.dataset"
  local function as_ds(v)
    if type(v) == "table" and getmetatable(v) == nil and torch.is_tensor(v[1]) then
      return ds.TensorDataset(table.unpack(v))
    end
    return v
  end
  if type(d) == "table" and d.split ~= nil and d.dataset ~= nil then
    return d.split:subsets(as_ds(d.dataset))
  end
  if type(d) == "table" and getmetatable(d) == nil and (d.train or d.val or d.test) then
    if d.train == nil then fail("data needs a train partition") end
    return { train = as_ds(d.train), val = as_ds(d.val), test = as_ds(d.test) }
  end
  return { train = as_ds(d) }
end

-- the data as {train =, val =, test =} datasets
function Experiment:data_parts() return resolve_data(self.data) end

-- k-fold cross-validation: one fresh model per fold (see clara.train.cv)
function Experiment:cross_validate(opts)
  return require("clara.train.cv").run(self, opts)
end

-- metrics: name -> object | factory | {object or factory, output =, intermediate =, target =, select =}
local function resolve_metrics(spec)
  local list, names = {}, {}
  if spec == nil then return list end
  if type(spec) ~= "table" then fail("metrics must be a table") end
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(names) do
    local v = spec[k]
    local entry = { output = 1, target = 1 }
    if type(v) == "table" and getmetatable(v) == nil then
      entry.output, entry.intermediate, entry.select = v.output or 1, v.intermediate, v.select
      if v.target ~= nil then entry.target = v.target end
      v = v[1] or v.metric
    end
    if type(v) == "function" then v = v() end
    if type(v) ~= "table" or type(v.update) ~= "function" or type(v.compute) ~= "function" then
      fail(("metric '%s' must be a metric object (update/compute/reset) or a factory of one"):format(tostring(k)))
    end
    entry.metric = v
    entry.name = type(k) == "string" and k or v.name
    list[#list + 1] = entry
  end
  return list
end

-- the run directory (nil when out_dir = false), and the checkpoint to resume
-- from.  opts.dir names the directory exactly (a CV fold, a battery entry).
local function open_run(self, opts)
  local run = require "clara.run"
  local name = self.name or "experiment"
  if opts.dir then
    local r = run.at(opts.dir, name)
    if not opts.resume then
      -- a fresh run where a killed one left rows: they are not this run's
      if #r.history > 0 then r:set_history({}) end
      return r
    end
    local state = r:load_checkpoint()
    if state == nil then error("clara.experiment: resume: no checkpoint.pt in '" .. opts.dir .. "'", 3) end
    return r, state
  end
  if self.out_dir == false then
    -- level 3: the line that called exp:run
    if opts.resume then error("clara.experiment: resume needs a run directory (out_dir is false)", 3) end
    return nil
  end
  local out_dir = self.out_dir or "runs"
  if not opts.resume then return run.open(out_dir, name) end
  local r = run.at(checkpoint.find(out_dir, name, opts.resume), name)
  local state = r:load_checkpoint()
  if state == nil then error("clara.experiment: resume: no checkpoint.pt in '" .. r.dir .. "'", 3) end
  return r, state
end

-- what a run holds until it returns or raises (a to-be-closed variable,
-- so error positions stay the caller's): with handle_signals the signal
-- handlers, from the start (clara.signal.scope); the run directory's lock
local function holder(self)
  local signal = self.handle_signals and require "clara.signal" or nil
  local h = { signal = signal, done = signal and signal.scope() }
  h.pending = function() return signal and signal.pending() or nil end
  return setmetatable(h, { __close = function()
    if h.done then h.done() end
    if h.run then h.run:close() end
  end })
end

-- trains, validates, tests; returns the result table.  opts.resume = true
-- or a run directory continues a run from its checkpoint; opts.dir is the
-- run directory to write (made if missing), instead of a new one under out_dir.
-- With handle_signals, a signal from the start on ends the run with
-- result.interrupted (after the checkpoint, when there is one to write).
function Experiment:run(opts)
  opts = opts or {}
  local held <close> = holder(self)
  local verbose = self.verbose ~= false
  -- 1. the seed first, so the model factory's initialization is reproducible
  if self.seed then torch.manual_seed(self.seed) end
  -- 2. fresh pieces from the factories
  local model = self.model(hparams_copy(self))
  if model == nil then fail("the model factory returned nothing") end
  local opt = self.optimizer(model, hparams_copy(self))
  if opt == nil then fail("the optimizer factory returned nothing") end
  local obj = objective.new(self.objective)
  local metrics = resolve_metrics(self.metrics)
  -- 3. what the forward pass must capture: intermediates of terms and metrics
  local captures, seen = {}, {}
  for _, n in ipairs(obj:captures()) do if not seen[n] then seen[n] = true; captures[#captures + 1] = n end end
  for _, m in ipairs(metrics) do
    if m.intermediate and not seen[m.intermediate] then
      seen[m.intermediate] = true; captures[#captures + 1] = m.intermediate
    end
  end
  local data = resolve_data(self.data)
  local monitor = self.monitor or (data.val and "val_loss" or "train_loss")
  local options = {
    epochs = self.epochs or 1, batch_size = self.batch_size or 32, accumulate = self.accumulate or 1,
    drop_last = self.drop_last or false, shuffle = self.shuffle, max_steps = self.max_steps, seed = self.seed,
    eval_batch_size = self.eval_batch_size, scheduler_step = self.scheduler_step or "epoch",
    monitor = monitor, mode = self.mode or (monitor:find("loss") and "min" or "max"),
    min_delta = self.min_delta or 0, patience = self.patience,
    keep_best = self.keep_best ~= false and data.val ~= nil and type(model.state_dict) == "function", on_nonfinite = self.on_nonfinite or "stop",
    train_metrics = self.train_metrics ~= false, final_train = self.final_train or false,
  }
  local c = {
    experiment = self, model = model, optimizer = opt, objective = obj, metrics = metrics, captures = captures,
    columns = obj:columns(), data = data, preprocess = self.preprocess, hooks = self.hooks or {},
    recorder = self.recorder, batcher = batcher.resolve(self.batcher), options = options,
    scheduler = self.scheduler and self.scheduler(opt, hparams_copy(self)) or nil,
    progress = self.progress or progress.new { verbose = verbose },
    parameters = count_parameters(model),
  }
  if verbose and self.name then c.progress:line(("experiment %s: %s"):format(self.name, tostring(obj))) end
  -- a signal during the factories: nothing on disk yet, run it again
  local sig = held.pending()
  if sig then held.signal.clear(); return { interrupted = sig, name = self.name, history = {} } end
  -- 4. the run directory (held by this process); a resume puts every object's state back
  local r, state = open_run(self, opts)
  held.run = r
  if r then
    c.recorder = checkpoint.recorder(r, c, { every = self.checkpoint_every, signals = self.handle_signals,
      user = self.recorder, resumed = state ~= nil })
    if verbose then c.progress:line((state and "resuming " or "run ") .. r.dir) end
  end
  if state then
    c.start = checkpoint.restore(c, state)
    r:set_history(state.history)
  end
  -- a signal while the checkpoint loaded: the one on disk is still the last
  sig = held.pending()
  if sig then
    held.signal.clear()
    return { interrupted = sig, name = self.name, dir = r and r.dir, history = state and state.history or {} }
  end
  -- 5. the loop
  local result = require(IMPLS[self.impl or "clear"]).run(c)
  -- the signal is answered (result.interrupted): the next run starts clean
  if held.signal and result.interrupted then held.signal.clear() end
  result.name, result.dir = self.name, r and r.dir
  -- 6. predictions through the model and the postprocessing
  local post, pre = self.postprocess, self.preprocess
  function result.predict(x)
    return torch.no_grad(function()
      if type(model.eval) == "function" then model:eval() end
      local out = model(pre and pre(x) or x)
      return post and post(out) or out
    end)
  end
  return result
end

return setmetatable({ new = new, Experiment = Experiment }, { __call = new })
