-- exp:cross_validate{...}: a fresh model per fold, each fold a run, mean ± std
-- of every metric; a CV killed mid-fold resumes to the uninterrupted result.
-- And exp:set{...}: settings reach the hyperparameters the factories read.
local fs = require "clara.fs"

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

-- three classes, 90 samples (30 each), a test set of 30
local function data()
  torch.manual_seed(11)
  local x = torch.randn(90, 4)
  local y = torch.arange(0, 90):div(30, {rounding_mode = "floor"}):long()
  x[{ {}, 1 }]:add(y:double():float())
  local xt = torch.randn(30, 4)
  local yt = torch.arange(0, 30):div(10, {rounding_mode = "floor"}):long()
  return x, y, xt, yt
end

local built = 0
local function experiment(over)
  local x, y, xt, yt = data()
  local spec = {
    name = "cv_tiny", data = { train = { x, y }, test = { xt, yt } }, seed = 5,
    hparams = { lr = 0.2, hidden = 8 },
    model = function(hp)
      built = built + 1
      return nn.Sequential(nn.Linear(4, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, 3))
    end,
    objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
    optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
    epochs = 2, batch_size = 10, verbose = false, out_dir = false,
  }
  for k, v in pairs(over or {}) do spec[k] = v end
  return clara.experiment(spec)
end

local function mean_std(values)
  local n, s = #values, 0
  for _, v in ipairs(values) do s = s + v end
  local m, ss = s / n, 0
  for _, v in ipairs(values) do ss = ss + (v - m) ^ 2 end
  return m, math.sqrt(ss / (n - 1))
end

