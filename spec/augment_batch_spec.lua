-- T.batch (batch augmentation in C) against its per-sample twins in clear
-- Lua and against torchvision 0.14 (spec/fixtures/augment.lua from
-- tests/fixtures/make_augment.py):
--   a. with the same seed a batch step gives the twin's pixels, sample by
--      sample: bitwise, except where the arithmetic order is ATen's own
--      (listed in TOL, with why);
--   b. the kernels and the clear helpers on fixed parameters give
--      torchvision's pixels;
--   c. the draws have torchvision's distributions (fixed seeds: the bounds
--      are 5 standard errors or more, a fixed seed cannot flake);
--   d. bad calls raise clear errors;
--   and an experiment's `augment` option touches training batches only.
-- Run: ./clara /usr/bin/busted -o plainTerminal spec/augment_batch_spec.lua

local T = clara.transforms
local images = require "clara.transforms.images"
local draws = require "clara.transforms.draws"
local core = require "clara.transforms.core"
local FX = dofile("spec/fixtures/augment.lua")

local function fixture_tensor(t) return torch.tensor(t.values, { dtype = "float32" }):reshape(t.shape) end

-- max |a - b|, after checking the shapes agree
local function maxdiff(a, b, what)
  assert.same(b:size(), a:size(), (what or "") .. ": shapes differ")
  if a:numel() == 0 then return 0 end
  return (a:double() - b:double()):abs():max():item()
end

local function same(a, b, tol, what)
  if tol == 0 then
    assert(torch.equal(a, b), ("%s: not bitwise equal (max diff %g)"):format(what, maxdiff(a, b, what)))
  else
    local d = maxdiff(a, b, what)
    assert(d <= tol, ("%s: differs by %g > %g"):format(what, d, tol))
  end
end

-- the twin of `step`, applied sample by sample from the same seed
local function per_sample(step, xb, seed)
  torch.manual_seed(seed)
  local twin, outs = step:sample(), {}
  for i = 1, xb:size(1) do
    for v in twin(xb[i]) do outs[i] = v end
  end
  return torch.stack(outs)
end

local function batch(step, xb, seed)
  torch.manual_seed(seed)
  return step(xb)
end

