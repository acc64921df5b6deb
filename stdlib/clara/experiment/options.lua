-- clara.experiment.options: every experiment option, declared once.
--
-- Each entry is one option: name, type, default, checks, one line of doc
-- (clara.error's schema format, see E.check_value).  The list drives
-- validation in clara.experiment{...}, exp:set and exp:with, the text of
-- `clara run --help`, docs/options.md (`clara run --help --markdown`) and
-- what config.json records.  Adding an option is adding one entry here
-- (and reading it where the loop needs it).
--
-- Fields beyond clara.error's: `shown` (the default as the docs tell it,
-- when it depends on the experiment), `script` (the value is code or an
-- object: set in the script, not with --set, never recorded) and
-- `invocation` (a setting of one command, not of the run: a resume takes
-- it from its own command line, not from config.json).
local E = require "clara.error"

local O = {}

local function plain_name(v)
  if v == "" or v:find("/", 1, true) or v == "." or v == ".." then
    return false, ("must be a plain directory name (no '/'), got %s"):format(E.show(v))
  end
  return true
end

local function verbose_level(v)
  if type(v) == "number" and v ~= 0 and v ~= 1 and v ~= 2 then
    return false, "must be 0, 1, 2 or a boolean, got " .. E.show(v)
  end
  return true
end

local function out_dir(v)
  if v == true or v == "" then return false, "must be a directory name or false, got " .. E.show(v) end
  return true
end

local function plain_table(v)
  if getmetatable(v) ~= nil then return false, "must be a plain table of hyperparameters, got " .. E.show(v) end
  return true
end

local function class_names(v)
  if #v == 0 then return false, "must be a list of class names (label 0 first), got an empty table" end
  for i, name in ipairs(v) do
    if type(name) ~= "string" then
      return false, ("must be a list of class names (label 0 first): item %d is %s"):format(i, E.show(name))
    end
  end
  return true
end

-- the hooks clara.train.clear calls; a misspelt one would never run
O.HOOKS = { "on_run_start", "on_epoch_start", "on_batch_start", "on_batch_end", "on_step_end",
            "on_validation_end", "on_epoch_end", "on_run_end" }

-- A hooks object (clara.analyze.grad_norms) keeps its own data next to its
-- hooks: only a function or an "on_" name that is no hook is a misspelling.
local function hook_table(v)
  for k, f in pairs(v) do
    local known = false
    for _, h in ipairs(O.HOOKS) do if h == k then known = true end end
    local hook_like = type(f) == "function" or (type(k) == "string" and k:sub(1, 3) == "on_")
    if not known and hook_like then
      local near = type(k) == "string" and E.closest(k, O.HOOKS)
      return false, ("has no hook named %s%s (hooks: %s)"):format(E.show(k),
        near and (" (did you mean '" .. near .. "'?)") or "", table.concat(O.HOOKS, ", "))
    end
    if known and type(f) ~= "function" then
      return false, ("must be a table of functions: hooks.%s is %s"):format(tostring(k), E.show(f))
    end
  end
  return true
end

-- syntax only: whether this build has the device is checked before the
-- first step (clara.train.place), so a script for a GPU still loads here
local function device_name(v)
  if v == "cpu" or v == "cuda" or v:find("^cuda:%d+$") then return true end
  return false, "must be 'cpu', 'cuda' or 'cuda:<index>', got " .. E.show(v)
end

local function batcher(v)
  if type(v) == "function" or (type(v) == "table" and type(v.batches) == "function") then return true end
  return false, "must have a batches(dataset, info) method or be a function, got " .. E.show(v)
end

