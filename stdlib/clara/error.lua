-- clara.error: the one voice every stdlib error speaks with.
--
-- A message names the API ("nn.Linear", "clara.experiment"), says what was
-- wrong and what to do, and carries the position of the first stack frame
-- outside the stdlib: the user's line, however deep the check sits.  Every
-- stdlib file raises through this module; none keeps a `fail` of its own.
--
--   local E = require "clara.error"
--   E.raise("nn.Linear", "in_features must be an integer >= 1, got %s", v)
--   local o = E.options("clara.cv.kfold", opts, SCHEMA)   -- checked options
--   E.methods(Optimizer, "optim.Optimizer", is_optimizer)  -- '.' calls caught
--   E.namespace(nn, "nn", lazy_names)                      -- nn.Linaer raises
local E = {}

-- {====================== where the user is ======================

-- The stdlib root is this file's directory minus "clara/"; a frame whose
-- source lies under it is library code, whatever install prefix holds it.
local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)clara[/\\]error%.lua$"))

local function in_stdlib(info)
  if info.what == "C" then return true end
  local src = info.source
  if ROOT and src:sub(1, 1) == "@" and src:sub(2, #ROOT + 1) == ROOT then return true end
  -- chunks the stdlib builds with load() name themselves "=clara..."
  return src:sub(1, 7) == "=clara."
end

-- The level, as error() counts it in the function that calls user_level,
-- of the first frame outside the stdlib, or 0 when there is none.
function E.user_level()
  local level = 2
  while true do
    local info = debug.getinfo(level + 1, "S")
    if not info then return 0 end
    if not in_stdlib(info) then return level end
    level = level + 1
  end
end

-- "file:line:" of the user's frame, or "" when the call came from no user
-- code (the command line, a battery child's driver)
function E.where()
  local level = E.user_level()
  if level == 0 then return "" end
  -- error()'s level L in this function is debug.getinfo(L) here
  local info = debug.getinfo(level, "Sl")
  return ("%s:%d:"):format(info.short_src, info.currentline or 0)
end

-- A message positioned in a stdlib file (an error raised deep in the
-- library's own code: a shape mismatch in forward, a loss's check) given
-- the user's position instead.  short_src may have cut the path's head.
function E.relocate(msg)
  if type(msg) ~= "string" or not ROOT then return msg end
  local file, rest = msg:match("^([^\n]-%.lua):%d+: (.*)$")
  local rel = file and file:match("^.*stdlib/(.*)$")
  if not rel then return msg end
  local tail = file:gsub("^%.%.%.", "")
  if (ROOT .. rel):sub(-#tail) ~= tail then return msg end
  local where = E.where()
  return (where ~= "" and (where .. " ") or "") .. rest
end
-- }================================================================

-- {====================== raising ======================

local function text(fmt, ...)
  if select("#", ...) == 0 then return tostring(fmt) end
  local args = table.pack(...)
  for i = 1, args.n do
    local v = args[i]
    -- NaN prints as "-nan" or "nan" depending on the C library: say nan
    if (type(v) ~= "number" and type(v) ~= "string") or v ~= v then args[i] = E.show(v) end
  end
  return fmt:format(table.unpack(args, 1, args.n))
end

-- raise "api: message" at the user's line
function E.raise(api, fmt, ...)
  local msg = api and (api .. ": " .. text(fmt, ...)) or text(fmt, ...)
  error(msg, E.user_level())
end

-- E.raise when cond is false; returns cond otherwise
function E.check(cond, api, fmt, ...)
  if not cond then E.raise(api, fmt, ...) end
  return cond
end

-- A value as a message shows it: strings quoted, numbers as Lua prints
-- them (nan, inf), tensors by kind and shape, tables by kind and length.
function E.show(v)
  local t = type(v)
  if t == "string" then
    if #v > 60 then v = v:sub(1, 57) .. "..." end
    return ("'%s'"):format(v)
  elseif t == "number" then
    if v ~= v then return "nan" end
    return tostring(v)
  elseif t == "userdata" then
    local mt = getmetatable(v)
    local name = type(mt) == "table" and rawget(mt, "__name")
    if name == "torch.Tensor" then
      local ok, size = pcall(function() return v:size() end)
      return ok and ("a tensor of size (" .. table.concat(size, ", ") .. ")") or "a tensor"
    end
    return name and ("a " .. tostring(name)) or "a userdata"
  elseif t == "table" then
    local mt = getmetatable(v)
    local name = type(mt) == "table" and rawget(mt, "__name")
    if name then return "a " .. tostring(name) end
    return ("a table (%d list items)"):format(#v)
  end
  return tostring(v)
end
-- }================================================================

-- {====================== limits ======================

-- The library's limits live in clara.limits (named, documented, settable);
-- a count over one raises with the limit's name, its value and the way up.
function E.limit(api, what, n, name)
  local limits = require "clara.limits"
  local max = limits[name]
  if n > max then
    E.raise(api, "%s is %s, over the limit clara.limits.%s = %s (raise it with clara.limits.%s = n)",
      what, n, name, max, name)
  end
  return n
end
-- }================================================================

-- {====================== option tables ======================

-- A schema is {name = spec}: spec.type is "number", "integer", "boolean",
-- "string", "table", "function", "callable" (a function or a table or
-- userdata with __call), "tensor", "any", or several joined by "|";
-- spec.min / spec.max (inclusive), spec.gt / spec.lt (exclusive),
-- spec.enum (a list of allowed values), spec.check(v) -> ok, why;
-- spec.default; spec.required; spec.doc (one line, for help and docs);
-- spec.what (the expected value in words, for the message).
-- Numbers are never NaN.  Unknown names raise with the closest known one.

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "torch.Tensor"
end

local TYPE = {
  number = function(v) return type(v) == "number" end,
  integer = function(v) return math.type(v) == "integer" or (type(v) == "number" and v == math.floor(v) and v - v == 0) end,
  boolean = function(v) return type(v) == "boolean" end,
  string = function(v) return type(v) == "string" end,
  table = function(v) return type(v) == "table" end,
  ["function"] = function(v) return type(v) == "function" end,
  callable = is_callable,
  tensor = is_tensor,
  any = function() return true end,
}

local function type_ok(types, v)
  for t in types:gmatch("[^|]+") do
    local f = TYPE[t]
    if not f then error("clara.error: unknown schema type '" .. t .. "'", 0) end
    if f(v) then return true end
  end
  return false
end

local function article(types)
  local out = {}
  for t in types:gmatch("[^|]+") do
    out[#out + 1] = (t == "integer" and "an " or "a ") .. t
  end
  return table.concat(out, " or ")
end

-- The problem with v against spec, or nil when it fits.  spec.what, when
-- given, is what a wrong value is told it must be ("a factory function",
-- "an integer >= 1").
function E.check_value(spec, v)
  if spec.type and not type_ok(spec.type, v) then
    return ("must be %s, got %s"):format(spec.what or article(spec.type), E.show(v))
  end
  if type(v) == "number" then
    if v ~= v then return ("must be %s, got nan"):format(spec.what or "a number") end
    if spec.min and v < spec.min then
      return spec.what and ("must be %s, got %s"):format(spec.what, E.show(v))
        or ("must be >= %s, got %s"):format(spec.min, E.show(v))
    end
    if spec.max and v > spec.max then return ("must be <= %s, got %s"):format(spec.max, E.show(v)) end
    if spec.gt and not (v > spec.gt) then return ("must be > %s, got %s"):format(spec.gt, E.show(v)) end
    if spec.lt and not (v < spec.lt) then return ("must be < %s, got %s"):format(spec.lt, E.show(v)) end
  end
  if spec.enum then
    local found = false
    for _, allowed in ipairs(spec.enum) do if v == allowed then found = true break end end
    if not found then
      local names = {}
      for i, a in ipairs(spec.enum) do names[i] = E.show(a) end
      return ("must be one of %s, got %s"):format(table.concat(names, ", "), E.show(v))
    end
  end
  if spec.check then
    local ok, why = spec.check(v)
    if not ok then return why or ("is not valid: " .. E.show(v)) end
  end
  return nil
end

-- Check opts (nil means {}) against schema and return a new table with
-- the defaults filled in.  `what` names the table in messages ("options").
function E.options(api, opts, schema, what)
  what = what or "options"
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or is_tensor(opts) then
    E.raise(api, "%s must be a table, got %s", what, E.show(opts))
  end
  local out = {}
  for k, v in pairs(opts) do
    local spec = type(k) == "string" and schema[k]
    if not spec then
      local names = {}
      for name in pairs(schema) do names[#names + 1] = name end
      local near = type(k) == "string" and E.closest(k, names) or nil
      E.raise(api, "unknown %s %s%s", what == "options" and "option" or (what .. " key"), E.show(k),
        near and (" (did you mean '" .. near .. "'?)") or
          (" (known: " .. table.concat(E.sorted(names), ", ") .. ")"))
    end
    local why = E.check_value(spec, v)
    if why then E.raise(api, "%s %s", k, why) end
    out[k] = v
  end
  for k, spec in pairs(schema) do
    if out[k] == nil then
      if spec.required then E.raise(api, "%s is required (%s)", k, spec.what or spec.doc or "no default") end
      out[k] = spec.default
    end
  end
  return out
end
-- }================================================================

-- {====================== names ======================

function E.sorted(list)
  local copy = {}
  for i, v in ipairs(list) do copy[i] = v end
  table.sort(copy)
  return copy
end

-- Optimal string alignment distance, case-insensitive: "Linaer" is one
-- step from "Linear", "acuracy" one from "accuracy".
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local la, lb = #a, #b
  if math.abs(la - lb) > 3 then return math.huge end
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- The closest names to `name` (up to three, best first), or nil.  A name
-- that differs only by '_' or case ("crossentropy", "CrossEntropy") counts
-- as closest.
function E.closest(name, candidates, count)
  local squash = function(s) return (s:lower():gsub("_", "")) end
  local key, scored = squash(name), {}
  for _, c in ipairs(candidates) do
    if type(c) == "string" then
      local d = squash(c) == key and 0 or distance(name, c)
      local bound = math.max(2, #name // 3)
      if d <= bound then scored[#scored + 1] = { c, d } end
    end
  end
  if #scored == 0 then return nil end
  table.sort(scored, function(x, y) if x[2] ~= y[2] then return x[2] < y[2] end return x[1] < y[1] end)
  local out = {}
  for i = 1, math.min(count or 1, #scored) do out[i] = scored[i][1] end
  return table.concat(out, "', '")
end

-- Make tbl raise on a missing name, naming it and the closest existing
-- ones.  `lazy` lists names that load on first use (or is a function
-- returning such a list); `fallback(tbl, key)` is the table's former
-- __index, tried first.  Names starting with "_" stay nil (Lua and busted
-- probe __name, __call, _VERSION...).
function E.namespace(tbl, api, lazy, fallback)
  local mt = getmetatable(tbl) or {}
  fallback = fallback or mt.__index
  mt.__index = function(self, key)
    if fallback then
      local v
      if type(fallback) == "function" then v = fallback(self, key) else v = fallback[key] end
      if v ~= nil then return v end
    end
    if type(key) ~= "string" or key:sub(1, 1) == "_" then return nil end
    local names = {}
    for k in pairs(self) do if type(k) == "string" then names[#names + 1] = k end end
    local extra = type(lazy) == "function" and lazy() or lazy or {}
    for _, k in ipairs(extra) do names[#names + 1] = k end
    local near = E.closest(key, names, 3)
    E.raise(nil, "%s.%s does not exist%s", api, key,
      near and (" (did you mean '" .. near .. "'?)") or "")
  end
  return setmetatable(tbl, mt)
end
-- }================================================================

-- {====================== methods called with '.' ======================

-- Wrap every function of Class so that a call made with '.' instead of ':'
-- (self is then the first argument or nil) says so.  is_instance(self)
-- decides; the default accepts any table whose metatable chain reaches
-- Class.  Names listed in `except` are not methods (constructors, helpers).
function E.instance_of(Class)
  return function(self)
    if type(self) ~= "table" then return false end
    local mt = getmetatable(self)
    for _ = 1, 32 do
      if mt == nil then return false end
      if mt == Class then return true end
      local idx = type(mt) == "table" and rawget(mt, "__index")
      if idx == Class then return true end
      if type(idx) == "function" then return true end -- cannot see further: trust a table
      mt = type(idx) == "table" and getmetatable(idx) or getmetatable(mt)
    end
    return false
  end
end

function E.method_check(api, name, is_instance)
  return function(self)
    if not is_instance(self) then
      E.raise(api, "%s called with '.' (self is %s); call it with ':' as obj:%s(...)",
        name, E.show(self), name)
    end
  end
end

function E.methods(Class, api, is_instance, except)
  is_instance = is_instance or E.instance_of(Class)
  local skip = {}
  for _, n in ipairs(except or {}) do skip[n] = true end
  for name, f in pairs(Class) do
    if type(f) == "function" and type(name) == "string" and not skip[name]
       and name:sub(1, 2) ~= "__" then
      -- the check is inlined: forward and step run once per batch
      local guard = E.method_check(api, name, is_instance)
      Class[name] = function(self, ...)
        if not is_instance(self) then guard(self) end
        return f(self, ...)
      end
    end
  end
  return Class
end
-- }================================================================

return E
