-- clara.data.read_image / write_image (issue 14, part 1): decoded pixels
-- equal PIL's on a corpus generated at test time by
-- tests/fixtures/make_images.py (every PNG color type and depth, palettes
-- with and without tRNS, Adam7 interlacing; JPEG gray, RGB at three
-- subsamplings, progressive, CMYK, the 8 EXIF orientations; PNGs with an
-- eXIf orientation), in every
-- mode.  JPEG is compared exactly too: libjpeg-turbo's default decoder is
-- the one Debian's PIL is built on.  Broken files raise naming the file.
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
local image = require "clara.data.image"

local function corpus()
  local dir = tmpdir()
  local ok = os.execute("/usr/bin/python3 tests/fixtures/make_images.py '" .. dir .. "'")
  assert(ok, "tests/fixtures/make_images.py failed")
  return dir
end

local function shape(t) return table.concat(t:size(), "x") end

describe("clara.data.read_image", function()
  local dir = corpus()
  teardown(cleanup)

  local cases = {}
  for line in io.lines(dir .. "/cases.txt") do
    local file, mode, exp = line:match("^(%S+) (%S+) (%S+)$")
    cases[#cases + 1] = { file = file, mode = mode, expected = exp }
  end

  it("equals PIL's pixels on every PNG and JPEG of the corpus, in every mode", function()
    local checked, png, jpeg = 0, 0, 0
    for _, c in ipairs(cases) do
      local path = dir .. "/" .. c.file
      if c.mode == "raw16" then
        -- 16-bit samples kept: their high byte is what PIL shows
        local raw = clara.data.read_image(path, { dtype = "int32" })
        local keep = clara.data.read_npy(dir .. "/" .. c.file .. ".keep.npy")
        assert.is_true(raw:max():item() > 255, c.file .. ": 16-bit samples expected")
        assert.is_true(torch.equal(raw:div(256, { rounding_mode = "floor" }):to("uint8"), keep), c.file)
      else
        local want = clara.data.read_npy(dir .. "/" .. c.expected)
        local got = c.mode == "raw" and clara.data.read_image(path, { dtype = "int32" })
          or clara.data.read_image(path, { mode = c.mode })
        assert.are.equal(shape(want), shape(got), c.file .. " " .. c.mode)
        assert.are.equal(want.dtype, got.dtype, c.file .. " " .. c.mode)
        if not torch.equal(want, got) then
          error(("%s mode %s: %d pixels differ from PIL's"):format(c.file, c.mode,
            want:ne(got):sum():item()), 0)
        end
      end
      checked = checked + 1
      if c.file:match("%.png$") then png = png + 1 else jpeg = jpeg + 1 end
    end
    assert.is_true(png >= 110 and jpeg >= 60, ("only %d PNG and %d JPEG cases"):format(png, jpeg))
  end)

  it("applies EXIF orientation unless asked not to", function()
    local upright = clara.data.read_image(dir .. "/exif1.jpg")
    local six = clara.data.read_image(dir .. "/exif6.jpg")
    assert.are.same({ 3, 19, 11 }, six:size())  -- 19 wide, 11 high, turned
    assert.are.same({ 3, 11, 19 }, upright:size())
    local raw = clara.data.read_image(dir .. "/exif6.jpg", { apply_exif_orientation = false })
    assert.is_true(torch.equal(raw, upright))
    -- a PNG's eXIf chunk, as PIL's exif_transpose reads it
    assert.are.same({ 3, 19, 11 }, clara.data.read_image(dir .. "/exif6.png"):size())
    assert.are.same({ 3, 11, 19 }, clara.data.read_image(dir .. "/exif6.png", { apply_exif_orientation = false }):size())
  end)

  it("scales float dtypes to [0, 1] as ToTensor does (x / 255, x / 65535 for 16-bit)", function()
    local u8 = clara.data.read_image(dir .. "/rgb8.png")
    local f = clara.data.read_image(dir .. "/rgb8.png", { dtype = "float32" })
    assert.are.equal("float32", f.dtype)
    assert.is_true(torch.equal(f, u8:to("float32"):div(255)))
    local raw = clara.data.read_image(dir .. "/gray16.png", { dtype = "int32" })
    local f16 = clara.data.read_image(dir .. "/gray16.png", { dtype = "float64" })
    assert.is_true(torch.equal(f16, raw:to("float64"):div(65535)))
    assert.are.equal(1.0, f16:max():item())
  end)

  it("tells the format by content, not by name", function()
    local named = tmpdir() .. "/really_a_jpeg.png"
    assert(os.execute("cp '" .. dir .. "/rgb_420.jpg' '" .. named .. "'"))
    assert.is_true(torch.equal(clara.data.read_image(named), clara.data.read_image(dir .. "/rgb_420.jpg")))
  end)

  it("raises naming the file and the problem on every broken file", function()
    local n = 0
    for line in io.lines(dir .. "/bad.txt") do
      local file, what = line:match("^([^|]+)|(.*)$")
      local path = dir .. "/bad/" .. file
      local ok, err = pcall(clara.data.read_image, path)
      assert.is_false(ok, file .. " decoded")
      assert.truthy(err:find("clara.data.read_image: " .. path .. ": ", 1, true), err)
      assert.truthy(err:find(what, 1, true), file .. ": " .. err)
      assert.truthy(err:find("image_io_spec.lua", 1, true), "not at the caller's line: " .. err)
      n = n + 1
    end
    assert.is_true(n >= 12)
  end)

  it("refuses a huge header before allocating, and the limit can be raised", function()
    local limits = require "clara.limits"
    local old = limits.image_pixels
    limits.image_pixels = 13 * 7 - 1
    local ok, err = pcall(clara.data.read_image, dir .. "/rgb8.png")
    limits.image_pixels = old
    assert.is_false(ok)
    assert.truthy(err:find("13x7 = 91 pixels, over the limit clara.limits.image_pixels (90)", 1, true), err)
    assert.are.same({ 3, 7, 13 }, clara.data.read_image(dir .. "/rgb8.png"):size())
    -- nor is a file larger than any image under the limit read whole
    local big = tmpdir() .. "/big.png"
    local f = assert(io.open(big, "wb"))
    f:write(string.rep("\0", (64 << 20) + 81))
    f:close()
    limits.image_pixels = 10
    ok, err = pcall(clara.data.read_image, big)
    limits.image_pixels = old
    os.remove(big)
    assert.is_false(ok)
    assert.truthy(err:find("a file of 67108945 bytes is larger than any image under the limit clara.limits.image_pixels (10)", 1, true), err)
  end)

  it("raises on a directory, a missing file, a pipe and bad options", function()
    local function fails(pattern, ...)
      local ok, err = pcall(clara.data.read_image, ...)
      assert.is_false(ok)
      assert.truthy(err:find(pattern, 1, true), err)
    end
    fails(dir .. ": is a directory, not a regular file", dir)
    fails("nothere.png: cannot open: No such file or directory", dir .. "/nothere.png")
    local fifo = tmpdir() .. "/pipe.png"
    assert(os.execute("mkfifo '" .. fifo .. "'"))
    fails("is a named pipe, not a regular file", fifo)
    fails("path must be a string", 42)
    fails("mode must be one of", dir .. "/rgb8.png", { mode = "CMYK" })
    fails("unknown option 'dtpye' (did you mean 'dtype'?)", dir .. "/rgb8.png", { dtpye = "uint8" })
  end)
end)

describe("clara.data.write_image", function()
  teardown(cleanup)
  local function png_by_pil(path)
    local p = io.popen("/usr/bin/python3 -c \"import sys, numpy as np; from PIL import Image; " ..
      "im = Image.open(sys.argv[1]); a = np.asarray(im); print(im.mode, a.shape, int(a.astype(np.int64).sum()))\" '" .. path .. "'")
    local out = p:read("a")
    p:close()
    return out
  end

  it("writes PNGs that read back equal and that PIL reads with the same pixels", function()
    local d = tmpdir()
    for c, mode in ipairs { "L", "LA", "RGB", "RGBA" } do
      local t = torch.randint(0, 256, { c, 5, 9 }, { dtype = "uint8" })
      local path = d .. "/w" .. c .. ".png"
      clara.data.write_image(path, t)
      assert.is_true(torch.equal(clara.data.read_image(path), t))
      local shown = png_by_pil(path)
      assert.truthy(shown:find("^" .. mode .. " "), shown)
      assert.truthy(shown:find(" " .. math.tointeger(t:to("int64"):sum():item()) .. "\n", 1, true), shown)
    end
    local hw = torch.randint(0, 256, { 4, 6 }, { dtype = "uint8" })
    clara.data.write_image(d .. "/hw.png", hw)
    assert.is_true(torch.equal(clara.data.read_image(d .. "/hw.png"), hw:unsqueeze(1)))
  end)

  it("rounds floats as torchvision's save_image (x * 255 + 0.5, clamped)", function()
    local d = tmpdir()
    local f = torch.tensor({ { { 0.0, 0.5, 1.0, 1.2, -0.1, 0.2 } } })
    clara.data.write_image(d .. "/f.png", f)
    assert.are.same({ { { 0, 128, 255, 255, 0, 51 } } }, clara.data.read_image(d .. "/f.png"):totable())
  end)

  it("writes atomically: no file (and no temporary) is left by a failed write", function()
    local d = tmpdir()
    local ok = pcall(clara.data.write_image, d .. "/missing/dir/x.png", torch.zeros(1, 2, 2, { dtype = "uint8" }))
    assert.is_false(ok)
    local p = io.popen("ls -A '" .. d .. "'")
    assert.are.equal("", p:read("a"))
    p:close()
  end)

  it("raises on what it cannot write", function()
    local d = tmpdir()
    local function fails(pattern, ...)
      local ok, err = pcall(clara.data.write_image, ...)
      assert.is_false(ok)
      assert.truthy(err:find(pattern, 1, true), err)
    end
    fails("only PNG is written", d .. "/x.jpg", torch.zeros(3, 2, 2, { dtype = "uint8" }))
    fails("C = 1 to 4", d .. "/x.png", torch.zeros(5, 2, 2, { dtype = "uint8" }))
    fails("C = 1 to 4", d .. "/x.png", torch.zeros(3, 0, 2, { dtype = "uint8" }))
    fails("expected a uint8 tensor", d .. "/x.png", torch.zeros(3, 2, 2, { dtype = "int32" }))
    fails("expected a tensor", d .. "/x.png", "pixels")
  end)
end)
