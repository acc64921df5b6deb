-- clara.repl.help: help(value) and `?name` in the REPL.
--
-- Where the documentation comes from:
--   * a function written in Lua: its doc comment, read lazily from its
--     source file (debug.getinfo: source and linedefined).  The convention:
--     the block of `--` lines right above the line that defines it
--     (`function M.name(...)`, `M.name = function(...)`, `local function
--     name(...)`, `M.Name = native.class("Name", function(...)`), no blank
--     line between.  Its first line says how to call it.
--   * a function written in C: its entry in clara.repl.cdocs (signature,
--     one line, example).
--   * a class (nn.Linear, clara.experiment): the doc of what builds an
--     instance (its init, or the builder function a native class wraps).
--   * a table of functions (torch, nn.init): the names it holds.
local torch = require "torch"

local M = {}

local INTRO = [[
help(value) shows the documentation of a function, class or table:
  help(torch.randn)        a torch function (also ?torch.randn)
  help(nn.Linear)          a module class
  help(clara.experiment)   a clara function
  help("optim.SGD")        by name
  help(torch)              the names a table holds
Lua functions are documented by the `--` comment block right above their
definition in the stdlib; torch's C functions by clara.repl.cdocs.
In the REPL, `?name` is help(name); Tab completes names.]]

-- {=== C functions: name -> entry, value -> name (built on first use) ===
local by_value

-- the value a dotted name reaches from the globals, or nil and why not
-- (a strict namespace's message names the closest names)
local function resolve(name)
  local v = _G
  for part in name:gmatch("[^.]+") do
    if type(v) ~= "table" and type(v) ~= "userdata" then return nil end
    local ok, nv = pcall(function() return v[part] end)
    if not ok then return nil, tostring(nv):gsub("^[^\n]-:%d+: ", "") end
    v = nv
  end
  return v
end
M.resolve = resolve

local function cdocs()
  if by_value then return by_value end
  by_value = {}
  for _, e in ipairs(require "clara.repl.cdocs") do
    local f = resolve(e[1])
    if f ~= nil and by_value[f] == nil then by_value[f] = e end
  end
  return by_value
end

local function c_text(e)
  return ("%s\n  %s\n  example: %s"):format(e[2], e[3], e[4])
end
-- }===

-- {=== doc comments of Lua functions ===
local cache = {}

local function source_lines(path)
  if cache[path] == nil then
    local lines = {}
    local f = io.open(path, "r")
    if f then
      for line in f:lines() do lines[#lines + 1] = line end
      f:close()
    end
    cache[path] = lines
  end
  return cache[path]
end

-- the `--` block right above line n of lines, comment marks removed
local function comment_above(lines, n)
  local block = {}
  local i = n - 1
  while i >= 1 and lines[i]:match("^%s*%-%-") do
    table.insert(block, 1, (lines[i]:gsub("^%s*%-%-+ ?", "", 1)))
    i = i - 1
  end
  return block
end

-- the opening comment of a file (its module's documentation), at most
-- HEADER lines
local HEADER = 40
local function header(lines)
  local block = {}
  for i = 1, #lines do
    if not lines[i]:match("^%-%-") then break end
    if i > HEADER then block[#block + 1] = "..."; break end
    block[#block + 1] = (lines[i]:gsub("^%-%-+ ?", "", 1))
  end
  return block
end

-- doc(f [, own]) -> text, or nil and where f is defined.  Without a doc
-- comment of its own, a function made by a factory (optim.SGD) gets its
-- file's opening comment, unless own is true; own = "module": the file's
-- opening comment first (a module called as a function: clara.experiment).
function M.doc(f, own)
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return nil, "a C function" end
  local path = info.source:match("^@(.*)")
  if not path then return nil, "defined in a string chunk" end
  local where = ("%s:%d"):format(path:gsub("^.*/stdlib/", "stdlib/"), info.linedefined)
  local lines = source_lines(path)
  if not lines[info.linedefined] then return nil, where end
  local block = comment_above(lines, info.linedefined)
  if own == "module" or (#block == 0 and not own) then
    block = header(lines)
    where = where .. ", the file's opening comment"
  end
  if #block == 0 then return nil, where end
  return table.concat(block, "\n") .. "\n  (" .. where .. ")"
end
-- }===

-- a class's builder: its init, or the function a native class wraps
local function builder(class)
  local init = rawget(class, "init")
  if type(init) ~= "function" then return nil end
  if M.doc(init, true) then return init end
  for i = 1, 20 do
    local name, v = debug.getupvalue(init, i)
    if name == nil then break end
    if name == "build" and type(v) == "function" then return v end
  end
  return init
end

local function callable(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and type(rawget(mt, "__call")) == "function" and rawget(mt, "__call") or nil
end

local function names_of(t)
  local names = {}
  for k in next, t do
    if type(k) == "string" and k:match("^[%a][%w_]*$") then names[#names + 1] = k end
  end
  table.sort(names)
  return names
end

local function function_text(f, label)
  local e = cdocs()[f]
  if e then return c_text(e) end
  local text, where = M.doc(f)
  if text then return text end
  return ("%s: no documentation (%s)"):format(label, where)
end

-- text(v [, label]) -> the help for v (label: how the user named it)
function M.text(v, label)
  if v == nil and label == nil then return INTRO end
  if type(v) == "string" and label == nil then
    local found, why = resolve(v)
    if found == nil then return ("help: no value named '%s'%s"):format(v, why and (": " .. why) or "") end
    return M.text(found, v)
  end
  if cdocs()[v] then return c_text(cdocs()[v]) end
  if label == nil and torch.is_tensor(v) then
    return "a tensor: help(torch.Tensor) lists its methods, help(torch.sum) (or ?x:sum) explains one"
  end
  label = label or (type(v) == "function" and "this function" or "this " .. type(v))
  if type(v) == "function" then return function_text(v, label) end
  if type(v) == "table" then
    local b = builder(v)
    if b then return function_text(b, label) end
    if callable(v) then return M.doc(callable(v), "module") or function_text(callable(v), label) end
    local names = names_of(v)
    if #names == 0 then return ("%s: a table with no named fields"):format(label) end
    local wrapped = require("clara.train.progress").wrap(table.concat(names, "  "), 76)
    return ("%s holds:\n  %s"):format(label, wrapped:gsub("\n  ", "\n  "))
  end
  if callable(v) then return function_text(callable(v), label) end
  return ("%s: a %s, no documentation"):format(label, type(v))
end

-- help(v): prints M.text(v)
function M.help(...)
  if select("#", ...) == 0 then print(INTRO)
  elseif (...) == nil then print("help: the value is nil (help() explains help)")
  else print(M.text((...))) end
end

-- the line `?text` stands for: help("name") for a name, else help((text))
function M.line(text)
  text = text:match("^%s*(.-)%s*$")
  if text == "" then return "help()" end
  if text:match("^[%a_][%w_.:]*$") then return ("help(%q)"):format((text:gsub(":", "."))) end
  return "help((" .. text .. "))"
end

return M
