-- clara.run: a run on disk, runs/<experiment>/<run-id>/:
--   config.json      the experiment's settings (sorted keys) + versions, seed
--   model.txt        the model, pre- and post-processing, as printed
--   history.csv      one row per epoch
--   report.json/.md  the final result, for programs and for people
--   model.pt/best.pt the weights: a state_dict that PyTorch's torch.load reads
--   checkpoint.pt    everything needed to resume (any table torch.save takes)
--   checkpoints/, checkpoints.json   the kept per-epoch checkpoints and their
--                    values, with a checkpoint policy (clara.train.keep)
-- Every file is written atomically (clara.fs.write_atomic, torch.save), so
-- a run killed at any moment leaves each file whole: old or new.  The
-- process writing a run holds it (an exclusive lock on <dir>/.lock): a
-- second one gets "run <dir> is in use by PID n" and changes nothing.
-- report.json is written last and lists the result files it vouches for: a
-- run is done (run.is_done) only when it and all of them exist.
--
--   local r = clara.run.open("runs", "mnist_mlp")      -- or {id = "resume-me"}
--   r:write_config(cfg); r:write_model_txt{model = net, preprocess = pre}
--   r:append_history{epoch = 1, loss = 0.31, val_accuracy = 0.9}
--   r:save_checkpoint{model = net:state_dict(), rng = torch.get_rng_state()}
--   r:save_model(net, "best.pt"); r:write_report{metrics = {test = {...}}}
--   local info = clara.run.read(r.dir)  -- config, history, report, state_dict
--
-- clara.load_run(dir) (with the experiment) is run.read plus the model
-- factory: info = run.read(dir); model = experiment.model(info.config);
-- model:load_state_dict(info.state_dict); return model, info.
local fs = require "clara.fs"
local json = require "clara.run.json"
local H = require "clara.run.history"
local R = require "clara.run.report"
local core = require "clara.signal.core"
local sys = require "clara.sys.core"
local E = require "clara.error"

local run = {}
local Run = {}
Run.__index = Run

local function check_name(fname, what, s)
  if type(s) ~= "string" or s == "" then
    E.raise("clara.run." .. fname, "%s (a non-empty string) expected, got %s",
            what, type(s) == "string" and "''" or type(s))
  end
  if s:find("/", 1, true) or s == "." or s == ".." then
    E.raise("clara.run." .. fname, "%s '%s' must be a plain name (no '/')", what, s)
  end
end

-- a run id: UTC time to the second, then four hex digits: the millisecond
-- times 64 plus a few bits from pid and a counter (not math.random: a
-- seeded user stream must not move).  Fixed-width lowercase hex sorts as
-- its number, so of two runs started in the same second the later one's id
-- is the greater, and "the newest run" stays the greatest name.
local serial = 0
local function new_id()
  serial = serial + 1
  local sec, ms = sys.walltime()
  local h = ms * 64 + (core.getpid() * 40503 + serial) % 64
  return os.date("!%Y%m%d-%H%M%S", sec) .. string.format("-%04x", h)
end

-- at(dir, experiment) -> the run in exactly that directory (made if
-- missing), held by this process until r:close(); a reopened run continues
-- the history it has on disk
function run.at(dir, experiment)
  if type(dir) ~= "string" or dir == "" then
    E.raise("clara.run.at", "run directory (a string) expected, got %s", type(dir))
  end
  dir = dir:gsub("(.)/+$", "%1")
  fs.mkdir_p(dir)
  local r = setmetatable({ dir = dir, id = dir:match("([^/]+)$") or dir, experiment = experiment or "experiment",
                           history = {}, columns = {} }, Run)
  r.lock = fs.lock(dir, "clara.run")
  local text = fs.read(r:path("history.csv"))
  if text then r.history, r.columns = H.decode(text) end
  return r
end

-- open(base_dir, experiment, {id =}) -> run.  A new id makes a new
-- directory; a given id reopens that run (to resume) or creates it.
function run.open(base_dir, experiment, opts)
  if type(base_dir) ~= "string" or base_dir == "" then
    E.raise("clara.run.open", "base directory (a string) expected, got %s", type(base_dir))
  end
  check_name("open", "experiment name", experiment)
  opts = opts or {}
  if type(opts) ~= "table" then E.raise("clara.run.open", "options table expected, got %s", type(opts)) end
  local parent = fs.join(base_dir, experiment)
  fs.mkdir_p(parent)
  local id, dir = opts.id, nil
  if id ~= nil then
    check_name("open", "run id", id)
    dir = fs.join(parent, id)
    fs.mkdir_p(dir)
  else
    -- lfs.mkdir fails on an existing directory: two runs never share one
    for _ = 1, 100 do
      id = new_id()
      dir = fs.join(parent, id)
      if require("lfs").mkdir(dir) then break end
      dir = nil
    end
    if not dir then E.raise("clara.run.open", "cannot create a run directory in '%s'", parent) end
  end
  return run.at(dir, experiment)
