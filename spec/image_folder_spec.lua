-- clara.data.ImageFolder (issue 14, part 2): the samples, classes and
-- pixels torchvision.datasets.ImageFolder (+ ToTensor) gives on a tree
-- made at test time by tests/fixtures/make_image_folder.py; the list-file
-- form; bad files raising with their name, or skipped and reported; the
-- class-to-index mapping in a run's config.json.
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
local json = require "clara.run.json"
local fs = require "clara.fs"

local function fixture()
  local dir = tmpdir()
  assert(os.execute("/usr/bin/python3 tests/fixtures/make_image_folder.py '" .. dir .. "' 2>/dev/null"),
    "tests/fixtures/make_image_folder.py failed")
  return dir
end

local function fails(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error")
  assert.truthy(tostring(err):find(pattern, 1, true), err)
  return err
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("clara.data.ImageFolder", function()
  local dir = fixture()
  local tree = dir .. "/tree"
  teardown(cleanup)

  it("finds torchvision's samples and classes, and decodes its pixels", function()
    local want = json.decode(fs.read(dir .. "/torchvision.json"))
    local ds = clara.data.ImageFolder(tree)
    assert.are.equal(#want.samples, #ds)
    for i, s in ipairs(want.samples) do
      assert.are.same({ s[1], s[2] }, ds.samples[i])
    end
    assert.are.same(want.class_to_idx, ds.class_to_idx)
    assert.are.same({ "cat", "dog", "elsewhere", "emu" }, ds.classes)
    local pixels = clara.data.read_npy(dir .. "/pixels.npy")
    for i = 1, #ds do
      local x, y = ds:get(i)
      assert.are.equal("float32", x.dtype)
      assert.is_true(torch.equal(x, pixels[i]), ds.samples[i][1])
      assert.are.equal("int64", y.dtype)
      assert.are.equal(want.samples[i][2], y:item())
    end
    local s = ds[2]
    assert.is_true(torch.equal(s[1], pixels[2]))
    assert.are.equal(0, s[2]:item())
  end)

  it("batches through the DataLoader", function()
    local ds = clara.data.ImageFolder(tree, { mode = "L", dtype = "uint8" })
    local n, labels = 0, {}
    for x, y in clara.data.DataLoader(ds, { batch_size = 4, shuffle = false }):iter() do
      assert.are.same({ y:size(1), 1, 6, 8 }, x:size())
      assert.are.equal("uint8", x.dtype)
      for _, v in ipairs(y:totable()) do labels[#labels + 1] = v end
      n = n + x:size(1)
    end
    assert.are.equal(#ds, n)
    assert.are.same({ 0, 0, 0, 0, 1, 1, 1, 2, 3, 3, 3 }, labels)
  end)

  it("takes classes, extensions, transform and target_transform", function()
    local ds = clara.data.ImageFolder(tree, {
      classes = { "emu", "cat" }, extensions = { ".png" },
      transform = function(x) return x:mul(2) end,
      target_transform = function(y) return torch.tensor(10 + y) end,
    })
    assert.are.same({ emu = 0, cat = 1 }, ds.class_to_idx)
    local paths = {}
    for i, s in ipairs(ds.samples) do paths[i] = s[1]:sub(#tree + 2) .. "=" .. s[2] end
    assert.are.same({ "emu/y.png=0", "emu/linked/z.png=0", "cat/B.PNG=1", "cat/a.png=1", "cat/deep/er/c.png=1" }, paths)
    local x, y = ds:get(1)
    assert.are.equal(10, y:item())
    assert.is_true(torch.equal(x, clara.data.read_image(ds.samples[1][1], { mode = "RGB", dtype = "float32" }):mul(2)))
  end)

  it("reads a list file of path,label lines: class names or 0-based indices", function()
    local d = tmpdir()
    write(d .. "/names.csv", "path,label\ncat/a.png,cat\ndog/2.png, dog\n\ncat/B.PNG,cat\r\n")
    local ds = clara.data.ImageFolder { list = d .. "/names.csv", root = tree }
    assert.are.same({ "cat", "dog" }, ds.classes)
    assert.are.same({ { tree .. "/cat/a.png", 0 }, { tree .. "/dog/2.png", 1 }, { tree .. "/cat/B.PNG", 0 } }, ds.samples)
    local x = ds:get(2)
    assert.is_true(torch.equal(x, clara.data.read_image(tree .. "/dog/2.png", { mode = "RGB", dtype = "float32" })))
    -- paths relative to the list's folder by default; absolute ones as they are
    write(tree .. "/idx.csv", "cat/a.png,3\n" .. tree .. "/emu/y.png,0\n")
    local ds2 = clara.data.ImageFolder { list = tree .. "/idx.csv", classes = { "a", "b", "c", "d" } }
    assert.are.same({ { tree .. "/cat/a.png", 3 }, { tree .. "/emu/y.png", 0 } }, ds2.samples)
    assert.are.same({ a = 0, b = 1, c = 2, d = 3 }, ds2.class_to_idx)
    assert.are.equal(3, select(2, ds2:get(1)):item())
  end)

  it("says what is wrong with a list file", function()
    local d = tmpdir()
    write(d .. "/l.csv", "a.png,0\njust-a-path\n")
    fails(d .. "/l.csv:2: expected 'path,label', got 'just-a-path'", clara.data.ImageFolder, { list = d .. "/l.csv" })
    write(d .. "/l.csv", "a.png,cat\nb.png,dgo\n")
    fails(d .. "/l.csv:2: label 'dgo' is not one of the classes given", clara.data.ImageFolder,
      { list = d .. "/l.csv", classes = { "cat", "dog" } })
    write(d .. "/l.csv", "a.png,2\n")
    fails("label 2 is out of range for 2 classes", clara.data.ImageFolder, { list = d .. "/l.csv", classes = { "x", "y" } })
    write(d .. "/l.csv", "path,label\n")
    fails("has no sample", clara.data.ImageFolder, { list = d .. "/l.csv" })
    fails("cannot read the list", clara.data.ImageFolder, { list = d .. "/none.csv" })
  end)

  it("raises on a missing or empty root, a missing class folder and bad options", function()
    local d = tmpdir()
    fails("is not a folder", clara.data.ImageFolder, d .. "/nothere")
    fails("couldn't find any class folder in '" .. d .. "'", clara.data.ImageFolder, d)
    fs.mkdir_p(d .. "/empty")
    fails("found no valid file for the classes empty", clara.data.ImageFolder, d)
    fails("class 'cow' has no folder", clara.data.ImageFolder, tree, { classes = { "cow" } })
    fails("unknown option 'skipbad' (did you mean 'skip_bad'?)", clara.data.ImageFolder, tree, { skipbad = true })
    fails("give the folder of class folders", clara.data.ImageFolder, {})
    fails("ImageFolder:get: position 99 out of range", function() return clara.data.ImageFolder(tree):get(99) end)
    fails("called with '.'", function() local ds = clara.data.ImageFolder(tree); return ds.get(1) end)
  end)

  it("raises naming the file when a sample does not decode", function()
    local ds = clara.data.ImageFolder(dir .. "/bad")
    assert.are.equal(5, #ds)
    local err = fails("clara.data.ImageFolder: sample 1: " .. dir .. "/bad/a/empty.png: empty file", ds.get, ds, 1)
    assert.truthy(err:find("skip_bad = true", 1, true))
    fails(dir .. "/bad/a/truncated.png: not a valid PNG file", ds.get, ds, 3)
    fails(dir .. "/bad/b/text.jpg: not a PNG or JPEG file", ds.get, ds, 5)
  end)

  it("skips, counts and lists bad files with skip_bad = true", function()
    local ds = clara.data.ImageFolder(dir .. "/bad", { skip_bad = true })
    assert.are.equal(2, #ds)
    assert.are.same({ { dir .. "/bad/a/good.png", 0 }, { dir .. "/bad/b/good.png", 1 } }, ds.samples)
    assert.are.equal(3, #ds.skipped)
    assert.are.equal(dir .. "/bad/a/empty.png", ds.skipped[1].path)
    assert.truthy(ds.skipped[2].error:find("truncated.png: not a valid PNG file", 1, true))
    assert.truthy(tostring(ds):find("3 bad files skipped", 1, true))
    local d = tmpdir()
    fs.mkdir_p(d .. "/c")
    write(d .. "/c/x.png", "")
    fails("no file decodes (1 bad ones", clara.data.ImageFolder, d, { skip_bad = true })
  end)

  it("saves the class-to-index mapping in the run's config.json", function()
    local out = tmpdir()
    local ds = clara.data.ImageFolder(tree, { mode = "L", dtype = "float32" })
    local r = clara.experiment {
      name = "folder", out_dir = out, verbose = false, epochs = 1, batch_size = 4, seed = 1,
      data = { train = ds, val = clara.data.Subset(ds, { 1, 5, 9 }) },
      model = function() return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 4)) end,
      objective = clara.losses.cross_entropy,
      optimizer = function(m) return torch.optim.SGD(m, { lr = 0.1 }) end,
    }:run()
    local cfg = json.decode(fs.read(fs.join(r.dir, "config.json")))
    assert.are.same({ train = ds.class_to_idx, val = ds.class_to_idx }, cfg.class_to_idx)
  end)
end)
