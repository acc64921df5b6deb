-- torch.jit: TorchScript models as clara modules.  A model exported from
-- Python (torch.jit.script / torch.jit.trace, then .save) loads with
-- torch.jit.load (also nn.load); torch.jit.compile builds one from source
-- text.  Either answers the module contract: forward and __call, exported
-- methods through call, parameters that alias the model's own tensors (an
-- optimizer working on them trains the model), train/eval, state_dict.
local torch = require "torch"
local core = require "torch.jit.core"

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

local function check_self(self, fname)
  if not is_script(self) then
    error(("%s: expected a script module (use ':', not '.'), got %s"):format(fname, type(self)), 3)
  end
  return self._script
end

-- {======================================================
-- Calling the model
-- =======================================================

function ScriptModule:forward(...)
  return core.call(check_self(self, "forward"), "forward", ...)
end

-- m:call("features", x): an exported method (@torch.jit.export)
function ScriptModule:call(method, ...)
  local h = check_self(self, "call")
  if type(method) ~= "string" then
    error("call: method name (a string) expected, got " .. type(method), 2)
  end
  return core.call(h, method, ...)
end

function ScriptModule:has_method(name)
  return core.has_method(check_self(self, "has_method"), name)
end

function ScriptModule:methods()
  return core.methods(check_self(self, "methods"))
end

-- the TorchScript code of a method, as PyTorch's m.code prints it
function ScriptModule:code(method)
  return core.code(check_self(self, "code"), method or "forward")
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
  local _, ts = core.named(check_self(self, "parameters"), "parameters", recurse ~= false)
  return ts
end

function ScriptModule:named_parameters(recurse)
  return pairs_iter(core.named(check_self(self, "named_parameters"), "parameters", recurse ~= false))
end

function ScriptModule:buffers(recurse)
  local _, ts = core.named(check_self(self, "buffers"), "buffers", recurse ~= false)
  return ts
end

function ScriptModule:named_buffers(recurse)
  return pairs_iter(core.named(check_self(self, "named_buffers"), "buffers", recurse ~= false))
end

function ScriptModule:children()
  local _, ms = core.named(check_self(self, "children"), "children")
  return ms
end

function ScriptModule:named_children()
  return pairs_iter(core.named(check_self(self, "named_children"), "children"))
end

-- every module, this one first (name ""), depth first, dotted names
function ScriptModule:named_modules()
  check_self(self, "named_modules")
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
  check_self(self, "apply")
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
    error("train: mode must be a boolean, got " .. type(mode), 2)
  end
  core.train(check_self(self, "train"), mode)
  return self
end

function ScriptModule:eval()
  return self:train(false)
end

-- }======================================================

