-- torch.save / torch.load: tensors and (nested) tables of tensors,
-- numbers, strings and booleans in PyTorch's file format, so Python's
-- torch.load reads what clara saves and clara reads what Python saves
-- (state_dicts above all).  String keys make a dict, 1..n a list.
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

-- torch.load(path): the file is untrusted (the limits of clara.limits
-- apply); an error names the path and the problem, at the caller's line
function serialize.load(path)
  if type(path) ~= "string" then
    E.raise("torch.load", "path (a string) expected, got %s", type(path))
  end
  local ok, v = pcall(core.pickle_load, path)
  if not ok then error(v, E.user_level()) end
  return v
end

-- nil, message instead of an error (a missing or corrupt file)
function serialize.load_safe(path)
  local ok, v = pcall(serialize.load, path)
  if ok then return v end
  return nil, v
end

return serialize
