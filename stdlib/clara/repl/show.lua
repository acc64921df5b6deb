-- clara.repl.show: how the REPL prints a value, as Torch7's trepl does.
--
--   {1, 2, {a = 3}}                      a short table on one line
--   {                                    a longer one nested with indentation
--     model = Linear(in_features=3, out_features=1, bias=True),
--     history = {...} (5 items),         deeper than MAXDEPTH: its size
--     x = tensor of size 400x3 (float32),
--     ... (12 more keys)                 long tables elided with a count
--   }
--   <cycle: table 0x55d0c8a0>            a table inside itself
--
-- A value printed alone shows as tostring does (a tensor as PyTorch prints
-- it, a string bare); inside a table a tensor shows inline when its print
-- is one short line, else as its size and dtype.  Tables are read raw
-- (next, rawget): printing runs no user code but __tostring.
local M = {}

M.MAXDEPTH = 3    -- nested tables deeper than this show as their size
M.MAXITEMS = 20   -- list items shown before "... (n more)"
M.MAXKEYS = 30    -- other keys shown before "... (n more keys)"
M.WIDTH = 80      -- a table fits on one line up to this width
local SHORT = 40  -- a nested tensor or object prints inline up to this

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "torch.Tensor"
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  return ok and type(s) == "string" and s or ("<" .. type(v) .. ": __tostring failed>")
end

-- "tensor of size 2x3 (float32)"
local function tensor_summary(t)
  local ok, size = pcall(function() return t:size() end)
  local dims = ok and table.concat(size, "x") or "?"
  if dims == "" then dims = "scalar" end
  local okd, dtype = pcall(function() return t.dtype end)
  return ("tensor of size %s (%s)"):format(dims, okd and tostring(dtype) or "?")
end

-- "function (file.lua:12)" or "function (C)"
local function function_summary(f)
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return "function (C)" end
  return ("function (%s:%d)"):format(info.short_src, info.linedefined)
end

local function key_text(k)
  if type(k) == "string" then
    if k:match("^[%a_][%w_]*$") then return k end
    return ("[%q]"):format(k)
  end
  if type(k) == "number" or type(k) == "boolean" then return "[" .. tostring(k) .. "]" end
  return "[" .. safe_tostring(k) .. "]"
end

-- keys beyond the list part, in a stable order: strings, numbers, others
local ORDER = { string = 1, number = 2, boolean = 3 }
local function other_keys(t, n)
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = ORDER[type(a)] or 4, ORDER[type(b)] or 4
    if ta ~= tb then return ta < tb end
    if ta <= 2 then return a < b end
    return safe_tostring(a) < safe_tostring(b)
  end)
  return keys
end

local function count(t)
  local n = 0
  for _ in next, t do n = n + 1 end
  return n
end

local render

-- the items of table t as strings (each value rendered at indent .. "  ")
local function items(t, indent, depth, path)
  local out = {}
  local n = rawlen(t)
  for i = 1, math.min(n, M.MAXITEMS) do out[#out + 1] = render(rawget(t, i), indent .. "  ", depth + 1, path) end
  if n > M.MAXITEMS then out[#out + 1] = ("... (%d more)"):format(n - M.MAXITEMS) end
  out.list = #out
  local keys = other_keys(t, n)
  for i = 1, math.min(#keys, M.MAXKEYS) do
    local k = keys[i]
    out[#out + 1] = key_text(k) .. " = " .. render(rawget(t, k), indent .. "  ", depth + 1, path)
  end
  if #keys > M.MAXKEYS then out[#out + 1] = ("... (%d more keys)"):format(#keys - M.MAXKEYS) end
  return out
end

-- the list items, when short, several to a line; the keyed ones one each
local function pack(parts, indent_width)
  local lines, cur = {}, nil
  for i, p in ipairs(parts) do
    local short = i <= parts.list and #p <= 16 and not p:find("\n", 1, true)
    if short and cur and indent_width + #cur + 2 + #p <= M.WIDTH then
      cur = cur .. ", " .. p
    else
      if cur then lines[#lines + 1] = cur end
      cur = p
      if not short then lines[#lines + 1] = cur; cur = nil end
    end
  end
  lines[#lines + 1] = cur
  return lines
end

local function render_table(t, indent, depth, path)
  local mt = getmetatable(t)
  local name = type(mt) == "table" and type(rawget(mt, "__name")) == "string" and rawget(mt, "__name") .. " " or ""
  if path[t] then return ("<cycle: %stable %p>"):format(name, t) end
  if next(t) == nil then return name .. "{}" end
  if depth > M.MAXDEPTH then local n = count(t)
    return ("%s{...} (%d item%s)"):format(name, n, n == 1 and "" or "s") end
  path[t] = true
  local parts = items(t, indent, depth, path)
  path[t] = nil
  local one = name .. "{" .. table.concat(parts, ", ") .. "}"
  if #indent + #one <= M.WIDTH and not one:find("\n", 1, true) then return one end
  local inner = indent .. "  "
  return name .. "{\n" .. inner .. table.concat(pack(parts, #inner), ",\n" .. inner) .. "\n" .. indent .. "}"
end

-- v as shown inside a table at the given indent and depth
function render(v, indent, depth, path)
  local tv = type(v)
  if tv == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  if tv == "function" then return function_summary(v) end
  if is_tensor(v) then
    local s = safe_tostring(v)
    if #s <= SHORT and not s:find("\n", 1, true) then return s end
    return tensor_summary(v)
  end
  if has_tostring(v) then
    -- a module's print is several lines: indented as the table is
    return (safe_tostring(v):gsub("\n", "\n" .. indent))
  end
  if tv == "table" then return render_table(v, indent, depth, path) end
  return safe_tostring(v)
end

-- show(v) -> the text the REPL prints for v; a tensor whose print elides
-- values is followed by its size, which the print no longer tells
function M.show(v)
  if is_tensor(v) then
    local s = safe_tostring(v)
    return s:find("...", 1, true) and (s .. "\n[" .. tensor_summary(v) .. "]") or s
  end
  if type(v) == "string" or has_tostring(v) then return safe_tostring(v) end
  return render(v, "", 1, {})
end

-- results(...) -> one line of the values, tab-separated (as lua.c prints)
function M.results(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = M.show((select(i, ...))) end
  return table.concat(parts, "\t")
end

return M