-- {======================================================
-- State
-- =======================================================

-- name -> tensor for parameters and buffers; the tensors share the model's
-- storage (as PyTorch's state_dict does) but carry no autograd history
function ScriptModule:state_dict()
  local h = check_self(self, "state_dict")
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
  local h = check_self(self, "load_state_dict")
  if type(sd) ~= "table" then
    error("load_state_dict: state dict (a table name -> tensor) expected, got " .. type(sd), 2)
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
      error(("load_state_dict: '%s' is a %s, not a tensor"):format(name, type(src)), 2)
    else
      local want, got = t:size(), src:size()
      if #want ~= #got or table.concat(want, "x") ~= table.concat(got, "x") then
        error(("load_state_dict: size mismatch for '%s': the model has [%s], the state dict [%s]")
          :format(name, table.concat(want, ", "), table.concat(got, ", ")), 2)
      end
    end
  end
  for name in pairs(sd) do
    if own[name] == nil then unexpected[#unexpected + 1] = tostring(name) end
  end
  table.sort(missing)
  table.sort(unexpected)
  if strict and (#missing > 0 or #unexpected > 0) then
    error(("load_state_dict: missing keys [%s], unexpected keys [%s]")
      :format(table.concat(missing, ", "), table.concat(unexpected, ", ")), 2)
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
  local h = check_self(self, "save")
  if type(path) ~= "string" then error("save: path (a string) expected, got " .. type(path), 2) end
  core.save(h, path)
end

function ScriptModule:free()
  core.free(check_self(self, "free"))
end

-- }======================================================

-- {======================================================
-- Metamethods
-- =======================================================

-- fields beyond the methods: training, original_name, exported methods
-- (m:features(x)), submodules, parameters and buffers by name
function Meta.__index(self, key)
  local method = ScriptModule[key]
  if method then return method end
  local h = rawget(self, "_script")
  if key == "training" then return core.is_training(h) end
  if key == "original_name" then return core.name(h) end
  if type(key) ~= "string" then return nil end
  if core.has_method(h, key) then
    return function(m, ...) return core.call(check_self(m, key), key, ...) end
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
  error(("script module: cannot set field '%s' (use train()/eval(), load_state_dict)"):format(tostring(key)), 2)
end

function Meta.__call(self, ...)
  return core.call(self._script, "forward", ...)
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
-- Making script modules
-- =======================================================

function jit.load(path)
  if type(path) ~= "string" then
    error("torch.jit.load: path (a string) expected, got " .. type(path), 2)
  end
  return wrap(core.load(path), path)
end

-- entries of a {name = value} table (sorted by name) or of a list of
-- {name, value} pairs (in its order)
local function entries(t, what)
  if t == nil then return {} end
  if type(t) ~= "table" then
    error(("torch.jit.compile: option '%s' must be a table, got %s"):format(what, type(t)), 3)
  end
  local list = {}
  if #t > 0 then
    for i, pair in ipairs(t) do
      if type(pair) ~= "table" or type(pair[1]) ~= "string" then
        error(("torch.jit.compile: %s[%d] must be a {name, value} pair"):format(what, i), 3)
      end
      list[#list + 1] = pair
    end
  else
    for name, v in pairs(t) do
      if type(name) ~= "string" then
        error(("torch.jit.compile: %s names must be strings"):format(what), 3)
      end
      list[#list + 1] = { name, v }
    end
    table.sort(list, function(a, b) return a[1] < b[1] end)
  end
  return list
end

local compile_options = { name = true, parameters = true, buffers = true,
                          attributes = true, modules = true }

-- torch.jit.compile(source, {name=, parameters=, buffers=, attributes=,
-- modules=}): a script module from TorchScript source text (the methods of
-- a class body: `def forward(self, x): ...`).  Parameters become leaves
-- that require grad and stay shared with the tensors given.
function jit.compile(source, opts)
  if type(source) ~= "string" then
    error("torch.jit.compile: source text (a string) expected, got " .. type(source), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("torch.jit.compile: options must be a table, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if not compile_options[k] then
      error(("torch.jit.compile: unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  local h = core.new(opts.name or "Module")
  for _, spec in ipairs { { "parameters", "parameter" }, { "buffers", "buffer" },
                          { "attributes", "attribute" }, { "modules", "module" } } do
    for _, pair in ipairs(entries(opts[spec[1]], spec[1])) do
      local name, v = pair[1], pair[2]
      if (spec[2] == "parameter" or spec[2] == "buffer") and not torch.is_tensor(v) then
        error(("torch.jit.compile: %s '%s' must be a tensor, got %s"):format(spec[2], name, type(v)), 2)
      end
      if spec[2] == "module" and not (is_script(v) or core.is_script(v)) then
        error(("torch.jit.compile: module '%s' must be a script module, got %s"):format(name, type(v)), 2)
      end
      if spec[2] == "parameter" and torch.is_tensor(v) and v:is_floating_point()
          and not v.requires_grad then
        v:requires_grad_(true)
      end
      if spec[2] == "module" and is_script(v) then v = v._script end
      core.register(h, name, v, spec[2])
    end
  end
  core.define(h, source)
  return wrap(h)
end

-- torch.jit.tuple{a, b}: a Lua list that scripts receive as a tuple
function jit.tuple(list)
  if type(list) ~= "table" then error("torch.jit.tuple: a list expected, got " .. type(list), 2) end
  return setmetatable(list, core.tuple_mt)
end

-- }======================================================

return jit