-- {====================== a. batch == per-sample ======================

-- where the kernel cannot be bitwise, the tolerance and why
local TOL = {
  -- ATen's bicubic kernel sums its taps in an order of its own
  bicubic = 1e-5,
  -- antialias: ATen's separable passes sum with FMAs whose grouping the C
  -- kernel mostly, not always, reproduces: within one float32 ulp of 1
  antialias = 2.5e-7,
  -- the contrast mean: ATen's float reduction vs a double sum
  jitter = 1e-6,
}

describe("T.batch equals its per-sample twin with the same seed", function()
  torch.manual_seed(1)
  local rgb = torch.rand(6, 3, 20, 24)
  local gray = torch.rand(5, 18, 17) -- (N, H, W)
  local u8 = (torch.rand(4, 3, 16, 16) * 255):to("uint8")

  local function check(step, xb, tol, seed)
    local got, want = batch(step, xb, seed or 11), per_sample(step, xb, seed or 11)
    same(got, want, tol or 0, tostring(step))
    return got
  end

  it("flip: horizontal and vertical, bitwise", function()
    for _, x in ipairs { rgb, gray } do
      check(T.batch.flip {}, x)
      check(T.batch.flip { p = 0.7, dim = -2 }, x)
    end
  end)

  it("random_crop: zero, constant, edge and reflect padding, uint8 kept, bitwise", function()
    for _, x in ipairs { rgb, gray } do
      check(T.batch.random_crop { size = 16, padding = 4 }, x)
      check(T.batch.random_crop { size = { 15, 13 }, padding = 3, padding_mode = "reflect" }, x)
      check(T.batch.random_crop { size = { 19, 20 }, padding = 2, padding_mode = "edge" }, x)
      check(T.batch.random_crop { size = 14, padding = 5, fill = 0.25 }, x)
    end
    local got = check(T.batch.random_crop { size = 12, padding = 2 }, u8)
    assert.equal("uint8", got.dtype)
  end)

  it("the crop offsets differ between seeds (the draws are used)", function()
    local step = T.batch.random_crop { size = 16, padding = 4 }
    assert.is_false(torch.equal(batch(step, rgb, 1), batch(step, rgb, 2)))
  end)

  it("resize and center_crop: nearest and bilinear bitwise, antialias and bicubic within TOL", function()
    for _, size in ipairs { { 10, 12 }, { 31, 29 }, 9 } do
      check(T.batch.resize { size = size, interpolation = "nearest" }, rgb)
      check(T.batch.resize { size = size }, rgb)
      check(T.batch.resize { size = size }, gray)
      check(T.batch.resize { size = size, antialias = true }, rgb, TOL.antialias)
      check(T.batch.resize { size = size, interpolation = "bicubic" }, rgb, TOL.bicubic)
      check(T.batch.resize { size = size, interpolation = "bicubic", antialias = true }, rgb, TOL.bicubic)
    end
    check(T.batch.center_crop { size = 12 }, rgb)
    check(T.batch.center_crop { size = { 25, 9 } }, gray)
  end)

  it("random_resized_crop: the same boxes and pixels", function()
    check(T.batch.random_resized_crop { size = 16 }, rgb)
    check(T.batch.random_resized_crop { size = { 12, 10 }, scale = { 0.5, 1 } }, rgb)
    check(T.batch.random_resized_crop { size = 12, antialias = true }, rgb, TOL.antialias)
    check(T.batch.random_resized_crop { size = 8, interpolation = "nearest" }, gray)
    check(T.batch.random_resized_crop { size = { 9, 7 } }, gray)
  end)

  it("rotation: nearest and bilinear, bitwise", function()
    check(T.batch.rotation { degrees = 20 }, rgb)
    check(T.batch.rotation { degrees = { -30, 10 }, fill = { 0.1, 0.5, 0.9 } }, rgb)
    check(T.batch.rotation { degrees = 15, interpolation = "bilinear", fill = 0.3 }, rgb)
    check(T.batch.rotation { degrees = 15, interpolation = "bilinear" }, gray)
  end)

  it("color_jitter: brightness, contrast, saturation in a random order", function()
    check(T.batch.color_jitter { brightness = 0.4, contrast = 0.4, saturation = 0.4 }, rgb, TOL.jitter)
    check(T.batch.color_jitter { brightness = { 0.5, 1.5 } }, rgb)
    check(T.batch.color_jitter { contrast = 0.5, saturation = 0.9 }, gray, TOL.jitter)
  end)

  it("random_erasing and normalize, bitwise", function()
    check(T.batch.random_erasing { p = 0.8, value = { 0.5, 0.1, 0.2 } }, rgb)
    check(T.batch.random_erasing { scale = { 0.1, 0.2 } }, gray)
    local n = T.batch.normalize { mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } }
    local mean = torch.tensor({ 0.485, 0.456, 0.406 }, { dtype = "float32" }):view(1, 3, 1, 1)
    local std = torch.tensor({ 0.229, 0.224, 0.225 }, { dtype = "float32" }):view(1, 3, 1, 1)
    same(n(rgb), (rgb - mean) / std, 0, "normalize")
  end)

  it("a chain of batch steps is a T.chain, describable and rebuilt", function()
    local chain = T.chain { T.batch.random_crop { size = 20, padding = 4, padding_mode = "reflect" }, T.batch.flip {},
      T.batch.color_jitter { brightness = 0.2 }, T.batch.normalize { mean = 0.5, std = 0.25 } }
    assert.equal("batch.RandomCrop(size=20, padding=4, padding_mode=reflect) -> batch.RandomFlip(p=0.5) -> "
      .. "batch.ColorJitter(brightness=0.2) -> batch.Normalize(mean=0.5, std=0.25)", tostring(chain))
    local again = T.from_description(require("cjson").encode(chain:describe()))
    assert.equal(tostring(chain), tostring(again))
    same(batch(again, rgb, 5), batch(chain, rgb, 5), 0, "rebuilt chain")
  end)

  it("a plan (the draws made now, run later in C) gives the chain's batch", function()
    local chain = T.chain { T.batch.random_resized_crop { size = 16 }, T.batch.flip {}, T.batch.rotation { degrees = 10 },
      T.batch.color_jitter { brightness = 0.3, contrast = 0.3 }, T.batch.random_crop { size = 14, padding = 2,
        padding_mode = "reflect" }, T.batch.random_erasing { p = 0.9 }, T.batch.normalize { mean = 0.5, std = 0.2 },
      T.batch.center_crop { size = 12 }, T.batch.resize { size = 9, antialias = true } }
    torch.manual_seed(5)
    local plan = T.batch.plan(chain, 6, 3, 20, 24)
    same(plan:run(rgb), batch(chain, rgb, 5), 0, "plan")
    assert.same({ 6, 3, 20, 24 }, T.batch.plan(T.batch.flip {}, 6, 3, 20, 24):run(rgb):size())
    local ok, err = pcall(plan.run, plan, torch.rand(5, 3, 20, 24))
    assert(not ok and err:find("the plan was drawn for a batch (6, 3, 20, 24)", 1, true), err)
    ok, err = pcall(T.batch.plan, T.chain { T.Scale(2) }, 6, 3, 20, 24)
    assert(not ok and err:find("step #1 is not a T.batch step", 1, true), err)
  end)
end)

