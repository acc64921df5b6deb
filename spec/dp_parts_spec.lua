-- The data-parallel pieces that need no second process: the loader's
-- shards against PyTorch 1.13's DistributedSampler (spec/fixtures/dp.lua,
-- from tests/fixtures/make_dp.py; exact), and Metric:merge: every family's
-- states of the shards merged equal the metric over all the data (counts
-- exactly; float sums in another order: rtol 1e-12 on doubles).
local Mt = clara.metrics
local DataLoader = clara.data.DataLoader
local FIXTURE = dofile("spec/fixtures/dp.lua")

local function indices(n, world, rank, pad)
  local ds = clara.data.TensorDataset(torch.arange(n, { dtype = "int64" }))
  local loader = DataLoader(ds, { batch_size = n, num_replicas = world, rank = rank, pad = pad })
  local out = {}
  for xb in loader do
    for _, v in ipairs(xb:totable()) do out[#out + 1] = v end
  end
  return out, #loader, loader.n
end

describe("data-parallel shards of the DataLoader", function()
  it("are DistributedSampler's when padded (PyTorch 1.13, shuffle off)", function()
    for _, case in ipairs(FIXTURE) do
      for r = 0, case.world - 1 do
        local got = indices(case.n, case.world, r, true)
        assert.are.same(case.shards[r + 1], got, ("n %d world %d rank %d"):format(case.n, case.world, r))
      end
    end
  end)

  it("unpadded, cover every sample exactly once (evaluation)", function()
    for _, case in ipairs(FIXTURE) do
      local seen = {}
      for r = 0, case.world - 1 do
        for _, v in ipairs((indices(case.n, case.world, r, false))) do
          assert.is_nil(seen[v]); seen[v] = true
        end
      end
      for i = 0, case.n - 1 do assert.is_true(seen[i]) end
    end
  end)

  it("shuffled, split one seeded permutation of the epoch; resume keeps the shard", function()
    local ds = clara.data.TensorDataset(torch.arange(10, { dtype = "int64" }))
    local whole = DataLoader(ds, { batch_size = 10, shuffle = true, seed = 3 })
    local perm = whole:iter()():totable()
    for r = 0, 1 do
      local l = DataLoader(ds, { batch_size = 2, shuffle = true, seed = 3, num_replicas = 2, rank = r })
      local it, got = l:iter(), {}
      for _, v in ipairs(it():totable()) do got[#got + 1] = v end
      local s = l:state()
      local again = DataLoader(ds, { batch_size = 2, shuffle = true, seed = 3, num_replicas = 2, rank = r })
      again:set_state(s)
      for xb in again do for _, v in ipairs(xb:totable()) do got[#got + 1] = v end end
      assert.are.same({ perm[r + 1], perm[r + 3], perm[r + 5], perm[r + 7], perm[r + 9] }, got)
    end
  end)

  it("bad options name the API", function()
    local ds = clara.data.TensorDataset(torch.arange(4))
    assert.has_error(function() DataLoader(ds, { num_replicas = 2, rank = 2 }) end,
      "DataLoader: rank 2 is not below num_replicas 2")
    assert.has_error(function() DataLoader(ds, { num_replicas = 0 }) end)
    assert.has_error(function() DataLoader(ds, { rank = -1 }) end)
  end)
end)

-- {metric factory, output(n) -> tensor, target(n) -> tensor}
local function data(n)
  torch.manual_seed(5)
  local logits = torch.randn(n, 3)
  local y = torch.randint(0, 3, { n }, { dtype = "int64" })
  local reg_out, reg_y = torch.randn(n, 2, { dtype = "float64" }), torch.randn(n, 2, { dtype = "float64" })
  return logits, y, reg_out, reg_y
end

local CLASS = {
  accuracy = function() return Mt.accuracy() end,
  f1 = function() return Mt.f1 { average = "macro" } end,
  precision = function() return Mt.precision { average = "weighted" } end,
  balanced_accuracy = function() return Mt.balanced_accuracy() end,
  matthews_corrcoef = function() return Mt.matthews_corrcoef() end,
  confusion_matrix = function() return Mt.confusion_matrix() end,
  top_k_accuracy = function() return Mt.top_k_accuracy { k = 2 } end,
  roc_auc = function() return Mt.roc_auc { multi_class = "ovr", logits = true } end,
  average_precision = function() return Mt.average_precision { logits = true } end,
  log_loss = function() return Mt.log_loss { logits = true } end,
}
local REG = {
  mae = function() return Mt.mae() end,
  mse = function() return Mt.mse() end,
  rmse = function() return Mt.rmse() end,
  r2 = function() return Mt.r2() end,
  from_loss = function() return Mt.from_loss(torch.nn.functional.mse_loss) end,
}

local function close(a, b, what)
  if type(a) == "table" then
    assert.are.equal(#a, #b, what)
    for i = 1, #a do close(a[i], b[i], what) end
    return
  end
  if math.type(a) == "integer" then assert.are.equal(a, b, what); return end
  assert(math.abs(a - b) <= 1e-12 * math.max(1, math.abs(a)), ("%s: %.17g vs %.17g"):format(what, a, b))
end

-- the metric over everything (batches of 7), and merged from rank r's
-- shard (samples r, r + W, ...) states, through torch.save as ranks send them
local function check(make, out, y, world)
  local whole = make()
  local n = y:size(1)
  for s = 0, n - 1, 7 do
    local len = math.min(7, n - s)
    whole:update(out:narrow(1, s + 1, len), y:narrow(1, s + 1, len))
  end
  local merged = make()
  local path = os.tmpname()
  for r = 0, world - 1 do
    local part = make()
    local idx = torch.arange(r, n, world, { dtype = "int64" })
    part:update(out:index_select(1, idx), y:index_select(1, idx))
    torch.save(path, part:state())
    merged:merge(torch.load(path))
  end
  os.remove(path)
  return whole:compute(), merged:compute()
end

describe("Metric:merge", function()
  local logits, y, reg_out, reg_y = data(50)
  for name, make in pairs(CLASS) do
    it(name .. ": merged shard states equal the metric over all the data", function()
      for _, world in ipairs { 1, 2, 3 } do
        local a, b = check(make, logits, y, world)
        close(a, b, name .. " world " .. world)
      end
    end)
  end
  for name, make in pairs(REG) do
    it(name .. ": merged shard states equal the metric over all the data", function()
      for _, world in ipairs { 1, 2, 3 } do
        local a, b = check(make, reg_out, reg_y, world)
        close(a, b, name .. " world " .. world)
      end
    end)
  end

  it("a merge into an empty metric is a copy; an empty state changes nothing", function()
    local m, other = Mt.confusion_matrix(), Mt.confusion_matrix()
    other:update(torch.tensor({ 0, 2 }), torch.tensor({ 0, 1 }))
    m:merge(other:state()):merge(Mt.confusion_matrix():state())
    assert.are.same(other:compute(), m:compute())
  end)

  it("states that disagree on the problem are refused, naming the metric", function()
    local a, b = Mt.roc_auc { logits = true }, Mt.roc_auc { logits = true }
    a:update(torch.randn(4, 3), torch.tensor({ 0, 1, 2, 0 }))
    b:update(torch.randn(4, 4), torch.tensor({ 0, 1, 2, 3 }))
    assert.has_error(function() a:merge(b:state()) end)
    local ok, err = pcall(a.merge, a, b:state())
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("roc_auc: merge: the states disagree on classes", 1, true), err)
    assert.has_error(function() a:merge(3) end, "roc_auc: merge expects a table from state(), got number")
  end)
end)

describe("data-parallel experiments, bad calls", function()
  local dist = torch.distributed
  local L = clara.losses
  local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
  teardown(cleanup)

  local function exp(over)
    local x = torch.randn(8, 2)
    local spec = {
      data = { train = clara.data.TensorDataset(x, torch.zeros(8, { dtype = "int64" })) },
      model = function() return torch.nn.Linear(2, 2) end, objective = L.cross_entropy,
      optimizer = function(m) return torch.optim.SGD(m, { lr = 0.1 }) end,
      batch_size = 4, epochs = 1, seed = 1, verbose = false, out_dir = false,
    }
    for k, v in pairs(over or {}) do spec[k] = v end
    return clara.experiment(spec)
  end

  -- fn with a group of one rank over a FileStore, destroyed after
  local function in_group(fn)
    dist.init_process_group { init_method = "file://" .. tmpdir() .. "/store", rank = 0, world_size = 1 }
    local ok, err = pcall(fn)
    dist.destroy_process_group()
    if not ok then error(err, 0) end
  end

  it("distributed = true without env:// variables says what is missing", function()
    local ok, err = pcall(function() exp({ distributed = true }):run() end)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("init_process_group: rank is not given", 1, true), err)
  end)

  it("a foreign model, a metric without state(), a checkpoint without ranks are refused by name", function()
    in_group(function()
      local ok, err = pcall(function()
        exp({ model = function() return setmetatable({}, { __call = function(_, x) return x end }) end,
              optimizer = function() return { step = function() end, zero_grad = function() end } end }):run()
      end)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("clara.experiment: data-parallel training needs an nn module", 1, true), err)
      local plain = { update = function() end, compute = function() return 1 end, reset = function() end, count = 0 }
      ok, err = pcall(function() exp({ metrics = { mine = plain } }):run() end)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("metric 'mine' has no state() and merge()", 1, true), err)
    end)
    -- a run without a group, resumed in one
    local dir = tmpdir() .. "/run"
    exp({ handle_signals = false }):run { dir = dir }
    in_group(function()
      local ok, err = pcall(function() exp():run { dir = dir, resume = dir } end)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("resume: the checkpoint is of a run without data parallelism, this run has 1 ranks",
        1, true), err)
    end)
  end)
end)
