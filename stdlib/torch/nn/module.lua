-- torch.nn.Module: the base of every model, native-backed or written in Lua.
--
-- A module owns parameters, buffers and child modules, each registered
-- under a name, in order; names join with dots as in PyTorch ("0.weight",
-- "encoder.fc1.bias"), so state_dicts match PyTorch's key for key.
--
--   local Net = nn.Module:extend("Net")
--   function Net:init(n)
--     self.fc = nn.Linear(n, 1)                      -- a child, by assignment
--     self.scale = nn.Parameter(torch.ones(1))       -- a parameter
--   end
--   function Net:forward(x) return self.fc(x) * self.scale end
--
-- Children must be called as self.fc(x) (not self.fc:forward(x)) for hooks
-- and capture to see them, as in PyTorch.
local torch = require "torch"
local E = require "clara.error"

local Module = { __name = "Module" }

-- raise "nn.<who>: message" at the user's line
local function raise(who, fmt, ...) E.raise("nn." .. who, fmt, ...) end

-- parameters are tensors marked by nn.Parameter; weak keys let them go
local marked = setmetatable({}, { __mode = "k" })

local function Parameter(t, requires_grad)
  if not torch.is_tensor(t) then raise("Parameter", "expected a tensor, got %s", t) end
  if t.grad_fn then t = t:detach() end -- a parameter is a leaf
  t:requires_grad_(requires_grad ~= false)
  marked[t] = true
  return t
end

local function is_module(v)
  return type(v) == "table" and getmetatable(v) ~= nil and rawget(v, "_modules") ~= nil
end

-- {======================================================
-- Classes and instances
-- =======================================================

-- instance fields come first; then children, parameters, buffers; then the class
local function instance_index(self, key)
  local v = rawget(self, "_modules")[key]
  if v ~= nil then return v end
  v = rawget(self, "_parameters")[key]
  if v ~= nil then return v end
  v = rawget(self, "_buffers")[key]
  if v ~= nil then return v end
  return getmetatable(self).__class[key]
end

-- A Parameter assigned over a native module's own (weight tying) replaces
-- it inside libtorch's module too, so forward uses it and gradients reach it.
local function replace_native(self, key, value)
  local handle = rawget(self, "_handle")
  if handle == nil or rawget(self, "_parameters")[key] == nil then return end
  local ok, err = require("torch.nn.core").set_parameter(handle, key, value)
  if not ok then raise(self:_get_name(), "cannot assign parameter '%s': %s", key, err) end
end

-- assigning a module or a Parameter registers it, as PyTorch's __setattr__;
-- a plain tensor over a parameter is refused, as PyTorch refuses it
local function instance_newindex(self, key, value)
  if is_module(value) then
    self:add_module(key, value)
  elseif torch.is_tensor(value) and marked[value] then
    replace_native(self, key, value)
    self:register_parameter(key, value)
  elseif rawget(self, "_parameters")[key] ~= nil then
    if value == nil and rawget(self, "_handle") ~= nil then
      raise(self:_get_name(), "cannot remove parameter '%s' of a native module", key)
    end
    if value ~= nil then
      raise(self:_get_name(), "cannot assign %s as parameter '%s' (nn.Parameter or nil expected)", value, key)
    end
    rawget(self, "_parameters")[key] = nil
  elseif rawget(self, "_buffers")[key] ~= nil then
    if value ~= nil and not torch.is_tensor(value) then
      raise(self:_get_name(), "%s: expected a tensor, got %s", key, value)
    end
    rawget(self, "_buffers")[key] = value
  else
    rawset(self, key, value)
  end
end

-- Module:extend("Name") makes a subclass; calling the class makes an instance
function Module:extend(name)
  local class = setmetatable({ __name = name, __super = self }, { __index = self, __call = function(cls, ...)
    return cls:new(...)
  end })
  class.__instance = {
    __class = class,
    __index = instance_index,
    __newindex = instance_newindex,
    __call = function(m, ...) return m:_call(...) end,
    __tostring = function(m) return m:_repr() end,
    __name = name,
  }
  return class
end

function Module:new(...)
  local m = setmetatable({
    _parameters = {}, _param_order = {},
    _buffers = {}, _buffer_order = {},
    _modules = {}, _module_order = {},
    _hooks = {},
    training = true,
  }, self.__instance)
  if self.init then self.init(m, ...) end
  return m
end

function Module:_get_name() return getmetatable(self).__class.__name end

function Module:forward()
  raise(self:_get_name(), "forward is not defined")
end

-- calling a module runs forward, then its forward hooks (which see the output)
function Module:_call(...)
  local hooks = rawget(self, "_hooks")
  if next(hooks) == nil then return self:forward(...) end
  local out = table.pack(self:forward(...))
  for _, hook in pairs(hooks) do hook(self, table.unpack(out, 1, out.n)) end
  return table.unpack(out, 1, out.n)
end

-- returns a function that removes the hook
function Module:register_forward_hook(fn)
  local key = {}
  rawget(self, "_hooks")[key] = fn
  return function() rawget(self, "_hooks")[key] = nil end
end

-- }======================================================

