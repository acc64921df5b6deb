-- impl = "fast" (clara.train.fast, the fused C step) gives the clear loop's
-- results: the same history, number for number, and the same final
-- weights and optimizer state, bitwise: every operation the fused step
-- runs is the one the Lua code runs, in the same order.
local fast = require "clara.train.fast"
local L, T = clara.losses, clara.transforms
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

-- 1. running an experiment under either loop: impl = "fast" once
-- clara.experiment knows it; until then the fast loop stands in for clear
local function run(spec, impl, opts)
  if impl == "fast" and pcall(clara.experiment, { model = spec.model, optimizer = spec.optimizer,
      data = spec.data, objective = spec.objective, impl = "fast" }) then
    spec.impl = "fast"
    return clara.experiment(spec):run(opts)
  end
  spec.impl = nil
  local exp = clara.experiment(spec)
  if impl ~= "fast" then return exp:run(opts) end
  local real = package.loaded["clara.train.clear"]
  package.loaded["clara.train.clear"] = fast
  local ok, r = pcall(exp.run, exp, opts)
  package.loaded["clara.train.clear"] = real
  if not ok then error(r, 0) end
  return r
end

-- 2. a small classification or regression experiment; over: changes
local function classification(n, seed)
  local g = torch.manual_seed(seed)
  local x = torch.randn(n, 6)
  local y = (x[{ {}, 1 }] + x[{ {}, 2 }] * 0.5):gt(0):long() + (x[{ {}, 3 }]:gt(0.5)):long()
  return clara.data.TensorDataset(x, y)
end

local function regression(n, seed)
  torch.manual_seed(seed)
  local x = torch.randn(n, 5)
  local y = x:matmul(torch.randn(5, 2)) + torch.randn(n, 2) * 0.1
  return clara.data.TensorDataset(x, y)
end

local function mlp(n_in, n_out)
  return function() return nn.Sequential(nn.Linear(n_in, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, n_out)) end
end

local function spec_of(over)
  local t = {
    name = "fast_spec", data = { train = classification(150, 1), val = classification(40, 2), test = classification(30, 3) },
    model = mlp(6, 3), objective = L.cross_entropy,
    metrics = { acc = clara.metrics.accuracy },
    optimizer = function(m) return optim.SGD(m, { lr = 0.1, momentum = 0.9 }) end,
    batch_size = 16, epochs = 3, seed = 11, verbose = false, out_dir = false,
  }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

-- 3. the comparisons: every number of every row but the time, the final
-- numbers, the weights and the optimizer's state, bitwise
local function num(v) return type(v) == "number" and ("%.17g"):format(v) or tostring(v) end

local function same_number(a, b, what)
  if a ~= a and b ~= b then return end
  assert(a == b, ("%s: clear %s, fast %s"):format(what, num(a), num(b)))
end

local function same_rows(ra, rb, what)
  for k, v in pairs(ra) do
    if k ~= "time" then
      if type(v) == "number" then same_number(v, rb[k], what .. " " .. k) else assert.are.same(v, rb[k], what .. " " .. k) end
    end
  end
  for k in pairs(rb) do assert(ra[k] ~= nil, what .. ": fast has an extra column " .. k) end
end

local function same_tensors(a, b, what)
  local n = 0
  for k, t in pairs(a) do
    n = n + 1
    if torch.is_tensor(t) then
      assert(torch.equal(t, b[k]), what .. " " .. k .. " differs")
    elseif type(t) == "table" then
      same_tensors(t, b[k], what .. " " .. k)
    else
      same_number(t, b[k], what .. " " .. k)
    end
  end
  assert.is_true(n > 0, what .. ": nothing compared")
end

