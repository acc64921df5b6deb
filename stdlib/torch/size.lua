-- torch.Size: what x:size() returns.  A plain list of the dimensions (it
-- indexes, counts with #, unpacks and iterates as a table) whose metatable
-- (created by torch.core, whose size() sets it) prints it as PyTorch's
-- torch.Size does and compares it by value:
--   torch.zeros(2, 3):size()          --> torch.Size{2, 3}
--   x:size() == torch.Size{2, 3}      --> true
--   torch.Size{2, 3}:numel()          --> 6
return function(torch)
  local mt = torch._Size
  torch._Size = nil
  local methods = {}

  function methods.numel(s)
    local n = 1
    for _, v in ipairs(s) do n = n * v end
    return n
  end

  mt.__name = "torch.Size"
  mt.__index = methods
  mt.__tostring = function(s)
    local parts = {}
    for i, v in ipairs(s) do parts[i] = tostring(v) end
    return "torch.Size{" .. table.concat(parts, ", ") .. "}"
  end
  mt.__eq = function(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do if a[i] ~= b[i] then return false end end
    return true
  end

  -- torch.Size{2, 3}: a list of non-negative integers as a Size
  function torch.Size(t)
    local E = require "clara.error"
    if type(t) ~= "table" then E.raise("torch.Size", "a list of sizes expected, got %s", E.show(t)) end
    local s = {}
    for i, v in ipairs(t) do
      if math.type(v) ~= "integer" or v < 0 then
        E.raise("torch.Size", "sizes are integers >= 0, got %s at %d", E.show(v), i)
      end
      s[i] = v
    end
    return setmetatable(s, mt)
  end
end