describe("exp:cross_validate", function()
  it("trains a fresh model per fold on disjoint stratified folds and reports mean ± std", function()
    built = 0
    local cv = experiment():cross_validate { folds = 3, stratified = true }
    assert.are.equal(3, built)          -- one model per fold
    assert.are.equal(3, #cv.folds)
    assert.is_nil(cv.dir)
    -- the validation folds partition the 90 samples, 10 of each class per fold
    local seen, _, y = {}, data()
    local scheme = clara.cv.stratified_kfold(y, { k = 3, seed = 5 })
    for j = 1, 3 do
      local _, val = scheme:fold(j)
      for _, i in ipairs(val:totable()) do assert.is_nil(seen[i]); seen[i] = true end
      local labels = y:index_select(1, val)
      for c = 0, 2 do assert.are.equal(10, labels:eq(c):sum():item()) end
    end
    -- every summary number is the mean and sample std of the folds' numbers
    for _, split in ipairs { "val", "test" } do
      for _, name in ipairs { "acc", "loss" } do
        local values = {}
        for j, f in ipairs(cv.folds) do values[j] = f.result.final[split][name] end
        local m, s = mean_std(values)
        assert.are.same(values, cv.summary[split][name].values)
        assert.near(m, cv.summary[split][name].mean, 1e-12)
        assert.near(s, cv.summary[split][name].std, 1e-12)
      end
    end
  end)

  it("gives each fold the result of training that fold alone", function()
    local cv = experiment():cross_validate { folds = 3 }
    local x, y, xt, yt = data()
    local ds = clara.data.TensorDataset(x, y)
    local scheme = clara.cv.stratified_kfold(y, { k = 3, seed = 5 })
    local train, val = scheme:fold(2)
    local alone = experiment { data = { train = clara.data.Subset(ds, train), val = clara.data.Subset(ds, val),
                                        test = clara.data.TensorDataset(xt, yt) } }:run()
    assert.are.equal(alone.final.val.loss, cv.folds[2].metrics.val.loss)
    assert.are.equal(alone.final.test.acc, cv.folds[2].metrics.test.acc)
    -- the folds differ: different training data, different weights
    assert.are_not.equal(cv.folds[1].metrics.val.loss, cv.folds[2].metrics.val.loss)
  end)

  it("writes each fold as a run, folds.csv, cv.json and the reports", function()
    local out = tmpdir()
    local cv = experiment { out_dir = out }:cross_validate { folds = 3 }
    assert.truthy(cv.dir:find(out, 1, true))
    for _, f in ipairs { "config.json", "cv.json", "folds.csv", "report.json", "report.md" } do
      assert.is_true(fs.exists(fs.join(cv.dir, f)), f)
    end
    local cfg = clara.run.read(cv.dir).config
    assert.are.equal("cv", cfg.kind); assert.are.equal(3, cfg.folds)
    assert.are.same({ lr = 0.2, hidden = 8 }, cfg.hparams)
    for j = 1, 3 do
      local info = clara.run.read(fs.join(cv.dir, "fold-" .. j))
      assert.are.equal(2, #info.history)
      assert.are.equal(cv.folds[j].metrics.val.acc, info.report.metrics.val.acc)
      assert.is_not_nil(info.state_dict)
    end
    local report = clara.run.read(cv.dir).report
    assert.are.equal("cv", report.kind)
    assert.are.equal(cv.summary.val.acc.mean, report.summary.val.acc.mean)
    assert.are.equal("fold-3", report.folds[3].dir)
    local rows = require("clara.run.history").decode(fs.read(fs.join(cv.dir, "folds.csv")))
    assert.are.equal(3, #rows)
    assert.are.equal(cv.folds[2].metrics.test.loss, rows[2].test_loss)
    assert.matches("| val | acc | " .. ("%.4f ± %.4f"):format(cv.summary.val.acc.mean, cv.summary.val.acc.std),
                   fs.read(fs.join(cv.dir, "report.md")), 1, true)
  end)

  it("resumes a CV killed mid-fold: finished folds are kept, the cut one continues", function()
    local reference = experiment():cross_validate { folds = 3 }
    local out = tmpdir()
    -- crash in the second fold at step 9 of 12 (6 steps per epoch)
    local fold = 0
    local hooks = { on_run_start = function() fold = fold + 1 end,
                    on_step_end = function(ctx) if fold == 2 and ctx.step == 9 then error("killed in fold 2", 0) end end }
    local ok, err = pcall(function()
      experiment { out_dir = out, checkpoint_every = 1, hooks = hooks }:cross_validate { folds = 3 }
    end)
    assert.is_false(ok); assert.matches("killed in fold 2", err)
    built = 0
    local cv = experiment { out_dir = out, checkpoint_every = 1 }:cross_validate { folds = 3, resume = true }
    assert.are.equal(2, built)   -- fold 1 is read from its report, not trained again
    assert.is_true(cv.folds[1].reused)
    assert.is_nil(cv.folds[2].reused)
    for _, split in ipairs { "val", "test" } do
      for _, name in ipairs { "acc", "loss" } do
        assert.are.same(reference.summary[split][name].values, cv.summary[split][name].values, split .. " " .. name)
      end
    end
    local info = clara.run.read(fs.join(cv.dir, "fold-2"))
    assert.are.equal(2, #info.history)   -- no repeated rows
  end)

  it("records in each fold's config the preprocessing its on_run_start hook fitted", function()
    local out = tmpdir()
    local standardize = clara.transforms.Standardize()
    local rows = {}
    local exp = experiment { out_dir = out, preprocess = standardize, classes = { "a", "b", "c" },
      hooks = { on_run_start = function(ctx)
        local train = ctx.experiment.data.train
        standardize:fit((train:batch(torch.arange(0, #train))))
        rows[#rows + 1] = standardize.rows
      end } }
    local cv = exp:cross_validate { folds = 3 }
    for j = 1, 3 do
      local cfg = clara.run.read(require("clara.fs").join(cv.dir, "fold-" .. j)).config
      assert.are.equal(60, cfg.preprocess.rows)
      assert.are.same({ "a", "b", "c" }, cfg.classes)
      local mean = torch.tensor(cfg.preprocess.mean.values)
      local x = data()
      local scheme = clara.cv.stratified_kfold(select(2, data()), { k = 3, seed = 5 })
      local train = scheme:fold(j)
      assert.is_true(torch.allclose(mean:float(), x:index_select(1, train):mean(1), { rtol = 1e-5, atol = 1e-6 }), "fold " .. j)
    end
    assert.are.same({ 60, 60, 60 }, rows)
  end)

  it("explains what is wrong with its input", function()
    local x, y = data()
    local function err_of(fn) local ok, e = pcall(fn); assert.is_false(ok); return e end
    assert.matches("has a validation set",
      err_of(function() experiment { data = { train = { x, y }, val = { x, y } } }:cross_validate {} end), 1, true)
    assert.matches("folds must be an integer >= 2, got 1",
      err_of(function() experiment():cross_validate { folds = 1 } end), 1, true)
    assert.matches("unknown option 'fold'", err_of(function() experiment():cross_validate { fold = 3 } end), 1, true)
    assert.matches("stratified folds need integer class labels",
      err_of(function() experiment { data = { x, x:sum(2) } }:cross_validate { stratified = true } end), 1, true)
    assert.matches("resume needs a directory", err_of(function() experiment():cross_validate { resume = true } end), 1, true)
    -- each at the line that called cross_validate
    for _, bad in ipairs { { folds = 1 }, { fold = 3 }, { resume = true } } do
      assert.matches("cross_validate_spec.lua", err_of(function() experiment():cross_validate(bad) end), 1, true)
    end
    assert.matches("cross_validate_spec.lua",
      err_of(function() experiment { data = { train = { x, y }, val = { x, y } } }:cross_validate {} end), 1, true)
  end)
end)

describe("exp:set", function()
  it("sets hyperparameters first, then experiment fields, and refuses unknown names", function()
    local exp = experiment()
    local e2 = exp:set { lr = 0.05, epochs = 1, ["hparams.width"] = 3 }
    assert.are.same({ lr = 0.05, hidden = 8, width = 3 }, e2.hparams)
    assert.are.equal(1, e2.epochs)
    assert.are.same({ lr = 0.2, hidden = 8 }, exp.hparams)   -- the original is untouched
    local r = e2:run()
    assert.are.equal(0.05, r.history[1].lr)
    assert.are.equal(1, #r.history)
    local ok, err = pcall(exp.set, exp, { nonsense = 1 })
    assert.is_false(ok)
    assert.matches("unknown setting 'nonsense': not a hyperparameter (hparams has: hidden, lr) nor an experiment field",
                   err, 1, true)
    ok, err = pcall(clara.experiment, { hparams = 3 })
    assert.is_false(ok)
  end)

  it("gives every factory its own copy of the hyperparameters", function()
    local seen = {}
    local exp = experiment {
      model = function(hp) seen[#seen + 1] = hp.hidden; hp.hidden = 99
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)) end,
    }
    exp:run(); exp:run()
    assert.are.same({ 8, 8 }, seen)
  end)
end)
