-- clara.experiment: an experiment is a Lua table of the user's objects.
--
--   local exp = clara.experiment{
--     name = "mlp",
--     data = {train = ds, val = ds2, test = ds3},  -- or one dataset (train only),
--                                                  -- or {dataset = ds, split = partition}
--     preprocess = fn,                 -- applied to each batch's input
--     augment = T.batch.random_crop{size = 28, padding = 4},  -- training batches only, before preprocess
--     postprocess = fn,                -- used by result.predict(x), not by the loss
--     hparams = {lr = 0.1, hidden = 64},  -- the user's hyperparameters, given to every factory
--     model = function(hp) return nn.Sequential(...) end,     -- a factory: fresh per run
--     objective = clara.losses.cross_entropy,                  -- see clara.train.objective
--     metrics = {acc = clara.metrics.accuracy, "f1"},  -- name -> metric, factory, its name, or
--       {metric, output = 2 | intermediate = "name", target = 1 | false, select = fn}
--     optimizer = function(model, hp) return optim.SGD(model, {lr = hp.lr}) end,
--     scheduler = function(opt, hp) return optim.lr_scheduler.StepLR(opt, {step_size = 5}) end,
--     batch_size = 32, accumulate = 1, drop_last = false, max_steps = nil, epochs = 10,
--     seed = 1, verbose = true, monitor = "val_loss", mode = "min", keep_best = true,
--     patience = nil (early stopping after that many epochs without improvement), min_delta = 0,
--     on_nonfinite = "stop" | "skip", hooks = {...}, recorder = obj, batcher = obj,
--     classes = {"T-shirt", ...} (class names, 0-based label order, for reports),
--     impl = "clear",
--     clip_grad = {norm = 1.0, norm_type = 2} | {value = 0.5},  -- before each step; logs grad_norm
--     precision = "float32" | "bf16",   -- bf16: forward and loss under CPU autocast
--     average = {ema = 0.999} | {swa_start = 5, swa_lr = 0.05, anneal_epochs = 10,
--                                anneal_strategy = "cos"},  -- see clara.train.average
--   }
--   local result = exp:run()   -- {history = {rows}, final = {val =, test =}, best =, model =, ...}
--
-- Every option is one entry of clara.experiment.options (type, default,
-- check, doc): a wrong value is refused at the user's line, and what needs
-- the whole experiment (monitor names a column the run produces) is
-- checked once before the first step.  `clara run --help` lists them.
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
-- experiment (resume = dir: that run) exactly where its checkpoint was,
-- with the settings its config.json recorded; exp:run{resume =, set =
-- {epochs = 20}} changes one, recorded in config.json (`changes`) and the
-- history.  checkpoints = {save_top_k = 3, save_last = 2} also keeps
-- checkpoints/epoch-N.pt of the best and the last epochs (clara.train.keep);
-- exp:run{resume = "<run>/checkpoints/epoch-0003.pt"} continues one in a new
-- run directory.  A run that fails leaves error.txt (message, traceback)
-- in its directory and raises the error; before that, checkpoint.pt gets
-- the last step boundary before the error (checkpoints.save_on_error,
-- clara.train.boundary says when it cannot).
-- exp:lr_find{start_lr =, end_lr =, num_iter =} runs the learning-rate
-- range test on a copy (clara.train.lr_find).
-- handle_signals = true (set by `clara run`): SIGTERM/USR1/INT make the
-- loop write its checkpoint at the next step boundary and return
-- result.interrupted = "TERM" (`clara run` then exits with code 75).
local torch = require "torch"
local E = require "clara.error"
local O = require "clara.experiment.options"
local objective = require "clara.train.objective"
local reader = require("clara.train.select").reader
local batcher = require "clara.train.batcher"
local place = require "clara.train.place"
local progress = require "clara.train.progress"
local checkpoint = require "clara.train.checkpoint"
local average = require "clara.train.average"
local distributed = require "clara.train.distributed"

local API = "clara.experiment"

local Experiment = {}
Experiment.__index = Experiment

local IMPLS = { clear = "clara.train.clear", fast = "clara.train.fast" }

-- every option checked against clara.experiment.options, defaults filled in
local function new(_, spec)
  if type(spec) ~= "table" or getmetatable(spec) ~= nil and getmetatable(spec) ~= Experiment then
    E.raise(API, "expected a table of options, got %s", E.show(spec))
  end
  local self = O.check(API, spec)
  objective.new(self.objective) -- fails early on a malformed objective
  return setmetatable(self, Experiment)
