-- torch.format: `tostring(tensor)` exactly as PyTorch 1.13 prints `repr(tensor)`.
--
-- A line-by-line reading of torch/_tensor_str.py (`_str`), restricted to what
-- clara has: dense CPU tensors, real dtypes, autograd suffixes.  The C
-- binding's __tostring calls `require("torch.format")(t)`.
--
-- The tensor is only touched through a small interface, so the formatter can
-- be read (and tested) without the bindings:
--   t.dtype ("float32", ...), t:dim(), t:size() (Lua table), t:numel(),
--   t:totable() (nested tables, a plain value for 0-dim), t.requires_grad,
--   t.grad_fn (name or nil), and, only for tensors above the summarization
--   threshold, t:narrow(dim, start, length) (1-based dim and start).

-- PyTorch's default print options (torch.set_printoptions(profile="default")).
local OPTS = {
  precision = 4,    -- digits after the point in "%.4f" and "%.4e"
  threshold = 1000, -- more elements than this: print only the edges
  edgeitems = 3,    -- elements kept at each end of a summarized dimension
  linewidth = 80,   -- where 1-D rows wrap
}

local FLOATING = { float32 = true, float64 = true, float16 = true, bfloat16 = true }

-- Dtypes PyTorch does not name in the suffix: the default float and the
-- dtypes Python literals infer (int64 for ints, bool for booleans).
local DEFAULT_DTYPE = { float32 = true, int64 = true, bool = true }

local function is_nan(v) return v ~= v end
local function is_inf(v) return v == math.huge or v == -math.huge end

-- Python's str(tuple): (0, 3), (0,) for one element.
local function tuple_str(sizes)
  if #sizes == 1 then return "(" .. sizes[1] .. ",)" end
  return "(" .. table.concat(sizes, ", ") .. ")"
end

-- "{}".format(value) for integer and bool tensors.
local function plain_str(v)
  if type(v) == "boolean" then return v and "True" or "False" end
  local i = math.tointeger(v) -- bindings may hand integers over as floats
  if i then return string.format("%d", i) end
  return string.format("%.0f", v)
end

-- Python formats nan without its sign ("nan", never "-nan" as C does) and
-- infinities as "inf"/"-inf" whatever the format spec.
local function nonfinite_str(v)
  if is_nan(v) then return "nan" end
  return v > 0 and "inf" or "-inf"
end

local function sci_str(v)
  if is_nan(v) or is_inf(v) then return nonfinite_str(v) end
  return string.format("%." .. OPTS.precision .. "e", v)
end

local function fixed_str(v)
  if is_nan(v) or is_inf(v) then return nonfinite_str(v) end
  return string.format("%." .. OPTS.precision .. "f", v)
end

-- Integer-valued floats print as "1." so the reader still sees a float.
local function int_float_str(v)
  if is_nan(v) or is_inf(v) then return nonfinite_str(v) end
  return string.format("%.0f", v) .. "."
end

