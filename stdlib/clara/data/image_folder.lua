-- clara.data.ImageFolder: images in one folder per class, as
-- torchvision.datasets.ImageFolder reads them, decoded lazily.
--
--   ds = clara.data.ImageFolder(root[, opts])
--   ds = clara.data.ImageFolder{list = "train.csv"[, root =, ...]}
--   #ds; ds:get(i) -> image (C, H, W), label (0-d int64 tensor, 0-based)
--   ds[i] -> {image, label} (an index yields one value in Lua)
--   ds.classes, ds.class_to_idx, ds.samples ({path, label} each)
--
-- Folders: the classes are root's subfolders, sorted (or opts.classes, in
-- index order); each class's files are found recursively (symlinks
-- followed, each directory once), directories sorted by path and files by
-- name, kept when their extension is one of opts.extensions (any case).
-- A class with no file is an error, as in torchvision.
-- A list: one "path,label" line each (a first line "path,label" is a
-- header); the label is after the last comma, a 0-based class index or a
-- class name (names: classes sorted, or opts.classes); paths are relative
-- to opts.root, by default the list's folder.
--
-- Images decode as clara.data.read_image with opts.mode (default "RGB", as
-- torchvision's loader converts) and opts.dtype (default float32 in
-- [0, 1], what ToTensor gives); then opts.transform(image) and
-- opts.target_transform(label) (label an integer) apply.
-- opts.size (torchvision's Resize: an integer N makes the smaller edge N,
-- keeping the aspect ratio as int(N * long / short); {H, W} makes H x W)
-- and opts.crop (CenterCrop: N or {H, W}; larger than the resized image is
-- an error, not a padding) fit each image right after decoding, before
-- opts.transform, with opts.resize ("bilinear", "nearest", "bicubic") and
-- opts.antialias (default true; ignored by nearest).  The resize runs in
-- C in float32 (bindings/image_fit.c, the kernel of T.batch.resize), the
-- same code in ds:get and in DataLoader workers, so both give the same
-- pixels; a uint8 dtype is resized as float 0..255, then rounded and
-- clamped, as torchvision's F.resize does on uint8 tensors.  float32 is
-- the path checked against torchvision (spec/image_folder_resize_spec.lua).
-- skip_bad = true decodes every file once at construction and leaves out
-- those that fail (empty, truncated, corrupt, too large): ds.skipped lists
-- {path =, error =} and one line on stderr says how many.  Otherwise a bad
-- file raises when its sample is read, naming the file.
local lfs = require "lfs"
local torch = require "torch"
local E = require "clara.error"
local image = require "clara.data.image"
local core = require "clara.image.core"

local API = "clara.data.ImageFolder"

-- size and crop: N or {H, W}, integers >= 1 (and no more pixels than an
-- image may have)
local HW = "an integer N >= 1 or a table {H, W} of two integers >= 1"
local function check_hw(v)
  local list = type(v) == "table" and v or { v, v }
  local h, w = math.tointeger(list[1]), math.tointeger(list[2])
  if #list ~= 2 or next(list, #list > 0 and #list or nil) ~= nil or not h or not w or h < 1 or w < 1 then
    return false, ("must be %s, got %s"):format(HW, E.show(v))
  end
  local limit = require("clara.limits").image_pixels
  if h * w > limit then return false, ("must make at most %d pixels (clara.limits.image_pixels), got %s"):format(limit, E.show(v)) end
  return true
end

