-- Placement of a model's tensors: m:to(dtype | device | tensor |
-- {dtype =, device =}) and m:float(), m:double(), m:half(), m:bfloat16(),
-- m:cpu(), m:cuda([index]), as PyTorch's Module.to: in place, returning the
-- module.
--
-- Every floating point parameter and buffer takes the dtype (integer ones,
-- as BatchNorm's num_batches_tracked, keep theirs) and every one takes the
-- device.  Each tensor keeps its identity: its data is replaced (t.data =
-- converted, as PyTorch's Module._apply does), so an optimizer made before
-- still holds the model's parameters, and a native or TorchScript module,
-- whose Lua tensors alias libtorch's, sees the change too.
local torch = require "torch"
local E = require "clara.error"

local placement = {}

local FLOATING = { float32 = true, float64 = true, float16 = true, bfloat16 = true }
local ALIASES = { float = "float32", double = "float64", half = "float16" }

-- a device name as libtorch names it; a device this build or machine lacks
-- ("cuda" on a libtorch without CUDA) is an error naming the API
function placement.device(api, name)
  if type(name) ~= "string" then
    E.raise(api, "device must be a string such as 'cpu' or 'cuda:0', got %s", E.show(name))
  end
  local canonical, why = torch._device(name)
  if not canonical then E.raise(api, "%s", why) end
  return canonical
end

-- PyTorch's Module.to accepts floating point dtypes only
local function dtype(api, name)
  local d = name:gsub("^torch%.", "")
  d = ALIASES[d] or d
  if not FLOATING[d] then
    E.raise(api, "only floating point dtypes (float32, float64, float16, bfloat16) place a module, got '%s'", name)
  end
  return d
end

local TARGET = {
  dtype = { type = "string", doc = "a floating point dtype name" },
  device = { type = "string", doc = "'cpu', 'cuda' or 'cuda:<index>'" },
}

-- one argument of to(): a dtype name or a device name (strings), a tensor
-- (its dtype and device) or {dtype =, device =}; -> dtype, device (nil: keep)
local function target(api, x)
  if torch.is_tensor(x) then return dtype(api, x.dtype), placement.device(api, x.device) end
  if type(x) == "string" then
    -- as tensor:to reads it: a device is "cpu", "cuda", "cuda:1"; else a dtype
    if x:find("^cpu") or x:find("^cuda") or x:find(":", 1, true) then return nil, placement.device(api, x) end
    return dtype(api, x), nil
  end
  if type(x) == "table" and getmetatable(x) == nil then
    local o = E.options(api, x, TARGET)
    return o.dtype and dtype(api, o.dtype), o.device and placement.device(api, o.device)
  end
  E.raise(api, "expected a dtype, a device, a tensor or {dtype =, device =}, got %s", E.show(x))
end

-- to(a [, b]): PyTorch also takes (device, dtype) as two arguments
function placement.target(api, a, b)
  if a == nil then E.raise(api, "expected a dtype, a device, a tensor or {dtype =, device =}") end
  local d1, v1 = target(api, a)
  if b == nil then return d1, v1 end
  local d2, v2 = target(api, b)
  return d1 or d2, v1 or v2
end

-- t.data becomes t's data converted (not t: a parameter is a leaf, the
-- conversion makes no graph); a no-op where nothing changes
local function convert(t, dtype_, device)
  local want = { dtype = t:is_floating_point() and dtype_ or t.dtype, device = device or t.device }
  if want.dtype == t.dtype and want.device == t.device then return end
  t.data = t:detach():to(want)
end

-- every tensor of the list, and the gradient each holds, converted
function placement.apply(tensors, dtype_, device)
  for _, t in ipairs(tensors) do
    convert(t, dtype_, device)
    local g = t.grad
    if g ~= nil then convert(g, dtype_, device) end
  end
end

-- a module's parameters and buffers, over its tree
local function tensors(m)
  local list = m:parameters()
  for _, b in ipairs(m:buffers()) do list[#list + 1] = b end
  return list
end

-- Class:to, float, double, ... for a module class (parameters() and
-- buffers() list the tree's tensors) whose instances api(self, method) names
function placement.install(Class, api)
  function Class:to(a, b)
    local dtype_, device = placement.target(api(self, "to"), a, b)
    placement.apply(tensors(self), dtype_, device)
    return self
  end
  for method, name in pairs { float = "float32", double = "float64", half = "float16",
                              bfloat16 = "bfloat16" } do
    Class[method] = function(self)
      placement.apply(tensors(self), name, nil)
      return self
    end
  end
  function Class:cpu()
    placement.apply(tensors(self), nil, "cpu")
    return self
  end
  function Class:cuda(index)
    local where = api(self, "cuda")
    if index ~= nil and math.type(index) ~= "integer" then
      E.raise(where, "device index must be an integer, got %s", E.show(index))
    end
    placement.apply(tensors(self), nil, placement.device(where, index and "cuda:" .. index or "cuda"))
    return self
  end
end

return placement
