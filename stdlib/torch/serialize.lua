-- torch.save / torch.load: tensors and (nested) tables of tensors,
-- numbers, strings and booleans in PyTorch's file format, so Python's
-- torch.load reads what clara saves and clara reads what Python saves
-- (state_dicts above all).  String keys make a dict, 1..n a list.
local torch = require "torch"
local core = require "torch.jit.core"
local E = require "clara.error"

local serialize = {}

-- torch.save(path, value) as the issue has it, or torch.save(value, path)
-- as PyTorch has it; the write is atomic (a temporary file renamed)
function serialize.save(a, b)
  local path, value = a, b
  if type(a) ~= "string" and type(b) == "string" then path, value = b, a end
  if type(path) ~= "string" then
    error("torch.save: path (a string) expected, got " .. type(path), 2)
  end
  if value == nil then error("torch.save: nothing to save (value is nil)", 2) end
  if type(value) == "table" and getmetatable(value) and type(value.state_dict) == "function" then
    error("torch.save: cannot save a module itself: save module:state_dict() "
          .. "(or module:save(path) for a TorchScript model)", 2)
  end
  core.pickle_save(path, value)
end

-- map_location, as PyTorch's for the forms that make sense here: a device
-- ("cpu", "cuda:1") for every storage; {[saved location] = device}; or
-- function(storage, location) -> tensor, called once per location in the
-- file with an empty tensor standing for its storages: where the result
-- lies is where they go (a nil result: the CPU).  A storage whose location
-- nothing maps loads on the CPU.
local LOAD_OPTS = { map_location = { type = "any", doc = "a device, {[location] = device} or function(storage, location)" } }

local placement = require "torch.nn.placement"

-- the {location, device, ...} list the loader reads
local function location_map(api, m, locations)
  if type(m) == "string" then return { "*", placement.device(api, m) } end
  local list = {}
  if type(m) == "function" then
    for _, loc in ipairs(locations) do
      local r = m(torch.empty(0), loc)
      if r ~= nil and not torch.is_tensor(r) then
        E.raise(api, "map_location(storage, '%s') must return a tensor (or nil), got %s", loc, E.show(r))
      end
      list[#list + 1], list[#list + 2] = loc, r and placement.device(api, r.device) or "cpu"
    end
    return list
  end
  if type(m) ~= "table" or getmetatable(m) ~= nil then
    E.raise(api, "map_location must be a device name, a table {[location] = device} or a function, got %s", E.show(m))
  end
  for loc, dev in pairs(m) do
    if type(loc) ~= "string" then E.raise(api, "map_location's keys must be locations such as 'cuda:0', got %s", E.show(loc)) end
    list[#list + 1], list[#list + 2] = loc, placement.device(api, dev)
  end
  return list
end

-- true when every location the map names goes to the CPU
local function all_cpu(list)
  for i = 2, #list, 2 do if list[i] ~= "cpu" then return false end end
  return true
end

-- torch.load(path [, {map_location =}]): the file is untrusted (the limits
-- of clara.limits apply); an error names the path and the problem, at the
-- caller's line
function serialize.load(path, opts)
  local api = "torch.load"
  if type(path) ~= "string" then
    E.raise(api, "path (a string) expected, got %s", type(path))
  end
  local m = E.options(api, opts, LOAD_OPTS).map_location
  local map = (m ~= nil and type(m) ~= "function") and location_map(api, m) or nil
  local ok, v, locations = pcall(core.pickle_load, path, map)
  if not ok then error(v, E.user_level()) end
  if type(m) == "function" then
    -- the function sees the file's locations, known once it is read: a
    -- second read places the storages where it sends them
    map = location_map(api, m, locations)
    if not all_cpu(map) then
      ok, v = pcall(core.pickle_load, path, map)
      if not ok then error(v, E.user_level()) end
    end
  end
  return v
end

-- nil, message instead of an error (a missing or corrupt file)
function serialize.load_safe(path, opts)
  local ok, v = pcall(serialize.load, path, opts)
  if ok then return v end
  return nil, v
end

return serialize
