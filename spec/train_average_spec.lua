-- clara.experiment's average switch against PyTorch 1.13 (spec/fixtures/
-- switches.lua, tests/fixtures/make_switches.py): an EMA of the weights and
-- buffers after every step, and SWA as PyTorch's recipe (AveragedModel,
-- SWALR from swa_start, update_bn at the end), with the averaged model the
-- one validated, returned and saved; the same numbers as a loop written by
-- hand over optim.swa_utils; EMA against its formula; an exact resume
-- (averaged weights and n_averaged in the checkpoint); the fast twin
-- (fused training, clear evaluation); bad options.
-- Tolerance: weights, buffers and lrs bitwise (the same float32 libtorch
-- operations in PyTorch's order); the SWA BatchNorm statistics too (update_bn
-- runs the same batches through the same kernels).
--   ./clara /usr/bin/busted -o plainTerminal spec/train_average_spec.lua
local H = dofile("spec/helpers/switches.lua")
local fs = require "clara.fs"
local fast = require "clara.train.fast"
local swa_utils = optim.swa_utils

local runs = dofile("spec/helpers/runs.lua")
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local function average_option(case)
  if case.ema then return { ema = case.ema } end
  return { swa_start = case.swa.swa_start, swa_lr = case.swa.swa_lr, anneal_epochs = case.swa.anneal_epochs,
           anneal_strategy = case.swa.anneal_strategy }
end

-- the run, and the model it trained (not the averaged one)
local function run(case, over)
  local trained
  over = over or {}
  over.average = over.average or average_option(case)
  over.hooks = over.hooks or {}
  over.hooks.on_run_end = function(ctx) trained = ctx.model end
  local r = H.experiment(case, over):run(over.run)
  return r, trained
end

