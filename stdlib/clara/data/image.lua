-- clara.data images: read_image and write_image (PNG and JPEG in C,
-- bindings/image.c with libspng and libturbojpeg).
--
--   read_image(path[, {mode =, dtype =, apply_exif_orientation =}])
--       -> (C, H, W) tensor, uint8 by default as torchvision.io.read_image;
--       float dtypes are scaled to [0, 1] as ToTensor does (x / 255, or
--       x / 65535 for a 16-bit PNG); other integer dtypes keep a 16-bit
--       PNG's samples.  Pixels equal PIL's Image.open(path).convert(mode),
--       turned by its EXIF orientation as ImageOps.exif_transpose does.
--   write_image(path, tensor)   PNG of a uint8 (C, H, W) or (H, W) tensor,
--       or a float one in [0, 1] (rounded as torchvision's save_image);
--       written atomically (clara.fs.write_atomic)
local torch = require "torch"
local core = require "clara.image.core"
local E = require "clara.error"

local M = {}

M.READ_OPTIONS = {
  mode = { type = "string", enum = { "L", "RGB", "RGBA", "keep" }, default = "keep",
    doc = "channels of the result: PIL's conversions, or the file's own (keep)" },
  dtype = { type = "string", enum = { "uint8", "float32", "float64", "int32", "int64" }, default = "uint8",
    doc = "uint8 as stored; float scaled to [0, 1]; int32/int64 keep 16-bit samples" },
  apply_exif_orientation = { type = "boolean", default = true,
    doc = "turn the image as its EXIF Orientation says (JPEG APP1, PNG eXIf; PIL's ImageOps.exif_transpose)" },
}

local FLOAT = { float32 = true, float64 = true }

-- decode with options already checked (ImageFolder calls it per sample);
-- returns the tensor, or nil and the message
function M.decode(path, o)
  local depth = o.dtype == "uint8" and 8 or 16
  local ok, t = pcall(core.decode, path, o.mode, depth, o.apply_exif_orientation,
    require("clara.limits").image_pixels)
  if not ok then return nil, (tostring(t):gsub("^clara%.data%.read_image: ", "")) end
  if FLOAT[o.dtype] then
    return t:to(o.dtype):div(t.dtype == "uint8" and 255 or 65535)
  end
  return t.dtype == o.dtype and t or t:to(o.dtype)
end

function M.read_image(path, opts)
  local api = "clara.data.read_image"
  if type(path) ~= "string" then E.raise(api, "path must be a string, got %s", E.show(path)) end
  local t, err = M.decode(path, E.options(api, opts, M.READ_OPTIONS))
  if not t then E.raise(api, "%s", err) end
  return t
end

-- the (H, W, C) uint8 bytes of what write_image accepts
local function to_hwc(api, t)
  if not torch.is_tensor(t) then E.raise(api, "expected a tensor, got %s", E.show(t)) end
  if t:dim() == 2 then t = t:unsqueeze(1) end
  if t:dim() ~= 3 or t:size(1) < 1 or t:size(1) > 4 or t:numel() == 0 then
    E.raise(api, "expected a (C, H, W) tensor with C = 1 to 4 (L, LA, RGB, RGBA) or an (H, W) one, got shape (%s)",
      table.concat(t:size(), ", "))
  end
  if t:is_floating_point() then
    t = t:mul(255):add(0.5):clamp(0, 255):to("uint8")
  elseif t.dtype ~= "uint8" then
    E.raise(api, "expected a uint8 tensor, or a float one in [0, 1], got %s", t.dtype)
  end
  return t:cpu():permute(2, 3, 1):contiguous()   -- the encoder reads CPU memory
end

function M.write_image(path, tensor)
  local api = "clara.data.write_image"
  if type(path) ~= "string" then E.raise(api, "path must be a string, got %s", E.show(path)) end
  if not path:lower():match("%.png$") then
    E.raise(api, "'%s': only PNG is written; give the path a .png extension", path)
  end
  local hwc = to_hwc(api, tensor)
  local size = hwc:size()
  local ok, png = pcall(core.encode_png, hwc, size[1], size[2], size[3])
  if not ok then E.raise(api, "%s: %s", path, (tostring(png):gsub("^clara%.data%.write_image: ", ""))) end
  require("clara.fs").write_atomic(path, png)
end

return M
