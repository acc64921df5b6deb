-- nn.init: PyTorch's initializers (torch.nn.init), in place and without
-- recording gradients.  Keyword arguments may come positionally, as in
-- Python, or as a trailing options table:
--   nn.init.kaiming_uniform_(w, {a = math.sqrt(5)})
--   nn.init.kaiming_normal_(w, 0, "fan_out", "relu")
local torch = require "torch"
local E = require "clara.error"

local init = {}

local function check_tensor(who, t)
  if not torch.is_tensor(t) then E.raise("nn.init." .. who, "expected a tensor, got %s", type(t)) end
end

local function no_grad(fn) return torch.no_grad(fn) end

-- calculate_gain(nonlinearity, param): the recommended gain for a nonlinearity
function init.calculate_gain(nonlinearity, param)
  local linear = { linear = true, conv1d = true, conv2d = true, conv3d = true, conv_transpose1d = true,
                   conv_transpose2d = true, conv_transpose3d = true, sigmoid = true }
  if linear[nonlinearity] then return 1 end
  if nonlinearity == "tanh" then return 5.0 / 3 end
  if nonlinearity == "relu" then return math.sqrt(2.0) end
  if nonlinearity == "selu" then return 3.0 / 4 end
  if nonlinearity == "leaky_relu" then
    local slope = 0.01
    if param ~= nil then
      if type(param) ~= "number" then
        E.raise("nn.init.calculate_gain", "negative_slope %s is not a valid number", tostring(param))
      end
      slope = param
    end
    return math.sqrt(2.0 / (1 + slope ^ 2))
  end
  E.raise("nn.init.calculate_gain", "unsupported nonlinearity '%s'", tostring(nonlinearity))
end

-- fan_in = size(2) * receptive field, fan_out = size(1) * receptive field
local function fans(who, t)
  local size = t:size()
  if #size < 2 then
    E.raise("nn.init." .. who, "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape (%s))", table.concat(size, ", "))
  end
  local receptive = 1
  for i = 3, #size do receptive = receptive * size[i] end
  return size[2] * receptive, size[1] * receptive
end

function init.uniform_(t, a, b)
  check_tensor("uniform_", t)
  if type(a) == "table" then a, b = a.a, a.b end
  return no_grad(function() return t:uniform_(a or 0.0, b or 1.0) end)
end

function init.normal_(t, mean, std)
  check_tensor("normal_", t)
  if type(mean) == "table" then mean, std = mean.mean, mean.std end
  return no_grad(function() return t:normal_(mean or 0.0, std or 1.0) end)
end

function init.constant_(t, val)
  check_tensor("constant_", t)
  if type(val) ~= "number" then E.raise("nn.init.constant_", "val must be a number, got %s", type(val)) end
  return no_grad(function() return t:fill_(val) end)
end

function init.zeros_(t)
  check_tensor("zeros_", t)
  return no_grad(function() return t:zero_() end)
end

function init.ones_(t)
  check_tensor("ones_", t)
  return no_grad(function() return t:fill_(1) end)
end

-- the identity matrix, for a 2-d tensor
function init.eye_(t)
  check_tensor("eye_", t)
  if t:dim() ~= 2 then E.raise("nn.init.eye_", "only tensors with 2 dimensions are supported, got %d", t:dim()) end
  local size = t:size()
  return no_grad(function() return t:copy_(torch.eye(size[1], size[2], { dtype = t.dtype })) end)
end

function init.xavier_uniform_(t, gain)
  check_tensor("xavier_uniform_", t)
  if type(gain) == "table" then gain = gain.gain end
  local fan_in, fan_out = fans("xavier_uniform_", t)
  local std = (gain or 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
  local a = math.sqrt(3.0) * std
  return no_grad(function() return t:uniform_(-a, a) end)
end

function init.xavier_normal_(t, gain)
  check_tensor("xavier_normal_", t)
  if type(gain) == "table" then gain = gain.gain end
  local fan_in, fan_out = fans("xavier_normal_", t)
  local std = (gain or 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
  return no_grad(function() return t:normal_(0, std) end)
end

-- the standard deviation kaiming_* aim at: gain / sqrt(fan)
local function kaiming_std(who, t, a, mode, nonlinearity)
  if type(a) == "table" then a, mode, nonlinearity = a.a, a.mode, a.nonlinearity end
  mode, nonlinearity = mode or "fan_in", nonlinearity or "leaky_relu"
  if mode ~= "fan_in" and mode ~= "fan_out" then
    E.raise("nn.init." .. who, "mode must be 'fan_in' or 'fan_out', got '%s'", tostring(mode))
  end
  local fan_in, fan_out = fans(who, t)
  local fan = mode == "fan_in" and fan_in or fan_out
  if fan == 0 then E.raise("nn.init." .. who, "initializing a zero-element tensor") end
  return init.calculate_gain(nonlinearity, a or 0) / math.sqrt(fan)
end

-- kaiming_uniform_(t, a = 0, mode = "fan_in", nonlinearity = "leaky_relu")
function init.kaiming_uniform_(t, a, mode, nonlinearity)
  check_tensor("kaiming_uniform_", t)
  local bound = math.sqrt(3.0) * kaiming_std("kaiming_uniform_", t, a, mode, nonlinearity)
  return no_grad(function() return t:uniform_(-bound, bound) end)
end

function init.kaiming_normal_(t, a, mode, nonlinearity)
  check_tensor("kaiming_normal_", t)
  local std = kaiming_std("kaiming_normal_", t, a, mode, nonlinearity)
  return no_grad(function() return t:normal_(0, std) end)
end

-- orthogonal_(t, gain = 1): rows (or columns) of the flattened tensor
-- orthonormal.  PyTorch takes Q of a QR of a normal sample with R's diagonal
-- made positive; Gram-Schmidt (twice, for round-off) gives that same Q.
function init.orthogonal_(t, gain)
  check_tensor("orthogonal_", t)
  if type(gain) == "table" then gain = gain.gain end
  if t:dim() < 2 then E.raise("nn.init.orthogonal_", "only tensors with 2 or more dimensions are supported") end
  local rows = t:size(1)
  local cols = t:numel() // rows
  return no_grad(function()
    local a = torch.randn(math.max(rows, cols), math.min(rows, cols), { dtype = t.dtype })
    local n = a:size(2)
    for j = 1, n do
      local v = a:select(2, j)
      if j > 1 then
        local q = a:narrow(2, 1, j - 1)
        for _ = 1, 2 do v = v - q:matmul(q:t():matmul(v)) end
      end
      a:select(2, j):copy_(v / v:norm())
    end
    if rows < cols then a = a:t() end
    t:copy_(a:reshape(t:size()))
    return t:mul_(gain or 1.0)
  end)
end

return init