local OPTIONS = {
  root = { type = "string", doc = "the folder of class folders; with list, what its paths are relative to" },
  list = { type = "string", doc = "a CSV file of path,label lines instead of class folders" },
  extensions = { type = "table", default = { ".png", ".jpg", ".jpeg" }, doc = "file extensions to take (any case)" },
  transform = { type = "callable", doc = "applied to each image tensor" },
  target_transform = { type = "callable", doc = "applied to each label (an integer)" },
  classes = { type = "table", doc = "class names in index order (default: the folders, sorted)" },
  skip_bad = { type = "boolean", default = false, doc = "decode every file at construction and leave out bad ones" },
  mode = { type = "string", enum = { "L", "RGB", "RGBA", "keep" }, default = "RGB", doc = "as read_image's" },
  dtype = { type = "string", enum = image.READ_OPTIONS.dtype.enum, default = "float32",
    doc = "as read_image's (float: scaled to [0, 1])" },
  apply_exif_orientation = { type = "boolean", default = true, doc = "as read_image's" },
  size = { type = "integer|table", check = check_hw, what = HW,
    doc = "resize each image: N (the smaller edge, keeping the aspect ratio) or {H, W}" },
  crop = { type = "integer|table", check = check_hw, what = HW,
    doc = "centre-crop each image (after size) to N x N or {H, W}" },
  resize = { type = "string", enum = { "bilinear", "nearest", "bicubic" }, default = "bilinear",
    doc = "the interpolation of size" },
  antialias = { type = "boolean", default = true, doc = "antialias when size shrinks (bilinear, bicubic)" },
}

local ImageFolder = { __name = "ImageFolder" }

-- {h, w} of a size or crop option (N or {H, W})
local function hw(v)
  if type(v) == "table" then return math.tointeger(v[1]), math.tointeger(v[2]) end
  return math.tointeger(v), math.tointeger(v)
end

-- the fit table of bindings/l_image.h for size, crop, resize, antialias, or
-- nil when neither size nor crop is given
local function fit_of(o)
  if o.size == nil and o.crop == nil then return nil end
  if o.dtype ~= "uint8" and o.dtype ~= "float32" then
    E.raise(API, "size and crop resize uint8 or float32 images, not %s (give dtype = 'float32')", o.dtype)
  end
  local fit = { mode = o.resize, antialias = o.antialias, max_pixels = require("clara.limits").image_pixels }
  if type(o.size) == "table" then
    fit.h, fit.w = hw(o.size)
  elseif o.size then
    fit.shorter = math.tointeger(o.size)
  end
  if o.crop then
    fit.crop_h, fit.crop_w = hw(o.crop)
    -- the resized image is at least h x w, or shorter x shorter
    local h, w = fit.h or fit.shorter, fit.w or fit.shorter
    if h and (fit.crop_h > h or fit.crop_w > w) then
      E.raise(API, "crop %dx%d is larger than the resized image, %s (give a smaller crop, or a larger size)",
        fit.crop_h, fit.crop_w, fit.h and ("%dx%d"):format(h, w)
          or ("whose smaller edge is %d (size = %d)"):format(h, h))
    end
  end
  return fit
end

local function join(dir, name) return dir:sub(-1) == "/" and dir .. name or dir .. "/" .. name end

local function entries(dir)
  local ok, iter, state = pcall(lfs.dir, dir)
  if not ok then E.raise(API, "cannot read the folder '%s': %s", dir, tostring(iter):gsub("^.-: ", "")) end
  local names = {}
  for name in iter, state do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- every directory under dir (itself included), each once however many