local function assert_same(clear, fst)
  assert.are.equal(#clear.history, #fst.history)
  for i, row in ipairs(clear.history) do same_rows(row, fst.history[i], "epoch " .. i) end
  for split, t in pairs(clear.final) do same_rows(t, fst.final[split], "final " .. split) end
  for split in pairs(fst.final) do assert(clear.final[split], "fast has a final " .. split) end
  assert.are.equal(clear.steps, fst.steps)
  assert.are.equal(clear.skipped, fst.skipped)
  assert.are.same(clear.best, fst.best)
  assert.are.same(clear.confusion, fst.confusion)
  same_tensors(clear.model:state_dict(), fst.model:state_dict(), "weight")
  if type(clear.optimizer.state_dict) == "function" then
    same_tensors(clear.optimizer:state_dict().state, fst.optimizer:state_dict().state, "optimizer state")
  end
end

-- both loops on the same spec; fused: the fast run must have used C
local function compare(over, fused)
  local clear = run(spec_of(over), "clear")
  local fst = run(spec_of(over), "fast")
  assert_same(clear, fst)
  if fused ~= false then
    assert.is_nil(fast.last_run.reason)
    assert.is_true(fast.last_run.fused > 0)
  end
  return clear, fst
end

describe("impl = 'fast'", function()
  it("MLP, cross_entropy, SGD momentum, accuracy: the same history and weights, all in C", function()
    local clear = compare({})
    assert.are.equal(0, fast.last_run.in_lua)
    -- the test can fail: another seed trains otherwise
    local other = run(spec_of { seed = 12 }, "fast")
    assert.are_not.equal(clear.history[3].train_loss, other.history[3].train_loss)
  end)

  it("Adam, a per-batch scheduler and a confusion matrix metric (updated in Lua)", function()
    compare {
      optimizer = function(m) return optim.Adam(m, { lr = 0.01 }) end,
      scheduler = function(o) return optim.lr_scheduler.StepLR(o, { step_size = 4, gamma = 0.5 }) end,
      scheduler_step = "batch",
      metrics = { acc = clara.metrics.accuracy, cm = clara.metrics.confusion_matrix, f1 = clara.metrics.f1 { average = "macro" } },
    }
  end)

  it("MSE regression with mae and r2, AdamW, an epoch scheduler", function()
    compare {
      data = { train = regression(120, 1), val = regression(30, 2) }, model = mlp(5, 2), objective = L.mse,
      metrics = { mae = clara.metrics.mae, r2 = clara.metrics.r2 },
      optimizer = function(m) return optim.AdamW(m, { lr = 0.01 }) end,
      scheduler = function(o) return optim.lr_scheduler.StepLR(o, { step_size = 1, gamma = 0.7 }) end,
    }
  end)

  it("l1, nll (after LogSoftmax) and bce_with_logits, a weighted term", function()
    compare { data = { train = regression(80, 4), val = regression(20, 5) }, model = mlp(5, 2), objective = L.l1, metrics = {} }
    compare {
      model = function() return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(2)) end,
      objective = { terms = { { name = "nll", loss = L.nll, weight = 0.5 } } },
    }
    local function binary(n, seed)
      local ds = classification(n, seed)
      return clara.data.TensorDataset(ds.tensors[1], ds.tensors[2]:gt(0):float():view(-1, 1))
    end
    compare { data = { train = binary(90, 6), val = binary(20, 7) }, model = mlp(6, 1),
              objective = L.bce_with_logits, metrics = {} }
  end)

  it("a small CNN with BatchNorm in nested Sequentials, Adagrad", function()
    local function images(n, seed)
      torch.manual_seed(seed)
      local x = torch.randn(n, 1, 8, 8)
      return clara.data.TensorDataset(x, x:mean(3):mean(3):view(-1):gt(0):long())
    end
    compare {
      data = { train = images(64, 1), val = images(16, 2) },
      model = function()
        return nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 3, { padding = 1 }), nn.BatchNorm2d(4), nn.ReLU()),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Sequential(nn.Linear(64, 2)))
      end,
      optimizer = function(m) return optim.Adagrad(m, { lr = 0.05 }) end, epochs = 2,
    }
  end)

  it("drop_last, no shuffle, train_metrics = false, final_train, early stopping and best weights", function()
    local clear = compare { drop_last = true, shuffle = false, train_metrics = false, final_train = true,
                            patience = 1, epochs = 6, monitor = "val_acc",
                            optimizer = function(m) return optim.SGD(m, { lr = 0.5, momentum = 0.9 }) end }
    assert.is_not_nil(clear.final.train)
    assert.is_nil(clear.history[1].train_acc)
    assert.are.equal("early_stopping", clear.stopped)   -- before epoch 6
    assert.is_not_nil(clear.restored)
  end)

  it("accumulate = 2 with an uneven last step, RMSprop", function()
    compare { accumulate = 2, batch_size = 8, data = { train = classification(100, 8), val = classification(20, 9) },
              optimizer = function(m) return optim.RMSprop(m, { lr = 0.01, momentum = 0.5 }) end }
  end)

  it("preprocess, a Subset split, eval_batch_size, max_steps, a non-libtorch optimizer", function()
    local ds = classification(200, 10)
    local part = clara.data.split(ds.tensors[2], { ratios = { 0.8, 0.2 }, seed = 3 })
    local clear = compare {
      data = { dataset = ds, split = part }, preprocess = T.chain { T.Scale(0.5) }, eval_batch_size = 7,
      max_steps = 20, optimizer = function(m) return optim.clear.SGD(m:parameters(), { lr = 0.1, momentum = 0.9 }) end,
    }
    assert.are.equal(20, clear.steps)
    assert.are.equal("max_steps", clear.history[#clear.history].stopped)
  end)

  it("hooks see the clear loop's ctx.loss, ctx.terms and sums, and can stop", function()
    local function hooks(log)
      return {
        on_batch_start = function(ctx) log[#log + 1] = { "start", ctx.batch, ctx.sums.n, ctx.sums.loss } end,
        on_batch_end = function(ctx) log[#log + 1] = { ctx.batch, ctx.loss, ctx.terms.raw.loss, ctx.sums.n } end,
        on_step_end = function(ctx)
          log[#log + 1] = { ctx.step, ctx.loss, ctx.sums.loss }
          if ctx.step == 12 then ctx.stop = true end
        end,
      }
    end
    -- a progress display that keeps the running stats it is shown
    local function display(log)
      return { epoch_start = function() end, epoch_end = function() end, line = function() end,
               step = function(_, step, stats) log[#log + 1] = { step, stats } end }
    end
    local a, b = {}, {}
    local clear = run(spec_of { hooks = hooks(a), accumulate = 2, progress = display(a) }, "clear")
    local fst = run(spec_of { hooks = hooks(b), accumulate = 2, progress = display(b) }, "fast")
    assert_same(clear, fst)
    assert.are.same(a, b)
    assert.are.equal(12, fst.steps)
    assert.is_true(#a > 24)
  end)

  it("raises a module's own error, as the clear loop does", function()
    local over = { model = function() return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)) end }
    local ok1, e1 = pcall(run, spec_of(over), "clear")
    local ok2, e2 = pcall(run, spec_of(over), "fast")
    assert.is_false(ok1); assert.is_false(ok2)
    assert.matches("Linear%(in_features=5", e1)
    -- the same words (the position is the loop's own file, where forward runs)
    local function words(e) return (e:gsub("^[^:]*:%d+: ", "")) end
    assert.are.equal(words(e1), words(e2))
  end)

  it("falls back to the clear loop for a Lua module, and matches", function()
    local Scale = nn.Module:extend("FastSpecScale")
    function Scale:init(n) self.weight = nn.Parameter(torch.ones(n)) end
    function Scale:forward(x) return x * self.weight end
    compare({ model = function() return nn.Sequential(nn.Linear(6, 8), Scale(8), nn.Tanh(), nn.Linear(8, 3)) end }, false)
    assert.matches("not a chain of native modules", fast.last_run.reason)
    compare({ objective = function(o, t) return L.cross_entropy(o, t, { label_smoothing = 0.1 }) end }, false)
    assert.matches("objective", fast.last_run.reason)
  end)

  it("finishes in Lua the batches C does not cover (class probabilities as targets)", function()
    local function soft(n, seed)
      local ds = classification(n, seed)
      return clara.data.TensorDataset(ds.tensors[1], torch.eye(3):index_select(1, ds.tensors[2]))
    end
    compare({ data = { train = soft(60, 1), val = soft(20, 2) }, metrics = {} }, false)
    assert.is_nil(fast.last_run.reason)
    assert.is_true(fast.last_run.in_lua > 0)
  end)

  it("names a non-finite loss as the clear loop does, and skips it the same way", function()
    local function poisoned(n, seed)
      local ds = classification(n, seed)
      local x = ds.tensors[1]:clone()
      x[{ 37, 1 }] = 0 / 0
      return clara.data.TensorDataset(x, ds.tensors[2])
    end
    local over = { data = { train = poisoned(100, 1) }, shuffle = false, metrics = {} }
    local ok1, e1 = pcall(run, spec_of(over), "clear")
    local ok2, e2 = pcall(run, spec_of(over), "fast")
    assert.is_false(ok1); assert.is_false(ok2)
    assert.matches("non%-finite loss in train at epoch 1, batch 3: term 'loss' is %-?nan", e1)
    -- the same message, each at its own caller's line
    assert.are.equal((e1:gsub("^[^:]*:%d+: ", "")), (e2:gsub("^[^:]*:%d+: ", "")))
    over.on_nonfinite = "skip"
    over.data = { train = poisoned(100, 1), val = poisoned(100, 1) }
    local clear = compare(over)
    assert.are.equal(3, clear.skipped)
  end)

  it("resumes a run cut mid-epoch to the weights of an uninterrupted one, bitwise", function()
    local over = { metrics = { acc = clara.metrics.accuracy, cm = clara.metrics.confusion_matrix },
                   scheduler = function(o) return optim.lr_scheduler.StepLR(o, { step_size = 1, gamma = 0.7 }) end }
    local reference = run(spec_of(over), "fast")
    for _, k in ipairs { 7, 10, 23 } do -- 10 steps per epoch
      over.out_dir, over.checkpoint_every = tmpdir(), 1
      over.hooks = { on_step_end = function(ctx) if ctx.step == k then error("crash at step " .. k, 0) end end }
      local ok, err = pcall(run, spec_of(over), "fast")
      assert.is_false(ok); assert.matches("crash at step", err)
      over.hooks = nil
      local r = run(spec_of(over), "fast", { resume = true })
      assert.are.equal(30, r.steps)
      assert_same(reference, r)
    end
    -- a signal stops the run at a step boundary, with a checkpoint
    over.out_dir, over.handle_signals = tmpdir(), true
    over.hooks = { on_step_end = function(ctx) if ctx.step == 16 then clara.signal.raise("TERM") end end }
    local cut = run(spec_of(over), "fast")
    assert.are.equal("TERM", cut.interrupted)
    assert.are.equal(16, cut.steps)
    over.hooks, over.handle_signals = nil, nil
    assert_same(reference, run(spec_of(over), "fast", { resume = cut.dir }))
    -- and the clear loop resumes the fast loop's checkpoint to the same end
    over.hooks = { on_step_end = function(ctx) if ctx.step == 14 then error("crash", 0) end end }
    over.out_dir = tmpdir()
    assert.is_false(pcall(run, spec_of(over), "fast"))
    over.hooks = nil
    assert_same(reference, run(spec_of(over), "clear", { resume = true }))
  end)
end)
