-- clara.analyze.common: what the analysis tools share: telling the two
-- kinds of model apart (Lua nn.Module, TorchScript), a module's own
-- parameters, saving and restoring train/eval modes, tensor bytes, and
-- printing shapes, counts and sizes.
local torch = require "torch"
local E = require "clara.error"
local nn = require "torch.nn"
local jit = require "torch.jit"

local M = {}

-- an options table (nil gives {}) whose keys are among `keys`, or an
-- error naming the closest key
function M.options(who, opts, _, keys)
  if opts ~= nil and type(opts) ~= "table" then
    E.raise(nil, ("%s: options must be a table, got %s"):format(who, type(opts)))
  end
  opts = opts or {}
  if keys then
    local schema = {}
    for _, k in ipairs(keys) do schema[k] = { type = "any" } end
    E.options(who, opts, schema)
  end
  return opts
end

-- opts[name] as a positive integer (default when absent), or an error
function M.positive(who, opts, name, default, level)
  local v = opts[name]
  if v == nil then return default end
  local why = E.check_value({ type = "integer", min = 1 }, v)
  if why then E.raise(who, "%s %s", name, why) end
  return math.tointeger(v)
end

-- "nn" | "script" | nil
function M.kind(model)
  if nn.is_module(model) then return "nn" end
  if jit.is_script_module(model) then return "script" end
  return nil
end

-- the model, or an error at the caller's caller naming what it got
function M.check_model(who, model, level)
  local k = M.kind(model)
  if k then return k end
  local got = type(model)
  if torch.is_tensor(model) then got = "a tensor" elseif got == "table" then got = "a table that is not a module" end
  E.raise(nil, ("%s: expected a model (an nn.Module or a TorchScript module), got %s"):format(who, got))
end

-- the class name PyTorch would print: Linear, Sequential, or a script's original_name
function M.type_name(m)
  if nn.is_module(m) then return m:_get_name() end
  return m.original_name or "ScriptModule"
end

-- {name, tensor} of the parameters registered on m itself (not its children)
function M.own_parameters(m)
  local list = {}
  if nn.is_module(m) then
    local tbl = rawget(m, "_parameters")
    for _, name in ipairs(rawget(m, "_param_order")) do
      if tbl[name] ~= nil then list[#list + 1] = { name, tbl[name] } end
    end
  else
    for name, p in m:named_parameters(false) do list[#list + 1] = { name, p } end
  end
  return list
end

-- {name, module} of the whole tree, parents first, each module once (under
-- its first name, as PyTorch's named_modules): a module shared by two
-- parents is one layer
function M.named_modules(model)
  local list, seen = {}, {}
  for name, m in model:named_modules() do
    if not seen[m] then seen[m] = true; list[#list + 1] = { name, m } end
  end
  return list
end

function M.has_children(m)
  for _ in m:named_children() do return true end
  return false
end

-- every module's training flag, and a function putting them back; parents
-- first, since train(mode) also sets the children, which then set their own
function M.save_modes(model)
  local saved = {}
  for _, e in ipairs(M.named_modules(model)) do saved[#saved + 1] = { e[2], e[2].training } end
  return function()
    for _, e in ipairs(saved) do
      if e[1].training ~= e[2] then e[1]:train(e[2] ~= false) end
    end
  end
end

-- bytes per element of each dtype
local BYTES = {
  float32 = 4, float64 = 8, float16 = 2, bfloat16 = 2, int64 = 8, int32 = 4, int16 = 2, int8 = 1,
  uint8 = 1, bool = 1, complex64 = 8, complex128 = 16,
}

function M.bytes(t) return t:numel() * (BYTES[t.dtype] or 4) end

-- the tensors in a packed list of results (tables of tensors are opened, once)
function M.tensors(packed)
  local list = {}
  local function add(v, deep)
    if torch.is_tensor(v) then
      list[#list + 1] = v
    elseif type(v) == "table" and deep and getmetatable(v) == nil then
      for _, x in ipairs(v) do add(x, false) end
    end
  end
  for i = 1, packed.n or #packed do add(packed[i], true) end
  return list
end

-- {1, 28, 28} -> "[1, 28, 28]"
function M.shape_text(shape)
  if shape == nil then return "--" end
  return "[" .. table.concat(shape, ", ") .. "]"
end

-- 1234567 -> "1,234,567"
function M.int_text(n)
  if n == nil then return "--" end
  local s = string.format("%d", n)
  local sign, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

-- bytes with a binary unit: "40.66 KiB"
function M.bytes_text(n)
  if n < 1024 then return ("%d B"):format(n) end
  local units = { "KiB", "MiB", "GiB", "TiB" }
  local v, i = n / 1024, 1
  while v >= 1024 and i < #units do v, i = v / 1024, i + 1 end
  return ("%.2f %s"):format(v, units[i])
end

-- counts with a decimal unit: "0.40 M"
function M.count_text(n)
  if n == nil then return "--" end
  if n < 1e3 then return ("%d"):format(n) end
  local units = { { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "K" } }
  for _, u in ipairs(units) do
    if n >= u[1] then return ("%.2f %s"):format(n / u[1], u[2]) end
  end
end

-- an error message without the "file:line: " Lua put in front of it
function M.strip_position(msg)
  return (tostring(msg):gsub("^[^:\n]*:%d+: ", ""))
end

return M