-- }======================================================

-- {====================== b. torchvision's pixels ======================

local MODE = { nearest = 0, bilinear = 1, bicubic = 2 }
local PAD = { constant = 0, edge = 1, reflect = 2 }

-- the C kernel on one image (as a batch of one) with the case's parameters
local function kernel(c, x)
  local p, xb = c.params, x:unsqueeze(1)
  local H, W = x:size(2), x:size(3)
  if c.kind == "resize" then
    return core.resize(xb, p.size[1], p.size[2], p.box, MODE[p.mode], p.antialias)
  elseif c.kind == "center_crop" then
    return core.crop(xb, p.size[1], p.size[2], { draws.centre(H, p.size[1]) }, { draws.centre(W, p.size[2]) }, nil, 0, 0)
  elseif c.kind == "crop" then
    return core.crop(xb, p.size[1], p.size[2], { p.top }, { p.left }, nil, PAD[p.padding_mode], p.fill)
  elseif c.kind == "flip" then
    return core.flip(xb, { p.flag })
  elseif c.kind == "rotate" then
    return core.rotate(xb, { p.angle }, MODE[p.mode], p.fill)
  elseif c.kind == "jitter" then
    return core.jitter(xb, p.factors, p.order)
  elseif c.kind == "normalize" then
    return core.normalize(xb, p.mean, p.std)
  elseif c.kind == "erase" then
    return core.erase(xb, p.box, p.value)
  end
  error("unknown case kind " .. c.kind)
end

-- the clear per-sample helpers on the same parameters
local function clear(c, x)
  local p = c.params
  if c.kind == "resize" then
    if p.box then x = x:narrow(2, p.box[1] + 1, p.box[3]):narrow(3, p.box[2] + 1, p.box[4]) end
    return images.resize_chw(x, p.size[1], p.size[2], p.mode, p.antialias)
  elseif c.kind == "center_crop" then
    return images.window(x, draws.centre(x:size(2), p.size[1]), draws.centre(x:size(3), p.size[2]), p.size[1], p.size[2])
  elseif c.kind == "crop" then
    return images.window(x, p.top, p.left, p.size[1], p.size[2], p.padding_mode, p.fill)
  elseif c.kind == "flip" then
    return x:flip({ p.flag == 1 and 3 or 2 })
  elseif c.kind == "rotate" then
    return images.rotate_chw(x, p.angle, p.mode, p.fill)
  elseif c.kind == "jitter" then
    for _, k in ipairs(p.order) do
      if p.factors[k + 1] ~= 1 then x = images.adjust(x, k, p.factors[k + 1]) end
    end
    return x
  end
  return nil -- normalize, erase: T.batch's only (the clear erase is part a's)
end

