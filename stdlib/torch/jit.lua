-- torch.jit: TorchScript models as clara modules.  A model exported from
-- Python (torch.jit.script / torch.jit.trace, then .save) loads with
-- torch.jit.load (also nn.load); torch.jit.compile builds one from source
-- text.  Either answers the module contract: forward and __call, exported
-- methods through call, parameters that alias the model's own tensors (an
-- optimizer working on them trains the model), train/eval, state_dict.
local torch = require "torch"
local core = require "torch.jit.core"
local E = require "clara.error"

local jit = {}

local ScriptModule = {}
local Meta = { __name = "torch.jit.ScriptModule" }

local function wrap(handle, path)
  return setmetatable({ _script = handle, _path = path }, Meta)
end
core.set_wrapper(wrap) -- submodules that scripts hand back come wrapped

local function is_script(m)
  return getmetatable(m) == Meta
end
jit.is_script_module = is_script

local API = "torch.jit.ScriptModule"

-- The C functions' errors, raised again at the user's line (a C error
-- carries the position of its Lua caller: this file)
local function rethrow(ok, ...)
  if not ok then E.raise(nil, "%s", (...)) end
  return ...
end

local function call(h, method, ...)
  return rethrow(pcall(core.call, h, method, ...))
end

-- {======================================================
-- Calling the model
-- =======================================================

function ScriptModule:forward(...)
  return call(self._script, "forward", ...)
end

-- m:call("features", x): an exported method (@torch.jit.export)
function ScriptModule:call(method, ...)
  local h = self._script
  if type(method) ~= "string" then
    E.raise(API .. ":call", "method name (a string) expected, got %s", type(method))
  end
  return call(h, method, ...)
end

function ScriptModule:has_method(name)
  return core.has_method(self._script, name)
end

function ScriptModule:methods()
  return core.methods(self._script)
end

-- the TorchScript code of a method, as PyTorch's m.code prints it
function ScriptModule:code(method)
  return core.code(self._script, method or "forward")
end

-- }======================================================

