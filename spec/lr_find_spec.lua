-- The learning-rate range test (exp:lr_find, `clara lr-find`): against
-- PyTorch 1.13 running the same sweep (spec/fixtures/lr_find.lua, written by
-- tests/fixtures/make_lr_find.py), against the analysis of a linear
-- regression whose gradient descent diverges beyond lr = 2/L, and on a copy:
-- the experiment, its runs and torch's RNG untouched.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/lr_find_spec.lua
local fs = require "clara.fs"
local LF = require "clara.train.lr_find"
local F = require "spec.helpers.fault"
local runs = require "spec.helpers.runs"
local fixture = dofile("spec/fixtures/lr_find.lua")

local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(cleanup)

local function T(spec) return torch.tensor(spec.data):view(table.unpack(spec.shape)) end

local function close(expected, got, rtol, what)
  local tol = rtol * math.abs(expected) + 1e-12
  assert(math.abs(expected - got) <= tol, ("%s: expected %.17g, got %.17g"):format(what, expected, got))
end

describe("lr_find against PyTorch", function()
  -- bitwise: the same libtorch kernels in the same order train the float32
  -- model, and the smoothing is the same double arithmetic as Python's
  for _, case in ipairs(fixture.cases) do
    it(case.name, function()
      local state = {}
      for k, v in pairs(case.state) do state[k] = T(v) end
      local exp = clara.experiment {
        name = "lr_" .. case.name, data = { train = { T(fixture.x), T(fixture.y) } }, out_dir = false,
        batch_size = case.batch_size, accumulate = case.accumulate, shuffle = false, verbose = false,
        model = function()
          local m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
          m:load_state_dict(state)
          return m
        end,
        objective = clara.losses.mse,
        optimizer = function(m) return optim[case.optimizer](m, case.options) end,
      }
      local r = exp:lr_find { start_lr = case.start_lr, end_lr = case.end_lr, num_iter = case.num_iter,
                              smooth = case.smooth, diverge = case.diverge }
      assert.are.equal(case.stopped, r.stopped)
      assert.are.equal(#case.lrs, #r.lrs)
      for i = 1, #case.lrs do
        assert.are.equal(case.lrs[i], r.lrs[i])
        assert.are.equal(case.raw[i], r.raw_losses[i], "raw loss " .. i)
        assert.are.equal(case.smoothed[i], r.losses[i], "smoothed loss " .. i)
      end
      assert.are.equal(case.suggestion_index, r.suggestion_index)
      assert.are.equal(case.suggestion, r.suggestion)
    end)
  end
end)

-- {====================== the analysis ======================

-- y = 3x over x = +-a (float64, no residual), w from 0, full batch: the MSE
-- loss is a^2 e^2 (e = w - 3), its curvature L = 2a^2, and gradient descent
-- gives e' = (1 - lr L) e: the loss falls while lr < 2/L and grows beyond.
local Scalar = nn.Module:extend("Scalar")
function Scalar:init() self.w = nn.Parameter(torch.zeros(1, { dtype = "float64" })) end
function Scalar:forward(x) return x * self.w end

local function regression(a)
  local x = torch.zeros(32, 1, { dtype = "float64" })
  for i = 1, 32 do x[i][1] = i % 2 == 0 and a or -a end
  return clara.experiment {
    name = "linear", data = { train = { x, x * 3 } }, batch_size = 32, shuffle = false, out_dir = false,
    verbose = false, model = function() return Scalar() end, objective = clara.losses.mse,
    optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
  }
end

-- the sweep by the analysis: losses from the recurrence, the same smoothing,
-- stop and suggestion rules as the module documents
local function analysis(a, o)
  local L, e = 2 * a * a, 3
  local lrs, raw, smoothed = {}, {}, {}
  local beta, avg, best = 1 - o.smooth, 0, nil
  for i = 0, o.num_iter - 1 do
    local lr = o.start_lr * (o.end_lr / o.start_lr) ^ (i / (o.num_iter - 1))
    local loss = a * a * e * e
    e = (1 - lr * L) * e
    lrs[#lrs + 1], raw[#raw + 1] = lr, loss
    avg = beta * avg + (1 - beta) * loss
    smoothed[#smoothed + 1] = avg / (1 - beta ^ (i + 1))
    if i > 0 and smoothed[#smoothed] > o.diverge * best then break end
    if best == nil or smoothed[#smoothed] < best then best = smoothed[#smoothed] end
  end
  -- the steepest descent: the minimum of the central differences
  local g, at = math.huge, nil
  for i = 11, #smoothed - 1 do
    local d = i == 11 and smoothed[12] - smoothed[11] or i == #smoothed - 1 and smoothed[i] - smoothed[i - 1]
              or (smoothed[i + 1] - smoothed[i - 1]) / 2
    if d < g then g, at = d, i end
  end
  return { lrs = lrs, raw = raw, smoothed = smoothed, suggestion_index = at, L = L }
end

describe("lr_find on a linear regression (the analysis)", function()
  for _, a in ipairs { 1, 2 } do
    it(("diverges past lr = 2/L and suggests a rate below it (L = %d)"):format(2 * a * a), function()
      local o = { start_lr = 1e-3, end_lr = 10, num_iter = 60, smooth = 0.05, diverge = 4 }
      local r = regression(a):lr_find(o)
      local want = analysis(a, o)
      local critical = 2 / want.L
      assert.are.equal("diverged", r.stopped)
      assert.are.equal(#want.lrs, #r.lrs)
      -- 1e-6: e = w - 3 passes through ~1e-8, where w's float64 rounding
      -- (~4e-16) is a relative 1e-8 of it, which the later steps carry
      for i = 1, #r.lrs do close(want.raw[i], r.raw_losses[i], 1e-6, "loss " .. i) end
      assert.are.equal(want.suggestion_index, r.suggestion_index)
      -- where the analysis says: the loss falls at every step whose lr is
      -- below 2/L, rises at every step above it; the test stops beyond it,
      -- the suggestion lies below it
      for i = 1, #r.lrs - 1 do
        if r.lrs[i] < critical then
          assert.is_true(r.raw_losses[i + 1] < r.raw_losses[i], "falls at step " .. i)
        else
          assert.is_true(r.raw_losses[i + 1] > r.raw_losses[i], "rises at step " .. i)
        end
      end
      assert.is_true(r.lrs[#r.lrs] > critical)
      assert.is_true(r.suggestion < critical and r.suggestion > o.start_lr)
    end)
  end

  it("runs every step without a divergence limit (diverge = false)", function()
    local r = regression(1):lr_find { start_lr = 1e-3, end_lr = 3, num_iter = 30, diverge = false }
    assert.are.equal(30, #r.lrs); assert.are.equal("num_iter", r.stopped)
    assert.are.equal(3, r.lrs[30]); assert.are.equal(1e-3, r.lrs[1])
  end)

  it("stops at a non-finite loss, which the suggestion leaves out", function()
    local r = regression(1):lr_find { start_lr = 1e-3, end_lr = 1e12, num_iter = 200, diverge = false }
    assert.are.equal("nonfinite", r.stopped)
    assert.is_true(#r.lrs < 200)
    local last = r.raw_losses[#r.raw_losses]
    assert.is_true(last ~= last or last == math.huge)
    for i = 1, #r.lrs - 1 do assert.is_true(r.raw_losses[i] < math.huge) end
    assert.is_true(r.suggestion < 1)
  end)
end)

describe("the suggestion (Lightning's rule)", function()
  it("is the lr at the minimum of np.gradient of the smoothed losses, skipping the ends", function()
    local lrs, losses = {}, {}
    for i = 1, 20 do lrs[i] = i / 100; losses[i] = 100 - i end
    losses[15] = 50   -- the steepest fall is into point 15: np.gradient is least at 14
    assert.are.same({ 0.14, 14 }, { LF.suggestion(lrs, losses, 10, 1) })
    losses[16] = 0 / 0  -- a non-finite point is left out, the indices stay the losses'
    assert.are.same({ 0.14, 14 }, { LF.suggestion(lrs, losses, 10, 1) })
    assert.is_nil(LF.suggestion(lrs, losses, 18, 1))
    assert.are.same({ 0.01, 1 }, { LF.suggestion({ 0.01, 0.02 }, { 1, 2 }, 0, 0) })
  end)
end)
-- }================================================================

describe("lr_find on a copy", function()
  local function spec(over)
    local t = dofile("spec/helpers/resume_experiment.lua")
    for k, v in pairs(over or {}) do t[k] = v end
    return t
  end
  local function same_run(a, b)
    for k, t in pairs(a.model:state_dict()) do assert.is_true(torch.equal(t, b.model:state_dict()[k]), k) end
    for e, row in ipairs(a.history) do
      for k, v in pairs(row) do if k ~= "time" then assert.are.equal(v, b.history[e][k], k) end end
    end
  end

  it("leaves the experiment, its runs and torch's RNG as they were", function()
    for _, seed in ipairs { 7, false } do
      local out = tmpdir()
      local exp = clara.experiment(spec { out_dir = out, seed = seed or nil, epochs = 2 })
      torch.manual_seed(99)
      local plain = exp:run()
      local fields = {}
      for k, v in pairs(exp) do fields[k] = v end
      local hp = { lr = exp.hparams.lr, hidden = exp.hparams.hidden }
      torch.manual_seed(99)
      local before = runs(fs.join(out, "resume_mlp"))
      local rng = torch.get_rng_state()
      local r = exp:lr_find { num_iter = 30, start_lr = 1e-4 }
      assert.is_true(torch.equal(rng, torch.get_rng_state()))
      assert.are.same(before, runs(fs.join(out, "resume_mlp")))
      assert.is_nil(r.files)
      for k, v in pairs(exp) do assert.are.equal(fields[k], v, k) end
      assert.are.same(hp, exp.hparams)
      local after = exp:run()
      same_run(plain, after)
    end
  end)

  it("writes the CSV and the plot (log lr axis) into out", function()
    local out = fs.join(tmpdir(), "lr")
    local exp = clara.experiment(spec { out_dir = false })
    local r = exp:lr_find { num_iter = 25, start_lr = 1e-4, end_lr = 10, out = out }
    local lines = {}
    for line in fs.read(fs.join(out, "lr_find.csv")):gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal("step,lr,loss,smoothed_loss", lines[1])
    assert.are.equal(#r.lrs + 1, #lines)
    local step, lr, loss, smoothed = lines[2]:match("^(%d+),([^,]+),([^,]+),([^,]+)$")
    assert.are.equal("1", step)
    assert.are.equal(r.lrs[1], tonumber(lr))
    assert.are.equal(r.raw_losses[1], tonumber(loss))
    assert.are.equal(r.losses[1], tonumber(smoothed))
    assert.matches("set logscale x", fs.read(fs.join(out, "lr_find.gp")), 1, true)
    for _, k in ipairs { "png", "svg" } do
      if r.files[k] then assert.is_true(fs.exists(r.files[k])) end
    end
    assert.is_truthy(r.files.png or r.files.svg)
  end)
end)

describe("`clara lr-find`", function()
  it("prints the suggestion and writes into --out", function()
    local out = tmpdir()
    local text, rc = F.clara(("lr-find spec/helpers/resume_experiment.lua --num-iter 30 --start-lr 1e-4 --out %s")
      :format(out))
    assert.are.equal(0, rc, text)
    assert.matches("suggested learning rate: %d", text)
    assert.is_true(fs.exists(fs.join(out, "lr_find.csv")))
    local q, rc2 = F.clara(("lr-find spec/helpers/resume_experiment.lua -q --num-iter 30 --start-lr 1e-4 "
      .. "--no-plot --set hidden=8 --out %s"):format(tmpdir()))
    assert.are.equal(0, rc2, q)
    assert.truthy(tonumber((q:gsub("%s+$", ""))), q)
  end)
  it("has --help, and refuses bad command lines", function()
    local help, rc = F.clara("lr-find --help")
    assert.are.equal(0, rc)
    assert.matches("usage: clara lr-find exp.lua", help, 1, true)
    assert.matches("--num-iter N", help, 1, true)
    local cases = {
      { "lr-find", 2, "no experiment script given" },
      { "lr-find spec/helpers/resume_experiment.lua --start-lr x", 2, "--start-lr expects a number > 0, got 'x'" },
      { "lr-find spec/helpers/resume_experiment.lua --num-iter 0", 2, "--num-iter expects a positive integer" },
      { "lr-find spec/helpers/resume_experiment.lua --start-lr 1 --end-lr 0.1", 1,
        "start_lr (1) must be smaller than end_lr (0.1)" },
      { "lr-find spec/helpers/resume_experiment.lua --smooth 1", 1, "smooth must be < 1, got 1" },
      { "lr-find spec/helpers/resume_experiment.lua --set hiden=3", 1, "unknown setting 'hiden'" },
    }
    for _, c in ipairs(cases) do
      local text, code = F.clara(c[1])
      assert.are.equal(c[2], code, c[1] .. ": " .. text)
      assert.matches(c[3], text, 1, true)
    end
  end)
end)

describe("bad calls", function()
  local exp = clara.experiment(dofile("spec/helpers/resume_experiment.lua"))
  local function fails(opts, pattern)
    local ok, err = pcall(function() exp:lr_find(opts) end)
    assert.is_false(ok)
    assert.matches(pattern, tostring(err), 1, true)
    assert.matches("^spec/lr_find_spec%.lua:%d+: clara%.experiment: lr_find", tostring(err))
  end
  it("names the option and what it must be", function()
    fails({ start_lr = 0 }, "start_lr must be > 0, got 0")
    fails({ start_lr = 1, end_lr = 1 }, "start_lr (1) must be smaller than end_lr (1)")
    fails({ num_iter = 1 }, "num_iter must be >= 2, got 1")
    fails({ num_iter = 2.5 }, "num_iter must be an integer")
    fails({ smooth = 1 }, "smooth must be < 1, got 1")
    fails({ smooth = 0 / 0 }, "smooth must be a number, got nan")
    fails({ diverge = 0 }, "diverge must be a number > 0 (or false: never stop early), got 0")
    fails({ diverge = true }, "diverge must be a number > 0 (or false: never stop early), got true")
    fails({ num_iters = 5 }, "unknown option 'num_iters' (did you mean 'num_iter'?)")
    fails({ out = 3 }, "out must be a string, got 3")
    fails("fast", "options must be a table")
  end)
  it("says when the data yields nothing", function()
    local empty = exp:with { data = { train = { torch.zeros(0, 4), torch.zeros(0):long() } } }
    local ok, err = pcall(function() empty:lr_find { num_iter = 3 } end)
    assert.is_false(ok)
    assert.matches("the training data yields no batches", tostring(err), 1, true)
  end)
end)