describe("average", function()
  for _, name in ipairs { "ema", "swa", "swa_linear" } do
    it(name .. " gives PyTorch's averaged weights, trained weights and learning rates", function()
      local case = H.case(name)
      local r, trained = run(case)
      H.assert_state(H.state(case.averaged), r.model:state_dict(), name .. " averaged")
      H.assert_state(H.state(case.final), trained:state_dict(), name .. " trained")
      for e = 1, case.epochs do assert.are.equal(case.lrs[e], r.history[e].lr, "lr of epoch " .. e) end
      assert.are_not.equal(trained, r.model)
    end)
  end

  it("SWA without validation data computes the BatchNorm statistics at the end alone", function()
    local case = H.case("swa")
    local r = run(case, { data = { train = { H.X, H.Y } } })
    H.assert_state(H.state(case.averaged), r.model:state_dict(), "swa without val")
  end)

  it("SWA is the recipe written by hand over optim.swa_utils", function()
    local case = H.case("swa")
    local r = run(case)
    -- the recipe: train, then from swa_start on average and step SWALR; update_bn at the end
    torch.manual_seed(1)
    local model = H.experiment(case).model()
    local opt = optim.SGD(model:parameters(), { lr = case.lr, momentum = 0.9 })
    local avg = swa_utils.AveragedModel(model)
    local sched = swa_utils.SWALR(opt, { swa_lr = case.swa.swa_lr, anneal_epochs = case.swa.anneal_epochs })
    local batches = {}
    for i = 1, H.X:size(1), 16 do batches[#batches + 1] = { H.X:narrow(1, i, 16), H.Y:narrow(1, i, 16) } end
    for epoch = 1, case.epochs do
      model:train()
      for _, b in ipairs(batches) do
        opt:zero_grad()
        clara.losses.cross_entropy(model(b[1]), b[2]):backward()
        opt:step()
      end
      if epoch >= case.swa.swa_start then avg:update_parameters(model); sched:step() end
    end
    local inputs = {}
    for i, b in ipairs(batches) do inputs[i] = b[1] end
    swa_utils.update_bn(inputs, avg)
    H.assert_same_weights(avg.module, r.model, "hand-written recipe")
    assert.are.equal(case.n_averaged, avg.n_averaged:item())
  end)

  it("EMA follows its formula after every step", function()
    local case = H.case("ema")
    local expected, decay = nil, case.ema
    local r = run(case, { hooks = { on_step_end = function(ctx)
      local sd = ctx.model:state_dict()
      if expected == nil then
        expected = {}
        for k, t in pairs(sd) do expected[k] = t:clone() end
      else
        for k, t in pairs(sd) do
          if t.dtype == "float32" then expected[k] = expected[k] * decay + t * (1 - decay)
          else expected[k] = (expected[k] * decay + t * (1 - decay)):to(t.dtype) end
        end
      end
    end } })
    H.assert_state(expected, r.model:state_dict(), "EMA formula")
  end)

  it("validates, tests and keeps as best the averaged model", function()
    local case = H.case("swa")
    local vals = {}
    local r = run(case, { keep_best = true, data = { train = { H.X, H.Y }, val = { H.X, H.Y }, test = { H.X, H.Y } },
      hooks = { on_validation_end = function(ctx) vals[ctx.epoch] = ctx.row.val_loss end } })
    -- epoch 1 validates the trained model (nothing averaged yet), the others the average
    local ref = H.experiment(case, { epochs = 1 }):run()
    assert.are.equal(ref.history[1].val_loss, vals[1])
    local best = r.best.epoch
    assert.are.equal(vals[best], r.final.val.loss)
    if best == case.epochs then
      H.assert_state(H.state(case.averaged), r.model:state_dict(), "kept best = the last average")
    end
    -- result.predict runs the averaged model
    local out = r.predict(H.X)
    r.model:eval()
    assert.is_true(torch.equal(out, torch.no_grad(function() return r.model(H.X) end)))
  end)

  for _, name in ipairs { "ema", "swa" } do
    it(name .. ": a kill mid-epoch and a resume end bitwise as an uninterrupted run (model.pt too)", function()
      local case = H.case(name)
      local reference = run(case, { out_dir = tmpdir() })
      local total = #reference.history * 3
      for _, k in ipairs { 2, 4, 5, total - 1 } do
        local out = tmpdir()
        local exp = H.experiment(case, { out_dir = out, checkpoint_every = 1, average = average_option(case) })
        H.expect_error("crash at step " .. k, function() exp:with { hooks = H.crash_at(k) }:run() end)
        -- the crash's checkpoint (save on error: the boundary of step k,
        -- whose on_step_end raised) holds the averaged state and its count
        local st = torch.load(fs.join(runs(fs.join(out, "sw_" .. name))[1], "checkpoint.pt"))
        assert.are.equal(k, st.step)
        local expected_n = case.ema and k or math.max(0, (k - 1) // 3 - case.swa.swa_start + 1)
        assert.are.equal(expected_n, st.average.model.n_averaged:item())
        local r = exp:run { resume = true }
        H.assert_same_weights(reference.model, r.model, ("%s resumed at step %d"):format(name, k))
        for e = 1, case.epochs do assert.are.equal(reference.history[e].val_loss, r.history[e].val_loss) end
        local saved = torch.load(fs.join(r.dir, "model.pt"))
        H.assert_state(reference.model:state_dict(), saved, "model.pt")
      end
    end)
  end

  it("swa: an error after the epoch's averaging leaves the epoch's start on disk, and a resume averages once", function()
    local case = H.case("swa")
    local reference = run(case, { out_dir = tmpdir() })
    local e = case.swa.swa_start -- an epoch of the SWA phase
    local out = tmpdir()
    local exp = H.experiment(case, { out_dir = out, average = average_option(case) })
    local crash = { on_validation_end = function(ctx) if ctx.epoch == e then error("crash in validation", 0) end end }
    H.expect_error("crash in validation", function() exp:with { hooks = crash }:run() end)
    -- the averaged copy took epoch e in: the step boundary before it is gone,
    -- so save-on-error writes nothing and checkpoint.pt is epoch e - 1's end
    local dir = runs(fs.join(out, "sw_swa"))[1]
    local st = torch.load(fs.join(dir, "checkpoint.pt"))
    assert.is_true(st.epoch_done)
    assert.are.equal(e - 1, st.epoch)
    assert.matches("no checkpoint of the step boundary", io.open(fs.join(dir, "error.txt")):read("a"))
    local r = exp:run { resume = true }
    H.assert_same_weights(reference.model, r.model, "resumed after the crash in validation")
  end)

  for _, name in ipairs { "ema", "swa" } do
    it(name .. " under impl = 'fast': fused training, the same weights and numbers", function()
      local case = H.case(name)
      local clear, trained_clear = run(case, { data = { train = { H.X, H.Y }, val = { H.X, H.Y }, test = { H.X, H.Y } } })
      local r, trained = run(case, { impl = "fast", data = { train = { H.X, H.Y }, val = { H.X, H.Y }, test = { H.X, H.Y } } })
      assert.is_nil(fast.last_run.reason)
      assert.are.equal(#case.lrs * 3, fast.last_run.fused) -- every training batch, no evaluation batch
      H.assert_state(H.state(case.averaged), r.model:state_dict(), "fast averaged")
      H.assert_same_weights(trained_clear, trained, "fast trained")
      for e = 1, case.epochs do
        for k, v in pairs(clear.history[e]) do
          if k ~= "time" then assert.are.equal(v, r.history[e][k], ("epoch %d %s"):format(e, k)) end
        end
      end
      assert.are.same(clear.final, r.final)
    end)
  end

  it("refuses bad settings at construction, naming the option", function()
    local case = H.case("ema")
    for _, bad in ipairs {
      { { ema = 1.5 }, "average ema must be < 1, got 1.5" },
      { { ema = -0.1 }, "average ema must be >= 0, got -0.1" },
      { { swa_start = 2 }, "average must be {ema = decay} or {swa_start = epoch, swa_lr = lr, ...}" },
      { { ema = 0.9, swa_start = 2 }, "average gives ema and swa_start" },
      { { swa_start = 0, swa_lr = 0.1 }, "average swa_start must be an epoch (an integer >= 1), got 0" },
      { { swa_start = 1, swa_lr = 0.1, anneal_strategy = "cosine" }, "average anneal_strategy must be one of 'cos', 'linear', got 'cosine'" },
      { { emma = 0.9 }, "average has no setting 'emma' (did you mean 'ema'?)" },
      { { swa_start = 9, swa_lr = 0.1 }, "average.swa_start is epoch 9, beyond the run's 3 epochs" },
    } do
      H.expect_error("clara.experiment: " .. bad[2], H.experiment, case, { average = bad[1] })
    end
    H.expect_error("clara.experiment: average needs the model to be an nn module", function()
      H.experiment(case, { average = { ema = 0.9 }, model = function() return function(x) return x end end,
        optimizer = function() return optim.SGD({ torch.zeros(1, { requires_grad = true }) }, { lr = 0.1 }) end }):run()
    end)
  end)
end)
