-- clara.data datasets and DataLoader: every sample once per epoch, seeded
-- shuffles, drop_last, the fast path (index_select) equal to the clear one
-- (per-sample get + stack), foreign iterators, and resuming mid-epoch from
-- loader:state() with exactly the remaining batches.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/data_loader_spec.lua

local torch = require "torch"
local clara = require "clara"
local D = clara.data

-- rows whose values name them: x[i] = {i, i, i} (0-based i), y[i] = i
local function rows(n)
  local x = torch.arange(n, { dtype = "float32" }):view(n, 1):repeat_tensor(1, 3)
  local y = torch.arange(n)
  return x, y
end

-- all batches of one pass, as Lua lists of y values
local function epoch(iter)
  local out = {}
  for xb, yb in iter do
    assert.same(xb:select(2, 1):long():totable(), yb:totable()) -- x and y stay paired
    out[#out + 1] = yb:totable()
  end
  return out
end

local function flat(batches)
  local all = {}
  for _, b in ipairs(batches) do for _, v in ipairs(b) do all[#all + 1] = v end end
  return all
end

local function sorted(t)
  local c = { table.unpack(t) }
  table.sort(c)
  return c
end

local function range(n)
  local r = {}
  for i = 1, n do r[i] = i - 1 end
  return r
end

describe("datasets", function()
  it("TensorDataset: #ds, get(i) 1-based, extras", function()
    local x, y = rows(5)
    local e = torch.arange(5) * 10
    local ds = D.TensorDataset(x, y, e)
    assert.equal(5, #ds)
    local xi, yi, ei = ds:get(2)
    assert.same({ 1, 1, 1 }, xi:totable())
    assert.equal(1, yi:item())
    assert.equal(10, ei:item())
    assert.equal("TensorDataset(5 samples: (5, 3) float32, (5) int64, (5) int64)", tostring(ds))
  end)

  it("Subset takes 0-based index tensors or 1-based position lists", function()
    local x, y = rows(6)
    local ds = D.TensorDataset(x, y)
    local a = D.Subset(ds, torch.tensor { 4, 1 })
    local b = D.Subset(ds, { 5, 2 })
    assert.equal(2, #a)
    assert.equal(4, select(2, a:get(1)):item())
    assert.equal(select(2, a:get(2)):item(), select(2, b:get(2)):item())
    local _, yb = a:batch(torch.tensor { 1, 0 })
    assert.same({ 1, 4 }, yb:totable())
  end)

  it("Concat: the samples of each, one after the other", function()
    local x, y = rows(3)
    local x2, y2 = rows(4)
    local c = D.Concat { D.TensorDataset(x, y), D.TensorDataset(x2 + 100, y2 + 100) }
    assert.equal(7, #c)
    local got = {}
    for i = 1, 7 do got[i] = select(2, c:get(i)):item() end
    assert.same({ 0, 1, 2, 100, 101, 102, 103 }, got)
  end)
end)

describe("DataLoader", function()
  local x, y = rows(103)
  local ds = D.TensorDataset(x, y)

  it("gives every sample exactly once per epoch, in order without shuffle", function()
    local L = D.DataLoader(ds, { batch_size = 10 })
    assert.equal(11, #L)
    local b = epoch(L)
    assert.equal(11, #b)
    assert.equal(3, #b[11])
    assert.same(range(103), flat(b))
  end)

  it("shuffles every epoch differently, each a permutation", function()
    local L = D.DataLoader(ds, { batch_size = 16, shuffle = true, seed = 5 })
    local e1, e2 = flat(epoch(L)), flat(epoch(L))
    assert.same(range(103), sorted(e1))
    assert.same(range(103), sorted(e2))
    assert.are_not.same(e1, e2)
    assert.are_not.same(range(103), e1)
  end)

  it("a seeded shuffle is reproducible and leaves torch's generator alone", function()
    torch.manual_seed(1)
    local before = torch.rand(1):item()
    torch.manual_seed(1)
    local a = D.DataLoader(ds, { batch_size = 8, shuffle = true, seed = 42 })
    local ea = { epoch(a), epoch(a) }
    assert.equal(before, torch.rand(1):item())
    local b = D.DataLoader(ds, { batch_size = 8, shuffle = true, seed = 42 })
    assert.same(ea, { epoch(b), epoch(b) })
    local c = D.DataLoader(ds, { batch_size = 8, shuffle = true, seed = 43 })
    assert.are_not.same(ea[1], epoch(c))
  end)

  it("without a seed, torch.manual_seed reproduces the shuffle", function()
    torch.manual_seed(9)
    local a = epoch(D.DataLoader(ds, { batch_size = 8, shuffle = true }))
    torch.manual_seed(9)
    local b = epoch(D.DataLoader(ds, { batch_size = 8, shuffle = true }))
    assert.same(a, b)
  end)

  it("drop_last drops the short batch", function()
    local L = D.DataLoader(ds, { batch_size = 10, drop_last = true, shuffle = true, seed = 1 })
    assert.equal(10, #L)
    local b = epoch(L)
    assert.equal(10, #b)
    for _, batch in ipairs(b) do assert.equal(10, #batch) end
  end)

  it("the fast path (index_select) equals the clear one (get + stack)", function()
    local e = torch.randn(103, 2, 2)
    local ds3 = D.TensorDataset(x, y, e)
    local fast = D.DataLoader(ds3, { batch_size = 7, shuffle = true, seed = 3 })
    local clear = D.DataLoader(ds3, { batch_size = 7, shuffle = true, seed = 3, impl = "clear" })
    assert.is_true(fast.fast)
    assert.is_false(clear.fast)
    local it1, it2 = fast:iter(), clear:iter()
    local n = 0
    while true do
      local a = table.pack(it1())
      local b = table.pack(it2())
      if a[1] == nil then assert.is_nil(b[1]) break end
      assert.equal(3, a.n)
      assert.equal(3, b.n)
      for k = 1, 3 do
        assert.equal(a[k].dtype, b[k].dtype)
        assert.is_true(a[k]:equal(b[k]))
      end
      n = n + 1
    end
    assert.equal(15, n)
  end)

  it("takes the fast path through a Subset, and collates foreign datasets", function()
    local sub = D.Subset(ds, torch.arange(50, 103))
    local L = D.DataLoader(sub, { batch_size = 20 })
    assert.is_true(L.fast)
    local b = flat(epoch(L))
    assert.same(50, b[1])
    assert.equal(53, #b)
    -- a dataset that is only #ds and get(i), with a number target
    local foreign = setmetatable({}, {
      __len = function() return 5 end,
      __index = { get = function(_, i) return torch.full({ 2 }, i), i * 10 end },
    })
    local F = D.DataLoader(foreign, { batch_size = 2 })
    assert.is_false(F.fast)
    local got = {}
    for xb, yb in F do got[#got + 1] = { xb:size(1), yb:totable() } end
    assert.same({ { 2, { 10, 20 } }, { 2, { 30, 40 } }, { 1, { 50 } } }, got)
    -- a custom collate
    local C = D.DataLoader(ds, { batch_size = 4, collate = function(samples) return #samples end })
    assert.equal(4, C:iter()())
  end)

  it("resumes mid-epoch from its state with the same remaining batches", function()
    local L = D.DataLoader(ds, { batch_size = 10, shuffle = true, seed = 77 })
    epoch(L) -- epoch 1
    local it = L:iter() -- epoch 2
    it(); it(); it()
    local s = L:state()
    assert.equal(2, s.epoch)
    assert.equal(3, s.batch)
    assert.equal(103, s.perm:numel())
    local rest = {}
    for _, yb in it do rest[#rest + 1] = yb:totable() end
    local next_epoch = epoch(L)
    -- a fresh loader (no seed even: the state carries the permutation)
    local R = D.DataLoader(ds, { batch_size = 10, shuffle = true, seed = 77 })
    R:set_state(s)
    assert.same(rest, epoch(R))
    assert.equal(8, #rest)
    assert.same(next_epoch, epoch(R)) -- and then the epoch after, as the original
    -- a state whose perm went through a plain Lua list (JSON)
    local R2 = D.DataLoader(ds, { batch_size = 10, shuffle = true })
    local s2 = { epoch = s.epoch, batch = s.batch, seed = s.seed, n = s.n, perm = s.perm:totable() }
    R2:set_state(s2)
    assert.same(rest, epoch(R2))
  end)

  it("iterates with a for loop, :iter() and clara.data.iterate alike", function()
    local L = D.DataLoader(ds, { batch_size = 50 })
    assert.same(epoch(L), epoch(L:iter()))
    assert.same(epoch(L), epoch(D.iterate(L)))
    -- breaking out of a for loop: the next loop starts a fresh epoch
    for _ in L do break end
    assert.same(range(103), flat(epoch(L)))
  end)
end)

describe("foreign loaders", function()
  local x, y = rows(6)

  it("a Lua iterator function yielding tensors", function()
    local k = 0
    local function gen()
      k = k + 1
      if k > 3 then return nil end
      return x[{ { 2 * k - 1, 2 * k } }], y[{ { 2 * k - 1, 2 * k } }]
    end
    assert.same({ { 0, 1 }, { 2, 3 }, { 4, 5 } }, epoch(D.iterate(gen)))
  end)

  it("a coroutine yielding batches", function()
    local co = coroutine.create(function()
      for k = 1, 2 do coroutine.yield(x[{ { 3 * k - 2, 3 * k } }], y[{ { 3 * k - 2, 3 * k } }]) end
    end)
    assert.same({ { 0, 1, 2 }, { 3, 4, 5 } }, epoch(D.iterate(co)))
  end)

  it("a list of batches", function()
    local list = { { x[{ { 1, 4 } }], y[{ { 1, 4 } }] }, { x[{ { 5, 6 } }], y[{ { 5, 6 } }] } }
    assert.same({ { 0, 1, 2, 3 }, { 4, 5 } }, epoch(D.iterate(list)))
  end)
end)