-- the tolerance of a case against torchvision: 0 where the C arithmetic is
-- ATen's, TOL's where part a says why not
local function fixture_tol(c)
  local p = c.params
  if c.kind == "resize" then
    if p.mode == "nearest" then return 0 end
    if p.mode == "bicubic" then return TOL.bicubic end
    if p.antialias then return TOL.antialias end
    return 0
  end
  if c.kind == "jitter" then return TOL.jitter end
  return 0
end

describe("the kernels give torchvision 0.14's pixels on fixed parameters", function()
  local imgs = {}
  for k, t in pairs(FX.images) do imgs[k] = fixture_tensor(t) end

  it("every fixture case, C kernel and clear helper", function()
    assert(#FX.cases >= 90, "the fixture has its cases")
    local bitwise = 0
    for _, c in ipairs(FX.cases) do
      local want, x = fixture_tensor(c.out), imgs[c.image]
      local tol = fixture_tol(c)
      local got = kernel(c, x):squeeze(1)
      same(got, want, tol, c.name .. " (C kernel)")
      if torch.equal(got, want) then bitwise = bitwise + 1 end
      local ref = clear(c, x)
      -- the clear helpers run ATen's own ops: bitwise everywhere
      if ref then same(ref, want, 0, c.name .. " (clear)") end
    end
    print(("\n%d of %d fixture cases bitwise torchvision's"):format(bitwise, #FX.cases))
    assert(bitwise >= 70, "most cases are bitwise torchvision's, got " .. bitwise)
  end)
end)

-- }======================================================

-- {====================== c. distributions ======================

describe("the draws have torchvision's distributions", function()
  it("flip: the fraction flipped is p", function()
    torch.manual_seed(3)
    local n, p = 20000, 0.3
    local x = torch.zeros(n, 1, 1, 2)
    x:narrow(4, 2, 1):fill_(1)
    local out = T.batch.flip { p = p }(x)
    local frac = out:narrow(4, 1, 1):sum():item() / n -- flipped rows start with 1
    local se = math.sqrt(p * (1 - p) / n)
    assert(math.abs(frac - p) < 5 * se, ("flipped %g, expected %g +- %g"):format(frac, p, 5 * se))
  end)

  it("random_crop: offsets uniform over the 9 x 9 positions (chi-square)", function()
    torch.manual_seed(4)
    local n = 8100
    local img = torch.arange(1, 28 * 28 + 1, 1, { dtype = "float32" }):reshape(1, 1, 28, 28)
    local out = T.batch.random_crop { size = 28, padding = 4 }(img:expand(n, 1, 28, 28):contiguous())
    -- output (4, 4) reads (top + 4, left + 4) of the image, always inside
    local v = out:narrow(3, 5, 1):narrow(4, 5, 1):reshape(n):totable()
    local counts = {}
    for _, value in ipairs(v) do
      local idx = math.floor(value + 0.5) - 1
      local key = (idx // 28) * 9 + idx % 28
      counts[key] = (counts[key] or 0) + 1
    end
    local chi, expected, cells = 0, n / 81, 0
    for r = 0, 8 do
      for c = 0, 8 do
        local o = counts[r * 9 + c] or 0
        chi, cells = chi + (o - expected) ^ 2 / expected, cells + 1
      end
    end
    assert.equal(81, cells)
    -- 80 degrees of freedom: mean 80, sd 12.6; 150 is beyond 5 sd
    assert(chi < 150, "chi-square " .. chi)
    -- and every count fell on one of the 81 positions
    local total = 0
    for _, k in pairs(counts) do total = total + k end
    assert.equal(n, total)
  end)

  local function mean_sd(xs)
    local s, s2 = 0, 0
    for _, v in ipairs(xs) do s, s2 = s + v, s2 + v * v end
    local m = s / #xs
    return m, math.sqrt(s2 / #xs - m * m)
  end
  local function near_stat(got, want, sd, n, what)
    local bound = 5 * sd / math.sqrt(n) + 5 * sd / math.sqrt(FX.stats.draws)
    assert(math.abs(got - want) < bound, ("%s: %g, torchvision %g (bound %g)"):format(what, got, want, bound))
  end

  it("random_resized_crop: area fraction and log aspect as torchvision's get_params", function()
    torch.manual_seed(5)
    local n, area, aspect = 20000, {}, {}
    for i, u in ipairs(draws.uniforms(n, draws.RESIZED_CROP)) do
      local top, left, h, w = draws.resized_crop(u, 32, 40, { 0.08, 1 }, { 3 / 4, 4 / 3 })
      assert(top >= 0 and left >= 0 and top + h <= 32 and left + w <= 40)
      area[i], aspect[i] = h * w / (32 * 40), math.log(w / h)
    end
    local st = FX.stats.resized_crop
    local m, sd = mean_sd(area)
    near_stat(m, st.area_mean, st.area_std, n, "area mean")
    assert(math.abs(sd - st.area_std) < 0.01, "area sd " .. sd)
    m, sd = mean_sd(aspect)
    near_stat(m, st.log_aspect_mean, st.log_aspect_std, n, "log aspect mean")
    assert(math.abs(sd - st.log_aspect_std) < 0.01, "log aspect sd " .. sd)
  end)

  it("random_erasing: erases with chance p, areas as torchvision's get_params", function()
    torch.manual_seed(6)
    local n, areas, erased, p = 20000, {}, 0, 0.5
    for _, u in ipairs(draws.uniforms(n, draws.ERASE)) do
      local top, left, h, w = draws.erase(u, 32, 40, p, { 0.02, 0.33 }, { 0.3, 3.3 })
      if h > 0 then
        erased = erased + 1
        assert(top >= 0 and left >= 0 and top + h <= 32 and left + w <= 40)
        areas[#areas + 1] = h * w / (32 * 40)
      end
    end
    local se = math.sqrt(p * (1 - p) / n)
    assert(math.abs(erased / n - p) < 5 * se, "erased fraction " .. erased / n)
    local st = FX.stats.erase
    near_stat(mean_sd(areas), st.area_mean, st.area_std, #areas, "erased area mean")
  end)

  it("color_jitter: factors uniform in their range, the six orders equally likely", function()
    torch.manual_seed(8)
    local n, sum, orders = 12000, 0, {}
    for _, u in ipairs(draws.uniforms(n, draws.JITTER)) do
      local f, o = draws.jitter(u, { { 0.6, 1.4 } })
      assert(f[1] >= 0.6 and f[1] <= 1.4 and f[2] == 1 and f[3] == 1)
      sum = sum + f[1]
      local key = table.concat(o, "")
      orders[key] = (orders[key] or 0) + 1
    end
    local sd = 0.8 / math.sqrt(12)
    assert(math.abs(sum / n - 1) < 5 * sd / math.sqrt(n), "brightness mean " .. sum / n)
    local chi, keys = 0, 0
    for _, c in pairs(orders) do chi, keys = chi + (c - n / 6) ^ 2 / (n / 6), keys + 1 end
    assert.equal(6, keys)
    assert(chi < 30, "order chi-square " .. chi) -- 5 dof: sd 3.2
  end)

  it("rotation: angles uniform in [lo, hi]", function()
    torch.manual_seed(9)
    local n, sum = 10000, 0
    for _, u in ipairs(draws.uniforms(n, draws.ROTATE)) do
      local a = draws.angle(u, -10, 30)
      assert(a >= -10 and a <= 30)
      sum = sum + a
    end
    assert(math.abs(sum / n - 10) < 5 * (40 / math.sqrt(12)) / math.sqrt(n), "angle mean " .. sum / n)
  end)

  it("one torch.randint over lcm(rh, rw) gives the per-sample randint pairs", function()
    torch.manual_seed(12)
    local top, left = draws.crop_offsets(50, 6, 9)
    torch.manual_seed(12)
    for i = 1, 50 do
      assert.equal(torch.randint(0, 6, { 1 }):item(), top[i])
      assert.equal(torch.randint(0, 9, { 1 }):item(), left[i])
    end
  end)
end)

-- }======================================================

-- {====================== d. bad calls ======================

describe("T.batch: bad calls", function()
  local x = torch.rand(2, 3, 8, 8)
  local function raises(f, pattern)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert(tostring(err):find(pattern, 1, true), ("expected '%s' in: %s"):format(pattern, tostring(err)))
  end

  it("names what was wrong", function()
    raises(function() T.batch.flip {}("x") end, "T.batch.flip: expected a batch tensor")
    raises(function() T.batch.flip {}(torch.rand(8, 8)) end, "expected a batch of images (N, C, H, W) or (N, H, W)")
    raises(function() T.batch.flip { n = 2 } end, "n and keep_original are T.augment's options")
    raises(function() T.batch.flip { dim = 1 }(x) end, "dim must be -1 (width) or -2 (height)")
    raises(function() T.batch.random_crop { size = 20, padding = 1 }(x) end, "does not fit")
    raises(function() T.batch.random_crop { size = 8, padding = 8, padding_mode = "reflect" }(x) end,
      "padding_mode 'reflect' needs padding < the image side")
    raises(function() T.batch.random_crop { size = 8, padding_mode = "mirror" } end, "padding_mode must be one of")
    raises(function() T.batch.resize { size = 0 } end, "size must be a positive integer or {h, w}")
    raises(function() T.batch.resize { sise = 4 } end, "did you mean 'size'?")
    raises(function() T.batch.resize {} end, "size is required")
    raises(function() T.batch.resize { size = 4, interpolation = "area" } end, "interpolation must be one of")
    raises(function() T.batch.random_resized_crop { size = 4, scale = { 0.9, 0.1 } } end, "scale must be {lo, hi}")
    raises(function() T.batch.rotation { degrees = -5 } end, "degrees")
    raises(function() T.batch.rotation { degrees = 5, fill = { 1, 2 } }(x) end, "2 values for an image of 3 channels")
    raises(function() T.batch.color_jitter { brightness = -1 } end, "brightness must be a number >= 0")
    raises(function() T.batch.color_jitter { contrast = 0.5 }(torch.rand(2, 2, 4, 4)) end, "expected 1 or 3 channels")
    raises(function() T.batch.random_erasing { p = 2 } end, "p must be <= 1")
    raises(function() T.batch.normalize { mean = 0.5, std = 0 } end, "std must be > 0")
    raises(function() T.batch.normalize { mean = { 0.5, 0.5 }, std = 1 }(x) end, "2 values for an image of 3 channels")
    raises(function() T.augment.resize { size = 4 }(torch.rand(2, 2, 3, 4)) end, "expected one image")
  end)

  it("an empty batch gives an empty batch of the output size", function()
    local x0 = torch.rand(0, 3, 8, 8)
    for _, step in ipairs { T.batch.flip {}, T.batch.random_crop { size = 6, padding = 1 }, T.batch.resize { size = 4 },
      T.batch.center_crop { size = 5 }, T.batch.random_resized_crop { size = 4 }, T.batch.rotation { degrees = 5 },
      T.batch.color_jitter { brightness = 0.2 }, T.batch.random_erasing {}, T.batch.normalize { mean = 0, std = 1 } } do
      local y = step(x0)
      assert.equal(0, y:size(1), tostring(step))
      assert.equal(3, y:size(2), tostring(step))
    end
    assert.same({ 0, 3, 4, 4 }, T.batch.resize { size = 4 }(x0):size())
    assert.same({ 0, 3, 8, 8 }, T.batch.plan(T.batch.flip {}, 0, 3, 8, 8):run(x0):size())
  end)

  it("a kernel's failure (memory) is raised at the user's line, naming the step", function()
    raises(function() T.batch.resize { size = { 100000, 100000 } }(torch.rand(1, 1, 4, 4)) end,
      "augment_batch_spec.lua")
    raises(function() T.batch.resize { size = { 100000, 100000 } }(torch.rand(1, 1, 4, 4)) end, "T.batch.resize: ")
  end)

  it("the kernels refuse what would be unsafe", function()
    raises(function() core.crop(x, 4, 4, { 0 }, { 0 }, nil, 0, 0) end, "expected 2 values")
    raises(function() core.resize(x, 4, 4, { 0, 0, 9, 9, 0, 0, 1, 1 }, 1, false) end, "bad parameters")
    raises(function() core.resize(torch.rand(3, 4), 2, 2, nil, 1, false) end, "(N, C, H, W)")
    raises(function() core.jitter(x, { 1, 1, 1, 1, 1, 1 }, { 0, 1, 5, 0, 1, 2 }) end, "bad parameters")
  end)
end)

-- }======================================================

-- {====================== the experiment's augment ======================

describe("an experiment's augment option", function()
  local function ds(n, seed)
    torch.manual_seed(seed)
    local x = torch.rand(n, 1, 8, 8)
    return clara.data.TensorDataset(x, x:mean({ 2, 3, 4 }):gt(0.5):long())
  end

  local function run(impl, seen, out_dir)
    return clara.experiment {
      name = "augment_spec", data = { train = ds(48, 1), val = ds(24, 2) },
      model = function() return nn.Sequential(nn.Flatten(), nn.Linear(64, 2)) end,
      objective = clara.losses.cross_entropy,
      optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
      augment = T.chain { T.batch.random_crop { size = 8, padding = 2 }, T.batch.flip {},
        function(xb) seen[#seen + 1] = xb:size(1) return xb end },
      batch_size = 16, epochs = 2, seed = 3, verbose = false, out_dir = out_dir or false, impl = impl,
    }:run()
  end

  it("augments training batches only, the clear and fast loops alike", function()
    local seen_clear, seen_fast = {}, {}
    local a, b = run("clear", seen_clear), run("fast", seen_fast)
    local rows = 0
    for _, n in ipairs(seen_clear) do rows = rows + n end
    assert.equal(96, rows) -- 48 training rows, 2 epochs; no validation rows
    assert.same(seen_clear, seen_fast)
    for e = 1, 2 do
      assert.equal(a.history[e].train_loss, b.history[e].train_loss)
      assert.equal(a.history[e].val_loss, b.history[e].val_loss)
    end
  end)

  it("resumes exactly: a run crashed mid-epoch ends with the uninterrupted run's weights", function()
    local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
    local assert_same_weights = dofile("spec/helpers/same_weights.lua")
    local function exp(out)
      return clara.experiment {
        name = "augment_resume", data = { train = ds(48, 1), val = ds(16, 2) },
        model = function() return nn.Sequential(nn.Flatten(), nn.Linear(64, 2)) end,
        objective = clara.losses.cross_entropy,
        optimizer = function(m) return optim.SGD(m, { lr = 0.1, momentum = 0.9 }) end,
        augment = T.chain { T.batch.random_crop { size = 8, padding = 2 }, T.batch.flip {},
          T.batch.color_jitter { brightness = 0.3, contrast = 0.3 } },
        batch_size = 8, epochs = 2, seed = 5, verbose = false, out_dir = out, checkpoint_every = 1,
      }
    end
    local ok, err = pcall(function()
      local reference = exp(tmpdir()):run()
      local e = exp(tmpdir())
      local crashed = pcall(function()
        e:with { hooks = { on_step_end = function(ctx) if ctx.step == 8 then error("crash", 0) end end } }:run()
      end)
      assert.is_false(crashed)
      local r = e:run { resume = true }
      assert_same_weights(r.model, reference.model, "augmented run resumed at step 8")
      assert.equal(reference.history[2].train_loss, r.history[2].train_loss)
    end)
    cleanup()
    assert(ok, err)
  end)

  it("is described in the run's model.txt and config.json", function()
    local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
    local dir = tmpdir()
    local ok, r = pcall(run, "clear", {}, dir)
    local text, cfg
    if ok then
      local f = assert(io.open(r.dir .. "/model.txt"))
      text = f:read("a")
      f:close()
      f = assert(io.open(r.dir .. "/config.json"))
      cfg = require("cjson").decode(f:read("a"))
      f:close()
    end
    cleanup()
    assert(ok, r)
    assert(text:find("augment:\nbatch.RandomCrop(size=8, padding=2) -> batch.RandomFlip(p=0.5) -> Lambda(", 1, true), text)
    assert.equal("chain", cfg.augment and cfg.augment.name or "(no augment in config.json)")
  end)
end)

-- }======================================================
