-- Containers: Sequential, ModuleList, ModuleDict.  Children are named as
-- PyTorch names them ("0", "1", ... for lists) so state_dicts match, while
-- Lua positions stay 1-based: seq[1] is the child named "0".
local Module = require("torch.nn.module").Module

local containers = {}

local function check_module(m, who, i)
  if not require("torch.nn.module").is_module(m) then
    require("torch.nn.module").raise(who, "element %s is not a module (%s)", tostring(i), type(m))
  end
end

-- list containers: append, #, [i]
local function list_class(name)
  local class = Module:extend(name)
  function class:init(...)
    local mods = select("#", ...) == 1 and not require("torch.nn.module").is_module(...) and ... or { ... }
    for i, m in ipairs(mods) do
      check_module(m, name, i)
      self:append(m)
    end
  end
  function class:append(m)
    check_module(m, name, #self + 1)
    self:add_module(tostring(#rawget(self, "_module_order")), m)
    return self
  end
  class.add = class.append
  function class:get(i)
    local n = #rawget(self, "_module_order")
    if i < 0 then i = n + i + 1 end
    return rawget(self, "_modules")[tostring(i - 1)]
  end
  class.__instance.__len = function(self) return #rawget(self, "_module_order") end
  local index = class.__instance.__index
  class.__instance.__index = function(self, key)
    if math.type(key) == "integer" then return self:get(key) end
    return index(self, key)
  end
  return class
end

-- Sequential(m1, m2, ...) or Sequential{m1, m2, ...}: each output feeds the next
containers.Sequential = list_class("Sequential")
function containers.Sequential:forward(x, ...)
  local out = table.pack(x, ...)
  for _, m in self:named_children() do out = table.pack(m(table.unpack(out, 1, out.n))) end
  return table.unpack(out, 1, out.n)
end

-- ModuleList{...}: holds modules so their parameters count; no forward
containers.ModuleList = list_class("ModuleList")

-- ModuleDict{ {"name", m}, ... } in that order, or ModuleDict{name = m, ...}
-- (sorted by name, since a Lua table has no order)
containers.ModuleDict = Module:extend("ModuleDict")
function containers.ModuleDict:init(entries)
  entries = entries or {}
  if #entries > 0 then
    for i, e in ipairs(entries) do
      check_module(e[2], "ModuleDict", i)
      self:add_module(e[1], e[2])
    end
  else
    local names = {}
    for k in pairs(entries) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      check_module(entries[k], "ModuleDict", k)
      self:add_module(k, entries[k])
    end
  end
end

function containers.ModuleDict:keys()
  local list = {}
  for name in self:named_children() do list[#list + 1] = name end
  return list
end

return containers
