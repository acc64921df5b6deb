-- The recurrent cells of PyTorch 1.13 (one time step): LSTMCell, GRUCell,
-- RNNCell, written in Lua over the ATen operators PyTorch's own cells call
-- (lstm_cell, gru_cell, rnn_tanh_cell, rnn_relu_cell), with PyTorch's
-- parameters (weight_ih, weight_hh, bias_ih, bias_hh) and initialization.
--
--   local cell = nn.LSTMCell(10, 20)
--   local h, c = cell(x)              -- x (N, 10) or unbatched (10); state zeros
--   h, c = cell(x, {h, c})
--   local h2 = nn.GRUCell(10, 20)(x, h2)
local torch = require "torch"
local native = require "torch.nn.native"
local module = require "torch.nn.module"
local attention = require "torch.nn.attention"
local nn_init = require "torch.nn.init_fns"
local E = require "clara.error"
local aten = require("torch.ops").aten

local int, bool = native.int, native.bool
local Module, Parameter = module.Module, module.Parameter
local shape = attention.shape
local M = {}

-- nn.<Cell>(input_size, hidden_size, {bias = true, dtype = "float32"}), and
-- for RNNCell nonlinearity = "tanh" | "relu"
local function cell_class(name, gates)
  local class = Module:extend(name)
  local known = { "bias", "dtype", name == "RNNCell" and "nonlinearity" or nil }
  function class:init(input_size, hidden_size, o)
    o = native.opts(name, o, known)
    self.input_size = int(name, "input_size", input_size, 1)
    self.hidden_size = int(name, "hidden_size", hidden_size, 1)
    self.bias = bool(name, "bias", o.bias, true)
    if name == "RNNCell" then
      self.nonlinearity = o.nonlinearity or "tanh"
      if self.nonlinearity ~= "tanh" and self.nonlinearity ~= "relu" then
        native.raise(name, "nonlinearity must be 'tanh' or 'relu', got %s", E.show(self.nonlinearity))
      end
    end
    native.weights(name, gates * self.hidden_size, self.input_size + self.hidden_size)
    local dtype = attention.dtype(name, o.dtype)
    local rows = gates * self.hidden_size
    self.weight_ih = Parameter(torch.empty({ rows, self.input_size }, { dtype = dtype }))
    self.weight_hh = Parameter(torch.empty({ rows, self.hidden_size }, { dtype = dtype }))
    if self.bias then
      self.bias_ih = Parameter(torch.empty({ rows }, { dtype = dtype }))
      self.bias_hh = Parameter(torch.empty({ rows }, { dtype = dtype }))
    end
    self:reset_parameters()
  end

  -- as PyTorch: every parameter uniform in +-1/sqrt(hidden_size)
  function class:reset_parameters()
    local stdv = 1.0 / math.sqrt(self.hidden_size)
    for _, p in ipairs(self:parameters()) do nn_init.uniform_(p, -stdv, stdv) end
  end

  -- as PyTorch's RNNCellBase.extra_repr
  function class:extra_repr()
    local s = ("%d, %d"):format(self.input_size, self.hidden_size)
    if not self.bias then s = s .. ", bias=False" end
    if self.nonlinearity and self.nonlinearity ~= "tanh" then s = s .. ", nonlinearity=" .. self.nonlinearity end
    return s
  end
  return class
end

M.LSTMCell = cell_class("LSTMCell", 4)
M.GRUCell = cell_class("GRUCell", 3)
M.RNNCell = cell_class("RNNCell", 1)

-- the input checked, with a batch of one when it is unbatched (1-D)
local function batched_input(self, x)
  local api = "nn." .. self:_get_name()
  attention.tensor_arg(api, "input", x)
  if x:dim() ~= 1 and x:dim() ~= 2 then
    E.raise(api, "input must be 1-D (unbatched) or 2-D (N, input_size), got shape %s", shape(x))
  end
  if x:size(-1) ~= self.input_size then
    E.raise(api, "input's last dim must be input_size = %d, got shape %s", self.input_size, shape(x))
  end
  return x:dim() == 2 and x or x:unsqueeze(1), x:dim() == 2
end

-- a state tensor: given (and shaped like the input), or zeros
local function state(self, x, h, is_batched, name)
  if h == nil then return torch.zeros(x:size(1), self.hidden_size, { dtype = x.dtype }) end
  local api = "nn." .. self:_get_name()
  attention.tensor_arg(api, name, h)
  local want = is_batched and ("(%d, %d)"):format(x:size(1), self.hidden_size) or ("(%d)"):format(self.hidden_size)
  if shape(h) ~= want then E.raise(api, "%s must have shape %s, got %s", name, want, shape(h)) end
  return is_batched and h or h:unsqueeze(1)
end

local function unbatch(t, is_batched) return is_batched and t or t:squeeze(1) end

-- cell(input[, {h, c}]) -> h, c
function M.LSTMCell:forward(x, hx)
  local input, is_batched = batched_input(self, x)
  if hx ~= nil and (type(hx) ~= "table" or getmetatable(hx) ~= nil) then
    E.raise("nn.LSTMCell", "the state must be {h, c}, two tensors, got %s", E.show(hx))
  end
  local h, c
  if hx == nil then
    h = state(self, input, nil)
    c = h
  else
    h = state(self, input, hx[1], is_batched, "h")
    c = state(self, input, hx[2], is_batched, "c")
  end
  h, c = aten.lstm_cell(input, { h, c }, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
  return unbatch(h, is_batched), unbatch(c, is_batched)
end

-- cell(input[, h]) -> h
local function forward_h(op)
  return function(self, x, hx)
    local input, is_batched = batched_input(self, x)
    local h = state(self, input, hx, is_batched, "hx")
    return unbatch(op(self)(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh), is_batched)
  end
end

M.GRUCell.forward = forward_h(function() return aten.gru_cell end)
M.RNNCell.forward = forward_h(function(self)
  return self.nonlinearity == "relu" and aten.rnn_relu_cell or aten.rnn_tanh_cell
end)

for name, class in pairs(M) do module.guard(class, name) end

return M
