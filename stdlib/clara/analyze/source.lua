-- clara.analyze.source: the model a path stands for (what `clara analyze`
-- analyzes).
--
--   local model, info = clara.analyze.load_model(path, {script = "exp.lua", weights = "model.pt"})
--
-- path is
--   a run directory   its weights (model.pt, or opts.weights) in a model the
--                     experiment script opts.script builds: a run keeps
--                     weights, not code.  The factory gets the run's
--                     hyperparameters (config.json's hparams over the script's);
--   a .lua file       an experiment script (it returns the experiment's table
--                     or a clara.experiment): a fresh model from its factory,
--                     called with its hparams under its seed (the weights a
--                     run starts from);
--   any other file    a TorchScript model (torch.jit.load).
-- info: {kind = "run" | "script" | "torchscript", path, weights (a run's),
-- experiment (what a script returned: a run's --script, or the script)}.
local torch = require "torch"
local E = require "clara.error"
local fs = require "clara.fs"
local strip = require("clara.analyze.common").strip_position

local M = {}

local WHO = "clara.analyze.load_model"

local function fail(msg) require("clara.error").raise(WHO, msg) end

-- the experiment table an experiment script returns
local function read_script(path)
  if not fs.exists(path) then fail(("'%s' does not exist"):format(path)) end
  local chunk, err = loadfile(path)
  if not chunk then fail(err) end
  local ok, spec = pcall(require("clara.experiment.load").call, chunk)
  if not ok then fail(("'%s' failed: %s"):format(path, tostring(spec))) end
  if type(spec) ~= "table" or type(spec.model) ~= "function" then
    fail(("'%s' must return an experiment with a model factory, got %s"):format(path,
      type(spec) == "table" and "a table without one" or type(spec)))
  end
  return spec
end

-- the factory runs under the experiment's seed, as a run starts, so a
-- script's fresh model has the run's initial weights
local function build(spec, hp, path)
  if math.type(spec.seed) == "integer" then torch.manual_seed(spec.seed) end
  local ok, model = pcall(spec.model, hp)
  if not ok then fail(("the model factory of '%s' failed: %s"):format(path, tostring(model))) end
  if model == nil then fail(("the model factory of '%s' returned nothing"):format(path)) end
  return model
end

local function hparams(spec, config)
  local hp = {}
  for k, v in pairs(spec.hparams or {}) do hp[k] = v end
  -- JSON has one number type: 8 comes back as 8.0, and sizes want integers
  for k, v in pairs(config and config.hparams or {}) do
    hp[k] = type(v) == "number" and math.tointeger(v) or v
  end
  return hp
end

-- 1. what kind of directory it is; 2. the model from the script; 3. the weights
local function from_run(dir, opts)
  if fs.exists(fs.join(dir, "battery.json")) then
    fail(("'%s' is a battery directory: give one of its entries' run directories"):format(dir))
  end
  local ok, info = pcall(require("clara.run").read, dir, { model = opts.weights or "model.pt" })
  if not ok then fail(strip(info)) end
  if info.config == nil and info.report == nil then
    fail(("'%s' is not a run directory (no config.json or report.json)"):format(dir))
  end
  if info.config and info.config.kind == "cv" then
    fail(("'%s' is a cross-validation directory: give one of its fold-N run directories"):format(dir))
  end
  if not opts.script then
    fail(("'%s' is a run directory: it keeps weights, not code; give the experiment script that builds the model (--script exp.lua)")
      :format(dir))
  end
  if info.state_dict == nil then fail(("no %s in '%s'"):format(opts.weights or "model.pt", dir)) end
  local spec = read_script(opts.script)
  local model = build(spec, hparams(spec, info.config), opts.script)
  if type(model.load_state_dict) ~= "function" then
    fail(("the model factory of '%s' must return a module (with load_state_dict)"):format(opts.script))
  end
  local loaded, err = pcall(model.load_state_dict, model, info.state_dict)
  if not loaded then
    fail(("the weights of '%s' do not fit the model of '%s': %s"):format(dir, opts.script,
      strip(err)))
  end
  return model, { kind = "run", path = dir, weights = fs.join(dir, opts.weights or "model.pt"), experiment = spec }
end

local function from_torchscript(path)
  local ok, model = pcall(torch.jit.load, path)
  if ok then return model, { kind = "torchscript", path = path } end
  -- a state_dict is weights without code
  local is_sd, v = pcall(torch.load, path)
  if is_sd and type(v) == "table" then
    fail(("'%s' holds weights, not a model: give its run directory and --script exp.lua, or a TorchScript file")
      :format(path))
  end
  fail(("cannot load '%s' as a TorchScript model: %s"):format(path, strip(model)))
end

function M.load(path, opts)
  if type(path) ~= "string" or path == "" then E.raise(nil, WHO .. ": a path (a string) expected, got " .. type(path)) end
  opts = opts or {}
  -- the script (its data too) and the seeded factory leave the caller's RNG stream as it was
  local rng = torch.get_rng_state()
  local ok, model, info = pcall(function()
    if fs.isdir(path) then return from_run(path, opts) end
    if not fs.exists(path) then fail(("'%s' does not exist"):format(path)) end
    if path:match("%.lua$") then
      local spec = read_script(path)
      return build(spec, hparams(spec, nil), path), { kind = "script", path = path, experiment = spec }
    end
    return from_torchscript(path)
  end)
  torch.set_rng_state(rng)
  if not ok then error(model, 0) end -- raised at the user's line already
  return model, info
end

return M