-- Every value of a nested table, in order (a 0-dim tensor is one value).
local function flatten(data, out)
  out = out or {}
  if type(data) ~= "table" then
    out[#out + 1] = data
  else
    for _, v in ipairs(data) do flatten(v, out) end
  end
  return out
end

-- The style of a floating tensor, from its nonzero finite values: integers
-- as "1.", else fixed "%.4f", and scientific "%.4e" when the magnitudes span
-- more than 1000x or exceed 1e8 (or, for fractions, go below 1e-4).
local function float_style(vals)
  if #vals == 0 then return int_float_str end
  local int_mode = true
  local min, max = math.huge, 0
  for _, v in ipairs(vals) do
    if v ~= math.ceil(v) then int_mode = false end
    min, max = math.min(min, math.abs(v)), math.max(max, math.abs(v))
  end
  if max / min > 1000.0 or max > 1.0e8 or (not int_mode and min < 1.0e-4) then
    return sci_str
  end
  return int_mode and int_float_str or fixed_str
end

-- _Formatter: one style and one width for every element, chosen from the
-- (summarized) values.  Returns a function value -> right-aligned string,
-- and the width.
local function make_formatter(values, floating)
  local style, measured = plain_str, values
  if floating then
    -- PyTorch sizes floats by their nonzero finite values only, so a zero,
    -- nan or inf may stick out of the column (as "-0.0000" does in PyTorch).
    measured = {}
    for _, v in ipairs(values) do
      if v ~= 0 and not is_nan(v) and not is_inf(v) then measured[#measured + 1] = v end
    end
    style = float_style(measured)
  end

  local width = 1
  for _, v in ipairs(measured) do width = math.max(width, #style(v)) end
  return function(v)
    local s = style(v)
    return string.rep(" ", width - #s) .. s
  end, width
end

-- Append b's entries to a's at nesting depth `depth` (1 = the top level):
-- joins the two halves of a summarized dimension.
local function concat_at(a, b, depth)
  if depth == 1 then
    table.move(b, 1, #b, #a + 1, a)
  else
    for i = 1, #a do concat_at(a[i], b[i], depth - 1) end
  end
  return a
end

-- get_summarized_data as a Lua table: the values of t (from dimension d on)
-- with only `edgeitems` kept at both ends of every long dimension.  It
-- narrows the tensor before converting, so a 1000x1000 tensor costs four
-- 3x3 totable() calls, never a million Lua numbers.
local function summarized_table(t, d)
  local sizes = t:size()
  if d > #sizes then return t:totable() end
  local n, edge = sizes[d], OPTS.edgeitems
  if n <= 2 * edge then return summarized_table(t, d + 1) end
  local head = summarized_table(t:narrow(d, 1, edge), d + 1)
  local tail = summarized_table(t:narrow(d, n - edge + 1, edge), d + 1)
  return concat_at(head, tail, d)
end

-- The elements of `list` with `mark` between the leading and trailing
-- edgeitems, when `list` is the summary of a dimension of length n.
local function with_ellipsis(list, n, summarize, mark)
  if not (summarize and n > 2 * OPTS.edgeitems) then return list end
  local out = {}
  for i = 1, OPTS.edgeitems do out[#out + 1] = list[i] end
  out[#out + 1] = mark
  for i = #list - OPTS.edgeitems + 1, #list do out[#out + 1] = list[i] end
  return out
end

-- _vector_str: a 1-D row, wrapped so that lines stay within linewidth.
local function vector_str(data, n, indent, summarize, fmt, width)
  local per_line = math.max(1, (OPTS.linewidth - indent) // (width + 2))
  local items = {}
  for i, v in ipairs(data) do items[i] = fmt(v) end
  items = with_ellipsis(items, n, summarize, " ...")

  local lines = {}
  for i = 1, #items, per_line do
    lines[#lines + 1] = table.concat(items, ", ", i, math.min(i + per_line - 1, #items))
  end
  return "[" .. table.concat(lines, ",\n" .. string.rep(" ", indent + 1)) .. "]"
end

-- _tensor_str_with_formatter: nest one bracket per dimension; blocks of a
-- d-dimensional tensor are separated by d-1 newlines (blank lines for 3-D+).
local function nested_str(data, sizes, d, indent, summarize, fmt, width)
  local dim = #sizes - d + 1
  if dim == 0 then return fmt(data) end
  if dim == 1 then return vector_str(data, sizes[d], indent, summarize, fmt, width) end

  local slices = {}
  for i, sub in ipairs(data) do
    slices[i] = nested_str(sub, sizes, d + 1, indent + 1, summarize, fmt, width)
  end
  slices = with_ellipsis(slices, sizes[d], summarize, "...")
  local sep = "," .. string.rep("\n", dim - 1) .. string.rep(" ", indent + 1)
  return "[" .. table.concat(slices, sep) .. "]"
end

-- _tensor_str for a non-empty tensor.
local function contents_str(t, indent)
  local summarize = t:numel() > OPTS.threshold
  local data = summarize and summarized_table(t, 1) or t:totable()
  local fmt, width = make_formatter(flatten(data), FLOATING[t.dtype])
  return nested_str(data, t:size(), 1, indent, summarize, fmt, width)
end

-- _add_suffixes: ", suffix" on the last line while it fits, else a new line.
local function add_suffixes(str, suffixes, indent)
  local parts = { str }
  -- PyTorch's own arithmetic, kept as is since it decides where suffixes
  -- wrap: len(str) - str.rfind("\n") + 1, rfind being 0-based (-1: none).
  local rfind = (str:find("\n[^\n]*$") or 0) - 1
  local last_line_len = #str - rfind + 1
  for _, suffix in ipairs(suffixes) do
    if last_line_len + #suffix + 2 > OPTS.linewidth then
      parts[#parts + 1] = ",\n" .. string.rep(" ", indent) .. suffix
      last_line_len = indent + #suffix
    else
      parts[#parts + 1] = ", " .. suffix
      last_line_len = last_line_len + #suffix + 2
    end
  end
  parts[#parts + 1] = ")"
  return table.concat(parts)
end

-- _str: the whole repr.
local function format(t)
  local prefix = "tensor("
  local indent = #prefix
  local suffixes = {}
  local dtype = t.dtype
  local str

  if t:numel() == 0 then
    -- Like NumPy, the shape is shown unless it is (0,); with no element to
    -- guess from, any dtype but the default float is named.
    if t:dim() ~= 1 then suffixes[#suffixes + 1] = "size=" .. tuple_str(t:size()) end
    if dtype ~= "float32" then suffixes[#suffixes + 1] = "dtype=torch." .. dtype end
    str = "[]"
  else
    if not DEFAULT_DTYPE[dtype] then suffixes[#suffixes + 1] = "dtype=torch." .. dtype end
    str = contents_str(t, indent)
  end

  if t.grad_fn ~= nil then
    suffixes[#suffixes + 1] = "grad_fn=<" .. t.grad_fn .. ">"
  elseif t.requires_grad then
    suffixes[#suffixes + 1] = "requires_grad=True"
  end

  return add_suffixes(prefix .. str, suffixes, indent)
end

return format