-- a table of settings checked against its own small schema: unknown keys
-- get the closest name; returns ok, why as a schema check does
local function settings(v, schema)
  local names = {}
  for k in pairs(schema) do names[#names + 1] = k end
  for k, x in pairs(v) do
    local spec = type(k) == "string" and schema[k]
    if not spec then
      local near = type(k) == "string" and E.closest(k, names)
      return false, ("has no setting %s%s (settings: %s)"):format(E.show(k),
        near and (" (did you mean '" .. near .. "'?)") or "", table.concat(E.sorted(names), ", "))
    end
    local why = E.check_value(spec, x)
    if why then return false, ("%s %s"):format(k, why) end
  end
  return true
end

local function positive(v)
  if v == math.huge or v == -math.huge then return false, "must be finite, got " .. E.show(v) end
  return true
end

local CLIP_GRAD = {
  norm = { type = "number", gt = 0, check = positive },
  value = { type = "number", gt = 0, check = positive },
  norm_type = { type = "number|string", gt = 0,
                check = function(v)
                  if type(v) == "number" or v == "inf" then return true end
                  return false, "must be a number > 0 or 'inf', got " .. E.show(v)
                end },
}

local function clip_grad(v)
  local ok, why = settings(v, CLIP_GRAD)
  if not ok then return false, why end
  if (v.norm == nil) == (v.value == nil) then
    return false, "must give norm (clip the total norm) or value (clip each gradient), one of them, got "
      .. (v.norm and "both" or "neither")
  end
  return true
end

local AVERAGE = {
  ema = { type = "number", min = 0, lt = 1 },
  swa_start = { type = "integer", min = 1, what = "an epoch (an integer >= 1)" },
  swa_lr = { type = "number", gt = 0, check = positive },
  anneal_epochs = { type = "integer", min = 0 },
  anneal_strategy = { type = "string", enum = { "cos", "linear" } },
}

local function average(v)
  local ok, why = settings(v, AVERAGE)
  if not ok then return false, why end
  if v.ema ~= nil then
    for _, k in ipairs { "swa_start", "swa_lr", "anneal_epochs", "anneal_strategy" } do
      if v[k] ~= nil then return false, ("gives ema and %s: an EMA ({ema = 0.999}) or SWA ({swa_start =, swa_lr =}), not both"):format(k) end
    end
    return true
  end
  if v.swa_start == nil or v.swa_lr == nil then
    return false, "must be {ema = decay} or {swa_start = epoch, swa_lr = lr, ...}, got " .. E.show(v)
      .. (v.swa_start and " without swa_lr" or v.swa_lr and " without swa_start" or "")
  end
  return true
end

-- {====================== the options ======================
O.list = {
  -- what is trained
  { name = "name", type = "string", check = plain_name, shown = "'experiment'",
    doc = "the experiment's name: its runs go to <out_dir>/<name>/<run-id>/" },
  { name = "data", type = "any", required = true, script = true, what = "the training data",
    doc = "a dataset, {train =, val =, test =} (datasets or lists of tensors) or {dataset =, split = partition}" },
  { name = "model", type = "function", required = true, script = true,
    what = "a factory function(hparams) returning a model",
    doc = "factory function(hparams) -> a fresh model, called once per run" },
  { name = "objective", type = "any", required = true, script = true,
    what = "a loss function or {terms = ...}",
    doc = "a loss function, or {terms = ..., regularizer = ...} (clara.train.objective)" },
  { name = "optimizer", type = "function", required = true, script = true,
    what = "a factory function(model, hparams) returning an optimizer",
    doc = "factory function(model, hparams) -> an optimizer" },
  { name = "scheduler", type = "function", script = true,
    doc = "factory function(optimizer, hparams) -> a learning-rate scheduler" },
  { name = "hparams", type = "table", check = plain_table, what = "a plain table of hyperparameters",
    doc = "the user's hyperparameters, given to every factory (--set lr=0.1 sets hparams.lr)" },
  { name = "metrics", type = "table", script = true,
    doc = "name -> metric, factory, a metric's name (\"f1\"), or {metric, output =, intermediate =, target =, select =}" },
  { name = "preprocess", type = "callable", script = true, doc = "applied to each batch's input" },
  { name = "augment", type = "callable", script = true,
    doc = "applied to each training batch's input before preprocess (e.g. T.batch.random_crop{...}); not to validation or test batches" },
  { name = "postprocess", type = "callable", script = true,
    doc = "applied to predictions by result.predict(x), not by the loss" },
  { name = "classes", type = "table", check = class_names, what = "a list of class names (label 0 first)",
    doc = "class names in label order (label 0 first), for reports" },
  -- how it is trained
  { name = "epochs", type = "integer", min = 1, default = 1, doc = "number of passes over the training data" },
  { name = "batch_size", type = "integer", min = 1, default = 32, doc = "samples per training batch" },
  { name = "eval_batch_size", type = "integer", min = 1, shown = "batch_size",
    doc = "samples per validation and test batch" },
  { name = "accumulate", type = "integer", min = 1, default = 1,
    doc = "batches whose gradients are summed before each optimizer step" },
  { name = "drop_last", type = "boolean", default = false, doc = "drop the last, smaller training batch" },
  { name = "shuffle", type = "boolean", default = true, doc = "shuffle the training data each epoch" },
  { name = "max_steps", type = "integer", min = 1, shown = "no limit", doc = "stop after this many optimizer steps" },
  { name = "seed", type = "integer", min = 0, shown = "none (torch's generator as it is)",
    doc = "seed of torch's generator and of the shuffles: the run is reproducible" },
  { name = "scheduler_step", type = "string", enum = { "epoch", "batch" }, default = "epoch",
    doc = "when the scheduler steps: after each epoch or after each optimizer step" },
  { name = "on_nonfinite", type = "string", enum = { "stop", "skip" }, default = "stop",
    doc = "a NaN or infinite loss stops the run with an error, or skips that batch" },
  { name = "impl", type = "string", enum = { "clear", "fast" }, default = "clear",
    doc = "the training loop: the readable reference or its fast twin (same results)" },
  { name = "distributed", type = "boolean", invocation = true,
    shown = "true when WORLD_SIZE > 1 (clara launch, torchrun) or a process group is up",
    doc = "data-parallel over the ranks: true brings torch.distributed's group up from env://; "
      .. "false only joins a group the script brought up" },
  { name = "grad_transport", type = "string", enum = { "auto", "gloo", "shm" }, default = "auto",
    invocation = true,
    doc = "how data-parallel gradients travel: shared memory when every rank runs on this host "
      .. "('auto'), Gloo's all_reduce always ('gloo'), or shared memory or an error ('shm')" },
  { name = "clip_grad", type = "table", check = clip_grad, shown = "none (no clipping)",
    what = "{norm = x, norm_type = 2} or {value = x}",
    doc = "clip gradients before each step: {norm = 1.0, norm_type = 2} or {value = 0.5}; logs grad_norm" },
  { name = "precision", type = "string", enum = { "float32", "bf16" }, default = "float32",
    doc = "'bf16': forward and loss under CPU autocast to bfloat16 (weights and backward float32)" },
  { name = "average", type = "table", check = average, shown = "none",
    what = "{ema = decay} or {swa_start = epoch, swa_lr = lr, anneal_epochs =, anneal_strategy =}",
    doc = "averaged weights, evaluated and saved: {ema = 0.999} or {swa_start = 5, swa_lr = 0.05}" },
  { name = "device", type = "string", check = device_name, default = "cpu",
    doc = "where the model and each batch go: 'cpu', 'cuda' or 'cuda:<index>'" },
  { name = "dtype", type = "string", enum = { "float16", "bfloat16", "float32", "float64" },
    shown = "the model's and the data's own",
    doc = "the floating point dtype of the model and of each batch's floating tensors" },
  -- the best model and early stopping
  { name = "monitor", type = "string", shown = "'val_loss' with validation data, else 'train_loss'",
    doc = "the history column that picks the best epoch and drives early stopping" },
  { name = "mode", type = "string", enum = { "min", "max" }, shown = "'min' when monitor names a loss, else 'max'",
    doc = "whether a smaller or a larger monitored value is better" },
  { name = "patience", type = "integer", min = 1, shown = "none (no early stopping)",
    doc = "stop after this many epochs without improvement of monitor" },
  { name = "min_delta", type = "number", min = 0, default = 0,
    doc = "the least change of monitor that counts as an improvement" },
  { name = "keep_best", type = "boolean", default = true,
    doc = "restore the weights of the best epoch at the end (with validation data)" },
  { name = "train_metrics", type = "boolean", default = true, doc = "compute the metrics on the training batches too" },
  { name = "final_train", type = "boolean", default = false,
    doc = "evaluate the final model on the whole training set too" },
  -- extension points
  { name = "hooks", type = "table", check = hook_table, script = true,
    doc = "functions called with the loop's context: on_run_start, on_epoch_end, ... (clara.train.clear)" },
  { name = "recorder", type = "table", script = true, doc = "an object told of each step, epoch and the end" },
  { name = "workers", type = "integer", min = 0, max = 64, default = 0,
    doc = "threads loading the next batches in the background (DataLoader's workers; 0: none)" },
  { name = "prefetch", type = "integer", min = 1, max = 1024, shown = "2 per worker",
    doc = "batches loading ahead when workers > 0" },
  { name = "batcher", type = "any", check = batcher, script = true,
    doc = "where batches come from: an object with batches(dataset, info), or a function" },
  { name = "progress", type = "table", script = true, invocation = true,
    doc = "the progress display (clara.train.progress)" },
  -- disk and process
  { name = "out_dir", type = "string|boolean", check = out_dir, default = "runs", invocation = true,
    what = "a directory name or false",
    doc = "directory of the run directories (false: nothing on disk); --out DIR" },
  { name = "checkpoint_every", type = "integer", min = 1, shown = "each epoch's end only",
    doc = "write checkpoint.pt every this many optimizer steps too" },
  { name = "checkpoints", type = "table", check = require("clara.train.keep").check,
    what = "a table {save_top_k =, save_last =, save_on_error =}",
    shown = "{save_top_k = 0, save_last = 0, save_on_error = true}",
    doc = "checkpoints kept besides checkpoint.pt (<run>/checkpoints/epoch-N.pt): of the save_top_k best epochs "
      .. "by monitor (-1: all) and the save_last last; save_on_error: a failed run's checkpoint.pt is its last "
      .. "step boundary" },
  { name = "verbose", type = "boolean|number", default = true, invocation = true, check = verbose_level,
    doc = "0 or false: silent; 1 or true: a bar per epoch on a terminal; 2: one line per epoch (--quiet: false)" },
  { name = "handle_signals", type = "boolean", invocation = true, shown = "true under `clara run`",
    doc = "SIGTERM/USR1/INT write a checkpoint at the next step and end the run (exit code 75)" },
}
-- }================================================================

O.schema = {}
for _, spec in ipairs(O.list) do
  O.schema[spec.name] = spec
  -- a bounded number says so whatever is wrong with it: "an integer >= 1"
  if spec.min and not spec.what then
    spec.what = (spec.type == "integer" and "an integer >= " or "a number >= ") .. spec.min
  end
end

-- the experiment spec checked, with every default filled in; then what
-- two options say together
function O.check(api, spec)
  local o = E.options(api, spec, O.schema)
  local a = o.average
  if a and a.swa_start and a.swa_start > o.epochs then
    E.raise(api, "average.swa_start is epoch %d, beyond the run's %d epochs (averaging would never start)",
      a.swa_start, o.epochs)
  end
  return o
end

-- a value that config.json can hold (numbers, strings, booleans and plain
-- tables of them)
local function plain(v, depth)
  local t = type(v)
  if t == "number" then return v == v end
  if t == "string" or t == "boolean" then return true end
  if t ~= "table" or getmetatable(v) ~= nil or depth > 8 then return false end
  for k, x in pairs(v) do
    if (type(k) ~= "string" and math.type(k) ~= "integer") or not plain(x, depth + 1) then return false end
  end
  return true
end
O.plain = plain

-- JSON has one number type: integral numbers come back as integers
function O.integers(v)
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = O.integers(x) end
  return out
end

-- The settings a run records (config.json), and the names of the ones that
-- have no value (their default depends on the experiment): a resume puts
-- back exactly these.
function O.record(exp)
  local out, unset = {}, {}
  for _, spec in ipairs(O.list) do
    if not spec.script and not spec.invocation then
      local v = exp[spec.name]
      if v == nil then unset[#unset + 1] = spec.name
      elseif plain(v, 0) then out[spec.name] = v end
    end
  end
  return out, unset
end

-- The settings of a run's config.json, as a resume applies them to spec
-- (a table of experiment fields, changed in place): recorded values back,
-- unset ones cleared.  Returns the names whose value changed.
function O.restore(spec, cfg)
  local unset, changed = {}, {}
  for _, n in ipairs(type(cfg.unset) == "table" and cfg.unset or {}) do unset[n] = true end
  for _, s in ipairs(O.list) do
    local n = s.name
    if not s.script and not s.invocation and (cfg[n] ~= nil or unset[n]) then
      local v = nil
      if not unset[n] then v = O.integers(cfg[n]) end
      if s.type == "number" and math.type(v) == "integer" then v = v + 0.0 end
      if not O.same(spec[n], v) then changed[#changed + 1] = n end
      spec[n] = v
    end
  end
  return changed
end

function O.same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not O.same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- {====================== checks that need the whole experiment ======================

-- The history columns a run will produce, sorted: epoch, lr, time, and per
-- split <split>_loss, <split>_<term>[_w], <split>_<metric> (numbers only:
-- a confusion matrix is a table, not a column).
function O.columns(exp, data, obj, metrics)
  local cols = { "epoch", "lr", "time" }
  if exp.clip_grad then cols[#cols + 1], cols[#cols + 2] = "grad_norm", "grad_norm_max" end
  local splits = { "train" }
  if data.val then splits[#splits + 1] = "val" end
  for _, split in ipairs(splits) do
    cols[#cols + 1] = split .. "_loss"
    for _, c in ipairs(obj:columns()) do
      cols[#cols + 1] = split .. "_" .. c[1] .. (c[2] == "weighted" and "_w" or "")
    end
    if split ~= "train" or exp.train_metrics ~= false then
      for _, m in ipairs(metrics) do
        if m.metric.name ~= "confusion_matrix" then cols[#cols + 1] = split .. "_" .. m.name end
      end
    end
  end
  local seen, out = {}, {}
  for _, c in ipairs(cols) do if not seen[c] then seen[c] = true; out[#out + 1] = c end end
  table.sort(out)
  return out
end

-- monitor must name a column the run will produce
function O.check_monitor(api, monitor, columns)
  for _, c in ipairs(columns) do if c == monitor then return end end
  local near = E.closest(monitor, columns)
  local hint = ""
  if monitor:sub(1, 4) == "val_" and not (" " .. table.concat(columns, " ")):find(" val_") then
    hint = " (there is no validation data: give data = {train =, val =})"
  elseif near then
    hint = (" (did you mean '%s'?)"):format(near)
  end
  E.raise(api, "monitor %s is not a column this run produces%s; its columns: %s",
    monitor, hint, table.concat(columns, ", "))
end
-- }================================================================

-- {====================== help and docs ======================

-- "integer >= 1", "'min' | 'max'", "string or boolean"
function O.kind(spec)
  if spec.enum then
    local names = {}
    for i, v in ipairs(spec.enum) do names[i] = E.show(v) end
    return table.concat(names, " | ")
  end
  local t = spec.type:gsub("|", " or ")
  if spec.min then t = t .. " >= " .. tostring(spec.min) end
  return t
end

function O.default_text(spec)
  if spec.shown then return spec.shown end
  if spec.required then return "required" end
  if spec.default == nil then return "none" end
  return type(spec.default) == "string" and ("'" .. spec.default .. "'") or tostring(spec.default)
end

-- whether --set NAME=VALUE can give the option (a number, string or boolean)
function O.settable(spec)
  return not spec.script and not spec.type:find("table", 1, true)
end

local function default_words(spec)
  local d = O.default_text(spec)
  return d == "required" and "required" or ("default " .. d)
end

-- the option list of `clara run --help`
function O.help()
  local out = { "experiment options (--set NAME=VALUE for the ones marked =; the script gives the others):" }
  for _, s in ipairs(O.list) do
    out[#out + 1] = ("  %s%-17s %s (%s)"):format(O.settable(s) and "=" or " ", s.name, O.kind(s), default_words(s))
    out[#out + 1] = ("  %-18s %s"):format("", s.doc)
  end
  out[#out + 1] = "  (a key of hparams is set the same way: --set lr=0.01; --set hparams.x=1 adds one)"
  return table.concat(out, "\n")
end

-- docs/options.md
function O.markdown()
  local out = {
    "# Experiment options", "",
    "Generated from `stdlib/clara/experiment/options.lua` by `clara run --help --markdown`;",
    "do not edit by hand (`spec/experiment_schema_spec.lua` checks that they agree).", "",
    "Every option of `clara.experiment{...}`.  The ones marked *yes* under `--set` take a",
    "value on the command line (`clara run exp.lua --set epochs=20`, and a key of `hparams`:",
    "`--set lr=0.01`); the others are code, objects or tables the script gives.  A run",
    "records its settings (all but code and objects) in `config.json`, and",
    "`clara run exp.lua --resume` continues with those (a `--set` on the resume changes",
    "one from the epoch it resumes at, recorded under `changes` in `config.json` and in",
    "the history's `changes` column; a hyperparameter changed so reaches the factories,",
    "but the weights, optimizer and scheduler state still come from the checkpoint).", "",
    "| option | type | default | `--set` | description |",
    "|---|---|---|---|---|",
  }
  -- a table cell: '|' would end it, '<x>' would be read as HTML
  local function cell(t) return (t:gsub("|", "\\|"):gsub("<", "&lt;"):gsub(">", "&gt;")) end
  for _, s in ipairs(O.list) do
    out[#out + 1] = ("| `%s` | %s | %s | %s | %s |"):format(s.name, cell(O.kind(s)), cell(O.default_text(s)),
      O.settable(s) and "yes" or "no", cell(s.doc))
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end
-- }================================================================

return O
