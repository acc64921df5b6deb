-- Argument checks shared by the losses.  Every message starts with the
-- loss's name and shows the shapes involved, so a wrong call says what to
-- fix; the error points at the user's line, not at this library.
local torch = require "torch"

local check = {}

-- "(4, 3)", as PyTorch prints torch.Size
function check.shape(t)
  if type(t) == "table" and not torch.is_tensor(t) then
    return "(" .. table.concat(t, ", ") .. ")"
  end
  return "(" .. table.concat(t:size(), ", ") .. ")"
end

local function in_library(source)
  return source:find("clara/losses/", 1, true) or source:find("torch/nn/functional", 1, true)
end

-- raise at the first stack level outside the loss library
function check.fail(name, fmt, ...)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info then level = 0 break end
    if not in_library(info.source) then break end
    level = level + 1
  end
  error(name .. ": " .. fmt:format(...), level)
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

local REDUCTIONS = { mean = true, sum = true, none = true }

local kinds = {
  number = function(v) return type(v) == "number" end,
  integer = function(v) return math.type(v) == "integer" end,
  boolean = function(v) return type(v) == "boolean" end,
  tensor = function(v) return torch.is_tensor(v) end,
  any = function() return true end,
  reduction = function(v) return REDUCTIONS[v] end,
  kl_reduction = function(v) return REDUCTIONS[v] or v == "batchmean" end,
}

local expected = {
  integer = "an integer",
  boolean = "a boolean (true or false)",
  reduction = "'mean', 'sum' or 'none'",
  kl_reduction = "'mean', 'batchmean', 'sum' or 'none'",
}

-- opts checked against spec = { key = { kind, default } }: unknown keys and
-- values of the wrong kind are errors; returns a new table with defaults
function check.options(name, opts, spec)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or torch.is_tensor(opts) then
    check.fail(name, "options must be a table, got %s", typename(opts))
  end
  local out = {}
  for k, v in pairs(opts) do
    local s = spec[k]
    if not s then
      local known = {}
      for key in pairs(spec) do known[#known + 1] = key end
      table.sort(known)
      check.fail(name, "unknown option '%s' (known: %s)", tostring(k), table.concat(known, ", "))
    end
    if not kinds[s[1]](v) then
      check.fail(name, "option '%s' must be %s, got %s", k, expected[s[1]] or ("a " .. s[1]),
        type(v) == "string" and ("'" .. v .. "'") or typename(v))
    end
    out[k] = v
  end
  for k, s in pairs(spec) do
    if out[k] == nil then out[k] = s[2] end
  end
  return out
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
  if not with_target and opts == nil and type(target) == "table" and not torch.is_tensor(target) then
    target, opts = nil, target
  end
  return { table.unpack(first, 1, n) }, target, opts
end

return check
