-- The input conventions of clara.data (read.lua over the C parsers of
-- bindings/parse_*.c): each reader against what numpy/PyTorch read from the
-- same files (spec/fixtures/data.lua, written by tests/fixtures/make_data.py).
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/data_read_spec.lua
local torch = require "torch"
local data = require "clara.data"
local fx = dofile("spec/fixtures/data.lua")
local dir = "spec/fixtures/data/"

local function same_values(expected, got, what)
  if type(expected) == "table" then
    assert.equal(#expected, #got, what .. ": length")
    for i = 1, #expected do same_values(expected[i], got[i], what .. "[" .. i .. "]") end
  elseif expected ~= expected then
    assert.is_true(got ~= got, what .. ": expected nan, got " .. tostring(got))
  else
    assert.equal(expected, got, what)
  end
end

-- exact: dtype, shape and every value
local function check(expected, t, what)
  assert.is_true(torch.is_tensor(t), what .. ": not a tensor")
  assert.equal(expected.dtype, t.dtype, what .. ": dtype")
  assert.same(expected.shape, t:size(), what .. ": shape")
  local v = t.dtype == "float16" and t:double():totable() or t:totable()
  if #expected.shape == 0 then v = t:item() end
  same_values(expected.values, v, what)
end

describe("clara.data.read_idx", function()
  for name, expected in pairs(fx.idx) do
    it("reads " .. name .. " exactly (C reader)", function()
      check(expected, data.read_idx(dir .. name), name)
    end)
    it("reads " .. name .. " as the Lua reader does", function()
      local c, l = data.read_idx(dir .. name), data.read_idx(dir .. name, { impl = "lua" })
      assert.equal(l.dtype, c.dtype)
      assert.same(l:size(), c:size())
      assert.is_true(c:eq(l):all():item(), name .. ": C and Lua readers differ")
    end)
  end
  it("parses IDX bytes in memory (core.parse_idx)", function()
    local f = assert(io.open(dir .. "i16.idx", "rb"))
    local bytes = f:read("a")
    f:close()
    check(fx.idx["i16.idx"], require("clara.data.core").parse_idx(bytes), "i16 bytes")
  end)
end)

describe("clara.data.read_csv", function()
  it("reads a header, chooses the label by name, maps categories in sorted order", function()
    local x, y, meta = data.read_csv(dir .. "iris.csv", { label = "species", categorical = true })
    assert.equal("float32", x.dtype)
    same_values(fx.iris.x, x:totable(), "iris x")
    assert.equal("int64", y.dtype)
    same_values(fx.iris.ids, y:totable(), "iris ids")
    assert.same(fx.iris.classes, meta.classes)
    assert.same(fx.iris.columns, meta.columns)
    assert.equal(2, meta.mapping.virginica)
    assert.equal("species", meta.label)
  end)
  it("chooses inputs by name and position, skips unused text columns (TSV)", function()
    local x, y = data.read_csv(dir .. "plant.tsv", { input = { "load", 2 }, label = -1 })
    same_values(fx.plant.x, x:totable(), "plant x")
    assert.equal("float32", y.dtype)
    same_values(fx.plant.y, y:totable(), "plant y")
  end)
  it("keeps a mapping: given classes fix the ids (e.g. a test file)", function()
    local x, y, meta = data.read_csv(dir .. "noheader.csv",
      { header = false, sep = ";", label = 3, classes = fx.noheader.given })
    same_values(fx.noheader.x, x:totable(), "noheader x")
    same_values(fx.noheader.ids_given, y:totable(), "ids from given classes")
    assert.same(fx.noheader.given, meta.classes)
    local _, y2 = data.read_csv(dir .. "iris.csv", { label = 5, classes = meta.classes and fx.iris.classes })
    same_values(fx.iris.ids, y2:totable(), "iris ids with given classes")
  end)
  it("drops rows with missing values", function()
    local x, y, meta = data.read_csv(dir .. "missing.csv", { label = "y", missing = "drop" })
    same_values(fx.missing.drop.x, x:totable(), "drop x")
    same_values(fx.missing.drop.y, y:totable(), "drop y")
    assert.equal(fx.missing.drop.dropped, meta.dropped)
  end)
  it("fills missing values with zero or the column mean", function()
    local cols = { "a", "b", "c" }
    local z = data.read_csv(dir .. "missing.csv", { input = cols, missing = "zero" })
    same_values(fx.missing.zero_nolabel, z:totable(), "zero")
    local m = data.read_csv(dir .. "missing.csv", { input = cols, missing = "mean" })
    same_values(fx.missing.mean_nolabel, m:totable(), "mean")
  end)
  it("reads quoted fields, CRLF lines, blank lines and padded numbers", function()
    local x, y, meta = data.read_csv(dir .. "quoted.csv", { label = 2, categorical = true })
    same_values(fx.quoted.x, x:totable(), "quoted x")
    assert.same(fx.quoted.classes, meta.classes)
    same_values(fx.quoted.ids, y:totable(), "quoted ids")
  end)
  it("rounds numbers as numpy does (strtod, then float32), slow paths included", function()
    local x = data.read_csv(dir .. "hard.csv")
    same_values(fx.hard, x:view(-1):totable(), "hard numbers")
  end)
  it("has no label unless asked", function()
    local x, y = data.read_csv(dir .. "iris.csv", { input = { 1, 2 } })
    assert.same({ 6, 2 }, x:size())
    assert.is_nil(y)
  end)
end)

describe("clara.data.read_npy / read_npz", function()
  for name, expected in pairs(fx.npy) do
    it("reads " .. name .. " exactly", function()
      check(expected, data.read_npy(dir .. name), name)
    end)
  end
  for _, name in ipairs { "stored.npz", "deflated.npz" } do
    it("reads " .. name .. " as a table of tensors", function()
      local t = data.read_npz(dir .. name)
      local n = 0
      for k, expected in pairs(fx.npz) do
        check(expected, t[k], name .. ":" .. k)
        n = n + 1
      end
      for _ in pairs(t) do n = n - 1 end
      assert.equal(0, n, "extra entries")
    end)
  end
end)

describe("clara.data.read_pt", function()
  it("reads a tensor saved by PyTorch", function()
    if not fx.pt then return pending("no python3-torch when fixtures were made") end
    same_values(fx.pt, data.read_pt(dir .. "tensor.pt"):totable(), "tensor.pt")
  end)
  it("reads a tensor saved by clara (torch.save)", function()
    local p = os.tmpname()
    local t = torch.arange(6, { dtype = "float64" }):view(3, 2) / 3
    torch.save(t, p)
    local back = data.read_pt(p)
    os.remove(p)
    assert.equal("float64", back.dtype)
    assert.same(t:totable(), back:totable())
  end)
end)

describe("clara.data.from_table", function()
  it("turns rows into float32 inputs", function()
    local x, y = data.from_table { { 1, 2 }, { 3, 4.5 } }
    assert.equal("float32", x.dtype)
    assert.same({ { 1, 2 }, { 3, 4.5 } }, x:totable())
    assert.is_nil(y)
  end)
  it("takes integer labels as int64 class ids, other numbers as float32", function()
    local _, y = data.from_table { inputs = { { 1 }, { 2 } }, labels = { 3, 0 } }
    assert.equal("int64", y.dtype)
    assert.same({ 3, 0 }, y:totable())
    local _, f = data.from_table { inputs = { { 1 }, { 2 } }, labels = { 0.5, 1 } }
    assert.equal("float32", f.dtype)
  end)
  it("maps string labels to sorted ids and keeps the mapping", function()
    local x, y, meta = data.from_table({ { 1, 2, "dog" }, { 3, 4, "cat" }, { 5, 6, "dog" } }, { label = 3 })
    assert.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, x:totable())
    assert.same({ 1, 0, 1 }, y:totable())
    assert.same({ "cat", "dog" }, meta.classes)
    assert.equal(1, meta.mapping.dog)
  end)
end)