-- symlinks lead to it, as {path, files (sorted)}, sorted by path
local function walk(dir)
  local seen, out = {}, {}
  local function visit(d)
    local a = lfs.attributes(d)
    local key = a and (a.dev .. ":" .. a.ino)
    if not a or seen[key] then return end
    seen[key] = true
    local files = {}
    for _, name in ipairs(entries(d)) do
      local p = join(d, name)
      if lfs.attributes(p, "mode") == "directory" then visit(p) else files[#files + 1] = name end
    end
    out[#out + 1] = { path = d, files = files }
  end
  visit(dir)
  table.sort(out, function(a, b) return a.path < b.path end)
  return out
end

local function has_extension(name, exts)
  local lower = name:lower()
  for _, e in ipairs(exts) do
    if lower:sub(-#e) == e:lower() then return true end
  end
  return false
end

local function check_classes(classes)
  for k, c in ipairs(classes) do
    if type(c) ~= "string" then E.raise(API, "classes[%d] must be a string, got %s", k, E.show(c)) end
  end
  return classes
end

local function from_folders(root, o)
  if lfs.attributes(root, "mode") ~= "directory" then
    E.raise(API, "'%s' is not a folder (give the folder holding one folder per class)", root)
  end
  local classes = o.classes and check_classes(o.classes)
  if not classes then
    classes = {}
    for _, name in ipairs(entries(root)) do
      if lfs.attributes(join(root, name), "mode") == "directory" then classes[#classes + 1] = name end
    end
    if #classes == 0 then E.raise(API, "couldn't find any class folder in '%s'", root) end
  end
  local samples, empty = {}, {}
  for idx, c in ipairs(classes) do
    local dir = join(root, c)
    if lfs.attributes(dir, "mode") ~= "directory" then
      E.raise(API, "class '%s' has no folder '%s'", c, dir)
    end
    local before = #samples
    for _, d in ipairs(walk(dir)) do
      for _, f in ipairs(d.files) do
        if has_extension(f, o.extensions) then samples[#samples + 1] = { join(d.path, f), idx - 1 } end
      end
    end
    if #samples == before then empty[#empty + 1] = c end
  end
  if #empty > 0 then
    E.raise(API, "found no valid file for the classes %s in '%s'; the extensions taken are %s (option extensions)",
      table.concat(empty, ", "), root, table.concat(o.extensions, ", "))
  end
  return samples, classes
end

-- the "path,label" lines of a list file
local function read_list(list)
  local f, err = io.open(list, "r")
  if not f then E.raise(API, "cannot read the list '%s': %s", list, err) end
  local rows = {}
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("\r$", "")
    if line:match("%S") then
      local path, label = line:match("^(.*),%s*([^,]-)%s*$")
      if not path or path == "" or label == "" then
        f:close()
        E.raise(API, "%s:%d: expected 'path,label', got '%s'", list, n, line)
      end
      if not (n == 1 and path == "path" and label == "label") then
        rows[#rows + 1] = { path = path, label = label, line = n }
      end
    end
  end
  f:close()
  if #rows == 0 then E.raise(API, "the list '%s' has no sample", list) end
  return rows
end

local function from_list(list, root, o)
  local rows = read_list(list)
  local numeric = true
  for _, r in ipairs(rows) do
    if not r.label:match("^%d+$") then numeric = false break end
  end
  local classes = o.classes and check_classes(o.classes)
  local index = {}
  if not numeric then
    if not classes then
      local seen = {}
      classes = {}
      for _, r in ipairs(rows) do
        if not seen[r.label] then seen[r.label] = true; classes[#classes + 1] = r.label end
      end
      table.sort(classes)
    end
    for k, c in ipairs(classes) do index[c] = k - 1 end
  end
  local samples = {}
  for k, r in ipairs(rows) do
    local label = numeric and math.tointeger(tonumber(r.label)) or index[r.label]
    if label == nil then
      E.raise(API, "%s:%d: label '%s' is not one of the classes given", list, r.line, r.label)
    end
    if numeric and classes and label >= #classes then
      E.raise(API, "%s:%d: label %d is out of range for %d classes (labels are 0-based)", list, r.line, label, #classes)
    end
    samples[k] = { r.path:sub(1, 1) == "/" and r.path or join(root, r.path), label }
  end
  return samples, classes
end

-- skip_bad: every file decoded once; the bad ones left out and reported
local function scan(self)
  local good, bad = {}, {}
  for _, s in ipairs(self.samples) do
    local t, err = image.decode(s[1], self.decode_options)
    if t then good[#good + 1] = s else bad[#bad + 1] = { path = s[1], error = err } end
  end
  if #bad > 0 then
    io.stderr:write(("%s: skipped %d of %d files that do not decode (first: %s); ds.skipped lists them\n")
      :format(API, #bad, #self.samples, bad[1].error))
  end
  self.samples, self.skipped = good, bad
  if #good == 0 then E.raise(API, "no file decodes (%d bad ones, first: %s)", #bad, bad[1].error) end
end

local function new(root, opts)
  local o
  if type(root) == "table" and opts == nil then
    o = E.options(API, root, OPTIONS)
    root = o.root
  else
    if type(root) ~= "string" then
      E.raise(API, "expected a folder path or an options table ({list =, root =}), got %s", E.show(root))
    end
    o = E.options(API, opts, OPTIONS)
    if o.root ~= nil then E.raise(API, "root is given twice (as argument and as option)") end
  end
  local self = {
    root = root, list = o.list, transform = o.transform, target_transform = o.target_transform,
    decode_options = { mode = o.mode, dtype = o.dtype, apply_exif_orientation = o.apply_exif_orientation },
    fit = fit_of(o),
    skipped = {},
  }
  if o.list then
    self.root = root or require("clara.fs").dirname(o.list)
    self.samples, self.classes = from_list(o.list, self.root, o)
  else
    if root == nil then E.raise(API, "give the folder of class folders, or list = 'file.csv'") end
    self.samples, self.classes = from_folders(root, o)
  end
  if self.classes then
    self.class_to_idx = {}
    for k, c in ipairs(self.classes) do self.class_to_idx[c] = k - 1 end
  end
  setmetatable(self, ImageFolder)
  if o.skip_bad then scan(self) end
  return self
end

ImageFolder.__len = function(self) return #self.samples end

function ImageFolder:get(i)
  local n = #self.samples
  if math.type(i) ~= "integer" or i < 1 or i > n then
    E.raise(nil, "ImageFolder:get: position %s out of range 1..%d", tostring(i), n)
  end
  local s = self.samples[i]
  local img, err = image.decode(s[1], self.decode_options)
  if not img then
    E.raise(API, "sample %d: %s (skip_bad = true leaves out files that do not decode)", i, err)
  end
  if self.fit then
    local u8 = img.dtype == "uint8"
    local fitted, why = core.fit((u8 and img:to("float32") or img):contiguous(), self.fit, u8)
    if not fitted then E.raise(API, "sample %d: %s: %s", i, s[1], why) end
    img = fitted
  end
  if self.transform then img = self.transform(img) end
  local target = s[2]
  if self.target_transform then target = self.target_transform(target)
  else target = torch.tensor(target, { dtype = "int64" }) end
  return img, target
end

ImageFolder.__index = function(self, k)
  if math.type(k) == "integer" then return table.pack(self:get(k)) end
  return ImageFolder[k]
end

-- ", size 20 (smaller edge), crop 16x16 (bilinear, antialias)" of a fit
local function describe_fit(f)
  if not f then return "" end
  local parts = {}
  if f.shorter then parts[#parts + 1] = ("size %d (smaller edge)"):format(f.shorter) end
  if f.h then parts[#parts + 1] = ("size %dx%d"):format(f.h, f.w) end
  if f.crop_h then parts[#parts + 1] = ("crop %dx%d"):format(f.crop_h, f.crop_w) end
  local how = (f.h or f.shorter) and (" (%s%s)"):format(f.mode, f.antialias and f.mode ~= "nearest" and ", antialias" or "") or ""
  return ", " .. table.concat(parts, ", ") .. how
end

ImageFolder.__tostring = function(self)
  return ("ImageFolder(%d samples, %s classes, from %s%s%s)"):format(#self.samples,
    self.classes and #self.classes or "?", self.list or self.root, describe_fit(self.fit),
    #self.skipped > 0 and (", " .. #self.skipped .. " bad files skipped") or "")
end

-- the class-to-index mapping of the image folders in an experiment's data
-- (a dataset, {train =, val =, test =}, {dataset =}, Subsets of them), for
-- its config.json: {split = mapping}, or nil when there is none
function ImageFolder.class_to_idx_of(data)
  local function find(ds, depth)
    if type(ds) ~= "table" or depth > 8 then return nil end
    if getmetatable(ds) == ImageFolder then return ds.class_to_idx end
    return find(rawget(ds, "dataset"), depth + 1)
  end
  local out, any = {}, false
  for _, split in ipairs { "train", "val", "test" } do
    local m = type(data) == "table" and find(rawget(data, split), 0)
    if m then out[split], any = m, true end
  end
  local whole = find(data, 0)
  if whole then out.data, any = whole, true end
  return any and out or nil
end

E.methods(ImageFolder, "ImageFolder", nil, { "class_to_idx_of" })

return setmetatable({ ImageFolder = new, class_to_idx_of = ImageFolder.class_to_idx_of }, { __index = ImageFolder })
