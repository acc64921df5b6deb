-- exp:run{resume = ...}: a run interrupted at any step and resumed from its
-- checkpoint ends with the very weights (torch.equal) of an uninterrupted one
local fs = require "clara.fs"
local signal = require "clara.signal"

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local function experiment(over)
  local t = dofile("spec/helpers/resume_experiment.lua")
  for k, v in pairs(over or {}) do t[k] = v end
  return clara.experiment(t)
end

local assert_same_weights = dofile("spec/helpers/same_weights.lua")

-- an on_step_end hook that raises at step k (the last checkpoint is before it)
local function crash_at(k)
  return { on_step_end = function(ctx) if ctx.step == k then error("crash at step " .. k, 0) end end }
end

describe("resume", function()
  local reference
  setup(function()
    reference = experiment { out_dir = tmpdir() }:run()
  end)

  it("continues a run that crashed mid-epoch to the same weights (checkpoint_every = 1)", function()
    -- 36 steps in all (3 epochs of 12): the edges and a step at random
    -- (at step 1 the hook raises before the first checkpoint)
    local steps = { 2, 12, 13, 35, math.random(3, 34) }
    for _, k in ipairs(steps) do
      local out = tmpdir()
      local exp = experiment { out_dir = out, checkpoint_every = 1 }
      local ok, err = pcall(function() exp:with { hooks = crash_at(k) }:run() end)
      assert.is_false(ok); assert.matches("crash at step", err)
      local r = exp:run { resume = true }
      assert_same_weights(r.model, reference.model, "crash at step " .. k)
      assert.are.equal(36, r.steps)
      assert.are.equal(3, #r.history)
      -- every number of every row, the cut epoch's training metrics included
      for e = 1, 3 do
        for key, v in pairs(reference.history[e]) do
          if key ~= "time" then
            assert.are.equal(v, r.history[e][key], ("crash at step %d: epoch %d %s"):format(k, e, key))
          end
        end
      end
      assert.are.same(reference.confusion, r.confusion)
      -- the run on disk: one history row per epoch, no repeats
      local info = clara.run.read(r.dir)
      assert.are.equal(3, #info.history)
      assert.are.same({ 1, 2, 3 }, { info.history[1].epoch, info.history[2].epoch, info.history[3].epoch })
    end
  end)

  it("resumes from the epoch-end checkpoint when checkpoint_every is not set", function()
    local out = tmpdir()
    -- (without save_on_error: the failed run would save its step 20)
    local exp = experiment { out_dir = out, checkpoints = { save_on_error = false } }
    assert.is_false(pcall(function() exp:with { hooks = crash_at(20) }:run() end))
    local st = torch.load(fs.join(exp:with({}).out_dir, "resume_mlp",
      (function() for e in require("lfs").dir(fs.join(out, "resume_mlp")) do
        if e:sub(1, 1) ~= "." then return e end end end)(), "checkpoint.pt"))
    assert.are.equal(12, st.step); assert.is_true(st.epoch_done)
    local r = exp:run { resume = true }
    assert_same_weights(r.model, reference.model, "epoch-end resume")
  end)

  it("stops at a step boundary on a signal, with a checkpoint, and resumes a given directory", function()
    local out = tmpdir()
    local k = math.random(2, 34)
    local exp = experiment { out_dir = out, handle_signals = true,
      hooks = { on_step_end = function(ctx) if ctx.step == k then signal.raise("TERM") end end } }
    local r1 = exp:run()
    assert.are.equal("TERM", r1.interrupted)
    assert.are.equal(k, r1.steps)
    assert.are.same({}, signal.installed())   -- the handlers are restored
    local r2 = exp:with { hooks = {}, handle_signals = false }:run { resume = r1.dir }
    assert.are.equal(r1.dir, r2.dir)
    assert_same_weights(r2.model, reference.model, "signal at step " .. k)
  end)

  it("writes the run directory's files", function()
    for _, f in ipairs { "config.json", "model.txt", "history.csv", "report.json", "report.md",
                         "model.pt", "best.pt", "checkpoint.pt" } do
      assert.is_true(fs.exists(fs.join(reference.dir, f)), f)
    end
    local info = clara.run.read(reference.dir)
    assert.are.equal(8, info.config.batch_size)
    assert.are.equal(7, info.config.seed)
    assert.are.equal(3, #info.history)
    assert.matches("Dropout", info.model_txt)
  end)

  it("loads a run back: weights in eval mode, processing rebuilt, predict", function()
    local T = clara.transforms
    local factory = dofile("spec/helpers/resume_experiment.lua").model
    local r = experiment { out_dir = tmpdir(), epochs = 1, preprocess = T.chain { T.Scale(2) },
                           postprocess = T.post.Softmax { dim = 2 } }:run()
    local loaded = clara.load_run(r.dir, { model = factory })
    assert.is_false(loaded.model.training)
    assert_same_weights(loaded.model, r.model, "load_run")
    assert.are.equal("Scale(2)", tostring(loaded.preprocess))
    local x = torch.randn(5, 4)
    assert.is_true(torch.equal(r.predict(x), loaded:predict(x)))
    -- without the processing the prediction differs (the check can fail)
    assert.is_false(torch.equal(r.predict(x), loaded.model(x)))
    local best = clara.load_run(reference.dir, { model = factory, weights = "best.pt" })
    assert_same_weights(best.model, reference.model, "best.pt")
  end)

  it("writes nothing with out_dir = false, and explains a resume without runs", function()
    local r = experiment { out_dir = false, epochs = 1 }:run()
    assert.is_nil(r.dir)
    local ok0, err0 = pcall(function() experiment { out_dir = false }:run { resume = true } end)
    assert.is_false(ok0); assert.matches("clara.experiment: resume needs a run directory (out_dir is false)", err0, 1, true)
    local ok, err = pcall(function() experiment { out_dir = tmpdir() }:run { resume = true } end)
    assert.is_false(ok); assert.matches("no run with a checkpoint", err)
  end)
end)