describe("clara.data.read_dir", function()
  it("reads one folder per class of .npy samples, classes sorted", function()
    local x, y, meta = data.read_dir(dir .. "dir_npy")
    assert.same(fx.dir.classes, meta.classes)
    same_values(fx.dir.npy_x, x:totable(), "npy samples")
    same_values(fx.dir.ids, y:totable(), "ids")
    assert.equal(#fx.dir.ids, #meta.files)
  end)
  it("reads one folder per class of .csv files, each row a sample", function()
    local x, y, meta = data.read_dir(dir .. "dir_csv", { ext = ".csv" })
    assert.same(fx.dir.classes, meta.classes)
    same_values(fx.dir.csv_x, x:totable(), "csv rows")
    same_values(fx.dir.ids, y:totable(), "ids")
  end)
end)

describe("clara.data.fashion_mnist", function()
  local have = io.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "rb")
  if have then have:close() end
  for _, split in ipairs { "test", "train" } do
    it(split .. " split: shape, labels, pixels as numpy reads them", function()
      if not (have and fx.fashion) then return pending("dataset-fashion-mnist not installed") end
      local e = fx.fashion[split]
      local images, labels, classes = data.fashion_mnist { split = split }
      assert.same({ e.n, 28, 28 }, images:size())
      assert.equal("uint8", images.dtype)
      assert.equal("int64", labels.dtype)
      same_values(e.labels10, labels[{ { 1, 10 } }]:totable(), "first labels")
      local counts = {}
      for c = 0, 9 do counts[c + 1] = labels:eq(c):sum():item() end
      same_values(e.counts, counts, "label counts")
      same_values(e.row14_first, images[1][15]:totable(), "row 14 of image 0")
      assert.equal(e.sum_first, images[1]:long():sum():item())
      assert.equal(e.sum_all, images:long():sum():item())
      assert.equal(10, #classes)
      assert.equal("Ankle boot", classes[10])
    end)
  end
  it("C and Lua readers agree on the test split", function()
    if not have then return pending("dataset-fashion-mnist not installed") end
    local a, la = data.fashion_mnist { split = "test" }
    local b, lb = data.fashion_mnist { split = "test", impl = "lua" }
    assert.is_true(a:eq(b):all():item())
    assert.is_true(la:eq(lb):all():item())
  end)
  it("keeps the first n samples with limit", function()
    if not have then return pending("dataset-fashion-mnist not installed") end
    local a, la = data.fashion_mnist { split = "test" }
    local b, lb = data.fashion_mnist { split = "test", limit = 25 }
    assert.are.same({ 25, 28, 28 }, b:size())
    assert.is_true(a[{ { 1, 25 } }]:eq(b):all():item())
    assert.is_true(la[{ { 1, 25 } }]:eq(lb):all():item())
    assert.are.equal(10000, (data.fashion_mnist { split = "test", limit = 20000 }):size(1))
    local ok, err = pcall(data.fashion_mnist, { split = "test", limit = 0 })
    assert.is_false(ok); assert.matches("limit must be a positive integer, got 0", err, 1, true)
  end)
  it("reads from CLARA_DATA-like dir option", function()
    local ok, err = pcall(data.fashion_mnist, { split = "test", dir = "/nonexistent" })
    assert.is_false(ok)
    assert.truthy(err:find("/nonexistent/t10k-images-idx3-ubyte.gz", 1, true), err)
  end)
end)
