-- clara.data.ImageFolder's size, crop, resize and antialias (issue 14):
-- PNGs of several sizes resized and centre-cropped as torchvision 0.14's
-- Resize(size, antialias = True) + CenterCrop on read_image tensors
-- converted to float32 (tests/fixtures/make_image_resize.py, run here);
-- ds:get and DataLoader workers = 0 / 2 giving bitwise the same batches;
-- bad options and images that do not fit raising clear errors.
--
-- Tolerance against torchvision: 1e-6 on float32 images in [0, 1] (the
-- kernels follow ATen's step by step, bindings/augment_resize.c; measured
-- here: nearest, the crop and upscaling bitwise, bilinear with or without
-- antialias within 1.2e-7, bicubic with antialias within 2.4e-7); uint8
-- (resized in float, rounded, clamped) equal on this corpus.
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
local json = require "clara.run.json"
local fs = require "clara.fs"
local DataLoader = clara.data.DataLoader

local function fails(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error")
  assert.truthy(tostring(err):find(pattern, 1, true), err)
  return err
end

local TOLERANCE = { uint8 = 0 }

local function options(case)
  return { size = case.size, crop = case.crop, resize = case.resize, antialias = case.antialias,
           dtype = case.dtype }
end

describe("ImageFolder size and crop", function()
  local dir = tmpdir()
  assert(os.execute("/usr/bin/python3 tests/fixtures/make_image_resize.py '" .. dir .. "' 2>/dev/null"),
    "tests/fixtures/make_image_resize.py failed")
  local tree = dir .. "/tree"
  local cases = json.decode(fs.read(dir .. "/cases.json"))
  teardown(cleanup)

  for _, case in ipairs(cases) do
    it("gives torchvision's pixels (" .. case.name .. ")", function()
      local ds = clara.data.ImageFolder(tree, options(case))
      assert.are.equal(6, #ds)
      local tol = TOLERANCE[case.name] or 1e-6
      for i = 1, #ds do
        local want = clara.data.read_npy(("%s/%s/%d.npy"):format(dir, case.name, i))
        local got = ds:get(i)
        local what = case.name .. " " .. ds.samples[i][1]
        assert.are.equal(case.dtype, got.dtype, what)
        assert.are.same(want:size(), got:size(), what)
        local diff = (got:to("float64") - want:to("float64")):abs()
        assert.is_true(diff:max():item() <= tol, what .. ": max difference " .. diff:max():item())
      end
    end)
  end

  it("describes its size and crop in one line", function()
    assert.are.equal("ImageFolder(6 samples, 2 classes, from " .. tree .. ", size 20 (smaller edge), crop 16x16 "
      .. "(bilinear, antialias))", tostring(clara.data.ImageFolder(tree, { size = 20, crop = 16 })))
    assert.are.equal("ImageFolder(6 samples, 2 classes, from " .. tree .. ", size 24x18 (nearest))",
      tostring(clara.data.ImageFolder(tree, { size = { 24, 18 }, resize = "nearest" })))
    assert.are.equal("ImageFolder(6 samples, 2 classes, from " .. tree .. ", crop 17x17)",
      tostring(clara.data.ImageFolder(tree, { crop = 17 })))
  end)

  it("makes the smaller edge N keeping the aspect ratio (torchvision's int(N * long / short))", function()
    local ds = clara.data.ImageFolder(tree, { size = 20 })
    local want = { { 20, 26 }, { 30, 20 }, { 20, 20 }, { 27, 20 }, { 20, 75 }, { 20, 27 } }
    for i = 1, #ds do
      local s = ds:get(i):size()
      assert.are.same({ 3, want[i][1], want[i][2] }, s, ds.samples[i][1])
    end
  end)

  for _, case in ipairs(cases) do
    if case.crop or type(case.size) == "table" then
      it("gives bitwise the same batches with workers = 0 and 2 (" .. case.name .. ")", function()
        local ds = clara.data.ImageFolder(tree, options(case))
        local o = { batch_size = 4, shuffle = true, seed = 5 }
        local plain = DataLoader(ds, o)
        o.workers, o.prefetch = 2, 2
        local threaded = DataLoader(ds, o)
        for _ = 1, 2 do
          local a = {}
          for x, y in plain do a[#a + 1] = { x, y } end
          local n = 0
          for x, y in threaded do
            n = n + 1
            assert.is_true(torch.equal(a[n][1], x), case.name .. " batch " .. n)
            assert.is_true(torch.equal(a[n][2], y), case.name .. " batch " .. n)
          end
          assert.are.equal(#a, n)
          assert.are.equal(2, n)
        end
        threaded:close()
      end)
    end
  end

  it("runs a batch augmentation after the fit in the workers as on the main thread", function()
    local ds = clara.data.ImageFolder(tree, { size = 20, crop = 16 })
    local T = clara.transforms
    local function loader(workers)
      return DataLoader(ds, { batch_size = 3, seed = 2, workers = workers,
        augment = T.chain { T.batch.random_crop { size = 12, padding = 2 }, T.batch.flip {} } })
    end
    local a, b = {}, loader(2)
    for x in loader(0) do a[#a + 1] = x end
    local n = 0
    for x in b do
      n = n + 1
      assert.are.same({ 3, 3, 12, 12 }, x:size())
      assert.is_true(torch.equal(a[n], x), "batch " .. n)
    end
    assert.are.equal(2, n)
    b:close()
  end)

  it("rejects bad size and crop options, naming the option", function()
    fails("size must be an integer N >= 1 or a table {H, W}", clara.data.ImageFolder, tree, { size = 0 })
    fails("size must be an integer N >= 1 or a table {H, W}", clara.data.ImageFolder, tree, { size = { 1 } })
    fails("size must be an integer N >= 1 or a table {H, W}", clara.data.ImageFolder, tree, { size = "x" })
    fails("size must be an integer N >= 1 or a table {H, W}", clara.data.ImageFolder, tree, { size = { 2, 3, 4 } })
    fails("size must be an integer N >= 1 or a table {H, W}", clara.data.ImageFolder, tree, { size = 2.5 })
    fails("crop must be an integer N >= 1 or a table {H, W}", clara.data.ImageFolder, tree, { crop = { 0, 3 } })
    fails("size must make at most", clara.data.ImageFolder, tree, { size = { 100000, 100000 } })
    fails("resize must be one of", clara.data.ImageFolder, tree, { size = 8, resize = "lanczos" })
    fails("crop 21x21 is larger than the resized image, whose smaller edge is 20 (size = 20)",
      clara.data.ImageFolder, tree, { size = 20, crop = 21 })
    fails("crop 11x3 is larger than the resized image, 10x12", clara.data.ImageFolder, tree,
      { size = { 10, 12 }, crop = { 11, 3 } })
    fails("size and crop resize uint8 or float32 images, not float64", clara.data.ImageFolder, tree,
      { size = 8, dtype = "float64" })
  end)

  it("raises naming the file when a crop does not fit an image (no size)", function()
    local ds = clara.data.ImageFolder(tree, { crop = 18 })
    assert.are.same({ 3, 18, 18 }, ds:get(1):size())
    local err = fails("crop 18x18 is larger than the image, 17x64", ds.get, ds, 5)
    assert.truthy(err:find("b/5.png", 1, true), err)
    local o = { batch_size = 6, workers = 2 }
    err = fails("crop 18x18 is larger than the image, 17x64", function()
      for _ in DataLoader(ds, o) do end
    end)
    assert.truthy(err:find("b/5.png", 1, true), err)
  end)

  it("refuses an image that resizes to more than clara.limits.image_pixels, naming the file", function()
    local ds = clara.data.ImageFolder(tree, { size = 12000 }) -- 12000 x 12000 is under the limit
    local err = fails("resizes to 12000x45176, more than 178956970 pixels", ds.get, ds, 5)
    assert.truthy(err:find("b/5.png", 1, true), err)
    local list = dir .. "/one.csv"
    fs.write_atomic(list, "b/5.png,0\n")
    local one = clara.data.ImageFolder { list = list, root = tree, size = 12000 }
    err = fails("resizes to 12000x45176", function()
      for _ in DataLoader(one, { batch_size = 1, workers = 1 }) do end
    end)
    assert.truthy(err:find("b/5.png", 1, true), err)
  end)

  it("keeps the clear error for images of different sizes in one batch", function()
    for _, o in ipairs { {}, { size = 20 } } do
      local ds = clara.data.ImageFolder(tree, o)
      local err = fails("a/2.png", function()
        for _ in DataLoader(ds, { batch_size = 3, workers = 2 }) do end
      end)
      assert.truthy(err:find(o.size and "after resizing" or "give the ImageFolder a size", 1, true), err)
      fails("cannot stack", function()
        for _ in DataLoader(ds, { batch_size = 3 }) do end
      end)
    end
  end)
end)