-- {======================================================
-- Parameters, buffers, submodules
-- =======================================================

local function pairs_iter(names, values)
  local i = 0
  return function()
    i = i + 1
    if names[i] ~= nil then return names[i], values[i] end
  end
end

function ScriptModule:parameters(recurse)
  local _, ts = core.named(self._script, "parameters", recurse ~= false)
  return ts
end

function ScriptModule:named_parameters(recurse)
  return pairs_iter(core.named(self._script, "parameters", recurse ~= false))
end

function ScriptModule:buffers(recurse)
  local _, ts = core.named(self._script, "buffers", recurse ~= false)
  return ts
end

function ScriptModule:named_buffers(recurse)
  return pairs_iter(core.named(self._script, "buffers", recurse ~= false))
end

function ScriptModule:children()
  local _, ms = core.named(self._script, "children")
  return ms
end

function ScriptModule:named_children()
  return pairs_iter(core.named(self._script, "children"))
end

-- every module, this one first (name ""), depth first, dotted names
function ScriptModule:named_modules()
  local names, mods = {}, {}
  local function walk(m, prefix)
    names[#names + 1], mods[#mods + 1] = prefix, m
    local ns, cs = core.named(m._script, "children")
    for i, n in ipairs(ns) do walk(cs[i], prefix == "" and n or prefix .. "." .. n) end
  end
  walk(self, "")
  return pairs_iter(names, mods)
end

function ScriptModule:modules()
  local list = {}
  for _, m in self:named_modules() do list[#list + 1] = m end
  return list
end

-- fn(module) for every submodule, then for this one (PyTorch's order)
function ScriptModule:apply(fn)
  for _, child in ipairs(self:children()) do child:apply(fn) end
  fn(self)
  return self
end

function ScriptModule:zero_grad()
  for _, p in ipairs(self:parameters()) do p.grad = nil end
end

function ScriptModule:train(mode)
  if mode == nil then mode = true end
  if type(mode) ~= "boolean" then
    E.raise(API .. ":train", "mode must be a boolean, got %s", type(mode))
  end
  core.train(self._script, mode)
  return self
end

function ScriptModule:eval()
  return self:train(false)
end

-- m:to(...), :float(), :double(), :cpu(), ... as for clara's modules
require("torch.nn.placement").install(ScriptModule, function(_, method) return API .. ":" .. method end)

-- }======================================================

-- {======================================================
-- State
-- =======================================================

-- name -> tensor for parameters and buffers; the tensors share the model's
-- storage (as PyTorch's state_dict does) but carry no autograd history
function ScriptModule:state_dict()
  local h = self._script
  local sd = {}
  for _, kind in ipairs { "parameters", "buffers" } do
    local names, ts = core.named(h, kind, true)
    for i, n in ipairs(names) do sd[n] = ts[i]:detach() end
  end
  return sd
end

-- copies sd's tensors into the model; strict (the default) requires the
-- same names.  Returns {missing_keys = ..., unexpected_keys = ...}
function ScriptModule:load_state_dict(sd, opts)
  local h = self._script
  if type(sd) ~= "table" then
    E.raise(API .. ":load_state_dict", "state dict (a table name -> tensor) expected, got %s", type(sd))
  end
  local strict = not (opts and opts.strict == false)
  local own, missing, unexpected = {}, {}, {}
  for _, kind in ipairs { "parameters", "buffers" } do
    local names, ts = core.named(h, kind, true)
    for i, n in ipairs(names) do own[n] = ts[i] end
  end
  for name, t in pairs(own) do
    local src = sd[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif not torch.is_tensor(src) then
      E.raise(API .. ":load_state_dict", "'%s' is a %s, not a tensor", name, type(src))
    else
      local want, got = t:size(), src:size()
      if #want ~= #got or table.concat(want, "x") ~= table.concat(got, "x") then
        E.raise(API .. ":load_state_dict", "size mismatch for '%s': the model has [%s], the state dict [%s]",
          name, table.concat(want, ", "), table.concat(got, ", "))
      end
    end
  end
  for name in pairs(sd) do
    if own[name] == nil then unexpected[#unexpected + 1] = tostring(name) end
  end
  table.sort(missing)
  table.sort(unexpected)
  if strict and (#missing > 0 or #unexpected > 0) then
    E.raise(API .. ":load_state_dict", "missing keys [%s], unexpected keys [%s]",
      table.concat(missing, ", "), table.concat(unexpected, ", "))
  end
  torch.no_grad(function()
    for name, t in pairs(own) do
      if sd[name] ~= nil then t:copy_(sd[name]) end
    end
  end)
  return { missing_keys = missing, unexpected_keys = unexpected }
end

-- the whole model (code and weights) as a TorchScript file PyTorch's
-- torch.jit.load reads; the write is atomic
function ScriptModule:save(path)
  local h = self._script
  if type(path) ~= "string" then E.raise(API .. ":save", "path (a string) expected, got %s", type(path)) end
  rethrow(pcall(core.save, h, path))
end

function ScriptModule:free()
  core.free(self._script)
end

-- }======================================================

-- m.forward(x) (a '.' for a ':') says so instead of indexing a tensor
E.methods(ScriptModule, API, is_script)

-- {======================================================
-- Metamethods
-- =======================================================

-- TorchScript keeps a Sequential's or ModuleList's children named "0",
-- "1", ...; positions count them as clara's own Sequential does: m[1] is
-- child "0", negative positions count from the end, # is the length, and
-- outside it (or in any other module) a position gives nil.
local LISTS = { Sequential = true, ModuleList = true }

-- the children of a list module in order, or nil for another module
local function list_children(h)
  if not LISTS[core.name(h)] then return nil end
  local names, cs = core.named(h, "children")
  local by_name = {}
  for i, n in ipairs(names) do by_name[n] = cs[i] end
  local list = {}
  for i = 1, #names do list[i] = by_name[tostring(i - 1)] end
  return list
end

local function at_position(h, i)
  local list = list_children(h)
  if not list then return nil end
  if i < 0 then i = #list + i + 1 end
  return list[i]
end

-- fields beyond the methods: training, original_name, exported methods
-- (m:features(x)), submodules, parameters and buffers by name; children of
-- a Sequential or ModuleList by position
function Meta.__index(self, key)
  local method = ScriptModule[key]
  if method then return method end
  local h = rawget(self, "_script")
  if key == "training" then return core.is_training(h) end
  if key == "original_name" then return core.name(h) end
  if math.type(key) == "integer" then return at_position(h, key) end
  if type(key) ~= "string" then return nil end
  if core.has_method(h, key) then
    local guard = E.method_check(API, key, is_script)
    return function(m, ...)
      guard(m)
      return call(m._script, key, ...)
    end
  end
  for _, kind in ipairs { "children", "parameters", "buffers" } do
    local names, vs = core.named(h, kind, false)
    for i, n in ipairs(names) do
      if n == key then return vs[i] end
    end
  end
  return nil
end

function Meta.__newindex(self, key, value)
  E.raise("script module", "cannot set field '%s' (use train()/eval(), load_state_dict)", tostring(key))
end

-- the length of a Sequential or ModuleList; 0 for another module (as for
-- clara's own modules)
function Meta.__len(self)
  local list = list_children(rawget(self, "_script"))
  return list and #list or 0
end

function Meta.__call(self, ...)
  return call(self._script, "forward", ...)
end

function Meta.__close(self)
  core.free(self._script)
end

-- as PyTorch prints a loaded script module:
-- RecursiveScriptModule(original_name=Net) with children indented
function Meta.__tostring(self)
  local function repr(m)
    local lines = { "original_name=" .. core.name(m._script) }
    local names, children = core.named(m._script, "children")
    for i, n in ipairs(names) do
      lines[#lines + 1] = "(" .. n .. "): " .. repr(children[i]):gsub("\n", "\n  ")
    end
    if #lines == 1 then return "RecursiveScriptModule(" .. lines[1] .. ")" end
    return "RecursiveScriptModule(\n  " .. table.concat(lines, "\n  ") .. "\n)"
  end
  return repr(self)
end

-- }======================================================

-- {======================================================
-- Checking source text before libtorch parses it
-- =======================================================

-- libtorch's parser and compiler recurse once per nesting level and once
-- per term of an expression; tens of thousands of either overflow the C
-- stack (SIGSEGV, no message).  The bridge measures both (source.cpp, the
-- scan torch.jit.load applies to an archive's code too).

-- the deepest nesting of the source (brackets, blocks, prefix operators),
-- with its line, and the most terms of one statement, with its line
function jit.source_shape(src)
  if type(src) ~= "string" then
    E.raise("torch.jit.source_shape", "source text (a string) expected, got %s", type(src))
  end
  return core.source_shape(src)
end

-- refuse source libtorch's parser cannot survive, naming the line
local function check_source(src)
  local limits = require "clara.limits"
  local depth, depth_line, terms, terms_line = core.source_shape(src)
  if depth > limits.script_depth then
    E.limit("torch.jit.compile", ("the nesting depth of the source (brackets, blocks and prefix operators, at line %d)")
      :format(depth_line), depth, "script_depth")
  end
  if terms > limits.script_terms then
    E.limit("torch.jit.compile", ("the number of terms in the statement at line %d"):format(terms_line),
      terms, "script_terms")
  end
end

-- }======================================================

-- {======================================================
-- Making script modules
-- =======================================================

-- torch.jit.load(path [, {map_location = device}]): every tensor of the
-- model on that device (else where the file says: the CPU for a model saved
-- there)
local LOAD_OPTS = { map_location = { type = "string", doc = "the device every tensor goes to" } }

function jit.load(path, opts)
  if type(path) ~= "string" then
    E.raise("torch.jit.load", "path (a string) expected, got %s", type(path))
  end
  local where = E.options("torch.jit.load", opts, LOAD_OPTS).map_location
  if where then where = require("torch.nn.placement").device("torch.jit.load", where) end
  return wrap(rethrow(pcall(core.load, path, where)), path)
end

-- entries of a {name = value} table (sorted by name) or of a list of
-- {name, value} pairs (in its order)
local function entries(t, what)
  if t == nil then return {} end
  if type(t) ~= "table" then
    E.raise("torch.jit.compile", "option '%s' must be a table, got %s", what, type(t))
  end
  local list = {}
  if #t > 0 then
    for i, pair in ipairs(t) do
      if type(pair) ~= "table" or type(pair[1]) ~= "string" then
        E.raise("torch.jit.compile", "%s[%d] must be a {name, value} pair", what, i)
      end
      list[#list + 1] = pair
    end
  else
    for name, v in pairs(t) do
      if type(name) ~= "string" then
        E.raise("torch.jit.compile", "%s names must be strings", what)
      end
      list[#list + 1] = { name, v }
    end
    table.sort(list, function(a, b) return a[1] < b[1] end)
  end
  return list
end

-- libtorch asserts (INTERNAL ASSERT FAILED) on an empty or dotted class
-- name, and takes "a.b" for a parameter name that state_dict cannot tell
-- from a submodule's
local function is_identifier(v)
  return type(v) == "string" and #v <= 256 and v:match("^[%a_][%w_]*$") ~= nil
end

local COMPILE_OPTIONS = {
  name = { type = "string", default = "Module", doc = "the module's class name (an identifier)",
           check = function(v) return is_identifier(v), "must be an identifier (letters, digits, '_'), got " .. E.show(v) end },
  parameters = { type = "table", doc = "{name = tensor} or {{name, tensor}...}: leaves that require grad" },
  buffers = { type = "table", doc = "{name = tensor} or {{name, tensor}...}" },
  attributes = { type = "table", doc = "{name = value} or {{name, value}...}" },
  modules = { type = "table", doc = "{name = script module} or {{name, module}...}" },
}

-- torch.jit.compile(source, {name=, parameters=, buffers=, attributes=,
-- modules=}): a script module from TorchScript source text (the methods of
-- a class body: `def forward(self, x): ...`).  Parameters become leaves
-- that require grad and stay shared with the tensors given.
function jit.compile(source, opts)
  if type(source) ~= "string" then
    E.raise("torch.jit.compile", "source text (a string) expected, got %s", type(source))
  end
  opts = E.options("torch.jit.compile", opts, COMPILE_OPTIONS)
  check_source(source)
  local h = rethrow(pcall(core.new, opts.name))
  for _, spec in ipairs { { "parameters", "parameter" }, { "buffers", "buffer" },
                          { "attributes", "attribute" }, { "modules", "module" } } do
    for _, pair in ipairs(entries(opts[spec[1]], spec[1])) do
      local name, v = pair[1], pair[2]
      if not is_identifier(name) then
        E.raise("torch.jit.compile", "%s name %s must be an identifier (letters, digits, '_')", spec[2], E.show(name))
      end
      if (spec[2] == "parameter" or spec[2] == "buffer") and not torch.is_tensor(v) then
        E.raise("torch.jit.compile", "%s '%s' must be a tensor, got %s", spec[2], name, type(v))
      end
      if spec[2] == "module" and not (is_script(v) or core.is_script(v)) then
        E.raise("torch.jit.compile", "module '%s' must be a script module, got %s", name, type(v))
      end
      if spec[2] == "parameter" and torch.is_tensor(v) and v:is_floating_point()
          and not v.requires_grad then
        v:requires_grad_(true)
      end
      if spec[2] == "module" and is_script(v) then v = v._script end
      rethrow(pcall(core.register, h, name, v, spec[2]))
    end
  end
  rethrow(pcall(core.define, h, source))
  return wrap(h)
end

-- torch.jit.tuple{a, b}: a Lua list that scripts receive as a tuple
function jit.tuple(list)
  if type(list) ~= "table" then E.raise("torch.jit.tuple", "a list expected, got %s", type(list)) end
  return setmetatable(list, core.tuple_mt)
end

-- }======================================================

return jit
