-- clara.data.split and clara.data.given: sizes by ratios and counts,
-- stratification, reproducibility, disjoint parts covering every sample,
-- the held-out test part, and the saved description.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/partition_spec.lua

local torch = require "torch"
local clara = require "clara"
local cjson = require "cjson"
local D = clara.data

-- every index in exactly one part, parts ascending
local function assert_partition(p, n)
  local seen = {}
  for k = 1, #p.names do
    local prev = -1
    for _, i in ipairs(p[k]:totable()) do
      assert.is_nil(seen[i], "index " .. i .. " in two parts")
      assert.is_true(i > prev, "part not ascending")
      assert.is_true(i >= 0 and i < n)
      seen[i], prev = k, i
    end
  end
  for i = 0, n - 1 do assert.is_not_nil(seen[i], "index " .. i .. " in no part") end
end

describe("clara.data.split", function()
  it("by ratios: exact sizes, every sample once", function()
    local p = D.split(1000, { ratios = { 0.8, 0.1, 0.1 }, seed = 1 })
    assert.same({ "train", "val", "test" }, p.names)
    assert.equal(800, p.train:numel())
    assert.equal(100, p.val:numel())
    assert.equal(100, p.test:numel())
    assert.equal("int64", p.train.dtype)
    assert_partition(p, 1000)
    -- remainders go to the largest fractions
    local q = D.split(10, { ratios = { 0.55, 0.45 }, seed = 1 })
    assert.equal(6, q.train:numel()) -- 5.5 -> 6 (ties to the first)
    assert.equal(4, q.val:numel())
    assert_partition(q, 10)
    assert.equal(q[1], q.train)
  end)

  it("by counts, with names", function()
    local p = D.split(50, { counts = { 30, 15, 5 }, names = { "fit", "tune", "final" }, seed = 2 })
    assert.equal(30, p.fit:numel())
    assert.equal(15, p.tune:numel())
    assert.equal(5, p.final:numel())
    assert_partition(p, 50)
  end)

  it("is reproducible by seed, and differs between seeds", function()
    local a = D.split(200, { ratios = { 0.5, 0.5 }, seed = 7 })
    local b = D.split(200, { ratios = { 0.5, 0.5 }, seed = 7 })
    local c = D.split(200, { ratios = { 0.5, 0.5 }, seed = 8 })
    assert.is_true(a.train:equal(b.train))
    assert.is_false(a.train:equal(c.train))
    -- no seed: drawn from torch's generator, recorded
    torch.manual_seed(5)
    local d = D.split(200, { ratios = { 0.5, 0.5 } })
    torch.manual_seed(5)
    local e = D.split(200, { ratios = { 0.5, 0.5 } })
    assert.is_true(d.train:equal(e.train))
    assert.equal(d.seed, e.seed)
    assert.is_true(D.split(200, { ratios = { 0.5, 0.5 }, seed = d.seed }).train:equal(d.train))
  end)

  it("shuffle = false keeps the order: the first part is the first samples", function()
    local p = D.split(10, { counts = { 7, 3 }, shuffle = false })
    assert.same({ 0, 1, 2, 3, 4, 5, 6 }, p.train:totable())
    assert.same({ 7, 8, 9 }, p.val:totable())
  end)

  it("stratified: each class split in the same proportions", function()
    -- classes of 500, 300, 150 and 50 samples, shuffled
    local labels = {}
    for c, m in ipairs { 500, 300, 150, 50 } do
      for _ = 1, m do labels[#labels + 1] = c - 1 end
    end
    torch.manual_seed(0)
    local y = torch.tensor(labels):index_select(1, torch.randperm(#labels))
    local p = D.split(y, { ratios = { 0.6, 0.2, 0.2 }, seed = 3 })
    assert.is_true(p.stratified)
    assert.equal(600, p.train:numel())
    assert.equal(200, p.val:numel())
    assert.equal(200, p.test:numel())
    assert_partition(p, 1000)
    for k, ratio in ipairs { 0.6, 0.2, 0.2 } do
      local part = y:index_select(1, p[k])
      for c, m in ipairs { 500, 300, 150, 50 } do
        local got = part:eq(c - 1):sum():item()
        assert.is_true(math.abs(got - m * ratio) <= 1,
          ("part %d class %d: %d, expected %g"):format(k, c - 1, got, m * ratio))
      end
    end
    -- the same with stratify = labels on a count, and labels as a Lua list
    local q = D.split(1000, { ratios = { 0.6, 0.2, 0.2 }, seed = 3, stratify = y:totable() })
    assert.is_true(q.train:equal(p.train))
  end)

  it("a random split is not stratified: the proportions drift", function()
    local labels = {}
    for i = 1, 1000 do labels[i] = i <= 100 and 1 or 0 end
    local worst = 0
    for seed = 1, 5 do
      local p = D.split(1000, { ratios = { 0.5, 0.5 }, seed = seed })
      local got = torch.tensor(labels):index_select(1, p.train):sum():item()
      worst = math.max(worst, math.abs(got - 50))
    end
    assert.is_true(worst > 1) -- so the stratified test above can fail
  end)

  it("marks the test part held out, in tensors taken and subsets made", function()
    local x = torch.randn(20, 3)
    local p = D.split(20, { ratios = { 0.5, 0.25, 0.25 }, seed = 4 })
    assert.is_true(D.is_held_out(p:take(x, "test")))
    assert.is_false(D.is_held_out(p:take(x, "train")))
    local subsets = p:subsets(D.TensorDataset(x))
    assert.is_true(D.is_held_out(subsets.test))
    assert.is_false(D.is_held_out(subsets.train))
    assert.equal(5, #subsets.test)
    assert.truthy(tostring(subsets.test):find("held out", 1, true))
    assert.is_true(D.is_held_out(D.Subset(D.TensorDataset(x), p.test)))
    local rows = p:take(x, "train")
    assert.is_true(rows:equal(x:index_select(1, p.train)))
  end)

  it("describes itself and is rebuilt exactly (through JSON)", function()
    local p = D.split(torch.tensor { 0, 1, 0, 1, 0, 1, 0, 1, 2, 2 }, { ratios = { 0.6, 0.4 }, seed = 9 })
    local text = cjson.encode(p:describe())
    local q = D.partition_from(text)
    assert.is_true(q.train:equal(p.train))
    assert.is_true(q.val:equal(p.val))
    assert.equal(p.seed, q.seed)
    assert.equal(tostring(p), tostring(q))
    assert.equal("Partition(train=6, val=4, stratified, seed=9)", tostring(p))
  end)
end)

describe("clara.data.given", function()
  it("uses given partitions as they are; the test set is held out", function()
    local train = D.TensorDataset(torch.randn(8, 2), torch.arange(8))
    local p = D.given { train = train, test = { torch.randn(3, 2), torch.arange(3) } }
    assert.equal(train, p.train)
    assert.equal(3, #p.test)
    assert.same({ "train", "test" }, p.names)
    assert.is_true(D.is_held_out(p.test))
    assert.is_false(D.is_held_out(p.train))
    assert.equal(train, p:subsets().train)
    assert.equal("Partition(given: train=8, test=3)", tostring(p))
  end)
end)