end

-- a copy with some pieces replaced
function Experiment:with(changes)
  if type(changes) ~= "table" then E.raise(API, "with expects a table of fields, got %s", changes) end
  local spec = {}
  for k, v in pairs(self) do spec[k] = v end
  for k, v in pairs(changes) do spec[k] = v end
  return new(nil, spec)
end

-- a copy with settings changed: hyperparameters first, then experiment
-- fields.  "hparams.x" names a hyperparameter explicitly (to add one).
function Experiment:set(settings)
  if type(settings) ~= "table" then E.raise(API, "set expects a table of settings, got %s", settings) end
  local hp, changes = {}, {}
  for k, v in pairs(self.hparams or {}) do hp[k] = v end
  local keys = {}
  for k in pairs(settings) do
    if type(k) ~= "string" then E.raise(API, "set: setting names are strings, got %s %s", type(k), tostring(k)) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v, name = settings[k], k:match("^hparams%.(.+)$")
    if name then hp[name] = v
    elseif hp[k] ~= nil then hp[k] = v
    elseif O.schema[k] and k ~= "hparams" then changes[k] = v
    else
      local known, fields = {}, {}
      for h in pairs(hp) do known[#known + 1] = h end
      for _, s in ipairs(O.list) do if not s.script then fields[#fields + 1] = s.name end end
      table.sort(known)
      local near = E.closest(k, fields) or E.closest(k, known)
      E.raise(API, "unknown setting '%s': not a hyperparameter (hparams has: %s) nor an experiment field%s",
        k, #known > 0 and table.concat(known, ", ") or "none", near and (" (did you mean '" .. near .. "'?)") or "")
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
    if d.train == nil then E.raise(API, "data needs a train partition") end
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

-- metrics: name -> object | factory | a metric's name | {object or factory, output =, intermediate =, target =, select =}
local METRIC_KEYS = { [1] = true, metric = true, output = true, intermediate = true, target = true, select = true }

local function resolve_metrics(spec)
  local list, names = {}, {}
  if spec == nil then return list end
  if type(spec) ~= "table" then E.raise(API, "metrics must be a table, got %s", spec) end
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(names) do
    local v = spec[k]
    local entry = { output = 1, target = 1 }
    -- {metric, output = ...}: a plain table that is not itself a metric
    if type(v) == "table" and getmetatable(v) == nil and type(v.update) ~= "function" then
      for key in pairs(v) do
        if not METRIC_KEYS[key] then
          local near = type(key) == "string"
            and E.closest(key, { "metric", "output", "intermediate", "target", "select" })
          E.raise(API, "metric '%s': unknown key %s%s (metric or [1], output, intermediate, target, select)",
            tostring(k), E.show(key), near and (" (did you mean '" .. near .. "'?)") or "")
        end
      end
      entry.output, entry.intermediate, entry.select = v.output or 1, v.intermediate, v.select
      if v.target ~= nil then entry.target = v.target end
      v = v[1] or v.metric
    end
    -- a metric's name ("accuracy"): its factory, with default options
    if type(v) == "string" then v = require("clara.metrics").resolve(v) end
    if type(v) == "function" then v = v() end
    if type(v) ~= "table" or type(v.update) ~= "function" or type(v.compute) ~= "function" then
      E.raise(API, "metric '%s' must be a metric object (update/compute/reset), a factory of one or a metric's name, got %s",
        tostring(k), v)
    end
    entry.metric = v
    entry.name = type(k) == "string" and k or v.name
    entry.read = reader(entry)
    list[#list + 1] = entry
  end
  return list
end

-- {====================== the run directory ======================

-- the directory a resume continues: opts.dir (a CV fold, a battery entry),
-- the directory opts.resume names, or the newest run of the experiment.
-- opts.resume naming a checkpoint file (a kept one, checkpoints/epoch-N.pt)
-- gives the run it is from, and the file, which a new run continues.
local function resume_dir(self, opts)
  if opts.dir then return opts.dir end
  if self.out_dir == false then E.raise(API, "resume needs a run directory (out_dir is false)") end
  local fs = require "clara.fs"
  local path = opts.resume
  if type(path) == "string" and fs.exists(path) and not fs.isdir(path) then
    local dir = fs.dirname(path)
    if not fs.exists(fs.join(dir, "config.json")) then dir = fs.dirname(dir) end
    if not fs.exists(fs.join(dir, "config.json")) then
      E.raise(API, "resume: '%s' is not in a run directory (no config.json next to it or above)", path)
    end
    return dir, path
  end
  return checkpoint.find(self.out_dir, self.name or "experiment", opts.resume)
end

local function read_config(dir)
  local fs, json = require "clara.fs", require "clara.run.json"
  local text = fs.read(fs.join(dir, "config.json"))
  if not text then return nil end
  local ok, cfg = pcall(json.decode, text)
  if not ok or type(cfg) ~= "table" then
    E.raise(API, "resume: '%s' is not valid JSON: %s", fs.join(dir, "config.json"), tostring(cfg))
  end
  return cfg
end

-- "epochs=4, lr=0.05": what `set` changed in the recorded settings
local function diff(before, after)
  local out = {}
  for _, s in ipairs(O.list) do
    local n = s.name
    local a, b = before[n], after[n]
    if n == "hparams" and type(a) == "table" and type(b) == "table" then
      local keys = {}
      for k in pairs(a) do keys[#keys + 1] = k end
      for k in pairs(b) do if a[k] == nil then keys[#keys + 1] = k end end
      table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
      for _, k in ipairs(keys) do
        if not O.same(a[k], b[k]) then out[#out + 1] = ("%s=%s"):format(tostring(k), tostring(b[k])) end
      end
    elseif not O.same(a, b) then
      out[#out + 1] = ("%s=%s"):format(n, type(b) == "table" and "{...}" or tostring(b))
    end
  end
  return out
end

-- A resume continues the run that was started: the settings its
-- config.json recorded, whatever the script says now; then `set` (the
-- resume's own --set), whose changes are returned to be recorded.
local function resumed(self, cfg, set, dir)
  local spec = {}
  for k, v in pairs(self) do spec[k] = v end
  local kept = O.restore(spec, cfg)
  local ok, exp = pcall(new, nil, spec)
  if not ok then   -- a config.json edited by hand, or from another version
    E.raise(API, "resume: the settings in '%s' are not valid: %s", require("clara.fs").join(dir, "config.json"),
      (tostring(exp):gsub("^[^\n]-clara%.experiment: ", "")))
  end
  local before = O.record(exp)
  if set then exp = exp:set(set) end
  return exp, diff(before, (O.record(exp))), kept
end

-- the run directory (nil when out_dir = false).  opts.dir names the
-- directory exactly (a CV fold, a battery entry).
local function open_run(self, opts, dir)
  local run = require "clara.run"
  local name = self.name or "experiment"
  if dir then return run.at(dir, name) end
  if opts.dir then
    local r = run.at(opts.dir, name)
    -- a fresh run where a killed one left rows: they are not this run's
    if #r.history > 0 then r:set_history({}) end
    return r
  end
  if self.out_dir == false then return nil end
  return run.open(self.out_dir, name)
end

-- A resume from a kept checkpoint (`from`) is a new run of the experiment:
-- the source run stays as it is; the new one starts with its config.json
-- (recording resumed_from), model.txt and, as checkpoint.pt, the state
-- resumed from.  Returns the run and that state.
local function branch(self, opts, dir, from)
  local fs = require "clara.fs"
  local ok, state = pcall(torch.load, from)
  if not ok then E.raise(API, "resume: cannot read the checkpoint '%s': %s", from, (tostring(state):gsub("^[^:]*:%d+: ", ""))) end
  local r = opts.dir and require("clara.run").at(opts.dir, self.name or "experiment")
            or require("clara.run").open(self.out_dir, self.name or "experiment")
  local cfg = read_config(dir)
  cfg.run_id, cfg.resumed_from = nil, from
  r:write_config(cfg)
  fs.write_atomic(r:path("model.txt"), fs.read(fs.join(dir, "model.txt")) or "")
  r:save_checkpoint(state)
  return r, state
end

-- A run that fails says why in its directory: error.txt holds the message
-- and the traceback (the first line is the message, as in a battery), and
-- what became of the checkpoint (note).
local function write_error(r, msg, traceback, note)
  local fs = require "clara.fs"
  pcall(fs.write_atomic, r:path("error.txt"), msg .. "\n\n" .. (note and (note .. "\n\n") or "") .. traceback .. "\n")
end
-- }================================================================

-- {====================== the run ======================

local RUN_OPTIONS = {
  resume = { type = "boolean|string",
             doc = "true: the newest run of the experiment; a directory: that run; a kept checkpoint file: a new run from it" },
  dir = { type = "string", doc = "the run directory exactly (made if missing)" },
  set = { type = "table", doc = "settings changed for this run (exp:set); on a resume, recorded as changes" },
}

-- the settings the loop reads (clara.train.clear), from the experiment
local function loop_options(self, data, model)
  local monitor = self.monitor or (data.val and "val_loss" or "train_loss")
  return {
    epochs = self.epochs, batch_size = self.batch_size, accumulate = self.accumulate,
    drop_last = self.drop_last, shuffle = self.shuffle, max_steps = self.max_steps, seed = self.seed,
    eval_batch_size = self.eval_batch_size, scheduler_step = self.scheduler_step,
    monitor = monitor, mode = self.mode or (monitor:find("loss") and "min" or "max"),
    min_delta = self.min_delta, patience = self.patience,
    keep_best = self.keep_best and data.val ~= nil and type(model.state_dict) == "function",
    on_nonfinite = self.on_nonfinite, train_metrics = self.train_metrics, final_train = self.final_train,
    clip_grad = self.clip_grad, precision = self.precision, average = self.average,
  }
end

-- the model, its optimizer, the objective, metrics and data, checked
-- together before the first step; c as clara.train.clear takes it
local function prepare(self)
  local verbose = self.verbose
  -- 1. the seed first, so the model factory's initialization is reproducible
  if self.seed then torch.manual_seed(self.seed) end
  -- 2. fresh pieces from the factories
  local model = self.model(hparams_copy(self))
  if model == nil then E.raise(API, "the model factory returned nothing (it must return the model)") end
  place.model(API, model, self.device, self.dtype)
  -- data-parallel: rank 0's weights everywhere before the optimizer sees them
  local dp = distributed.setup(self, model)
  local opt = self.optimizer(model, hparams_copy(self))
  if opt == nil then E.raise(API, "the optimizer factory returned nothing (it must return the optimizer)") end
  local obj = objective.new(self.objective)
  local metrics = resolve_metrics(self.metrics)
  if (self.clip_grad or self.average) and not require("torch.nn").is_module(model) then
    E.raise(API, "%s needs the model to be an nn module (its parameters are clipped or averaged), got %s",
      self.clip_grad and "clip_grad" or "average", E.show(model))
  end
  -- 3. what the forward pass must capture: intermediates of terms and metrics
  local captures, seen = {}, {}
  for _, n in ipairs(obj:captures()) do if not seen[n] then seen[n] = true; captures[#captures + 1] = n end end
  for _, m in ipairs(metrics) do
    if m.intermediate and not seen[m.intermediate] then
      seen[m.intermediate] = true; captures[#captures + 1] = m.intermediate
    end
  end
  local data = resolve_data(self.data)
  local options = loop_options(self, data, model)
  -- 4. what needs the whole experiment: the monitored column must exist
  O.check_monitor(API, options.monitor, O.columns(self, data, obj, metrics))
  local scheduler = self.scheduler and self.scheduler(opt, hparams_copy(self)) or nil
  local loader_batcher = batcher.resolve(self.batcher, self)
  return {
    experiment = self, model = model, optimizer = opt, objective = obj, metrics = metrics, captures = captures,
    columns = obj:columns(), data = data, preprocess = place.preprocess(self.preprocess, self.device, self.dtype),
    hooks = self.hooks or {}, recorder = self.recorder, batcher = place.batcher(loader_batcher, self.device, self.dtype),
    -- the augmentation the loaders do not do (clara.train.batcher) is the loop's
    augment = not loader_batcher.augment and self.augment or nil,
    options = options, scheduler = scheduler,
    -- data-parallel: rank 0 alone shows progress (every rank has the same numbers)
    progress = self.progress or progress.new { verbose = not (dp and dp.rank > 0) and verbose },
    dp = dp,
    parameters = count_parameters(model),
    -- after the experiment's scheduler, as PyTorch's SWA recipe makes them
    average = average.new(self.average, model, opt), clip_params = self.clip_grad and model:parameters() or nil,
  }
end

-- The learning-rate range test (clara.train.lr_find) on a copy: fresh
-- pieces from the factories, as a run prepares them; the experiment, its
-- run directories and torch's RNG state stay as they were.
function Experiment:lr_find(opts)
  local c
  local r = require("clara.train.lr_find").run(function()
    c = prepare(self)
    c.user_batcher = self.batcher ~= nil
    return c
  end, opts)
  if progress.level(self.verbose) > 0 then
    local last = r.lrs[#r.lrs]
    c.progress:line(("lr_find: %d steps (%s at lr %.3g), suggestion: %s"):format(#r.lrs,
      r.stopped == "num_iter" and "ended" or r.stopped, last,
      r.suggestion and ("lr = %.3g"):format(r.suggestion) or "none (too few points)"))
  end
  return r
end

-- what a run holds until it returns or raises (a to-be-closed variable,
-- so error positions stay the caller's): with handle_signals the signal
-- handlers, from the start (clara.signal.scope); the run directory's lock
-- handle_signals, else a Ctrl-C in the REPL stopping the run at its next
-- step (clara.repl.interrupt)
local function holder(self)
  local signal = self.handle_signals and require "clara.signal" or nil
  local interrupt = not signal and require "clara.repl.interrupt" or nil
  local h = { signal = signal, done = signal and signal.scope() or interrupt.scope(), interrupt = interrupt }
  h.pending = function() return signal and signal.pending() or nil end
  return setmetatable(h, { __close = function()
    if h.done then h.done() end
    if h.run then h.run:close() end
  end })
end

-- A resume's settings changes, recorded: config.json's `changes` list
-- (with the epoch they apply from) and the first history row trained.
local function record_changes(r, self, c, state, changes)
  local cfg = read_config(r.dir) or {}
  local settings, unset = O.record(self)
  for _, s in ipairs(O.list) do cfg[s.name] = settings[s.name] end
  cfg.unset = unset
  local from = state.epoch_done and state.epoch + 1 or state.epoch
  cfg.changes = type(cfg.changes) == "table" and cfg.changes or {}
  cfg.changes[#cfg.changes + 1] = { epoch = from, set = table.concat(changes, ", ") }
  r:write_config(cfg)
  c.changes = table.concat(changes, " ")
end

-- A change config.json records for the epoch a resume starts at was made
-- by a resume that died before that epoch's row: the row still says so
-- (a search's promotion killed early, resumed with the same epochs).
local function pending_change(r, state)
  local cfg = read_config(r.dir)
  local list = cfg and type(cfg.changes) == "table" and cfg.changes or {}
  local last = list[#list]
  local from = state.epoch_done and state.epoch + 1 or state.epoch
  if type(last) == "table" and last.epoch == from and type(last.set) == "string" then
    return (last.set:gsub(", ", " "))
  end
end

local function body(self, opts, held, dir, changes, kept, from)
  local c = prepare(self)
  local verbose = progress.level(self.verbose) > 0
  if verbose and self.name then c.progress:line(("experiment %s: %s"):format(self.name, tostring(c.objective))) end
  -- a signal during the factories: nothing on disk yet, run it again
  -- (data-parallel: it stays pending, for the ranks to agree on at the
  -- first step, as one rank alone cannot leave the group)
  local sig = not c.dp and held.pending()
  if sig then held.signal.clear(); return { interrupted = sig, name = self.name, history = {} } end
  -- the run directory (held by this process); a resume puts every object's state back
  held.opened = true
  local r, state
  if c.dp and from then
    E.raise(API, "resume: a data-parallel run resumes from its run directory, not from a kept checkpoint file")
  end
  -- data-parallel: rank 0 alone writes the run directory; the others
  -- take part in its checkpoints (clara.train.distributed)
  if c.dp and c.dp.rank > 0 then
    state = c.dp:follow(c, { dir = dir or opts.dir, writes = dir or opts.dir or self.out_dir ~= false,
      resume = opts.resume, every = self.checkpoint_every, user = self.recorder })
  elseif from then r, state = branch(self, opts, dir, from) else r = open_run(self, opts, dir) end
  held.run = r
  if r then
    os.remove(r:path("error.txt"))   -- an earlier attempt's
    if opts.resume and not state then
      state = r:load_checkpoint()
      if state == nil then E.raise(API, "resume: no checkpoint.pt in '%s'", r.dir) end
    end
    c.recorder = checkpoint.recorder(r, c, { every = self.checkpoint_every, signals = self.handle_signals,
      user = self.recorder, resumed = state ~= nil, keep = require("clara.train.keep").policy(self.checkpoints) })
    held.recorder = c.recorder
    if verbose then c.progress:line((state and "resuming " or "run ") .. r.dir) end
    if verbose and kept and #kept > 0 then
      c.progress:line("the run's recorded settings kept for " .. table.concat(kept, ", ")
        .. " (--set on the resume changes one)")
    end
  end
  if state then
    c.start = checkpoint.restore(c, state)
    if r then r:set_history(state.history) end
    if r and #changes > 0 then record_changes(r, self, c, state, changes)
    elseif r then c.changes = pending_change(r, state) end
    for _, ch in ipairs(changes) do
      if verbose and not O.schema[ch:match("^[^=]*")] then
        c.progress:line("note: " .. ch .. " reaches the factories, but the weights, optimizer and scheduler "
          .. "state come from the checkpoint (a learning rate there wins)")
        break
      end
    end
  end
  -- a signal while the checkpoint loaded: the one on disk is still the last
  sig = not c.dp and held.pending()
  if sig then
    held.signal.clear()
    return { interrupted = sig, name = self.name, dir = r and r.dir, history = state and state.history or {} }
  end
  -- the loop; a Ctrl-C in the REPL stops it after a step (not a
  -- data-parallel one: its ranks agree on a stop through clara.signal)
  local soft = held.interrupt and not c.dp
  if soft then c.recorder = held.interrupt.recorder(c.recorder) end
  local result = require(IMPLS[self.impl]).run(c)
  if soft and result.interrupted then
    c.progress:interrupted(("interrupted at epoch %d, step %d: the result holds the model and the %d finished "
      .. "epoch%s (result.interrupted = %q)"):format(#result.history + 1, result.steps,
      #result.history, #result.history == 1 and "" or "s", result.interrupted))
  end
  if self.batcher == nil then c.batcher:close() end -- the loaders' worker threads end with the run
  -- the signal is answered (result.interrupted): the next run starts clean
  if held.signal and result.interrupted then held.signal.clear() end
  result.name, result.dir = self.name, r and r.dir
  -- predictions through the model and the postprocessing
  local model, post, pre = result.model or c.model, self.postprocess, self.preprocess
  function result.predict(x)
    return torch.no_grad(function()
      if type(model.eval) == "function" then model:eval() end
      x = place.value(x, self.device, self.dtype) -- as the loop's batches: placed, then preprocessed
      local out = model(pre and pre(x) or x)
      return post and post(out) or out
    end)
  end
  return result
end

-- A failed run's error.txt: in its directory, opened now when the failure
-- came before it was (a factory, a check); not when opening it failed.
-- The checkpoint of the last step boundary first (clara.train.boundary).
local function record_failure(self, opts, held, dir, msg, trace)
  local r = held.run
  -- data-parallel: rank 0 writes the error (also one before the loop)
  if distributed.follower() then return end
  if r == nil and not held.opened then
    local ok, opened = pcall(open_run, self, opts, dir)
    if ok then r, held.run = opened, opened end
  end
  local note = held.recorder and held.recorder:failed()
  if r then write_error(r, msg, trace, note) end
end

-- trains, validates, tests; returns the result table.  opts.resume = true
-- or a run directory continues a run from its checkpoint with the settings
-- it recorded; opts.set changes settings (recorded when resuming); opts.dir
-- is the run directory to write (made if missing), instead of a new one
-- under out_dir.  A run that fails leaves error.txt in its directory.
-- With handle_signals, a signal from the start on ends the run with
-- result.interrupted (after the checkpoint, when there is one to write).
function Experiment:run(opts)
  opts = E.options("clara.experiment: run", opts, RUN_OPTIONS)
  local held <close> = holder(self)
  local dir, changes, kept, from = nil, {}, nil, nil
  if opts.resume then
    dir, from = resume_dir(self, opts)
    local cfg = read_config(dir)
    if cfg then
      self, changes, kept = resumed(self, cfg, opts.set, dir)
    elseif opts.set then
      self = self:set(opts.set)
    end
  elseif opts.set then
    self = self:set(opts.set)
  end
  local trace
  local ok, result = xpcall(body, function(e)
    trace = debug.traceback(type(e) == "string" and e or E.show(e), 2)
    return e
  end, self, opts, held, dir, changes, kept, from)
  if not ok then
    result = E.relocate(result)
    record_failure(self, opts, held, dir, tostring(result), trace)
    error(result, 0)
  end
  return result
end
-- }================================================================

E.methods(Experiment, API)

-- resumed(exp, cfg, set, dir) -> the experiment with a run's recorded
-- settings (config.json's cfg) back, `set` applied over them; also the
-- changes `set` made and the settings the experiment had otherwise
-- load(path), loading(): an experiment script's experiment (clara.experiment.load)
local function load(path) return require("clara.experiment.load").load(path) end
local function loading() return require("clara.experiment.load").loading() end
return setmetatable({ new = new, Experiment = Experiment, options = O, resumed = resumed, load = load,
                      loading = loading }, { __call = new })
