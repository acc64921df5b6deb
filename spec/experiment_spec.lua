-- clara.experiment and the clear loop: training, factories, swapping, hooks,
-- early stopping, best-model restore, reproducibility, non-finite losses
local L, Mt = clara.losses, clara.metrics

local function data(n, seed)
  torch.manual_seed(seed or 0)
  local x = torch.randn(n, 4)
  local y = (x[{{}, 1}] + x[{{}, 2}]):gt(0):long()
  return clara.data.TensorDataset(x, y)
end

local function base(over)
  local spec = {
    data = { train = data(160, 1), val = data(80, 2), test = data(80, 3) },
    model = function() return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)) end,
    objective = L.cross_entropy, metrics = { acc = Mt.accuracy },
    optimizer = function(m) return optim.SGD(m, { lr = 0.2 }) end,
    batch_size = 16, epochs = 4, seed = 1, verbose = false, out_dir = false,
  }
  for k, v in pairs(over or {}) do spec[k] = v end
  return clara.experiment(spec)
end

describe("clara.experiment", function()
  it("trains a tiny model: the loss falls and the result has history and final metrics", function()
    local r = base():run()
    assert.are.equal(4, #r.history)
    assert.is_true(r.history[4].train_loss < r.history[1].train_loss)
    assert.is_true(r.history[4].val_loss < r.history[1].val_loss)
    assert.is_true(r.final.test.acc > 0.7)
    assert.is_number(r.history[1].val_acc)
    assert.is_number(r.history[1].train_acc)
  end)

  it("reports final validation numbers that a fresh evaluation of the final weights gives", function()
    local val = data(80, 2)
    local function fresh(model)
      model:eval()
      return torch.no_grad(function()
        local x, y = val.tensors[1], val.tensors[2]
        return L.cross_entropy(model(x), y):item(), model(x):argmax(2):eq(y):double():mean():item()
      end)
    end
    -- best epoch last (no restore: the last validation is reused), an
    -- earlier best (restored, evaluated again), and no best-keeping at all
    local restored_earlier = false
    for _, over in ipairs { {}, { monitor = "val_acc", mode = "min" }, { keep_best = false } } do
      local r = base(over):run()
      restored_earlier = restored_earlier or (r.restored ~= nil and r.restored < #r.history)
      local loss, acc = fresh(r.model)
      assert.near(loss, r.final.val.loss, 1e-6)
      assert.are.equal(acc, r.final.val.acc)
      local e = r.restored or #r.history
      assert.are.equal(r.history[e].val_loss, r.final.val.loss)
    end
    assert.is_true(restored_earlier)
  end)

  it("gives every run a fresh model and optimizer from the factories", function()
    local made, given = {}, {}
    local exp = base { epochs = 1,
      model = function() local m = nn.Linear(4, 2); made[#made + 1] = m; return m end,
      optimizer = function(m) given[#given + 1] = m; return optim.SGD(m, { lr = 0.1 }) end }
    local r1, r2 = exp:run(), exp:run()
    assert.are.equal(2, #made)
    assert.are_not.equal(made[1], made[2])
    assert.are.equal(made[1], given[1]); assert.are.equal(made[2], given[2])
    assert.are.equal(r1.model, made[1]); assert.are.equal(r2.model, made[2])
    -- same seed: same history
    assert.are.equal(r1.history[1].train_loss, r2.history[1].train_loss)
  end)

  it("swaps the optimizer or the loss without touching the rest", function()
    local exp = base { epochs = 2 }
    local adam = exp:with { optimizer = function(m) return optim.Adam(m, { lr = 0.01 }) end }:run()
    local sgd = exp:run()
    assert.are_not.equal(adam.history[2].train_loss, sgd.history[2].train_loss)
    local nll = exp:with { objective = function(o, t) return L.nll(o:log_softmax(2), t) end }:run()
    assert.is_true(math.abs(nll.history[2].train_loss - sgd.history[2].train_loss) < 1e-5)
    assert.has_error(function() exp:with { bogus = 1 } end, "clara.experiment: unknown option 'bogus' (known: accumulate, batch_size, batcher, checkpoint_every, "
      .. "classes, data, device, drop_last, dtype, epochs, eval_batch_size, final_train, handle_signals, hooks, hparams, impl, "
      .. "keep_best, max_steps, metrics, min_delta, mode, model, monitor, name, objective, on_nonfinite, optimizer, "
      .. "out_dir, patience, postprocess, preprocess, progress, recorder, scheduler, scheduler_step, seed, shuffle, "
      .. "train_metrics, verbose)")
  end)

  it("fires hooks in order", function()
    local log = {}
    local function h(name) return function(ctx) log[#log + 1] = name end end
    base { epochs = 2, batch_size = 80, hooks = {
      on_run_start = h "run_start", on_epoch_start = h "epoch_start", on_batch_start = h "batch_start",
      on_batch_end = h "batch_end", on_step_end = h "step_end", on_validation_end = h "val_end",
      on_epoch_end = h "epoch_end", on_run_end = h "run_end" } }:run()
    local epoch = { "epoch_start", "batch_start", "batch_end", "step_end", "batch_start", "batch_end",
                    "step_end", "val_end", "epoch_end" }
    local want = { "run_start" }
    for _ = 1, 2 do for _, e in ipairs(epoch) do want[#want + 1] = e end end
    want[#want + 1] = "run_end"
    assert.are.same(want, log)
  end)

  it("calls the recorder's methods", function()
    local rec = { n = { run_start = 0, step_end = 0, epoch_end = 0, run_end = 0 } }
    for k in pairs(rec.n) do rec[k] = function(self) self.n[k] = self.n[k] + 1 end end
    base { epochs = 2, batch_size = 40, recorder = rec }:run()
    assert.are.same({ run_start = 1, step_end = 8, epoch_end = 2, run_end = 1 }, rec.n)
  end)

  it("stops early and restores the best model", function()
    -- a learning rate so large that validation worsens after the first epoch
    local seen = {}
    local exp = base { epochs = 20, patience = 2, monitor = "val_loss",
      optimizer = function(m) return optim.SGD(m, { lr = 0.2 }) end,
      hooks = { on_epoch_end = function(ctx)
        local copy = {}
        for k, t in pairs(ctx.model:state_dict()) do copy[k] = t:clone() end
        seen[ctx.epoch] = copy
        -- from epoch 3 on, wreck the weights: validation must get worse
        if ctx.epoch >= 3 then torch.no_grad(function() for _, p in ipairs(ctx.model:parameters()) do p:mul_(-3) end end) end
      end } }
    local r = exp:run()
    assert.are.equal("early_stopping", r.stopped)
    assert.is_true(#r.history < 20)
    local best = r.best.epoch
    assert.are.equal(best, r.restored)
    for _, row in ipairs(r.history) do assert.is_true(row.val_loss >= r.best.value) end
    for k, t in pairs(r.model:state_dict()) do
      assert.is_true(t:equal(seen[best][k]), k)
    end
  end)

  it("stops after max_steps", function()
    local r = base { max_steps = 3, epochs = 5 }:run()
    assert.are.equal(3, r.steps)
    assert.are.equal("max_steps", r.stopped)
    assert.is_number(r.history[1].train_loss)   -- the cut-short epoch still has its means
  end)

  it("stops when a hook sets ctx.stop", function()
    local r = base { epochs = 5, hooks = { on_epoch_end = function(ctx) ctx.stop = ctx.epoch == 2 end } }:run()
    assert.are.equal(2, #r.history)
    assert.are.equal("hook", r.stopped)
  end)

  it("takes data as a dataset, as lists of tensors, or as a split of one dataset", function()
    torch.manual_seed(0)
    local x, y = torch.randn(50, 4), torch.randint(0, 2, { 50 })
    local one = base { epochs = 1, data = clara.data.TensorDataset(x, y) }:run()
    assert.is_nil(one.history[1].val_loss)
    assert.is_nil(one.final.val)
    local lists = base { epochs = 1, data = { train = { x, y }, val = { x, y } } }:run()
    assert.is_number(lists.history[1].val_loss)
    local parts = clara.data.split(50, { ratios = { 0.6, 0.2, 0.2 }, seed = 1 })
    local split = base { epochs = 1, batch_size = 10, data = { dataset = clara.data.TensorDataset(x, y), split = parts } }:run()
    assert.are.equal(3, split.steps)
    assert.is_number(split.final.test.loss)
  end)

  it("steps schedulers per epoch (ReduceLROnPlateau on the monitored value) or per batch", function()
    local r = base { epochs = 3, scheduler = function(opt) return optim.lr_scheduler.StepLR(opt, { step_size = 1, gamma = 0.5 }) end }:run()
    assert.are.same({ 0.2, 0.1, 0.05 }, { r.history[1].lr, r.history[2].lr, r.history[3].lr })
    local b = base { epochs = 2, batch_size = 80, scheduler_step = "batch",
      scheduler = function(opt) return optim.lr_scheduler.StepLR(opt, { step_size = 1, gamma = 0.5 }) end }:run()
    assert.are.same({ 0.2, 0.05 }, { b.history[1].lr, b.history[2].lr })
    local seen = {}
    local p = base { epochs = 3, monitor = "val_loss",
      scheduler = function(opt)
        local s = optim.lr_scheduler.ReduceLROnPlateau(opt, { patience = 0 })
        local step = s.step
        s.step = function(self, v) seen[#seen + 1] = v; return step(self, v) end
        return s
      end }:run()
    assert.are.same({ p.history[1].val_loss, p.history[2].val_loss, p.history[3].val_loss }, seen)
  end)

  it("reports a combined metric and predicts through the postprocessing", function()
    local r = base { epochs = 1,
      metrics = { acc = Mt.accuracy, both = { Mt.mae, select = function(outputs, captured, targets)
        return outputs[1]:softmax(2)[{ {}, 2 }], targets[1]:double()
      end } },
      postprocess = function(out) return out:argmax(2) end }:run()
    assert.is_number(r.history[1].val_both)
    assert.is_true(r.history[1].val_both > 0 and r.history[1].val_both < 1)
    local p = r.predict(torch.randn(5, 4))
    assert.are.same({ 5 }, p.shape)
    assert.are.equal("int64", p.dtype)
  end)

  it("is reproducible: the same seed gives the same history and weights", function()
    local a, b = base { epochs = 2 }:run(), base { epochs = 2 }:run()
    assert.are.same(a.history[1].train_loss, b.history[1].train_loss)
    for i = 1, 2 do
      for k, v in pairs(a.history[i]) do if k ~= "time" then assert.are.equal(v, b.history[i][k], k) end end
    end
    local sa, sb = a.model:state_dict(), b.model:state_dict()
    for k, t in pairs(sa) do assert.is_true(t:equal(sb[k]), k) end
    local c = base { epochs = 2, seed = 2 }:run()
    assert.are_not.equal(a.history[2].train_loss, c.history[2].train_loss)
  end)

  it("stops on a non-finite loss naming epoch, batch and term, or skips it", function()
    local calls = 0
    local function bad(o, t)
      calls = calls + 1
      local l = L.cross_entropy(o, t)
      if calls == 13 then return l * (0 / 0) end
      return l
    end
    local exp = base { epochs = 2, objective = { terms = { { name = "ce", loss = bad } } }, data = { train = data(160, 1) } }
    local ok, err = pcall(exp.run, exp)
    assert.is_false(ok)
    assert.matches("non%-finite loss in train at epoch 2, batch 3: term 'ce' is %-?nan", err)
    calls = 0
    local r = exp:with { on_nonfinite = "skip" }:run()
    assert.are.equal(1, r.skipped)
    assert.are.equal(2, #r.history)
  end)

  it("rejects bad experiments with clear errors", function()
    assert.has_error(function() clara.experiment { data = data(8), objective = L.mse, optimizer = function() end } end,
      "clara.experiment: model is required (a factory function(hparams) returning a model)")
    assert.has_error(function() base { batch_size = 0 } end, "clara.experiment: batch_size must be an integer >= 1, got 0")
    assert.has_error(function() base { impl = "warp" } end, "clara.experiment: impl must be one of 'clear', 'fast', got 'warp'")
  end)
end)
