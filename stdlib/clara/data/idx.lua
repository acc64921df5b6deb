-- clara.data.idx: the IDX format of the MNIST family, raw or gzip, read
-- in plain Lua (the clear version; a C parser comes with the data issue).
-- Format: 2 zero bytes, a type code, the number of dims, one big-endian
-- uint32 size per dim, then the values in row-major order.
local E = require "clara.error"
local torch = require "torch"

local idx = {}

local types = { [0x08] = { "uint8", 1 }, [0x09] = { "int8", 1 }, [0x0B] = { "int16", 2 },
                [0x0C] = { "int32", 4 }, [0x0D] = { "float32", 4 }, [0x0E] = { "float64", 8 } }

local function slurp(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local head = f:read(2)
  f:close()
  if head == "\31\139" then -- gzip magic: let gzip inflate it
    local p = io.popen("gzip -dc '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null", "r")
    local data = p:read("a")
    local ok = p:close()
    if not ok then return nil, path .. ": corrupt gzip stream" end
    return data
  end
  f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

-- idx.read(path) -> tensor, or raises an error naming the path and offset
function idx.read(path)
  local data, err = slurp(path)
  if not data then E.raise(nil, "idx: " .. err) end
  if #data < 4 or data:byte(1) ~= 0 or data:byte(2) ~= 0 then
    E.raise(nil, ("idx: %s: bad magic at offset 0"):format(path))
  end
  local t = types[data:byte(3)]
  if not t then E.raise(nil, ("idx: %s: unknown type code 0x%02x at offset 2"):format(path, data:byte(3))) end
  local ndim = data:byte(4)
  if #data < 4 + 4 * ndim then E.raise(nil, ("idx: %s: truncated header"):format(path)) end
  local sizes, count = {}, 1
  for i = 1, ndim do
    sizes[i] = string.unpack(">I4", data, 4 * i + 1)
    count = count * sizes[i]
  end
  local start = 4 + 4 * ndim
  if #data - start ~= count * t[2] then
    E.raise(nil, ("idx: %s: expected %d bytes of data after offset %d, found %d")
      :format(path, count * t[2], start, #data - start))
  end
  local bytes = data:sub(start + 1)
  -- IDX stores multi-byte values big-endian; the machine is little-endian
  if t[2] > 1 then
    local values = {}
    for i = 1, #bytes, t[2] do values[#values + 1] = bytes:sub(i, i + t[2] - 1):reverse() end
    bytes = table.concat(values)
  end
  return torch.frombytes(bytes, { dtype = t[1] }):view(sizes)
end

return idx
