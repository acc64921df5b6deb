-- clara.compare and `clara compare`: over run and cross-validation
-- directories written here by hand per the on-disk contract (the per-fold
-- values and the expected t-tests are spec/fixtures/stats.lua's, from
-- SciPy), over real tiny runs and cross-validations of clara.experiment,
-- and through the command line.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/compare_spec.lua
local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"
local clara = require "clara"
local fs = require "clara.fs"
local json = require "clara.run.json"
local H = require "clara.run.history"
local lfs = require "lfs"

local fx = dofile("spec/fixtures/stats.lua").cv
local CLARA = fs.join(lfs.currentdir(), "clara")

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local function close(expected, got, tol)
  assert.equal("number", type(got))
  assert.is_true(math.abs(got - expected) <= (tol or 1e-9) * math.max(1, math.abs(expected)),
    ("expected %.17g, got %.17g"):format(expected, got))
end

local function write_json(path, v) fs.write_atomic(path, json.encode(v)) end

-- a run dir: history rows with epoch, time, val_loss, val_acc; final metrics
local function write_run(dir, o)
  fs.mkdir_p(dir)
  write_json(fs.join(dir, "config.json"), { name = o.name or "m", kind = "run", epochs = #o.history })
  local cols = H.columns(o.history)
  fs.write_atomic(fs.join(dir, "history.csv"), H.encode(cols, o.history))
  write_json(fs.join(dir, "report.json"), { metrics = o.metrics, history = o.history, epochs = #o.history,
                                           parameters = o.parameters })
end

local function history(n_epochs, base, time)
  local rows = {}
  for e = 1, n_epochs do
    rows[e] = { epoch = e, time = time, val_loss = base + 1 / e, val_acc = 0.5 + base / 10 + e / 100 }
  end
  return rows
end

-- a CV dir with 5 folds: per-fold test_acc and val_loss from the fixture
-- (other metrics derived), fold i trained for epochs[i] epochs
local function write_cv(dir, values, o)
  o = o or {}
  fs.mkdir_p(dir)
  local k = #values.test_acc
  write_json(fs.join(dir, "config.json"), { name = "m", kind = "cv", folds = k })
  write_json(fs.join(dir, "cv.json"), o.assignment or { scheme = "kfold", n = 10, k = k, seed = 1,
                                                        folds = { 1, 2, 3, 4, 5, 1, 2, 3, 4, 5 } })
  local folds = {}
  for i = 1, k do
    local metrics = { val = { loss = values.val_loss[i], acc = 1 - values.val_loss[i] / 2 },
                      test = { acc = values.test_acc[i], loss = 1 - values.test_acc[i] } }
    write_run(fs.join(dir, "fold-" .. i), { history = history(o.epochs and o.epochs[i] or 3, i, o.time or 0.5),
                                            metrics = metrics, parameters = o.parameters or 1234 })
    folds[i] = { fold = i, dir = "fold-" .. i, metrics = metrics }
  end
  write_json(fs.join(dir, "report.json"), { kind = "cv", folds = folds, summary = {} })
end

local sh = require("spec.helpers.shell").sh

local function listing(dir)
  local names = {}
  if not fs.isdir(dir) then return names end
  for e in lfs.dir(dir) do if e ~= "." and e ~= ".." then names[#names + 1] = e end end
  table.sort(names)
  return names
end

describe("clara.compare over cross-validations written by hand", function()
  local base = tmpdir()
  local A, B, C = fs.join(base, "A"), fs.join(base, "B"), fs.join(base, "C")
  write_cv(A, fx.A, { epochs = { 3, 3, 4, 3, 3 }, time = 0.5 })
  write_cv(B, fx.B, { time = 0.25, parameters = 999 })
  write_cv(C, fx.C)

  it("summarizes each CV: mean ± sample std per metric, parameters, time per epoch, epochs", function()
    local c = clara.compare({ A, B }, { plots = false })
    local a, b = c.models[1], c.models[2]
    assert.equal("A", a.label)
    assert.equal("cv", a.kind)
    assert.equal(5, a.folds)
    close(fx.A_mean.test_acc, a.metrics.test_acc.mean)
    close(fx.A_std.test_acc, a.metrics.test_acc.std)
    close(fx.A_mean.val_loss, a.metrics.val_loss.mean)
    assert.same(fx.A.test_acc, a.metrics.test_acc.values)
    close(fx.tests.B_test_acc.mean, b.metrics.test_acc.mean)
    close(fx.tests.B_test_acc.std, b.metrics.test_acc.std)
    assert.equal(1234, a.parameters)
    assert.equal(999, b.parameters)
    close(0.5, a.time_per_epoch)
    close(0.25, b.time_per_epoch)
    close(3.2, a.epochs.mean)
    close(math.sqrt(0.2), a.epochs.std)
    assert.matches("| A | cv (5 folds) | 3.2 ± 0.4 | 1234 | 0.5 |", c.markdown, 1, true)
    assert.matches(("%.4f ± %.4f"):format(fx.A_mean.test_acc, fx.A_std.test_acc), c.markdown, 1, true)
  end)

  it("the default metric is test_acc; paired t-test and Wilcoxon match SciPy", function()
    local c = clara.compare({ A, B }, { plots = false })
    assert.equal("test_acc", c.metric)
    assert.equal("max", c.mode)
    local t = c.tests[1]
    assert.is_true(t.paired)
    assert.equal(5, t.n)
    local e = fx.tests.B_test_acc
    close(e.mean_diff, t.ttest.mean_diff)
    close(e.t, t.ttest.statistic)
    close(e.t_p, t.ttest.p)
    assert.equal(e.w, t.wilcoxon.statistic)
    assert.equal(e.w_p, t.wilcoxon.p)
    assert.equal("exact", t.wilcoxon.method)
    assert.equal("At the 0.05 level the 5 paired folds show a difference in test_acc (mean +0.0156, "
      .. "t-test p = 0.00725): B is better than A on this data split.", t.sentence)
    assert.matches("cannot go below p = 0.0625", t.wilcoxon_note, 1, true)
    assert.matches(t.sentence, c.markdown, 1, true)
    assert.matches("| B | 5 | +0.0156 | 5.045 | 0.00725 | 0 | 0.0625 | exact |", c.markdown, 1, true)
  end)

  it("a loss: lower is better, so a negative difference favours the second", function()
    local c = clara.compare({ A, B }, { metric = "val_loss", plots = false })
    assert.equal("min", c.mode)
    local t, e = c.tests[1], fx.tests.B_val_loss
    close(e.t, t.ttest.statistic)
    close(e.t_p, t.ttest.p)
    assert.matches(": B is better than A on this data split.", t.sentence, 1, true)
    -- the same numbers the other way round: A is then the worse second
    c = clara.compare({ B, A }, { metric = "val_loss", plots = false })
    close(-e.t, c.tests[1].ttest.statistic)
    assert.matches(": B is better than A on this data split.", c.tests[1].sentence, 1, true)
  end)

  it("no difference: says so, and that this does not prove equality", function()
    local c = clara.compare({ A, C }, { plots = false })
    local t, e = c.tests[1], fx.tests.C_test_acc
    close(e.t_p, t.ttest.p)
    assert.equal(e.w_p, t.wilcoxon.p)
    assert.equal(("At the 0.05 level the 5 paired folds do not show a difference in test_acc (mean +0.0002, "
      .. "t-test p = %.3g); this does not prove they are equal."):format(e.t_p), t.sentence)
  end)

  it("more than two: each against the first", function()
    local c = clara.compare({ A, B, C }, { plots = false, alpha = 0.01 })
    assert.equal(2, #c.tests)
    assert.equal("A", c.tests[1].a); assert.equal("B", c.tests[1].b)
    assert.equal("A", c.tests[2].a); assert.equal("C", c.tests[2].b)
    assert.matches("^At the 0.01 level the 5 paired folds show", c.tests[1].sentence)
  end)

  it("different fold assignments: no paired test, and the reason", function()
    local D = fs.join(base, "D")
    write_cv(D, fx.B, { assignment = { scheme = "kfold", n = 10, k = 5, seed = 2,
                                       folds = { 5, 4, 3, 2, 1, 1, 2, 3, 4, 5 } } })
    local c = clara.compare({ A, D }, { plots = false })
    local t = c.tests[1]
    assert.is_false(t.paired)
    assert.is_nil(t.ttest)
    assert.matches("different fold assignments", t.reason, 1, true)
    assert.matches("No paired test of D against A: A and D were cross-validated on different fold assignments",
      c.markdown, 1, true)
  end)

  it("different fold counts, or a single run: no paired test", function()
    local E = fs.join(base, "E")
    write_cv(E, { test_acc = { 0.8, 0.81, 0.82 }, val_loss = { 0.5, 0.4, 0.45 } })
    local R = fs.join(base, "R")
    write_run(R, { history = history(2, 0, 0.1), metrics = { test = { acc = 0.9 } } })
    local c = clara.compare({ A, E, R }, { plots = false })
    assert.matches("A has 5 folds and E has 3", c.tests[1].reason, 1, true)
    assert.matches("R is a single run", c.tests[2].reason, 1, true)
  end)

  it("a diverged fold (NaN) shows as nan and is not tested", function()
    local N = fs.join(base, "N")
    write_cv(N, { test_acc = { 0.8, 0 / 0, 0.82, 0.81, 0.8 }, val_loss = fx.B.val_loss })
    local c = clara.compare({ A, N }, { plots = false })
    assert.is_true(c.models[2].metrics.test_acc.mean ~= c.models[2].metrics.test_acc.mean)
    assert.matches("| nan ± nan |", c.markdown, 1, true)
    assert.equal("N has test_acc = NaN in fold 2", c.tests[1].reason)
    -- val_loss has no NaN: it is tested
    c = clara.compare({ A, N }, { plots = false, metric = "val_loss" })
    close(fx.tests.B_val_loss.t_p, c.tests[1].ttest.p)
  end)

  it("learning curves: val_loss and the metric's per-epoch column, a CV's fold mean", function()
    local c = clara.compare({ A, B }, { plots = false })
    assert.equal(2, #c.curves)
    assert.equal("val_loss", c.curves[1].name)
    assert.equal("val_acc", c.curves[2].name)
    local s = c.curves[1].series[1]
    assert.equal("A (fold mean)", s.name)
    -- A's fold 3 ran 4 epochs: the mean stops at the 3 epochs every fold reached
    assert.same({ 1, 2, 3 }, s.x)
    for e = 1, 3 do close((1 + 2 + 3 + 4 + 5) / 5 + 1 / e, s.y[e], 1e-12) end
  end)

  it("writes compare.md, compare.json and the curves with --out", function()
    local out = fs.join(tmpdir(), "cmp")
    local c = clara.compare({ A, B }, { out = out })
    assert.equal(c.markdown, fs.read(fs.join(out, "compare.md")))
    local j = json.decode(fs.read(fs.join(out, "compare.json")))
    assert.equal("test_acc", j.metric)
    close(fx.tests.B_test_acc.t_p, j.tests[1].ttest.p)
    assert.equal("B", j.runs[2].label)
    close(fx.A_mean.test_acc, j.runs[1].metrics.test_acc.mean)
    for _, name in ipairs(listing(out)) do assert.is_nil(name:find(fs.TEMP_MARK, 1, true), name) end
    if #c.plots > 0 then   -- gnuplot present
      assert.is_true(fs.exists(fs.join(out, "curves-val_loss.png")) or fs.exists(fs.join(out, "curves-val_loss.svg")))
      assert.matches("![val_loss](curves-val_loss.", c.markdown, 1, true)
    else
      assert.matches("not drawn", table.concat(c.notes, "\n"))
    end
  end)

  it("labels: a bare run id keeps its parent; names override", function()
    local p = tmpdir()
    local r1, r2 = fs.join(p, "mlp", "20240101-120000-abcd"), fs.join(p, "cnn", "20240101-120000-abcd")
    write_run(r1, { history = history(1, 0, 0.1), metrics = { test = { acc = 0.9 } } })
    write_run(r2, { history = history(1, 0, 0.1), metrics = { test = { acc = 0.8 } } })
    local c = clara.compare({ r1, r2 }, { plots = false })
    assert.equal("mlp/20240101-120000-abcd", c.models[1].label)
    assert.equal("cnn/20240101-120000-abcd", c.models[2].label)
    c = clara.compare({ r1, r2 }, { plots = false, names = { "small", "big" } })
    assert.equal("big", c.models[2].label)
  end)

  it("a battery dir expands into its finished entries; a failed entry is left out", function()
    local bat = fs.join(tmpdir(), "bat")
    fs.mkdir_p(bat)
    write_json(fs.join(bat, "battery.json"), { name = "bat", entries = {
      { name = "lr=0.1", settings = { lr = 0.1 } }, { name = "lr=0.2", settings = { lr = 0.2 } },
      { name = "lr=0.3", settings = { lr = 0.3 } } } })
    write_cv(fs.join(bat, "lr=0.1"), fx.A)
    write_cv(fs.join(bat, "lr=0.2"), fx.B)
    fs.mkdir_p(fs.join(bat, "lr=0.3"))
    fs.write_atomic(fs.join(bat, "lr=0.3", "error.txt"), "out of memory\nmore\n")
    local c = clara.compare({ bat }, { plots = false })
    assert.equal(2, #c.models)
    assert.equal("lr=0.2", c.models[2].label)
    close(fx.tests.B_test_acc.t_p, c.tests[1].ttest.p)
    assert.matches("lr=0.3' failed: left out", table.concat(c.notes, "\n"), 1, true)
    -- the failed entry given on its own is an error
    assert.has_error(function() clara.compare({ A, fs.join(bat, "lr=0.3") }) end,
      "clara.compare: '" .. fs.join(bat, "lr=0.3") .. "' is a failed battery entry: out of memory")
  end)

  it("errors: not a run, fewer than two runs, a metric no run has; nothing written", function()
    local out = fs.join(tmpdir(), "never")
    local empty = tmpdir()
    assert.has_error(function() clara.compare({ A, empty }, { out = out }) end,
      "clara.compare: '" .. empty .. "' is not a run directory (no config.json, report.json or history.csv)")
    assert.has_error(function() clara.compare({ A, base .. "/nope" }, { out = out }) end,
      "clara.compare: '" .. base .. "/nope' is not a directory")
    assert.has_error(function() clara.compare({ A }, { out = out }) end,
      "clara.compare: at least two runs to compare needed, got 1 (from " .. A .. ")")
    assert.has_error(function() clara.compare({ A, B }, { metric = "f1", out = out }) end,
      "clara.compare: no run has the metric 'f1' (they have: val_acc, val_loss, test_acc, test_loss)")
    assert.has_error(function() clara.compare({ A, B }, { colour = "red" }) end, "clara.compare: unknown option 'colour' (known: alpha, metric, mode, names, out, plots)")
    assert.is_false(fs.exists(out))
    -- raised at the caller's line
    local ok, err = pcall(clara.compare, { A })
    assert.is_false(ok)
    assert.matches("^spec/compare_spec%.lua:%d+: clara%.compare", err)
  end)
end)

describe("clara.compare over real runs of clara.experiment", function()
  local base = tmpdir()
  torch.manual_seed(3)
  local x = torch.randn(240, 4)
  local y = x[{ {}, 1 }]:gt(0):long()
  local ds = clara.data.TensorDataset(x, y)
  local train = clara.data.TensorDataset(x[{ { 1, 200 } }], y[{ { 1, 200 } }])
  local test = clara.data.TensorDataset(x[{ { 201, 240 } }], y[{ { 201, 240 } }])
  local function experiment(lr, data)
    return clara.experiment {
      name = "tiny", data = data, verbose = false, out_dir = base, epochs = 2, batch_size = 40, seed = 1,
      model = function() return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)) end,
      objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
      optimizer = function(m) return optim.SGD(m, { lr = lr }) end,
    }
  end

  it("two runs: their report's metrics and history, no paired test", function()
    local r1 = experiment(0.05, { train = train, val = test, test = test }):run()
    local r2 = experiment(0.5, { train = train, val = test, test = test }):run()
    local c = clara.compare({ r1.dir, r2.dir }, { plots = false })
    local info = clara.run.read(r2.dir)
    assert.equal(info.report.metrics.test.acc, c.models[2].metrics.test_acc.value)
    assert.equal(info.report.metrics.val.loss, c.models[2].metrics.val_loss.value)
    assert.equal(2, c.models[2].epochs.value)
    local s = c.curves[1].series[2]
    assert.same({ 1, 2 }, s.x)
    assert.same({ info.history[1].val_loss, info.history[2].val_loss }, s.y)
    assert.is_false(c.tests[1].paired)
  end)

  it("two cross-validations on the same folds: a paired test over their fold values", function()
    if not clara.experiment.Experiment.cross_validate then pending("exp:cross_validate is not there yet"); return end
    local cv1 = experiment(0.05, { train = ds }):cross_validate { folds = 3, seed = 7 }
    local cv2 = experiment(0.5, { train = ds }):cross_validate { folds = 3, seed = 7 }
    local c = clara.compare({ cv1.dir, cv2.dir }, { metric = "val_acc", plots = false })
    local t = c.tests[1]
    assert.is_true(t.paired, t.reason)
    local a, b = {}, {}
    for i = 1, 3 do a[i], b[i] = cv1.folds[i].metrics.val.acc, cv2.folds[i].metrics.val.acc end
    assert.same(a, c.models[1].metrics.val_acc.values)
    local expect = clara.stats.ttest_rel(b, a)
    assert.equal(expect.p, t.ttest.p)
  end)
end)

describe("clara compare (command line)", function()
  local base = tmpdir()
  local A, B = fs.join(base, "A"), fs.join(base, "B")
  write_cv(A, fx.A)
  write_cv(B, fx.B)

  it("prints the Markdown comparison; --out writes the files", function()
    local out = fs.join(base, "cmp")
    local text, rc = sh(("%s compare %s %s --metric val_loss --out %s --no-plots"):format(CLARA, A, B, out))
    assert.equal(0, rc, text)
    assert.matches("# Model comparison", text, 1, true)
    assert.matches("## Paired tests on val_loss (lower is better), against A", text, 1, true)
    assert.matches("B is better than A on this data split.", text, 1, true)
    assert.matches("wrote " .. out .. "/compare.md", text, 1, true)
    assert.same({ "compare.json", "compare.md" }, listing(out))
  end)

  it("errors in one line: exit 1 for a bad directory or metric, 2 for usage", function()
    local text, rc = sh(("%s compare %s %s/nope"):format(CLARA, A, base))
    assert.equal(1, rc)
    assert.equal("clara compare: clara.compare: '" .. base .. "/nope' is not a directory\n", text)
    text, rc = sh(("%s compare %s %s --metric f1"):format(CLARA, A, B))
    assert.equal(1, rc)
    assert.matches("^clara compare: clara.compare: no run has the metric 'f1'", text)
    text, rc = sh(("%s compare %s"):format(CLARA, A))
    assert.equal(1, rc)
    assert.matches("at least two runs to compare needed, got 1", text, 1, true)
    text, rc = sh(CLARA .. " compare")
    assert.equal(2, rc)
    assert.matches("^clara compare: no run directories given\nusage: clara compare", text)
    text, rc = sh(CLARA .. " compare " .. A .. " --colour red")
    assert.equal(2, rc)
    assert.matches("unknown option '--colour'", text, 1, true)
  end)
end)
