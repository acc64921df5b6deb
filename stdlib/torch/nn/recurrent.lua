-- Recurrent layers (LSTM, GRU, RNN): libtorch's own.
--   local out, state = lstm(x[, state])   -- state = {h, c}
--   local out, h = gru(x[, h])
-- Shapes as in PyTorch: x is (L, N, H_in), or (N, L, H_in) with
-- batch_first, or unbatched (L, H_in); h and c are (layers*dirs, N, H).
local core = require "torch.nn.core"
local native = require "torch.nn.native"
local torch = require "torch"

local int, bool, opts, pyrepr, number = native.int, native.bool, native.opts, native.pyrepr, native.number
local M = {}

local KNOWN = { "num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size", "nonlinearity" }

-- nn.LSTM(input_size, hidden_size[, num_layers][, {bias = true, batch_first =
-- false, dropout = 0, bidirectional = false, proj_size = 0}])
local function rnn_class(name)
  local class = native.class(name, function(self, input_size, hidden_size, num_layers, o)
    if type(num_layers) == "table" and o == nil then num_layers, o = nil, num_layers end
    o = opts(name, o, KNOWN)
    self.mode = name
    if name == "RNN" then
      self.nonlinearity = o.nonlinearity or "tanh"
      if self.nonlinearity ~= "tanh" and self.nonlinearity ~= "relu" then
        native.raise("RNN", "nonlinearity must be 'tanh' or 'relu', got '%s'", tostring(self.nonlinearity))
      end
    elseif o.nonlinearity ~= nil then
      native.raise(name, "unknown option 'nonlinearity'")
    end
    self.input_size = int(name, "input_size", input_size, 1)
    self.hidden_size = int(name, "hidden_size", hidden_size, 1)
    self.num_layers = int(name, "num_layers", num_layers or o.num_layers or 1, 1)
    self.bias = bool(name, "bias", o.bias, true)
    self.batch_first = bool(name, "batch_first", o.batch_first, false)
    self.dropout = o.dropout == nil and 0 or number(name, "dropout", o.dropout, 0, 1)
    self.bidirectional = bool(name, "bidirectional", o.bidirectional, false)
    self.proj_size = int(name, "proj_size", o.proj_size or 0, 0)
    if self.proj_size ~= 0 and name ~= "LSTM" then native.raise(name, "proj_size is only for LSTM") end
    if self.proj_size >= self.hidden_size then
      native.raise(name, "proj_size (%d) must be smaller than hidden_size (%d)",
        self.proj_size, self.hidden_size)
    end
    local gates = name == "LSTM" and 4 or name == "GRU" and 3 or 1
    native.weights(name, gates * self.hidden_size, self.input_size + self.hidden_size, self.num_layers,
      self.bidirectional and 2 or 1)
    local mode = name == "RNN" and ("RNN_" .. self.nonlinearity:upper()) or name
    return core.rnn {
      mode = mode, input_size = self.input_size, hidden_size = self.hidden_size,
      num_layers = self.num_layers, proj_size = self.proj_size, bias = self.bias,
      batch_first = self.batch_first, bidirectional = self.bidirectional, dropout = self.dropout,
    }
  end)
  -- as PyTorch's RNNBase.extra_repr
  function class:extra_repr()
    local s = ("%d, %d"):format(self.input_size, self.hidden_size)
    if self.proj_size ~= 0 then s = s .. ", proj_size=" .. self.proj_size end
    if self.num_layers ~= 1 then s = s .. ", num_layers=" .. self.num_layers end
    if not self.bias then s = s .. ", bias=False" end
    if self.batch_first then s = s .. ", batch_first=True" end
    if self.dropout ~= 0 then s = s .. ", dropout=" .. pyrepr(self.dropout) end
    if self.bidirectional then s = s .. ", bidirectional=True" end
    return s
  end
  return class
end

M.LSTM = rnn_class("LSTM")
M.GRU = rnn_class("GRU")
M.RNN = rnn_class("RNN")

-- libtorch's C++ RNNs want a batch: an unbatched input (L, H_in) gets one,
-- as PyTorch's Python RNNs do, and loses it again on the way out
local function batched(self, x, states)
  if not torch.is_tensor(x) or x:dim() ~= 2 then return x, states, nil end
  local bdim = self.batch_first and 1 or 2
  local s = {}
  for i, h in ipairs(states) do s[i] = torch.is_tensor(h) and h:dim() == 2 and h:unsqueeze(2) or h end
  return x:unsqueeze(bdim), s, bdim
end

local function run(self, x, states)
  local bx, bs, bdim = batched(self, x, states)
  native.check_inputs(self, bx, table.unpack(bs))
  local r = table.pack(core.forward(rawget(self, "_handle"), bx, table.unpack(bs)))
  if r[1] == nil then native.forward_error(self, r[2], x, table.unpack(states)) end
  if bdim then
    r[1] = r[1]:squeeze(bdim)
    for i = 2, r.n do r[i] = r[i]:squeeze(2) end
  end
  return r
end

function M.LSTM:forward(x, state)
  if state ~= nil and (type(state) ~= "table" or not torch.is_tensor(state[1]) or not torch.is_tensor(state[2])) then
    native.raise(tostring(self), "state must be {h, c}, two tensors, got %s", type(state))
  end
  local r = run(self, x, state or {})
  return r[1], { r[2], r[3] }
end

local function forward_h(self, x, h0)
  local r = run(self, x, { h0 })
  return r[1], r[2]
end
M.GRU.forward = forward_h
M.RNN.forward = forward_h

return M
