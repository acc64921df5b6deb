-- DataLoader workers with image folders and batch augmentation: the
-- batches of workers = 0, bitwise, in order, for every T.batch step (drawn
-- on the main thread as a T.batch.plan, run in C threads), for Lua augmentations (run on the
-- main thread), for ImageFolder batches decoded in the workers; a corrupt
-- file's error names the batch and the file; the draws leave torch's
-- generator where it was.
local DataLoader = clara.data.DataLoader
local T = clara.transforms
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local same_batches = dofile("spec/helpers/same_batches.lua")

local function pair(ds, o)
  local plain, threaded = {}, { workers = 2, prefetch = 3 }
  for k, v in pairs(o) do plain[k], threaded[k] = v, v end
  return DataLoader(ds, plain), DataLoader(ds, threaded)
end

local AUGMENTS = {
  crop_flip = function() return T.chain { T.batch.random_crop { size = 12, padding = 4 }, T.batch.flip {} } end,
  crop_edge = function() return T.batch.random_crop { size = 10, padding = 3, padding_mode = "reflect" } end,
  resized = function()
    return T.chain { T.batch.random_resized_crop { size = 9, antialias = true }, T.batch.flip { dim = -2 } }
  end,
  rotate_jitter = function()
    return T.chain { T.batch.rotation { degrees = 15, interpolation = "bilinear", fill = 0.5 },
                     T.batch.color_jitter { brightness = 0.4, contrast = 0.4, saturation = 0.4 } }
  end,
  erase_normalize = function()
    return T.chain { T.batch.random_erasing { p = 0.8 }, T.batch.normalize { mean = 0.5, std = 0.25 } }
  end,
  resize_center = function() return T.chain { T.batch.resize { size = 7 }, T.batch.center_crop { size = 5 } } end,
  lua_function = function() return function(x) return x + torch.randn_like(x) * 0.1 end end,
}

