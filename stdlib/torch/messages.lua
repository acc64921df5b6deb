-- torch.messages: what a libtorch message becomes before a user reads it.
-- The bindings call translate() from the one C function that turns a
-- bridge failure into a Lua error (lt_errormsg in bindings/l_error.c).
--
-- libtorch counts dims, list entries and tensors of a list from 0; clara
-- counts positions from 1 (docs: "Positions are 1-based").  A number is
-- translated only where the message leaves no doubt that it is such a
-- position; sizes, counts and values inside tensors are left alone.
-- Internal assertions and "report a bug to PyTorch" are clara's bugs (a
-- type libtorch did not expect got through): they say so, in one line.
local M = {}

local DEFAULT_CAP = 4096

-- {====================== 0-based positions ======================

local function plus1(n) return tostring(tonumber(n) + 1) end

-- a 0-based dim as clara writes it: non-negative ones shift, negative
-- ones count from the end in both conventions
local function dim1(n)
  n = tonumber(n)
  return tostring(n >= 0 and n + 1 or n)
end

-- "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
local function dim_range(lo, hi, got)
  lo, hi = tonumber(lo), tonumber(hi)
  if lo ~= -(hi + 1) then return nil end -- not the [-n, n-1] of a dim
  local n = hi + 1
  local range = n == 0 and "no dim (a 0-d tensor)" or ("[-%d, -1] or [1, %d]"):format(n, n)
  return ("Dimension out of range (expected to be in range of %s, but got %s)"):format(range, dim1(got))
end

-- { pattern, replacement }: each pattern names the number it holds as a
-- dim or an entry, so no other number is touched
local RULES = {
  { "Dimension out of range %(expected to be in range of %[(%-?%d+), (%-?%d+)%], but got (%-?%d+)%)",
    dim_range },
  { "at non%-singleton dimension (%d+)", function(d) return "at non-singleton dimension " .. plus1(d) end },
  { "except in dimension (%d+)", function(d) return "except in dimension " .. plus1(d) end },
  { "for tensor number (%d+) in the list", function(d) return "for tensor number " .. plus1(d) .. " in the list" end },
  { "at entry (%d+)", function(d) return "at entry " .. plus1(d) end },
  { "for dimension (%d+) with size", function(d) return "for dimension " .. plus1(d) .. " with size" end },
  { "at dimension (%d+)", function(d) return "at dimension " .. plus1(d) end },
  { "in dimension (%d+)", function(d) return "in dimension " .. plus1(d) end },
  { "on dimension (%d+)", function(d) return "on dimension " .. plus1(d) end },
  { "of dimension (%d+)", function(d) return "of dimension " .. plus1(d) end },
  { "dimension (%d+) does not have size", function(d) return "dimension " .. plus1(d) .. " does not have size" end },
  { "apart from dimension (%d+)", function(d) return "apart from dimension " .. plus1(d) end },
  { "Dimension specified as (%-?%d+)", function(d) return "Dimension specified as " .. dim1(d) end },
  { "%(at position (%d+)%)", function(d) return "(at position " .. plus1(d) .. ")" end },
  { "dim (%-?%d+)", function(d) return "dim " .. dim1(d) end },
  { "dim=(%-?%d+)", function(d) return "dim=" .. dim1(d) end },
}

local function one_based(msg)
  -- each number is translated once: rules run on the original text and
  -- their results are not seen by later rules
  local marks = {}
  for _, rule in ipairs(RULES) do
    msg = msg:gsub(rule[1], function(...)
      local out = rule[2](...)
      if out == nil then return nil end
      marks[#marks + 1] = out
      return "\0" .. #marks .. "\0"
    end)
  end
  return (msg:gsub("%z(%d+)%z", function(i) return marks[tonumber(i)] end))
end
M.one_based = one_based
-- }================================================================

-- {====================== noise ======================

local function strip_backtrace(msg)
  for _, mark in ipairs { "\nException raised from ", "Exception raised from ", "\nframe #0" } do
    local p = msg:find(mark, 1, true)
    if p then msg = msg:sub(1, p - 1) end
  end
  return (msg:gsub("%s+$", ""))
end

-- C++ type names as clara's dtypes ("Input type (c10::Half) and bias type
-- (float)"), other namespaces dropped
local CXX_TYPES = { ["c10::Half"] = "float16", ["c10::BFloat16"] = "bfloat16",
                    ["c10::complex<float>"] = "complex64", ["c10::complex<double>"] = "complex128" }

local function cxx_names(msg)
  msg = msg:gsub("c10::[%w_]+<?[%w_]*>?", function(name) return CXX_TYPES[name] end)
  return (msg:gsub("c10::", ""):gsub("%f[%w_]at::", ""))
end

local function is_internal(msg)
  local low = msg:lower()
  return low:find("internal assert", 1, true) or low:find("report a bug", 1, true)
    or low:find("file a bug", 1, true)
end

-- the first line of an internal assertion that says something, without
-- the C++ position and the bug-report request
local function internal_gist(msg)
  local detail = msg:match("[Pp]lease report a bug to PyTorch%.?%s*([^\n]*)")
  if not detail or detail == "" then
    detail = msg:match("^%s*([^\n]*)")
  end
  detail = detail:gsub("INTERNAL ASSERT FAILED at \"[^\"]*\":%d+,?%s*", "check failed: ")
    :gsub("%s*[Pp]lease report a bug to PyTorch%.?", "")
    :gsub("%s*[Ff]ile a bug report%.?", "")
    :gsub("[^%.]*report a bug[^%.]*%.?", "")
  detail = detail:gsub("^%s+", ""):gsub("%s+$", "")
  if detail == "" then detail = "libtorch refused the call" end
  return detail
end
-- }================================================================

local function cap_bytes()
  local ok, limits = pcall(require, "clara.limits")
  local n = ok and type(limits) == "table" and rawget(limits, "message_bytes")
  return math.type(n) == "integer" and n >= 64 and n or DEFAULT_CAP
end

-- the first n bytes of s, not ending inside a UTF-8 sequence
local function cut(s, n)
  if #s <= n then return s end
  while n > 0 and (s:byte(n + 1) or 0) & 0xC0 == 0x80 do n = n - 1 end
  return s:sub(1, n)
end

-- the message a user reads for libtorch's `msg` in function `op` (nil: no
-- prefix): "op: message", at most clara.limits.message_bytes long
function M.translate(msg, op)
  msg = strip_backtrace(tostring(msg))
  if is_internal(msg) then
    msg = ("clara: internal error in %s: %s"):format(op or "libtorch", internal_gist(msg))
    op = nil
  else
    msg = one_based(cxx_names(msg))
  end
  if op then msg = op .. ": " .. msg end
  local max = cap_bytes()
  if #msg > max then
    local tail = (" ... (cut at clara.limits.message_bytes = %d)"):format(max)
    msg = cut(msg, max - #tail) .. tail
  end
  return msg
end

return M