end

function Run:path(name) return fs.join(self.dir, name) end

-- close(): this process is done writing the run; another may take it
function Run:close()
  if self.lock then self.lock:release() end
end

-- torch.save, then the write is announced like clara.fs's
local function save(path, value)
  require("torch").save(path, value)
  fs.written(path)
end

-- config.json: tbl with sorted keys, plus what reproduces the run
function Run:write_config(tbl)
  if type(tbl) ~= "table" then E.raise("clara.run.write_config", "table expected, got %s", type(tbl)) end
  local cfg = {}
  for k, v in pairs(tbl) do cfg[k] = v end
  local torch = require "torch"
  cfg.clara_version = cfg.clara_version or require("clara").version
  cfg.lua_version = cfg.lua_version or _VERSION
  cfg.libtorch_version = cfg.libtorch_version or torch.__version__
  if cfg.seed == nil then cfg.seed = torch.initial_seed() end
  cfg.experiment = cfg.experiment or self.experiment
  cfg.run_id = cfg.run_id or self.id
  fs.write_atomic(self:path("config.json"), json.encode(cfg))
  return cfg
end

-- model.txt: each part as it prints (tostring / describe())
function Run:write_model_txt(parts)
  if type(parts) ~= "table" then
    E.raise("clara.run.write_model_txt", "{model =, preprocess =, postprocess =} expected, got %s", type(parts))
  end
  if parts.model == nil then E.raise("clara.run.write_model_txt", "no model given") end
  local out = {}
  for _, name in ipairs { "model", "preprocess", "augment", "postprocess" } do
    local v = parts[name]
    local text = v == nil and "(none)" or tostring(v)
    -- augment (training batches only) is listed when there is one
    if v ~= nil or name ~= "augment" then out[#out + 1] = name .. ":\n" .. text .. "\n" end
  end
  fs.write_atomic(self:path("model.txt"), table.concat(out, "\n"))
end

-- append_history(row): one row to history.csv.  An append is on disk at
-- once, or raises (a full disk) leaving the file as it was; a row with new
-- columns rewrites the file (atomically) wider.
function Run:append_history(row)
  if type(row) ~= "table" then E.raise("clara.run.append_history", "row (a table) expected, got %s", type(row)) end
  local copy = {}
  for k, v in pairs(row) do
    if type(v) == "userdata" and v.item then v = v:item() end
    copy[k] = v
  end
  local cols = H.columns({ copy }, self.columns)
  local path = self:path("history.csv")
  -- the row joins the history in memory once it is on disk
  if #cols ~= #self.columns or not fs.exists(path) then
    local rows = {}
    for i, r in ipairs(self.history) do rows[i] = r end
    rows[#rows + 1] = copy
    local wider = H.columns(rows, self.columns)
    fs.write_atomic(path, H.encode(wider, rows))
    self.columns = wider
  else
    fs.append(path, H.line(self.columns, copy))
  end
  self.history[#self.history + 1] = copy
end

-- set_history(rows): on resume, the history from the checkpoint replaces
-- the file (rows logged after that checkpoint would otherwise repeat)
function Run:set_history(rows)
  self.history, self.columns = {}, {}
  for _, row in ipairs(rows or {}) do
    local copy = {}
    for k, v in pairs(row) do copy[k] = v end
    self.history[#self.history + 1] = copy
  end
  self.columns = H.columns(self.history)
  fs.write_atomic(self:path("history.csv"), H.encode(self.columns, self.history))
end

-- the result files a finished run may have; report.json lists those that
-- exist when it is written
local RESULT_FILES = { "config.json", "model.txt", "history.csv", "model.pt", "best.pt", "report.md",
                       "checkpoints.json" }

-- write_report(result): report.md, then report.json, the mark of
-- completion (see clara.run.report): write the other results first
function Run:write_report(result)
  if type(result) ~= "table" then E.raise("clara.run.write_report", "result (a table) expected, got %s", type(result)) end
  local full = {}
  for k, v in pairs(result) do
    -- the live objects of a training result are not part of the report
    if k ~= "model" and k ~= "optimizer" and type(v) ~= "function" then full[k] = v end
  end
  if full.history == nil then full.history = self.history end
  if full.metrics == nil then full.metrics = full.final end   -- clara.train's name
  full.final = nil
  -- report.md also shows the pipelines config.json describes
  local ok, cfg = pcall(json.decode, fs.read(self:path("config.json")) or "null")
  local md = {}
  for k, v in pairs(full) do md[k] = v end
  if ok and type(cfg) == "table" then md.pipelines = { preprocess = cfg.preprocess, postprocess = cfg.postprocess } end
  fs.write_atomic(self:path("report.md"),
                  R.markdown(self.experiment .. " / " .. self.id, md))
  full.files = {}
  for _, name in ipairs(RESULT_FILES) do
    if fs.exists(self:path(name)) then full.files[#full.files + 1] = name end
  end
  fs.write_atomic(self:path("report.json"), json.encode(full))
end

-- recorder(): the object clara.train calls (see clara.train.clear): each
-- epoch's row to history.csv, at the end model.pt and report.md/.json
function Run:recorder()
  local r = self
  return {
    epoch_end = function(_, _, row) r:append_history(row) end,
    run_end = function(_, ctx, result)
      if ctx and ctx.model then r:save_model(ctx.model) end
      r:write_report(result)
    end,
  }
end

-- is_done(dir) -> whether the run (or CV) in dir finished: its report.json
-- is whole and every file it lists exists (a report written before the
-- list existed vouches for model.pt, which older runs wrote after it)
function run.is_done(dir)
  local text = fs.read(fs.join(dir, "report.json"))
  if not text then return false end
  local ok, report = pcall(json.decode, text)
  if not ok or type(report) ~= "table" then return false end
  local files = report.files
  if files == nil then files = report.kind == "cv" and {} or { "model.pt" } end
  for _, name in ipairs(files) do
    if not fs.exists(fs.join(dir, name)) then return false end
  end
  return true
end

-- save_model(model, name): the state_dict, as PyTorch's torch.save writes it
function Run:save_model(model, name)
  name = name or "model.pt"
  check_name("save_model", "file name", name)
  if type(model) ~= "table" and type(model) ~= "userdata" or not model.state_dict then
    E.raise("clara.run.save_model", "a module (with state_dict) expected, got %s", type(model))
  end
  save(self:path(name), model:state_dict())
  return self:path(name)
end

-- save_checkpoint(state): any table torch.save takes (tensors, numbers,
-- strings, booleans, nested tables with string keys or 1..n)
function Run:save_checkpoint(state, name)
  if type(state) ~= "table" then
    E.raise("clara.run.save_checkpoint", "state (a table) expected, got %s", type(state))
  end
  local path = self:path(name or "checkpoint.pt")
  local ok, err = pcall(require("torch").save, path, state)
  if not ok then
    E.raise("clara.run.save_checkpoint", "%s", (tostring(err):gsub("^[^:]*:%d+: ", "")))
  end
  fs.written(path)
end

-- load_checkpoint() -> state, or nil when there is none.  Temporaries a
-- killed writer left behind are removed, never read.
function Run:load_checkpoint(name)
  fs.remove_stale_temps(self.dir)
  local path = self:path(name or "checkpoint.pt")
  if not fs.exists(path) then return nil end
  return require("torch").load(path)
end

-- rng_state() -> {torch = uint8 tensor}: every generator a resumed run
-- needs (libtorch's CPU generator; clara.data's shuffles are pure
-- functions of seed and epoch, kept in the loader's state); a table so that
-- more generators (CUDA) can join without changing checkpoints' shape
function run.rng_state()
  return { torch = require("torch").get_rng_state() }
end

function run.set_rng_state(s)
  if type(s) ~= "table" or s.torch == nil then
    E.raise("clara.run.set_rng_state", "a table from rng_state() expected, got %s", type(s))
  end
  require("torch").set_rng_state(s.torch)
end

-- read(dir) -> {dir, config, history, columns, report, model_txt, state_dict}
-- (fields absent when their file is); opts.model names the weights file
-- ("model.pt" by default, "best.pt").
function run.read(dir, opts)
  if type(dir) ~= "string" then E.raise("clara.run.read", "run directory (a string) expected, got %s", type(dir)) end
  if not fs.isdir(dir) then E.raise("clara.run.read", "'%s' is not a directory", dir) end
  opts = opts or {}
  local info = { dir = dir }
  local function decode(name)
    local text = fs.read(fs.join(dir, name))
    if not text then return nil end
    local ok, v = pcall(json.decode, text)
    if not ok then E.raise("clara.run.read", "'%s': %s", fs.join(dir, name), (tostring(v):gsub("^[^:]*:%d+: ", ""))) end
    return v
  end
  info.config = decode("config.json")
  info.report = decode("report.json")
  info.model_txt = fs.read(fs.join(dir, "model.txt"))
  local text = fs.read(fs.join(dir, "history.csv"))
  if text then info.history, info.columns = H.decode(text) end
  local weights = fs.join(dir, opts.model or "model.pt")
  if fs.exists(weights) then info.state_dict = require("torch").load(weights) end
  return info
end

return run
