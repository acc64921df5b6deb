-- clara.transforms.base: what every transform, augmentation and
-- postprocessing step shares.  A step is a callable object with
--   tostring(step)    one line, like a torch module's print: "Scale(1/255)"
--   step:describe()   a plain table (JSON-able) with `name` and the arguments
-- and the registry from which from_description rebuilds a step.
local torch = require "torch"
local E = require "clara.error"

local M = { registry = {} }

-- a class: instances are called as step(x) -> step:forward(x).  Methods
-- land in a table behind the class, each wrapped on assignment so that a
-- call made with '.' (step.forward(x)) says so; metamethods stay on C.
function M.class(name)
  local C = { __name = name }
  local methods = { name = name }
  local function is_instance(self) return getmetatable(self) == C end
  C.__index = methods
  setmetatable(C, {
    __index = methods,
    __newindex = function(_, k, v)
      if type(k) == "string" and k:sub(1, 2) == "__" then return rawset(C, k, v) end
      if type(v) == "function" and type(k) == "string" then
        local check, f = E.method_check(name, k, is_instance), v
        v = function(self, ...) check(self); return f(self, ...) end
      end
      methods[k] = v
    end,
  })
  C.__call = function(self, ...) return self:forward(...) end
  C.__tostring = function(self) return self:label() end
  C.label = function() return name .. "()" end
  C.describe = function() return { name = name } end
  return C
end

-- register how a description turns back into a step
function M.register(name, rebuild)
  M.registry[name] = rebuild
end

-- numbers for one-line labels: 3 significant digits, or 1/255 for the
-- reciprocal of an integer that 3 digits would not show exactly (the labels
-- are for reading; describe() keeps every digit)
function M.num(v)
  if math.type(v) == "integer" then return tostring(v) end
  local short = ("%.3g"):format(v)
  if tonumber(short) == v then return short end
  if v ~= 0 and math.abs(v) < 1 then
    local r = 1 / v
    if math.abs(r - math.floor(r + 0.5)) < 1e-9 * math.abs(r) then
      return ("%s1/%d"):format(r < 0 and "-" or "", math.floor(math.abs(r) + 0.5))
    end
  end
  return short
end

-- a value for a label: number, short list, or a summary of a long one
function M.value(v)
  if torch.is_tensor(v) then
    if v:numel() == 1 then return M.num(v:item()) end
    v = v:flatten():totable()
  end
  if type(v) == "table" then
    if #v > 4 then return ("[%d values]"):format(#v) end
    local parts = {}
    for k, x in ipairs(v) do parts[k] = M.num(x) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  if type(v) == "number" then return M.num(v) end
  return tostring(v)
end

-- tensor or number -> plain Lua value for describe(), and back
function M.plain(v)
  if torch.is_tensor(v) then
    if v:dim() == 0 then return v:item() end
    -- the shape as a plain list (a torch.Size is not plain: config.json)
    return { shape = table.move(v:size(), 1, v:dim(), 1, {}), values = v:flatten():totable() }
  end
  return v
end

function M.unplain(v, dtype)
  if type(v) == "table" and v.values then
    return torch.tensor(v.values, { dtype = dtype or "float32" }):reshape(v.shape)
  end
  return v
end

-- as a float tensor: transforms of uint8 images compute in float32
function M.float(x, fname)
  if not torch.is_tensor(x) then
    E.raise(fname, "expected a tensor, got %s", E.show(x))
  end
  if x:is_floating_point() then return x end
  return x:float()
end

-- option tables against a schema {key = spec} (clara.error's; `true` for
-- any value): unknown keys, wrong types, NaN and values out of range raise
function M.options(opts, schema, fname)
  local full = {}
  for k, spec in pairs(schema) do full[k] = spec == true and { type = "any" } or spec end
  return E.options(fname, opts, full)
end

-- raise msg (it names the step) at the user's line
function M.raise(msg) E.raise(nil, msg) end

return M
