-- clara.stats.input: the checks every statistic makes on its data, so that
-- a NaN or a missing value stops the test instead of poisoning its p-value.
-- Errors name the caller (clara.stats.<fname>) and point at the user's
-- call: the public function calls these, so the level is 3.
local E = require "clara.error"
local input = {}

local function is_tensor(v)
  return type(v) == "userdata" and getmetatable(v) and getmetatable(v).__name == "torch.Tensor"
end

-- sample(fname, what, xs) -> a fresh list of numbers (a 1-d tensor is read out)
function input.sample(fname, what, xs)
  if is_tensor(xs) then
    if xs:dim() ~= 1 then
      E.raise(nil, ("clara.stats.%s: %s must be a list or a 1-d tensor, got a %d-d tensor"):format(fname, what, xs:dim()))
    end
    xs = xs:totable()
  end
  if type(xs) ~= "table" then
    E.raise(nil, ("clara.stats.%s: %s must be a list of numbers, got %s"):format(fname, what, type(xs)))
  end
  local out = {}
  for i = 1, #xs do
    local v = xs[i]
    if type(v) ~= "number" then
      E.raise(nil, ("clara.stats.%s: %s[%d] is %s, not a number"):format(fname, what, i, tostring(v)))
    end
    if v ~= v then E.raise(nil, ("clara.stats.%s: %s[%d] is NaN"):format(fname, what, i)) end
    if v == math.huge or v == -math.huge then
      E.raise(nil, ("clara.stats.%s: %s[%d] is infinite"):format(fname, what, i))
    end
    out[i] = v
  end
  local count = 0
  for _ in pairs(xs) do count = count + 1 end
  if count ~= #xs then
    E.raise(nil, ("clara.stats.%s: %s must be a list 1..n without holes or other keys"):format(fname, what))
  end
  return out
end

-- differences(fname, a, b) -> a - b elementwise (b nil: a already holds them)
function input.differences(fname, a, b)
  local xa = input.sample(fname, "a", a)
  if b == nil then return xa end
  local xb = input.sample(fname, "b", b)
  if #xa ~= #xb then
    E.raise(nil, ("clara.stats.%s: a and b must pair up, got %d and %d values"):format(fname, #xa, #xb))
  end
  local d = {}
  for i = 1, #xa do d[i] = xa[i] - xb[i] end
  return d
end

-- at_least(fname, n, min, what): a clear error for too few values
function input.at_least(fname, n, min, what)
  if n < min then
    E.raise(nil, ("clara.stats.%s: at least %d %s needed, got %d"):format(fname, min, what, n))
  end
end

return input
