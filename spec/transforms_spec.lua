-- clara.transforms and clara.postprocess: values against PyTorch
-- (spec/fixtures/transforms.lua from tests/fixtures/make_transforms.py),
-- fitting on training rows only (the leakage tests), one-line descriptions
-- and their round trip through describe()/JSON, augmentation generators.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/transforms_spec.lua

local torch = require "torch"
local clara = require "clara"
local cjson = require "cjson"
local T = clara.transforms
local P = clara.postprocess
local F = dofile("spec/fixtures/transforms.lua")

local function close(a, b, what)
  if type(b) == "table" then b = torch.tensor(b, { dtype = "float64" }) end
  a = a:double()
  assert.same(b:size(), a:size(), (what or "") .. ": shapes differ")
  local d = ((a - b):abs() - (b:abs() * 1e-5 + 1e-6)):max():item()
  assert(d <= 0, ("%s: differs from PyTorch beyond 1e-5 relative"):format(what or "values"))
end

local X = torch.tensor(F.X, { dtype = "float32" })
local IMG = torch.tensor(F.IMG, { dtype = "uint8" })
local LOGITS = torch.tensor(F.LOGITS, { dtype = "float32" })

describe("transforms: values against PyTorch", function()
  it("Scale(1/255) turns uint8 images into float32", function()
    local y = T.Scale(1 / 255)(IMG)
    assert.equal("float32", y.dtype)
    close(y, F.scale, "Scale")
  end)

  it("Normalize fitted: mean and unbiased std of all elements", function()
    local n = T.Normalize.fit(X)
    assert.near(F.norm_mean, n.mean, 1e-5 * math.abs(F.norm_mean))
    assert.near(F.norm_std, n.std, 1e-5 * F.norm_std)
    close(n(X), F.norm_out, "Normalize")
    local m = T.Normalize():fit(X) -- the method form gives the same
    assert.equal(n.mean, m.mean)
  end)

  it("Normalize with given per-feature mean and std", function()
    local n = T.Normalize { mean = { 1, 10, 3, 0 }, std = { 2, 1, 0.5, 4 } }
    close(n(X), F.norm4_out, "Normalize lists")
    assert.equal("Normalize(mean=[1, 10, 3, 0], std=[2, 1, 0.5, 4])", tostring(n))
  end)

  it("Standardize: per feature, population std, constant features kept", function()
    local s = T.Standardize():fit(X)
    close(s.mean, F.std_mean, "Standardize mean")
    close(s.std, F.std_std, "Standardize std")
    close(s(X), F.std_out, "Standardize")
  end)

  it("Flatten keeps the batch dim; Reshape reshapes each sample", function()
    assert.same(F.flatten_shape, T.Flatten()(IMG):size())
    assert.same({ 2, 6 }, T.Flatten()(IMG):size())
    assert.same({ 12 }, T.Flatten { start_dim = 1 }(IMG):size())
    assert.same({ 2, 3, 2 }, T.Reshape { 3, 2 }(IMG):size())
    assert.same(IMG:flatten():totable(), T.Reshape { 3, 2 }(IMG):flatten():totable())
  end)

  it("a chain applies its steps in order", function()
    local pre = T.chain { T.Scale(1 / 255), T.Flatten(), T.Lambda(function(x) return x * 2 end, "double") }
    close(pre(IMG), torch.tensor(F.scale, { dtype = "float64" }):flatten(2) * 2, "chain")
    assert.equal(3, #pre)
  end)
end)

describe("fitting sees the training rows only", function()
  -- rows 1..6 are training data; rows 7..9 are poisoned: any leak moves the mean
  local poisoned = torch.cat({ X, torch.full({ 3, 4 }, 1000.0) }, 1)

  it("Normalize fitted on a split's train part ignores val and test rows", function()
    local p = clara.data.split(9, { counts = { 6, 3 }, names = { "train", "test" }, shuffle = false })
    local n = T.Normalize.fit(p:take(poisoned, "train"))
    assert.near(F.norm_mean, n.mean, 1e-5 * math.abs(F.norm_mean))
    assert.near(F.norm_std, n.std, 1e-5 * F.norm_std)
    assert.equal(6, n.rows)
  end)

  it("a shuffled split: the fitted statistics are those of exactly the train indices", function()
    local data = torch.arange(100, { dtype = "float32" }):view(100, 1) * torch.ones(1, 3)
    local p = clara.data.split(100, { ratios = { 0.6, 0.2, 0.2 }, seed = 11 })
    local pre = T.chain { T.Scale(0.5), T.Normalize(), T.Flatten() }
    pre:fit(p:take(data, "train"))
    local mean = p.train:double():mean():item() * 0.5
    assert.near(mean, pre.steps[2].mean, 1e-4)
    local all = data:mean():item() * 0.5
    assert.is_true(math.abs(all - mean) > 1e-3, "train mean equals the full mean: test not discriminating")
    local s = T.Standardize():fit(p:take(data, "train"))
    assert.near(p.train:double():mean():item(), s.mean[1]:item(), 1e-4)
  end)

  it("refuses to fit on the held-out test partition", function()
    local p = clara.data.split(9, { ratios = { 0.5, 0.25, 0.25 }, seed = 1 })
    local test_rows = p:take(poisoned, "test")
    for _, fit in ipairs {
      function() T.Normalize.fit(test_rows) end,
      function() T.Standardize():fit(test_rows) end,
      function() T.chain { T.Scale(2), T.Normalize() }:fit(test_rows) end,
    } do
      local ok, err = pcall(fit)
      assert.is_false(ok)
      assert.truthy(err:find("held-out test partition", 1, true), err)
    end
    -- the train rows fit fine
    T.Normalize.fit(p:take(poisoned, "train"))
  end)

  it("an unfitted step says so", function()
    local ok, err = pcall(function() return T.Normalize()(X) end)
    assert.is_false(ok)
    assert.truthy(err:find("Normalize: not fitted", 1, true), err)
    assert.equal("Normalize(unfitted)", tostring(T.Normalize()))
    assert.equal("Standardize(unfitted)", tostring(T.Standardize()))
  end)
end)

describe("descriptions", function()
  it("print one meaningful line per pipeline", function()
    local n = T.Normalize { mean = 0.2860402, std = 0.3530239 }
    assert.equal("Scale(1/255) -> Normalize(mean=0.286, std=0.353) -> Flatten()",
      tostring(T.chain { T.Scale(1 / 255), n, T.Flatten() }))
    assert.equal("Scale(0.5)", tostring(T.Scale(0.5)))
    assert.equal("Standardize(4 features, fitted on 6 rows)", tostring(T.Standardize():fit(X)))
    assert.equal("Reshape(1, 28, 28)", tostring(T.Reshape { 1, 28, 28 }))
    assert.equal("Flatten(start_dim=1)", tostring(T.Flatten { start_dim = 1 }))
    assert.equal("Lambda(clip)", tostring(T.Lambda(function(x) return x end, "clip")))
    assert.equal("Identity()", tostring(T.chain {}))
    -- nested chains read as one pipeline
    assert.equal("Scale(2) -> Flatten() -> Scale(3)",
      tostring(T.chain { T.chain { T.Scale(2), T.Flatten() }, T.Scale(3) }))
  end)

  it("round trip through describe() and JSON, fitted statistics included", function()
    local pre = T.chain { T.Scale(1 / 255), T.Normalize(), T.Flatten(), T.Reshape { 2, 3 } }
    pre:fit(IMG)
    local again = T.from_description(cjson.encode(pre:describe()))
    assert.equal(tostring(pre), tostring(again))
    assert.is_true(again(IMG):equal(pre(IMG)))
    local st = T.Standardize():fit(X)
    local st2 = T.from_description(cjson.decode(cjson.encode(st:describe())))
    close(st2(X), F.std_out, "Standardize rebuilt")
    local post = P.chain { P.Softmax(), P.TopK { k = 2 } }
    assert.equal(tostring(post), tostring(T.from_description(cjson.encode(post:describe()))))
  end)

  it("Lambda cannot be rebuilt: a clear error", function()
    local d = T.chain { T.Scale(2), T.Lambda(function(x) return x end, "clip") }:describe()
    local ok, err = pcall(T.from_description, d)
    assert.is_false(ok)
    assert.truthy(err:find("Lambda(clip)", 1, true) and err:find("cannot be rebuilt", 1, true), err)
  end)
end)

describe("augmentation generators", function()
  before_each(function() torch.manual_seed(7) end)
  local img = torch.arange(2 * 5 * 6, { dtype = "float32" }):view(2, 5, 6)

  local function collect(gen)
    local out = {}
    for s in gen do out[#out + 1] = s end
    return out
  end

  it("flip yields n samples, each the image or its mirror", function()
    local out = collect(T.augment.flip { p = 0.5, n = 8 }(img))
    assert.equal(8, #out)
    local flipped, kept = 0, 0
    for _, s in ipairs(out) do
      if s:equal(img:flip({ 3 })) then flipped = flipped + 1 elseif s:equal(img) then kept = kept + 1 end
    end
    assert.equal(8, flipped + kept)
    assert.is_true(flipped > 0 and kept > 0)
    assert.is_true(collect(T.augment.flip { p = 1 }(img))[1]:equal(img:flip({ 3 })))
  end)

  it("keep_original yields the input first", function()
    local out = collect(T.augment.noise { std = 0.1, n = 3, keep_original = true }(img))
    assert.equal(4, #out)
    assert.equal(img, out[1])
    assert.is_false(out[2]:equal(img))
    assert.is_true((out[2] - img):abs():max():item() < 1)
  end)

  it("random_crop: the requested size, cut from the zero-padded image", function()
    local out = collect(T.augment.random_crop { size = 4, padding = 1, n = 5 }(img))
    assert.equal(5, #out)
    for _, s in ipairs(out) do assert.same({ 2, 4, 4 }, s:size()) end
    -- no padding and the full size: the image itself
    assert.is_true(collect(T.augment.random_crop { size = { 5, 6 } }(img))[1]:equal(img))
  end)

  it("shift keeps the size and moves the content by at most max", function()
    local one = torch.zeros(7, 7)
    one[{ 4, 4 }] = 1
    for _, s in ipairs(collect(T.augment.shift { max = 2, n = 10 }(one))) do
      assert.same({ 7, 7 }, s:size())
      assert.equal(1, s:sum():item())
      local _, at = s:flatten():max(1)
      local r, c = at:item() // 7, at:item() % 7
      assert.is_true(math.abs(r - 3) <= 2 and math.abs(c - 3) <= 2)
    end
  end)

  it("noise works on vectors", function()
    local v = torch.zeros(10)
    local out = collect(T.augment.noise { std = 0.5, n = 2 }(v))
    assert.equal(2, #out)
    assert.same({ 10 }, out[1]:size())
    assert.is_true(out[1]:abs():sum():item() > 0)
  end)

  it("are reproducible with torch.manual_seed", function()
    local aug = T.augment.random_crop { size = 3, padding = 2, n = 4 }
    torch.manual_seed(3)
    local a = collect(aug(img))
    torch.manual_seed(3)
    local b = collect(aug(img))
    for k = 1, 4 do assert.is_true(a[k]:equal(b[k])) end
  end)

  it("chain multiplies the counts; expand grows a batch with targets repeated", function()
    local aug = T.augment.chain { T.augment.flip { n = 2, keep_original = true }, T.augment.shift { max = 1, n = 2 } }
    assert.equal(6, aug:count())
    assert.equal(6, #collect(aug(img[1])))
    assert.equal("RandomFlip(p=0.5, n=2, keep_original) -> RandomShift(max=1, n=2)", tostring(aug))
    local xb, yb = aug:expand(img, torch.tensor { 3, 8 })
    assert.same({ 12, 5, 6 }, xb:size())
    assert.same({ 3, 3, 3, 3, 3, 3, 8, 8, 8, 8, 8, 8 }, yb:totable())
    local again = T.from_description(cjson.encode(aug:describe()))
    assert.equal(tostring(aug), tostring(again))
  end)

  it("describe themselves in one line", function()
    assert.equal("RandomFlip(p=0.5)", tostring(T.augment.flip {}))
    assert.equal("RandomCrop(size=24, padding=4, n=3)", tostring(T.augment.random_crop { size = 24, padding = 4, n = 3 }))
    assert.equal("Noise(std=0.1)", tostring(T.augment.noise { std = 0.1 }))
  end)
end)

describe("postprocessing", function()
  it("Softmax, Argmax, Sigmoid, Threshold and TopK as PyTorch", function()
    close(P.Softmax()(LOGITS), F.softmax, "Softmax")
    close(P.Softmax { dim = 1 }(LOGITS), F.softmax_dim1, "Softmax dim 1")
    assert.same(F.argmax, P.Argmax()(LOGITS):totable())
    close(P.Sigmoid()(LOGITS), F.sigmoid, "Sigmoid")
    assert.same(F.threshold, P.chain { P.Sigmoid(), P.Threshold { value = 0.7 } }(LOGITS):totable())
    assert.same(F.top2, P.TopK { k = 2 }(LOGITS):totable())
  end)

  it("LabelNames maps class ids to names, any shape", function()
    local names = { "cat", "dog", "bird", "fish" }
    local post = P.chain { P.Softmax(), P.Argmax(), P.LabelNames(names) }
    local want = {}
    for k, id in ipairs(F.argmax) do want[k] = names[id + 1] end
    assert.same(want, post(LOGITS))
    assert.same({ { "fish", "cat" } }, P.LabelNames(names)(torch.tensor { { 3, 0 } }))
    assert.equal("dog", P.LabelNames(names)(torch.tensor(1)))
    local ok, err = pcall(P.LabelNames(names), torch.tensor { 4 })
    assert.is_false(ok)
    assert.truthy(err:find("class id 4 out of range 0..3", 1, true), err)
  end)

  it("chains print and rebuild", function()
    local post = P.chain { P.Softmax(), P.Argmax(), P.LabelNames(clara.data.fashion_mnist_classes) }
    assert.equal("Softmax(dim=-1) -> Argmax(dim=-1) -> LabelNames(10 names: T-shirt/top, Trouser, ...)", tostring(post))
    local again = P.from_description(cjson.encode(post:describe()))
    assert.same(post(LOGITS), again(LOGITS))
    assert.equal("Sigmoid() -> Threshold(value=0.7)", tostring(P.chain { P.Sigmoid(), P.Threshold { value = 0.7 } }))
    assert.equal("TopK(k=3)", tostring(P.TopK { k = 3 }))
    assert.equal(T.post, P)
  end)
end)