-- {======================================================
-- Registration
-- =======================================================

local function register(self, kind, order, name, value, what)
  if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
    raise(self:_get_name(), "bad %s name '%s' (a non-empty string without dots)", what, tostring(name))
  end
  local tbl = rawget(self, kind)
  if tbl[name] == nil then table.insert(rawget(self, order), name) end
  tbl[name] = value
  return value
end

function Module:register_parameter(name, t)
  if t ~= nil and not torch.is_tensor(t) then
    raise(self:_get_name(), "parameter '%s' must be a tensor, got %s", tostring(name), t)
  end
  if t ~= nil then marked[t] = true end
  return register(self, "_parameters", "_param_order", name, t, "parameter")
end

function Module:register_buffer(name, t)
  if t ~= nil and not torch.is_tensor(t) then
    raise(self:_get_name(), "buffer '%s' must be a tensor, got %s", tostring(name), t)
  end
  return register(self, "_buffers", "_buffer_order", name, t, "buffer")
end

function Module:add_module(name, m)
  if m ~= nil and not is_module(m) then
    raise(self:_get_name(), "child '%s' is not a module", tostring(name))
  end
  return register(self, "_modules", "_module_order", name, m, "module")
end

-- }======================================================

-- {======================================================
-- Walking the tree
-- =======================================================

-- (name, child) in registration order
function Module:named_children()
  local order, mods, i = rawget(self, "_module_order"), rawget(self, "_modules"), 0
  return function()
    repeat
      i = i + 1
      local name = order[i]
      if name == nil then return nil end
      local m = mods[name]
      if m ~= nil then return name, m end
    until false
  end
end

function Module:children()
  local list = {}
  for _, m in self:named_children() do list[#list + 1] = m end
  return list
end

-- every module of the tree, depth first, self first with name ""
function Module:named_modules()
  local list = {}
  local function walk(m, prefix)
    list[#list + 1] = { prefix, m }
    for name, child in m:named_children() do
      walk(child, prefix == "" and name or prefix .. "." .. name)
    end
  end
  walk(self, "")
  local i = 0
  return function()
    i = i + 1
    if list[i] then return list[i][1], list[i][2] end
  end
end

function Module:modules()
  local list = {}
  for _, m in self:named_modules() do list[#list + 1] = m end
  return list
end

-- the named tensors of one kind over the tree, shared ones once
local function named(self, kind, order)
  local list, seen = {}, {}
  for prefix, m in self:named_modules() do
    local tbl = rawget(m, kind)
    for _, name in ipairs(rawget(m, order)) do
      local t = tbl[name]
      if t ~= nil and not seen[t] then
        seen[t] = true
        list[#list + 1] = { prefix == "" and name or prefix .. "." .. name, t }
      end
    end
  end
  local i = 0
  return function()
    i = i + 1
    if list[i] then return list[i][1], list[i][2] end
  end
end

function Module:named_parameters() return named(self, "_parameters", "_param_order") end
function Module:named_buffers() return named(self, "_buffers", "_buffer_order") end

function Module:parameters()
  local list = {}
  for _, p in self:named_parameters() do list[#list + 1] = p end
  return list
end

function Module:buffers()
  local list = {}
  for _, b in self:named_buffers() do list[#list + 1] = b end
  return list
end

-- fn(m) on every child (recursively), then on self, as in PyTorch
function Module:apply(fn)
  for _, child in self:named_children() do child:apply(fn) end
  fn(self)
  return self
end

-- }======================================================

-- {======================================================
-- Modes, gradients, state
-- =======================================================

function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in self:named_modules() do
    rawset(m, "training", mode)
    if m._set_training then m:_set_training(mode) end -- native modules
  end
  return self
end

function Module:eval() return self:train(false) end

function Module:zero_grad()
  for _, p in self:named_parameters() do p.grad = nil end
end

-- name -> tensor, detached views of parameters and buffers
function Module:state_dict()
  local sd = {}
  for name, p in self:named_parameters() do sd[name] = p:detach() end
  for name, b in self:named_buffers() do sd[name] = b:detach() end
  return sd
end

-- copies values in; strict (default) wants exactly the same names.  Every
-- entry is checked before any is copied, so a bad state changes nothing.
local LOAD_OPTS = { strict = { type = "boolean", default = true, doc = "names must match exactly" } }

function Module:load_state_dict(sd, opts)
  local api = "nn." .. self:_get_name() .. ":load_state_dict"
  if type(sd) ~= "table" then E.raise(api, "expected a table of tensors, got %s", type(sd)) end
  local strict = E.options(api, opts, LOAD_OPTS).strict
  local own, order, missing, unexpected = {}, {}, {}, {}
  for name, t in self:named_parameters() do own[name] = t; order[#order + 1] = name end
  for name, t in self:named_buffers() do own[name] = t; order[#order + 1] = name end
  for name in pairs(own) do if sd[name] == nil then missing[#missing + 1] = name end end
  for name in pairs(sd) do if own[name] == nil then unexpected[#unexpected + 1] = name end end
  if strict and (#missing > 0 or #unexpected > 0) then
    table.sort(missing); table.sort(unexpected)
    E.raise(api, "missing keys {%s}, unexpected keys {%s}", table.concat(missing, ", "),
      table.concat(unexpected, ", "))
  end
  for _, name in ipairs(order) do
    local t, v = own[name], sd[name]
    if v ~= nil then
      if not torch.is_tensor(v) then E.raise(api, "'%s' is a %s, not a tensor", name, type(v)) end
      local a, b = table.concat(t:size(), ", "), table.concat(v:size(), ", ")
      if a ~= b then
        E.raise(api, "size mismatch for '%s': shape (%s) in the model, (%s) in the state", name, a, b)
      end
    end
  end
  torch.no_grad(function()
    for _, name in ipairs(order) do
      if sd[name] ~= nil then own[name]:copy_(sd[name]) end
    end
  end)
  return missing, unexpected
end

-- }======================================================

-- {======================================================
-- Capture of intermediate outputs
-- =======================================================

-- model:capture({"body.2", "head"}, x) -> captured, outputs...
-- runs the model once and returns, by name, what those submodules returned
function Module:capture(names, ...)
  if type(names) ~= "table" then raise(self:_get_name(), "capture: expected a list of submodule names") end
  local by_name, removers, captured = {}, {}, {}
  for name, m in self:named_modules() do by_name[name] = m end
  for _, name in ipairs(names) do
    local m = by_name[name]
    if not m then raise(self:_get_name() .. ":capture", "%s has no submodule '%s'", self:_get_name(), name) end
    removers[#removers + 1] = m:register_forward_hook(function(_, out, ...)
      captured[name] = select("#", ...) > 0 and { out, ... } or out
    end)
  end
  local out = table.pack(pcall(self._call, self, ...))
  for _, remove in ipairs(removers) do remove() end
  if not out[1] then error(out[2], 0) end
  return captured, table.unpack(out, 2, out.n)
end

-- }======================================================

-- {======================================================
-- Printing, as PyTorch's Module.__repr__
-- =======================================================

function Module:extra_repr() return "" end

local function indent(s, n)
  local pad = string.rep(" ", n)
  return (s:gsub("\n", "\n" .. pad))
end

function Module:_repr()
  local extra = {}
  local e = self:extra_repr()
  if e ~= "" then for line in (e .. "\n"):gmatch("(.-)\n") do extra[#extra + 1] = line end end
  local children = {}
  for name, m in self:named_children() do
    children[#children + 1] = ("(%s): %s"):format(name, indent(tostring(m), 2))
  end
  local s = self:_get_name() .. "("
  if #extra == 1 and #children == 0 then
    s = s .. extra[1]
  elseif #extra + #children > 0 then
    local lines = {}
    for _, l in ipairs(extra) do lines[#lines + 1] = l end
    for _, l in ipairs(children) do lines[#lines + 1] = l end
    s = s .. "\n  " .. table.concat(lines, "\n  ") .. "\n"
  end
  return s .. ")"
end

-- }======================================================

Module.__instance = {
  __class = Module, __index = instance_index, __newindex = instance_newindex,
  __call = function(m, ...) return m:_call(...) end,
  __tostring = function(m) return m:_repr() end,
}

-- a method called with '.' (nn.Linear.forward(x), m.parameters()) says so;
-- classes, not instances, receive extend and new, and _call is internal
-- (a function guarded once and shared by classes, as the native forward,
-- stays one function: the fast path recognizes it by identity)
local NOT_METHODS = { "extend", "new", "init", "_call" }
local function is_instance(v) return type(v) == "table" and rawget(v, "_modules") ~= nil end
local shared = setmetatable({}, { __mode = "k" })

local function guard(class, name)
  local except = { table.unpack(NOT_METHODS) }
  for k, f in pairs(class) do if shared[f] then except[#except + 1] = k end end
  return E.methods(class, "nn." .. name, is_instance, except)
end

-- model:to(...), :float(), :double(), :cpu(), ...: every parameter and
-- buffer of the tree placed in place (torch.nn.placement)
require("torch.nn.placement").install(Module, function(self, method)
  return "nn." .. self:_get_name() .. ":" .. method
end)

-- model:clone(): a deep copy (torch.nn.clone), as Python's copy.deepcopy
Module.clone = require("torch.nn.clone")(Parameter, is_module)

local function guard_shared(name, f)
  local g = E.methods({ [name] = f }, "nn.Module", is_instance)[name]
  shared[g] = true
  return g
end
guard(Module, "Module")

return { Module = Module, Parameter = Parameter, is_module = is_module, raise = raise, guard = guard,
         guard_shared = guard_shared }
