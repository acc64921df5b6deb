-- clara.run: a run on disk, runs/<experiment>/<run-id>/:
--   config.json      the experiment's settings (sorted keys) + versions, seed
--   model.txt        the model, pre- and post-processing, as printed
--   history.csv      one row per epoch
--   report.json/.md  the final result, for programs and for people
--   model.pt/best.pt the weights: a state_dict that PyTorch's torch.load reads
--   checkpoint.pt    everything needed to resume (any table torch.save takes)
-- Every file is written atomically (clara.fs.write_atomic, torch.save), so
-- a run killed at any moment leaves each file whole: old or new.
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

local run = {}
local Run = {}
Run.__index = Run

local function check_name(fname, what, s)
  if type(s) ~= "string" or s == "" then
    error(string.format("clara.run.%s: %s (a non-empty string) expected, got %s",
                        fname, what, type(s) == "string" and "''" or type(s)), 3)
  end
  if s:find("/", 1, true) or s == "." or s == ".." then
    error(string.format("clara.run.%s: %s '%s' must be a plain name (no '/')", fname, what, s), 3)
  end
end

-- a run id: UTC time to the second and a short suffix from pid and a
-- counter (not math.random: a seeded user stream must not move)
local serial = 0
local function new_id()
  serial = serial + 1
  local h = (core.getpid() * 2654435761 + serial * 40503 + os.time()) % 0x10000
  return os.date("!%Y%m%d-%H%M%S") .. string.format("-%04x", h)
end

-- at(dir, experiment) -> the run in exactly that directory (made if
-- missing); a reopened run continues the history it has on disk
function run.at(dir, experiment)
  if type(dir) ~= "string" or dir == "" then
    error("clara.run.at: run directory (a string) expected, got " .. type(dir), 2)
  end
  dir = dir:gsub("(.)/+$", "%1")
  fs.mkdir_p(dir)
  local r = setmetatable({ dir = dir, id = dir:match("([^/]+)$") or dir, experiment = experiment or "experiment",
                           history = {}, columns = {} }, Run)
  local text = fs.read(r:path("history.csv"))
  if text then r.history, r.columns = H.decode(text) end
  return r
end

-- open(base_dir, experiment, {id =}) -> run.  A new id makes a new
-- directory; a given id reopens that run (to resume) or creates it.
function run.open(base_dir, experiment, opts)
  if type(base_dir) ~= "string" or base_dir == "" then
    error("clara.run.open: base directory (a string) expected, got " .. type(base_dir), 2)
  end
  check_name("open", "experiment name", experiment)
  opts = opts or {}
  if type(opts) ~= "table" then error("clara.run.open: options table expected, got " .. type(opts), 2) end
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
    if not dir then error("clara.run.open: cannot create a run directory in '" .. parent .. "'", 2) end
  end
  return run.at(dir, experiment)
end

function Run:path(name) return fs.join(self.dir, name) end

-- config.json: tbl with sorted keys, plus what reproduces the run
function Run:write_config(tbl)
  if type(tbl) ~= "table" then error("clara.run.write_config: table expected, got " .. type(tbl), 2) end
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
    error("clara.run.write_model_txt: {model =, preprocess =, postprocess =} expected, got "
          .. type(parts), 2)
  end
  if parts.model == nil then error("clara.run.write_model_txt: no model given", 2) end
  local out = {}
  for _, name in ipairs { "model", "preprocess", "postprocess" } do
    local v = parts[name]
    local text = v == nil and "(none)" or tostring(v)
    out[#out + 1] = name .. ":\n" .. text .. "\n"
  end
  fs.write_atomic(self:path("model.txt"), table.concat(out, "\n"))
end

-- append_history(row): one row to history.csv.  An append is flushed at
-- once; a row with new columns rewrites the file (atomically) wider.
function Run:append_history(row)
  if type(row) ~= "table" then error("clara.run.append_history: row (a table) expected, got " .. type(row), 2) end
  local copy = {}
  for k, v in pairs(row) do
    if type(v) == "userdata" and v.item then v = v:item() end
    copy[k] = v
  end
  self.history[#self.history + 1] = copy
  local cols = H.columns({ copy }, self.columns)
  local path = self:path("history.csv")
  if #cols ~= #self.columns or not fs.exists(path) then
    self.columns = H.columns(self.history, self.columns)
    fs.write_atomic(path, H.encode(self.columns, self.history))
  else
    fs.append(path, H.line(self.columns, copy))
  end
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

-- write_report(result): report.json and report.md (see clara.run.report)
function Run:write_report(result)
  if type(result) ~= "table" then error("clara.run.write_report: result (a table) expected, got " .. type(result), 2) end
  local full = {}
  for k, v in pairs(result) do
    -- the live objects of a training result are not part of the report
    if k ~= "model" and k ~= "optimizer" and type(v) ~= "function" then full[k] = v end
  end
  if full.history == nil then full.history = self.history end
  if full.metrics == nil then full.metrics = full.final end   -- clara.train's name
  full.final = nil
  fs.write_atomic(self:path("report.json"), json.encode(full))
  fs.write_atomic(self:path("report.md"),
                  R.markdown(self.experiment .. " / " .. self.id, full))
end

-- recorder(): the object clara.train calls (see clara.train.clear): each
-- epoch's row to history.csv, at the end report.json/.md and model.pt
function Run:recorder()
  local r = self
  return {
    epoch_end = function(_, _, row) r:append_history(row) end,
    run_end = function(_, ctx, result)
      r:write_report(result)
      if ctx and ctx.model then r:save_model(ctx.model) end
    end,
  }
end

-- save_model(model, name): the state_dict, as PyTorch's torch.save writes it
function Run:save_model(model, name)
  name = name or "model.pt"
  check_name("save_model", "file name", name)
  if type(model) ~= "table" and type(model) ~= "userdata" or not model.state_dict then
    error("clara.run.save_model: a module (with state_dict) expected, got " .. type(model), 2)
  end
  require("torch").save(self:path(name), model:state_dict())
  return self:path(name)
end

-- save_checkpoint(state): any table torch.save takes (tensors, numbers,
-- strings, booleans, nested tables with string keys or 1..n)
function Run:save_checkpoint(state, name)
  if type(state) ~= "table" then
    error("clara.run.save_checkpoint: state (a table) expected, got " .. type(state), 2)
  end
  local ok, err = pcall(require("torch").save, self:path(name or "checkpoint.pt"), state)
  if not ok then
    error("clara.run.save_checkpoint: " .. tostring(err):gsub("^[^:]*:%d+: ", ""), 2)
  end
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
    error("clara.run.set_rng_state: a table from rng_state() expected, got " .. type(s), 2)
  end
  require("torch").set_rng_state(s.torch)
end

-- read(dir) -> {dir, config, history, columns, report, model_txt, state_dict}
-- (fields absent when their file is); opts.model names the weights file
-- ("model.pt" by default, "best.pt").
function run.read(dir, opts)
  if type(dir) ~= "string" then error("clara.run.read: run directory (a string) expected, got " .. type(dir), 2) end
  if not fs.isdir(dir) then error("clara.run.read: '" .. dir .. "' is not a directory", 2) end
  opts = opts or {}
  local info = { dir = dir }
  local function decode(name)
    local text = fs.read(fs.join(dir, name))
    if not text then return nil end
    local ok, v = pcall(json.decode, text)
    if not ok then error("clara.run.read: '" .. fs.join(dir, name) .. "': " .. tostring(v):gsub("^[^:]*:%d+: ", ""), 3) end
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
