-- Bad calls into the run output of clara.experiment (out_dir,
-- checkpoint_every, resume) and clara.load_run: each a clear Lua error.
local badcalls = require "spec.helpers.badcalls"
local fs = require "clara.fs"

local BASE = os.tmpname()
os.remove(BASE)
fs.mkdir_p(BASE)
teardown(function() os.execute("rm -rf '" .. BASE .. "'") end)

local function exp(over)
  local t = dofile("spec/helpers/resume_experiment.lua")
  t.out_dir = BASE
  for k, v in pairs(over or {}) do t[k] = v end
  return clara.experiment(t)
end
local factory = dofile("spec/helpers/resume_experiment.lua").model

local cases = {
  { "out_dir not a string", "clara.experiment", "out_dir must be a directory name or false",
    function() exp { out_dir = 3 } end },
  { "checkpoint_every zero", "clara.experiment", "checkpoint_every must be an integer >= 1",
    function() exp { checkpoint_every = 0 } end },
  { "resume without out_dir", "clara.experiment", "resume needs a run directory",
    function() exp { out_dir = false }:run { resume = true } end },
  { "resume with no runs", "clara.experiment", "no run with a checkpoint",
    function() exp { name = "none_here" }:run { resume = true } end },
  { "resume a missing directory", "clara.experiment", "is not a directory",
    function() exp():run { resume = BASE .. "/nope/nope" } end },
  { "load_run without a factory", "clara.load_run", "a model factory is required",
    function() clara.load_run(BASE) end },
  { "load_run of a missing directory", "clara.load_run", "is not a directory",
    function() clara.load_run(BASE .. "/nope", { model = factory }) end },
  { "load_run without weights", "clara.load_run", "no model.pt",
    function() clara.load_run(BASE, { model = factory }) end },
  { "load_run with a bad factory", "clara.load_run", "must return a module",
    function()
      local r = exp { epochs = 1 }:run()
      clara.load_run(r.dir, { model = function() return 1 end })
    end },
}

describe("bad calls: experiment runs on disk, clara.load_run", function()
  badcalls(cases)
end)
