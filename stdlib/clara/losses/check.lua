-- Argument checks shared by the losses.  Every message starts with the
-- loss's name and shows the shapes involved, so a wrong call says what to
-- fix; the error points at the user's line, not at this library.
local torch = require "torch"
local E = require "clara.error"

local check = {}

-- "(4, 3)", as PyTorch prints torch.Size
function check.shape(t)
  if type(t) == "table" and not torch.is_tensor(t) then
    return "(" .. table.concat(t, ", ") .. ")"
  end
  return "(" .. table.concat(t:size(), ", ") .. ")"
end

-- raise "name: message" at the user's line (clara.error finds it)
function check.fail(name, fmt, ...)
  E.raise(name, fmt, ...)
end

local function typename(v)
  return torch.is_tensor(v) and "tensor" or type(v)
end

function check.tensor(name, what, t)
  if not torch.is_tensor(t) then check.fail(name, "%s must be a tensor, got %s", what, typename(t)) end
  return t
end

function check.floating(name, what, t)
  check.tensor(name, what, t)
  if not t:is_floating_point() then
    check.fail(name, "%s %s must be floating point, got %s (convert with :float())",
      what, check.shape(t), t.dtype)
  end
  return t
end

-- b a tensor or a list of sizes
function check.same_size(a, b)
  local sa, sb = a:size(), torch.is_tensor(b) and b:size() or b
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

-- PyTorch would broadcast (with a warning); a (N, 1) output against an (N)
-- target then silently becomes an (N, N) loss, so clara refuses
function check.same_shape(name, a, an, b, bn)
  if not check.same_size(a, b) then
    check.fail(name, "%s %s and %s %s must have the same shape", an, check.shape(a), bn, check.shape(b))
  end
end

-- w broadcasts to t's shape (trailing dims equal or 1, no more dims than t)
function check.broadcasts(name, what, w, t)
  local sw, st = w:size(), t:size()
  local ok = #sw <= #st
  for i = 0, #sw - 1 do
    local a, b = sw[#sw - i], st[#st - i]
    if ok and a ~= b and a ~= 1 then ok = false end
  end
  if not ok then
    check.fail(name, "%s %s does not broadcast to the output's shape %s", what, check.shape(w), check.shape(t))
  end
end

function check.dims(name, what, t, ...)
  local n = t:dim()
  for _, d in ipairs { ... } do if n == d then return end end
  check.fail(name, "%s must have %s dims, got %s", what, table.concat({ ... }, " or "), check.shape(t))
end

local REDUCTIONS = { "mean", "sum", "none" }

-- the compact specs of the losses, { kind, default[, {min =, gt =, ...}] },
-- as clara.error schemas (built once per spec table)
local KINDS = {
  reduction = { type = "string", enum = REDUCTIONS },
  kl_reduction = { type = "string", enum = { "mean", "batchmean", "sum", "none" } },
}

local schemas = setmetatable({}, { __mode = "k" })

local function schema_of(spec)
  local schema = schemas[spec]
  if schema then return schema end
  schema = {}
  for key, s in pairs(spec) do
    local entry = { type = s[1], default = s[2] }
    for k, v in pairs(KINDS[s[1]] or {}) do entry[k] = v end
    for k, v in pairs(s[3] or {}) do entry[k] = v end
    schema[key] = entry
  end
  schemas[spec] = schema
  return schema
end

-- opts checked against spec = { key = { kind, default[, limits] } }: unknown
-- keys, values of the wrong kind, NaN and values out of range are errors;
-- returns a new table with defaults
function check.options(name, opts, spec)
  return E.options(name, opts, schema_of(spec))
end

-- true for a tensor, false for a list of tensors, an error otherwise
function check.tensor_or_list(name, v)
  if torch.is_tensor(v) then return true end
  if type(v) ~= "table" then check.fail(name, "output must be a tensor or a list of tensors, got %s", typename(v)) end
  return false
end

-- The inputs of a loss over several tensors, in either form:
--   uniform   f({x1, x2, ...}, target, opts)   (a model returning a list)
--   PyTorch   f(x1, x2, ..., target, opts)
-- names lists the tensors expected in the output; with_target says whether a
-- target follows them.  Returns the list, the target and the options.
function check.several(name, names, with_target, first, ...)
  local rest = table.pack(...)
  local n = #names
  if torch.is_tensor(first) then
    local ins = { first }
    for i = 2, n do ins[i] = rest[i - 1] end
    local target = with_target and rest[n] or nil
    return ins, target, rest[with_target and n + 1 or n]
  end
  if type(first) ~= "table" then
    check.fail(name, "output must be a list {%s} of tensors, got %s", table.concat(names, ", "), typename(first))
  end
  if #first ~= n then
    check.fail(name, "output must be a list {%s} of %d tensors, got %d", table.concat(names, ", "), n, #first)
  end
  local target, opts = rest[1], rest[2]
  -- without a target, what follows the list is the options, whatever it is
  -- (a number there must fail as options, not vanish as an unused target)
  if not with_target and opts == nil then target, opts = nil, target end
  return { table.unpack(first, 1, n) }, target, opts
end

return check
