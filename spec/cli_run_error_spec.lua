-- A single run that fails leaves error.txt in its run directory (the
-- message on the first line, as a battery entry's, then the traceback),
-- and the error still reaches the caller: exp:run raises it, `clara run`
-- prints it on stderr and exits 1.  One case per way a run can fail; each
-- message names the user's line, even when the stdlib raised it.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/cli_run_error_spec.lua
local torch = require "torch"
local fs = require "clara.fs"
local L = clara.losses

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local function ds(n, seed)
  torch.manual_seed(seed)
  return clara.data.TensorDataset(torch.randn(n, 3), torch.randint(0, 2, { n }))
end
local TRAIN, VAL = ds(16, 1), ds(8, 2)

local function spec_of(over)
  local s = { name = "failing", data = { train = TRAIN, val = VAL }, model = function() return nn.Linear(3, 2) end,
    objective = L.cross_entropy, optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
    epochs = 2, batch_size = 4, verbose = false }
  for k, v in pairs(over) do s[k] = v end
  return s
end

local function raises(text) return function() error(text) end end

-- { what fails, the experiment's fields, what the message says }
local FAILURES = {
  { "the model factory raises", { model = raises("no such layer") }, "no such layer" },
  { "the model factory returns nothing", { model = function() end }, "the model factory returned nothing" },
  { "the optimizer factory raises", { optimizer = raises("bad lr") }, "bad lr" },
  { "the scheduler factory raises", { scheduler = raises("no scheduler") }, "no scheduler" },
  { "the loss raises", { objective = raises("loss exploded") }, "loss exploded" },
  { "the loss returns a number", { objective = function() return 1 end }, "returned number, not a tensor" },
  { "the loss is NaN", { objective = function(o, t) return L.cross_entropy(o, t) * (0 / 0) end },
    "non-finite loss in train at epoch 1, batch 1" },
  { "a metric raises", { metrics = { bad = { update = raises("metric broke"), compute = function() return 0 end,
    reset = function() end, count = 0 } } }, "metric broke" },
  { "the preprocessing raises", { preprocess = raises("cannot normalize") }, "cannot normalize" },
  { "a hook raises in epoch 2", { hooks = { on_epoch_end = function(ctx) if ctx.epoch == 2 then error("hook failed") end end } },
    "hook failed" },
  { "monitor names no column", { monitor = "val_accuracy" }, "monitor val_accuracy is not a column" },
  { "the model does not fit the data", { model = function() return nn.Linear(5, 2) end },
    "mat1 and mat2 shapes cannot be multiplied" },
  { "the loss does not fit the targets", { objective = L.mse }, "mse_loss: target" },
  { "the fast loop's model does not fit", { model = function() return nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)) end,
    impl = "fast" }, "shapes cannot be multiplied" },
  { "the model's forward raises", { model = function()
      return setmetatable({ parameters = function() return { torch.zeros(1, { requires_grad = true }) } end },
        { __call = function() error("forward failed") end })
    end }, "forward failed" },
}

local function only_run(out)
  local runs = require("spec.helpers.runs")(fs.join(out, "failing"))
  assert.are.equal(1, #runs)
  return runs[1]
end

describe("a failing run", function()
  for _, case in ipairs(FAILURES) do
    it("leaves error.txt when " .. case[1], function()
      local out = tmpdir()
      local s = spec_of(case[2])
      s.out_dir = out
      local ok, err = pcall(function() return clara.experiment(s):run() end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[3], 1, true), tostring(err))
      -- at a line of this file (the user's), never inside the stdlib
      assert.matches("^[^\n]*cli_run_error_spec%.lua:%d+: ", err)
      local text = fs.read(fs.join(only_run(out), "error.txt"))
      assert.truthy(text, "no error.txt")
      assert.are.equal(tostring(err), text:match("^[^\n]*"))
      assert.matches("stack traceback:", text, 1, true)
    end)
  end

  it("`clara run`: the message on stderr, exit code 1, error.txt with the traceback", function()
    local out = tmpdir()
    local script = fs.join(out, "exp.lua")
    fs.write_atomic(script, [[
local exp = dofile("spec/helpers/resume_experiment.lua")
exp.name = "failing"
exp.model = function() error("no such layer") end
return exp
]])
    local text, rc = sh(("%s run %s --out %s"):format(CLARA, script, out))
    assert.are.equal(1, rc)
    assert.matches("clara run: no such layer", text, 1, true)
    local err = fs.read(fs.join(only_run(out), "error.txt"))
    assert.matches("exp.lua:3: no such layer", err, 1, true)
    assert.matches("in field 'model'", err, 1, true)
  end)

  it("a resume that succeeds removes the error.txt an earlier attempt left", function()
    local out = tmpdir()
    local s = spec_of { out_dir = out, hooks = { on_epoch_end = function(ctx)
      if ctx.epoch == 2 and not ctx.experiment.hparams then error("hook failed") end end } }
    assert.is_false(pcall(function() return clara.experiment(s):run() end))
    local dir = only_run(out)
    assert.is_true(fs.exists(fs.join(dir, "error.txt")))
    s.hooks, s.hparams = nil, { retry = 1 }
    local r = clara.experiment(s):run { resume = dir }
    assert.are.equal(2, #r.history)
    assert.is_false(fs.exists(fs.join(dir, "error.txt")))
  end)
end)