describe("DataLoader workers with augment", function()
  for name, make in pairs(AUGMENTS) do
    it("deliver the batches of workers = 0 (" .. name .. ")", function()
      for _, shape in ipairs { { 70, 3, 12, 12 }, { 70, 12, 12 } } do
        torch.manual_seed(3)
        local ds = clara.data.TensorDataset(torch.rand(shape), torch.randint(0, 10, { 70 }))
        local a, b = pair(ds, { batch_size = 16, shuffle = true, seed = 8, augment = make() })
        assert.are.equal(2 * #a, same_batches(a, b, name .. " " .. #shape .. "-d", 2))
      end
    end)
  end

  -- what the workers rely on: T.batch.plan draws what aug(xb) draws, and
  -- its plan computes what aug(xb) computes
  it("get from T.batch.plan the draws and pixels of aug(xb)", function()
    for name, make in pairs(AUGMENTS) do
      if name ~= "lua_function" then
        local aug, x = make(), torch.rand(9, 3, 12, 12)
        torch.manual_seed(5)
        local want = aug(x)
        local after = torch.rand(1)
        torch.manual_seed(5)
        local plan = T.batch.plan(aug, 9, 3, 12, 12)
        assert.is_true(torch.equal(after, torch.rand(1)), name .. ": the plan draws what aug draws")
        assert.is_true(torch.equal(want, plan:run(x)), name .. ": the plan computes what aug computes")
      end
    end
  end)

  it("raise an augmentation's error at the user's line and end the epoch's iterator", function()
    local ds = clara.data.TensorDataset(torch.rand(40, 1, 6, 6), torch.zeros(40))
    local l = DataLoader(ds, { batch_size = 8, augment = T.batch.random_crop { size = 9 }, workers = 2 })
    local it = l:iter()
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.matches("does not fit", err)
    ok, err = pcall(it)
    assert.is_false(ok)
    assert.matches("superseded", err)
  end)

  it("draw per batch from a seeded generator and leave torch's where it was", function()
    local ds = clara.data.TensorDataset(torch.rand(40, 1, 12, 12), torch.zeros(40))
    torch.manual_seed(1)
    local expected = torch.rand(3)
    torch.manual_seed(1)
    local l = DataLoader(ds, { batch_size = 8, seed = 2, augment = AUGMENTS.crop_flip(), workers = 2 })
    for _ in l do end
    assert.is_true(torch.equal(expected, torch.rand(3)))
  end)

  it("resume mid-epoch with the draws of the uninterrupted epoch", function()
    local ds = clara.data.TensorDataset(torch.rand(64, 1, 12, 12), torch.arange(64))
    local o = { batch_size = 8, shuffle = true, augment = AUGMENTS.crop_flip(), workers = 2, prefetch = 4 }
    torch.manual_seed(4)
    local whole = DataLoader(ds, o)
    local all = {}
    for xb in whole do all[#all + 1] = xb end
    torch.manual_seed(4)
    local cut = DataLoader(ds, o)
    local it = cut:iter()
    for _ = 1, 3 do it() end
    local s = cut:state()
    cut:close()
    local resumed = DataLoader(ds, { batch_size = 8, shuffle = true, augment = AUGMENTS.crop_flip() })
    resumed:set_state(s)
    local k = 3
    for xb in resumed do
      k = k + 1
      assert.is_true(torch.equal(all[k], xb), "batch " .. k)
    end
    assert.are.equal(#all, k)
  end)
end)

-- a folder per class of small PNG files, from Fashion-MNIST
local function image_folder()
  local root = tmpdir()
  local x, y = clara.data.fashion_mnist { split = "train", limit = 90 }
  for i = 1, 90 do
    local dir = ("%s/class%d"):format(root, y[i]:item())
    require("clara.fs").mkdir_p(dir)
    clara.data.write_image(("%s/%03d.png"):format(dir, i), x[i])
  end
  return root
end

describe("DataLoader workers with an ImageFolder", function()
  local root
  setup(function() root = image_folder() end)

  it("decode the batches of workers = 0, bitwise, in every mode and dtype", function()
    for _, mode in ipairs { "L", "RGB" } do
      for _, dtype in ipairs { "uint8", "float32" } do
        local ds = clara.data.ImageFolder(root, { mode = mode, dtype = dtype })
        local a, b = pair(ds, { batch_size = 16, shuffle = true, seed = 1 })
        assert.matches("2 workers", tostring(b))
        local n = same_batches(a, b, mode .. " " .. dtype, 2)
        assert.are.equal(2 * #a, n)
      end
    end
  end)

  it("augment the decoded batches alike, through Subsets", function()
    local ds = clara.data.ImageFolder(root, { mode = "L" })
    local sub = clara.data.Subset(ds, torch.arange(80, 0, -2, { dtype = "int64" }))
    local a, b = pair(sub, { batch_size = 8, shuffle = true, seed = 6,
                             augment = T.chain { T.batch.random_crop { size = 28, padding = 4 }, T.batch.flip {} } })
    assert.matches("2 workers", tostring(b))
    same_batches(a, b, "Subset of an ImageFolder", 2)
  end)

  it("leave an ImageFolder with a Lua transform to the main thread", function()
    local ds = clara.data.ImageFolder(root, { mode = "L", transform = function(img) return img * 2 end })
    local a, b = pair(ds, { batch_size = 16 })
    assert.is_nil(tostring(b):find("workers"))
    same_batches(a, b, "transform")
  end)

  it("name the batch and the file that does not decode, and go on after", function()
    local bad = tmpdir()
    os.execute(("cp -r '%s/class0' '%s/'"):format(root, bad))
    local f = assert(io.open(bad .. "/class0/zzz_broken.png", "wb"))
    f:write("\137PNG\r\n\26\n truncated")
    f:close()
    local ds = clara.data.ImageFolder(bad, { mode = "L" })
    local l = DataLoader(ds, { batch_size = 4, workers = 2, prefetch = 2 })
    local ok, err = pcall(function() for _ in l do end end)
    assert.is_false(ok)
    assert.matches("DataLoader: a worker failed: batch " .. #l .. " of epoch 1: ", err, 1, true)
    assert.matches("zzz_broken.png", err, 1, true)
    -- a new epoch after the failure loads again, up to the bad file
    local it = l:iter()
    assert.are.same({ 4, 1, 28, 28 }, it():size())
  end)
end)
