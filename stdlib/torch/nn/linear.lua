-- Linear, Bilinear, Embedding and the shape modules (Identity, Flatten,
-- Unflatten): libtorch's own, with PyTorch's arguments and printing.
-- Dims are 1-based, as everywhere in clara; Embedding's indices (values in
-- the input, padding_idx) stay 0-based as in PyTorch.
local core = require "torch.nn.core"
local native = require "torch.nn.native"

local int, bool, opts, pyrepr = native.int, native.bool, native.opts, native.pyrepr
local M = {}

-- nn.Linear(in_features, out_features, {bias = true})
M.Linear = native.class("Linear", function(self, in_features, out_features, o)
  o = opts("Linear", o, { "bias" })
  self.in_features = int("Linear", "in_features", in_features, 0)
  self.out_features = int("Linear", "out_features", out_features, 0)
  native.weights("Linear", self.in_features, self.out_features)
  return core.linear(self.in_features, self.out_features, bool("Linear", "bias", o.bias, true))
end)
function M.Linear:extra_repr()
  return ("in_features=%d, out_features=%d, bias=%s"):format(self.in_features, self.out_features,
    pyrepr(self.bias ~= nil))
end

-- nn.Bilinear(in1_features, in2_features, out_features, {bias = true}); m(x1, x2)
M.Bilinear = native.class("Bilinear", function(self, in1, in2, out, o)
  o = opts("Bilinear", o, { "bias" })
  self.in1_features = int("Bilinear", "in1_features", in1, 1)
  self.in2_features = int("Bilinear", "in2_features", in2, 1)
  self.out_features = int("Bilinear", "out_features", out, 1)
  native.weights("Bilinear", self.in1_features, self.in2_features, self.out_features)
  return core.bilinear(self.in1_features, self.in2_features, self.out_features,
    bool("Bilinear", "bias", o.bias, true))
end)
function M.Bilinear:extra_repr()
  return ("in1_features=%d, in2_features=%d, out_features=%d, bias=%s"):format(self.in1_features,
    self.in2_features, self.out_features, pyrepr(self.bias ~= nil))
end
function M.Bilinear:forward(x1, x2)
  native.check_inputs(self, x1, x2)
  local y, err = core.forward(rawget(self, "_handle"), x1, x2)
  if y == nil then native.forward_error(self, err, x1, x2) end
  return y
end

-- nn.Embedding(num_embeddings, embedding_dim, {padding_idx, max_norm,
-- norm_type = 2.0, scale_grad_by_freq = false}); padding_idx 0-based
M.Embedding = native.class("Embedding", function(self, num, dim, o)
  local who = "Embedding"
  o = opts(who, o, { "padding_idx", "max_norm", "norm_type", "scale_grad_by_freq" })
  self.num_embeddings = int(who, "num_embeddings", num, 1)
  self.embedding_dim = int(who, "embedding_dim", dim, 1)
  native.weights(who, self.num_embeddings, self.embedding_dim)
  if o.padding_idx ~= nil then
    local p = int(who, "padding_idx", o.padding_idx)
    if p < -self.num_embeddings or p >= self.num_embeddings then
      native.raise(who, "padding_idx must be within num_embeddings (%d), got %d", self.num_embeddings, p)
    end
    self.padding_idx = p < 0 and p + self.num_embeddings or p
  end
  if o.max_norm ~= nil then self.max_norm = native.number(who, "max_norm", o.max_norm, 0) end
  self.norm_type = o.norm_type == nil and 2.0 or native.number(who, "norm_type", o.norm_type)
  self.scale_grad_by_freq = bool(who, "scale_grad_by_freq", o.scale_grad_by_freq, false)
  return core.embedding(self.num_embeddings, self.embedding_dim, self.padding_idx, self.max_norm,
    self.norm_type, self.scale_grad_by_freq)
end)
function M.Embedding:extra_repr()
  local s = ("%d, %d"):format(self.num_embeddings, self.embedding_dim)
  if self.padding_idx then s = s .. ", padding_idx=" .. self.padding_idx end
  if self.max_norm then s = s .. ", max_norm=" .. pyrepr(self.max_norm) end
  if self.norm_type ~= 2 then s = s .. ", norm_type=" .. pyrepr(self.norm_type) end
  if self.scale_grad_by_freq then s = s .. ", scale_grad_by_freq=True" end
  return s
end

M.Identity = native.class("Identity", function(self, ...)
  return core.activation("Identity")
end)

-- a 1-based dim (negative from the end) to libtorch's 0-based one
local function dim0(who, name, d)
  d = int(who, name, d)
  if d == 0 then native.raise(who, "%s must not be 0 (dims are 1-based)", name) end
  return d > 0 and d - 1 or d
end
M.dim0 = dim0

-- nn.Flatten({start_dim = 2, end_dim = -1}): 1-based, keeps the batch dim
M.Flatten = native.class("Flatten", function(self, o)
  o = opts("Flatten", o, { "start_dim", "end_dim" })
  self.start_dim = o.start_dim or 2
  self.end_dim = o.end_dim or -1
  return core.flatten(dim0("Flatten", "start_dim", self.start_dim), dim0("Flatten", "end_dim", self.end_dim))
end)
function M.Flatten:extra_repr()
  return ("start_dim=%d, end_dim=%d"):format(self.start_dim, self.end_dim)
end

-- nn.Unflatten(dim, unflattened_size): dim 1-based
M.Unflatten = native.class("Unflatten", function(self, dim, sizes)
  local d = dim0("Unflatten", "dim", dim)
  if type(sizes) ~= "table" or #sizes == 0 then
    native.raise("Unflatten", "unflattened_size must be a list of sizes, got %s", type(sizes))
  end
  self.dim, self.unflattened_size = dim, {}
  for i, s in ipairs(sizes) do self.unflattened_size[i] = int("Unflatten", "unflattened_size", s, -1) end
  return core.unflatten(d, self.unflattened_size)
end)
function M.Unflatten:extra_repr()
  return ("dim=%d, unflattened_size=%s"):format(self.dim, pyrepr(self.unflattened_size))
end

return M
