-- DataLoader{workers = n, prefetch = k}: batches loaded by C threads are
-- the batches of workers = 0, bitwise and in order, through resumes and
-- whole experiments; failures, early breaks and bad options end cleanly.
-- (Images and augmentation: spec/loader_workers_images_spec.lua.)
local DataLoader = clara.data.DataLoader
local T = clara.transforms
local assert_same_weights = dofile("spec/helpers/same_weights.lua")
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local same_batches = dofile("spec/helpers/same_batches.lua")

local function images(n, seed)
  torch.manual_seed(seed)
  return clara.data.TensorDataset(torch.randn(n, 1, 6, 6), torch.randint(0, 10, { n }),
    torch.randint(0, 255, { n, 3 }, { dtype = "uint8" }))
end

describe("DataLoader workers", function()
  it("deliver the batches of workers = 0, bitwise, epoch after epoch", function()
    local ds = images(203, 1)
    for _, o in ipairs {
      { batch_size = 16, shuffle = true, seed = 5 },
      { batch_size = 16, shuffle = true, seed = 5, drop_last = true },
      { batch_size = 7 },
      { batch_size = 300, shuffle = true, seed = 2 },
      { batch_size = 10, shuffle = true, seed = 3, num_replicas = 3, rank = 1 },
    } do
      local plain, threaded = {}, { workers = 2, prefetch = 3 }
      for k, v in pairs(o) do plain[k], threaded[k] = v, v end
      local a, b = DataLoader(ds, plain), DataLoader(ds, threaded)
      assert.matches("2 workers, prefetch 3", tostring(b))
      for e = 1, 3 do
        assert.are.equal(#a, same_batches(a, b, ("batch_size %d epoch %d"):format(o.batch_size, e)))
      end
      b:close()
    end
  end)

  it("draw the same unseeded shuffles from torch's generator", function()
    local ds = images(50, 2)
    torch.manual_seed(11)
    local a = DataLoader(ds, { batch_size = 8, shuffle = true })
    local ra = {}
    for xb in a do ra[#ra + 1] = xb end
    torch.manual_seed(11)
    local b = DataLoader(ds, { batch_size = 8, shuffle = true, workers = 1, prefetch = 5 })
    local k = 0
    for xb in b do
      k = k + 1
      assert.is_true(torch.equal(ra[k], xb))
    end
    assert.are.equal(#ra, k)
  end)

  it("load Subsets of in-memory data in the workers, and other datasets on the main thread", function()
    local ds = images(120, 3)
    local sub = clara.data.Subset(ds, torch.arange(100, 0, -3, { dtype = "int64" }))
    local o = { batch_size = 9, shuffle = true, seed = 4 }
    local a = DataLoader(sub, o)
    o.workers = 2
    local b = DataLoader(sub, o)
    assert.matches("2 workers", tostring(b))
    same_batches(a, b, "Subset")
    local cat = clara.data.Concat { ds, sub }
    local c = DataLoader(cat, o)
    assert.is_nil(tostring(c):find("workers"))
    o.workers = nil
    same_batches(DataLoader(cat, o), c, "Concat")
  end)

  it("resume mid-epoch exactly from a state taken with batches in flight", function()
    local ds = images(100, 4)
    local o = { batch_size = 8, shuffle = true, seed = 9, workers = 2, prefetch = 4 }
    local first = DataLoader(ds, o)
    local it = first:iter()
    for _ = 1, 5 do it() end
    local s = first:state()
    assert.are.equal(5, s.batch)
    first:close()
    local plain = DataLoader(ds, { batch_size = 8, shuffle = true, seed = 9 })
    local threaded = DataLoader(ds, o)
    plain:set_state(s)
    threaded:set_state(s)
    assert.are.equal(#plain - 5, same_batches(plain, threaded, "resumed epoch"))
    same_batches(plain, threaded, "the epoch after")
  end)

  it("end cleanly when an epoch is left early, again and again", function()
    local ds = images(400, 5)
    local b = DataLoader(ds, { batch_size = 4, shuffle = true, seed = 1, workers = 2, prefetch = 8 })
    for k = 1, 300 do
      for xb in b do
        if k % 3 == 0 then break end
        break
      end
    end
    -- an abandoned iterator is superseded by the next epoch's, and says so
    local old = b:iter()
    old()
    local new = b:iter()
    assert.is_not_nil(new())
    local ok, err = pcall(old)
    assert.is_false(ok)
    assert.matches("DataLoader: this epoch's iterator was superseded", err)
    -- loaders dropped with batches in flight are collected without harm
    for _ = 1, 50 do
      local l = DataLoader(ds, { batch_size = 4, workers = 2, prefetch = 6 })
      l:iter()()
    end
    collectgarbage(); collectgarbage()
    -- closed, a loader starts new threads when used again
    b:close(); b:close()
    local n = 0
    for _ in b do n = n + 1 end
    assert.are.equal(#b, n)
  end)

  it("raise a worker's failure on the main thread, naming the batch", function()
    -- a dataset whose rows for batch 2 point past its tensor's end
    local x = torch.arange(0, 20):reshape(10, 2)
    local ds = setmetatable({}, { __len = function() return 10 end, __index = {
      get = function(_, i) return x[i] end,
      sources = function(_, idx)
        if idx:numel() > 0 and idx[1]:item() == 4 then return { x }, idx + 100 end
        return { x }, idx
      end } })
    local l = DataLoader(ds, { batch_size = 4, workers = 2, prefetch = 3 })
    local it = l:iter()
    assert.is_true(torch.equal(x:narrow(1, 1, 4), it()))
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.matches("DataLoader: a worker failed: batch 2 of epoch 1: index 104 out of range for 10 rows", err, 1, true)
    -- the loader is usable again: a new epoch
    assert.is_true(torch.equal(x:narrow(1, 1, 4), l:iter()()))
  end)

  it("refuse bad workers and prefetch options with clear errors", function()
    local ds = images(10, 6)
    local cases = {
      { { workers = -1 }, "DataLoader: workers must be >= 0, got -1" },
      { { workers = "2" }, "DataLoader: workers must be an integer, got '2'" },
      { { workers = 1.5 }, "DataLoader: workers must be an integer, got 1.5" },
      { { workers = 65 }, "DataLoader: workers must be <= 64, got 65" },
      { { workers = 2, prefetch = 0 }, "DataLoader: prefetch must be >= 1, got 0" },
      { { workers = 2, prefetch = 2.5 }, "DataLoader: prefetch must be an integer, got 2.5" },
      { { worker = 2 }, "did you mean 'workers'" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(DataLoader, ds, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
  end)
end)

describe("experiments with workers", function()
  -- resume_experiment.lua with over's settings; as_images: its 4-feature
  -- rows seen as (N, 1, 2, 2) images, cropped with padding and flipped
  local function make(over, as_images)
    local t = dofile("spec/helpers/resume_experiment.lua")
    if as_images then
      local function grid(ds) return clara.data.TensorDataset(ds.tensors[1]:reshape(-1, 1, 2, 2), ds.tensors[2]) end
      t.data = { train = grid(t.data.train), val = grid(t.data.val) }
      local mlp = t.model
      t.model = function(hp) return nn.Sequential(nn.Flatten(), mlp(hp)) end
      t.augment = T.chain { T.batch.random_crop { size = 2, padding = 1 }, T.batch.flip {} }
    end
    for k, v in pairs(over or {}) do t[k] = v end
    if t.augment == "none" then t.augment = nil end
    return clara.experiment(t)
  end
  local function experiment(over) return make(over, false) end
  local function images_experiment(over) return make(over, true) end

  for _, impl in ipairs { "clear", "fast" } do
    it("train to the same weights as without (" .. impl .. ")", function()
      local a = experiment({ out_dir = false, impl = impl }):run()
      local b = experiment({ out_dir = false, impl = impl, workers = 2, prefetch = 3 }):run()
      assert_same_weights(a.model, b.model, "workers = 2, " .. impl)
      assert.are.same(a.confusion, b.confusion)
    end)
  end

  for _, impl in ipairs { "clear", "fast" } do
    it("augment the training batches alike with and without workers (" .. impl .. ")", function()
      local a = images_experiment({ out_dir = false, impl = impl }):run()
      local b = images_experiment({ out_dir = false, impl = impl, workers = 2, prefetch = 3 }):run()
      assert_same_weights(a.model, b.model, "augment, workers = 2, " .. impl)
      -- the augmentation is real: without it the weights differ
      local c = images_experiment({ out_dir = false, impl = impl, augment = "none" }):run()
      assert.is_false(torch.equal(a.model:parameters()[1], c.model:parameters()[1]))
    end)
  end

  -- a run with workers that crashes at step 17, resumed: the weights of make{} uninterrupted
  local function crash_and_resume(make, what)
    local reference = make({ out_dir = false }):run()
    local exp = make { out_dir = tmpdir(), checkpoint_every = 1, workers = 2, prefetch = 3 }
    local ok, err = pcall(function()
      exp:with { hooks = { on_step_end = function(ctx) if ctx.step == 17 then error("crash", 0) end end } }:run()
    end)
    assert.is_false(ok); assert.matches("crash", err)
    assert_same_weights(exp:run({ resume = true }).model, reference.model, what)
  end

  it("resume a crashed run with workers to the weights of an uninterrupted one", function()
    crash_and_resume(experiment, "resumed with workers")
    crash_and_resume(images_experiment, "augmented, resumed with workers")
  end)

  it("refuse bad workers and prefetch settings", function()
    for _, c in ipairs {
      { { workers = -1 }, "clara.experiment: workers must be an integer >= 0, got -1" },
      { { workers = 1.5 }, "clara.experiment: workers must be an integer >= 0, got 1.5" },
      { { workers = "2" }, "clara.experiment: workers must be an integer >= 0, got '2'" },
      { { prefetch = 0 }, "clara.experiment: prefetch must be an integer >= 1, got 0" },
    } do
      local ok, err = pcall(experiment, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
  end)
end)

describe("a signal during a run with workers", function()
  local F = require "spec.helpers.fault"
  teardown(F.cleanup)

  for _, name in ipairs { "TERM", "INT" } do
    it("SIG" .. name .. ": the loop stops at a step, exit 75 without a hang; the resume finishes", function()
      local dir = F.tmpdir()
      local script = require("clara.fs").join(dir, "exp_workers.lua")
      require("clara.fs").write_atomic(script, ("local e = dofile(%q)\ne.workers, e.prefetch = 2, 3\nreturn e\n")
        :format(F.experiment(dir)))
      local out, rc = F.clara("run " .. script, { FAULT_SIGNAL = "epoch_end:1", FAULT_SIGNAL_NAME = name })
      assert.are.equal(75, rc, out)
      local r = F.runs(dir)[1]
      out, rc = F.clara("run " .. script .. " --resume=" .. r)
      assert.are.equal(0, rc, out)
      assert.are.same({ 1, 2, 3 }, F.epochs(r))
    end)
  end
end)

describe("data-parallel ranks with workers", function()
  it("each rank's own threads: 2 ranks end with the weights of workers = 0, bitwise", function()
    local fs = require "clara.fs"
    local sh = require("spec.helpers.shell").sh
    local weights = {}
    for _, w in ipairs { 0, 2 } do
      local out = fs.join(tmpdir(), "w" .. w)
      local log, rc = sh(("DP_OUT=%s ./clara launch --nproc 2 run spec/helpers/dp_exp.lua --set workers=%d --quiet")
        :format(out, w))
      assert.are.equal(0, rc, log)
      local runs = require("spec.helpers.runs")(fs.join(out, "dp"))
      weights[w] = torch.load(fs.join(runs[1], "model.pt"))
    end
    local n = 0
    for k, t in pairs(weights[0]) do
      n = n + 1
      assert.is_true(torch.equal(t, weights[2][k]), k)
    end
    assert.is_true(n > 0)
  end)
end)
