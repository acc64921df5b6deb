-- clara.load_run(dir, {model = factory}): a trained run back from disk.
--
--   local r = clara.load_run("runs/mnist/20260101-120000-ab12", {model = make_net})
--   r.model             -- the weights of model.pt (weights = "best.pt" for best.pt), eval mode
--   r.preprocess        -- rebuilt from config.json's description (clara.transforms)
--   r.postprocess       --   (nil when there was none or it cannot be rebuilt,
--                       --    e.g. a plain function: pass it in opts then)
--   r:predict(x)        -- postprocess(model(preprocess(x))), without gradients
--   r.config, r.history, r.report
--
-- The model factory is required: a run directory keeps weights, not code.
-- It is called as in the experiment, with the run's hyperparameters (from
-- config.json; the whole config as a second argument).
local torch = require "torch"
local run = require "clara.run"
local E = require "clara.error"

local API = "clara.load_run"

local Loaded = {}
Loaded.__index = Loaded

local integers = require("clara.experiment.options").integers

local function rebuild(desc)
  if type(desc) ~= "table" then return nil end
  local ok, step = pcall(require("clara.transforms").from_description, integers(desc))
  if ok then return step end
  return nil
end

local OPTIONS = {
  model = { type = "function", required = true, what = "a factory function(hparams, config) returning the model",
            doc = "the model factory, called with the run's hparams and config" },
  weights = { type = "string", default = "model.pt", doc = "the weights file: model.pt or best.pt" },
  preprocess = { type = "callable", doc = "the preprocessing, when config.json cannot rebuild it" },
  postprocess = { type = "callable", doc = "the postprocessing, when config.json cannot rebuild it" },
}

local function load_run(dir, opts)
  if opts == nil or type(opts) == "table" and opts.model == nil then
    E.raise(API, "a model factory is required (a run directory keeps weights, not code): "
      .. "clara.load_run(dir, {model = function(hparams) return net end})")
  end
  opts = E.options(API, opts, OPTIONS)
  if type(dir) ~= "string" then E.raise(API, "run directory (a string) expected, got %s", dir) end
  -- 1. the files, with the weights asked for
  local ok, info = pcall(run.read, dir, { model = opts.weights or "model.pt" })
  if not ok then E.raise(nil, (tostring(info):gsub("^[^:\n]*:%d+: ", ""):gsub("clara.run.read", API))) end
  if info.state_dict == nil then
    E.raise(API, "no %s in '%s'", opts.weights or "model.pt", dir)
  end
  -- 2. a fresh model from the factory, the saved weights, eval mode
  local config = info.config or {}
  local model = opts.model(integers(config.hparams or {}), config)
  local t = type(model)
  if (t ~= "table" and t ~= "userdata") or type(model.load_state_dict) ~= "function" then
    E.raise(API, "the model factory must return a module (with load_state_dict), got %s", model)
  end
  model:load_state_dict(info.state_dict)
  if type(model.eval) == "function" then model:eval() end
  -- 3. the processing around it
  local cfg = info.config or {}
  local self = setmetatable({
    dir = dir, model = model, config = info.config, history = info.history, report = info.report,
    preprocess = opts.preprocess or rebuild(cfg.preprocess),
    postprocess = opts.postprocess or rebuild(cfg.postprocess),
  }, Loaded)
  return self
end

function Loaded:predict(x)
  local pre, post, model = self.preprocess, self.postprocess, self.model
  return torch.no_grad(function()
    local out = model(pre and pre(x) or x)
    return post and post(out) or out
  end)
end

E.methods(Loaded, API)

return load_run
