-- nn.MultiheadAttention, written in Lua after PyTorch 1.13's
-- F.multi_head_attention_forward, step by step (the numbered comments are
-- its steps), so that this file is the readable reference of what
-- attention computes.  It calls the ATen operators PyTorch's Python calls,
-- in the same order, so its results are PyTorch's.
--
--   local mha = nn.MultiheadAttention(16, 4, {batch_first = true})
--   local out, weights = mha(q, k, v, {key_padding_mask = pad, attn_mask = causal})
--
-- Masks as PyTorch's: a bool mask's true means "may not attend"; a float
-- mask is added to the attention scores.  Dims are 1-based in clara; the
-- ATen calls (torch.ops.aten) count them from 0.
local torch = require "torch"
local native = require "torch.nn.native"
local module = require "torch.nn.module"
local nn_init = require "torch.nn.init_fns"
local E = require "clara.error"
local aten = require("torch.ops").aten

local int, bool, number = native.int, native.bool, native.number
local Module, Parameter = module.Module, module.Parameter
local M = {}

-- {======================================================
-- Shared with the Transformer and cell files
-- =======================================================

local DTYPES = { float32 = true, float64 = true }

-- the `dtype` option of a Lua module's parameters (PyTorch's dtype=)
function M.dtype(who, v)
  if v == nil then return "float32" end
  if not DTYPES[v] then native.raise(who, "dtype must be 'float32' or 'float64', got %s", E.show(v)) end
  return v
end

-- a forward argument that must be a tensor
function M.tensor_arg(api, name, v)
  if torch.is_tensor(v) then return v end
  E.raise(api, "%s must be a tensor, got %s", name, E.show(v))
end

local function shape(t) return "(" .. table.concat(t:size(), ", ") .. ")" end
M.shape = shape

-- }======================================================

-- PyTorch's out_proj is this class (a Linear under another name, so that
-- dynamic quantization leaves it alone).  Written here in Lua so that its
-- parameters take the attention's dtype; initialized as nn.Linear.
local NDQLinear = Module:extend("NonDynamicallyQuantizableLinear")

function NDQLinear:init(in_features, out_features, bias, dtype)
  self.in_features, self.out_features = in_features, out_features
  self.weight = Parameter(torch.empty({ out_features, in_features }, { dtype = dtype }))
  nn_init.kaiming_uniform_(self.weight, math.sqrt(5))
  if bias then
    local bound = 1 / math.sqrt(in_features)
    self.bias = Parameter(torch.empty({ out_features }, { dtype = dtype }))
    nn_init.uniform_(self.bias, -bound, bound)
  end
end

function NDQLinear:forward(x) return aten.linear(x, self.weight, self.bias) end
NDQLinear.extra_repr = require("torch.nn.linear").Linear.extra_repr

-- {======================================================
-- The module
-- =======================================================

local MHA = Module:extend("MultiheadAttention")
M.MultiheadAttention = MHA
local WHO = "MultiheadAttention"
local KNOWN = { "dropout", "bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim", "batch_first", "dtype" }

local function empty(dtype, ...) return Parameter(torch.empty({ ... }, { dtype = dtype })) end

-- nn.MultiheadAttention(embed_dim, num_heads, {dropout = 0, bias = true,
-- add_bias_kv = false, add_zero_attn = false, kdim = embed_dim, vdim =
-- embed_dim, batch_first = false, dtype = "float32"})
function MHA:init(embed_dim, num_heads, o)
  o = native.opts(WHO, o, KNOWN)
  self.embed_dim = int(WHO, "embed_dim", embed_dim, 1)
  self.num_heads = int(WHO, "num_heads", num_heads, 1)
  self.kdim = o.kdim == nil and self.embed_dim or int(WHO, "kdim", o.kdim, 1)
  self.vdim = o.vdim == nil and self.embed_dim or int(WHO, "vdim", o.vdim, 1)
  self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
  self.dropout = o.dropout == nil and 0.0 or number(WHO, "dropout", o.dropout, 0, 1)
  self.batch_first = bool(WHO, "batch_first", o.batch_first, false)
  self.add_zero_attn = bool(WHO, "add_zero_attn", o.add_zero_attn, false)
  self.head_dim = self.embed_dim // self.num_heads
  if self.head_dim * self.num_heads ~= self.embed_dim then
    native.raise(WHO, "embed_dim (%d) must be divisible by num_heads (%d)", self.embed_dim, self.num_heads)
  end
  local bias, dtype = bool(WHO, "bias", o.bias, true), M.dtype(WHO, o.dtype)
  local d = self.embed_dim
  native.weights(WHO, 4 * d, d + self.kdim + self.vdim)
  -- the parameters in PyTorch's order, which is its state_dict's order
  if self._qkv_same_embed_dim then
    self.in_proj_weight = empty(dtype, 3 * d, d)
  else
    self.q_proj_weight = empty(dtype, d, d)
    self.k_proj_weight = empty(dtype, d, self.kdim)
    self.v_proj_weight = empty(dtype, d, self.vdim)
  end
  if bias then self.in_proj_bias = empty(dtype, 3 * d) end
  self.out_proj = NDQLinear(d, d, bias, dtype)
  if bool(WHO, "add_bias_kv", o.add_bias_kv, false) then
    self.bias_k = empty(dtype, 1, 1, d)
    self.bias_v = empty(dtype, 1, 1, d)
  end
  self:_reset_parameters()
end

-- as PyTorch: xavier_uniform_ projections, zero biases, xavier_normal_
-- bias_k/bias_v; out_proj.weight keeps Linear's own initialization
function MHA:_reset_parameters()
  for _, name in ipairs { "in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight" } do
    if self[name] ~= nil then nn_init.xavier_uniform_(self[name]) end
  end
  if self.in_proj_bias ~= nil then
    nn_init.zeros_(self.in_proj_bias)
    nn_init.zeros_(self.out_proj.bias)
  end
  if self.bias_k ~= nil then
    nn_init.xavier_normal_(self.bias_k)
    nn_init.xavier_normal_(self.bias_v)
  end
end

-- }======================================================

-- {======================================================
-- F.multi_head_attention_forward, step by step
-- =======================================================

local FORWARD = {
  key_padding_mask = { type = "tensor", doc = "(N, S) or (S): true (or -inf) where a key is padding" },
  need_weights = { type = "boolean", default = true, doc = "also return the attention weights" },
  attn_mask = { type = "tensor", doc = "(L, S) or (N*num_heads, L, S): true (or -inf) where not to attend" },
  average_attn_weights = { type = "boolean", default = true, doc = "average the weights over heads" },
}

-- the shapes, checked first as _mha_shape_check does; returns whether the
-- input is batched
local function check_shapes(self, api, query, key, value, kpm, attn_mask)
  local q, k, v = query:dim(), key:dim(), value:dim()
  if q ~= 2 and q ~= 3 then
    E.raise(api, "query must be 2-D (L, E) or 3-D (batched), got shape %s", shape(query))
  end
  if k ~= q or v ~= q then
    E.raise(api, "key and value must be %d-D as query is, got shapes %s and %s", q, shape(key), shape(value))
  end
  if kpm and kpm:dim() ~= q - 1 then
    E.raise(api, "key_padding_mask must be %d-D for a %d-D query, got shape %s", q - 1, q, shape(kpm))
  end
  if kpm and kpm.dtype ~= "bool" and not kpm:is_floating_point() then
    E.raise(api, "key_padding_mask must be bool or floating point, got %s", kpm.dtype)
  end
  if attn_mask and attn_mask:dim() ~= 2 and attn_mask:dim() ~= 3 then
    E.raise(api, "attn_mask must be 2-D or 3-D, got shape %s", shape(attn_mask))
  end
  if attn_mask and attn_mask.dtype ~= "bool" and not attn_mask:is_floating_point() then
    E.raise(api, "attn_mask must be bool or floating point, got %s", attn_mask.dtype)
  end
  local e = query:size(q)
  if e ~= self.embed_dim then
    E.raise(api, "query's last dim must be embed_dim = %d, got shape %s", self.embed_dim, shape(query))
  end
  if key:size(k) ~= self.kdim or value:size(v) ~= self.vdim then
    E.raise(api, "key's and value's last dims must be kdim = %d and vdim = %d, got shapes %s and %s",
      self.kdim, self.vdim, shape(key), shape(value))
  end
  return q == 3
end

-- (2) q, k, v projected: one matmul when query, key and value are one
-- tensor (self-attention), two when key and value are (encoder-decoder)
local function in_projection(self, query, key, value)
  local w, b, d = self.in_proj_weight, self.in_proj_bias, self.embed_dim
  if not self._qkv_same_embed_dim then
    local bq, bk, bv
    if b ~= nil then bq, bk, bv = b:narrow(1, 1, d), b:narrow(1, d + 1, d), b:narrow(1, 2 * d + 1, d) end
    return aten.linear(query, self.q_proj_weight, bq), aten.linear(key, self.k_proj_weight, bk),
      aten.linear(value, self.v_proj_weight, bv)
  end
  if rawequal(key, value) then
    if rawequal(query, key) then return table.unpack(aten.linear(query, w, b):chunk(3, -1)) end
    local wq, wkv = w:narrow(1, 1, d), w:narrow(1, d + 1, 2 * d)
    local bq, bkv
    if b ~= nil then bq, bkv = b:narrow(1, 1, d), b:narrow(1, d + 1, 2 * d) end
    local kv = aten.linear(key, wkv, bkv):chunk(2, -1)
    return aten.linear(query, wq, bq), kv[1], kv[2]
  end
  local ws, bs = w:chunk(3), b ~= nil and b:chunk(3) or {}
  return aten.linear(query, ws[1], bs[1]), aten.linear(key, ws[2], bs[2]), aten.linear(value, ws[3], bs[3])
end

-- (3) attn_mask to 3-D (N*num_heads or 1, L, S), its shape checked
local function prepare_attn_mask(self, api, attn_mask, bsz, tgt_len, src_len)
  if attn_mask:dim() == 2 then
    if attn_mask:size(1) ~= tgt_len or attn_mask:size(2) ~= src_len then
      E.raise(api, "the 2-D attn_mask must be (L, S) = (%d, %d), got %s", tgt_len, src_len, shape(attn_mask))
    end
    return attn_mask:unsqueeze(1)
  end
  local n = bsz * self.num_heads
  if attn_mask:size(1) ~= n or attn_mask:size(2) ~= tgt_len or attn_mask:size(3) ~= src_len then
    E.raise(api, "the 3-D attn_mask must be (N*num_heads, L, S) = (%d, %d, %d), got %s", n, tgt_len, src_len,
      shape(attn_mask))
  end
  return attn_mask
end

-- a mask grown by one key (a bias_k or zero-attention column): not masked
local function pad_key(mask)
  if mask == nil then return nil end
  return aten.constant_pad_nd(mask, { 0, 1 }, 0)
end

-- (7) the key padding mask merged into the attention mask, then bool to float
local function merge_masks(self, attn_mask, kpm, bsz, src_len, dtype)
  if kpm ~= nil then
    kpm = kpm:view(bsz, 1, 1, src_len):expand(bsz, self.num_heads, 1, src_len)
      :reshape(bsz * self.num_heads, 1, src_len)
    if attn_mask == nil then
      attn_mask = kpm
    elseif kpm.dtype ~= "bool" then -- two float masks add up
      if attn_mask.dtype == "bool" then attn_mask = torch.zeros_like(kpm, { dtype = dtype }):masked_fill(attn_mask, -math.huge) end
      attn_mask = attn_mask + kpm
    elseif attn_mask.dtype == "bool" then
      attn_mask = attn_mask:logical_or(kpm)
    else
      attn_mask = attn_mask:masked_fill(kpm, -math.huge)
    end
  end
  if attn_mask ~= nil and attn_mask.dtype == "bool" then
    attn_mask = torch.zeros(attn_mask:size(), { dtype = dtype }):masked_fill(attn_mask, -math.huge)
  end
  return attn_mask
end

-- mha(query, key, value[, {key_padding_mask, need_weights = true,
-- attn_mask, average_attn_weights = true}]) -> attn_output, attn_weights
function MHA:forward(query, key, value, o)
  local api = "nn.MultiheadAttention"
  o = E.options(api, o, FORWARD)
  M.tensor_arg(api, "query", query)
  M.tensor_arg(api, "key", key)
  M.tensor_arg(api, "value", value)
  local kpm, attn_mask = o.key_padding_mask, o.attn_mask
  local is_batched = check_shapes(self, api, query, key, value, kpm, attn_mask)

  -- (0) batch_first: to (L, N, E) and back at the end, keeping which of
  -- query, key, value are one tensor (that chooses the projection)
  local batch_first = self.batch_first and is_batched
  if batch_first then
    local same_kv, same_qk = rawequal(key, value), rawequal(query, key)
    query = query:transpose(1, 2)
    key = same_qk and query or key:transpose(1, 2)
    value = same_kv and key or value:transpose(1, 2)
  end
  -- (1) an unbatched input gets a batch of one (three new tensors, so the
  -- projection below takes its three-matmul branch, as PyTorch's does)
  if not is_batched then
    query, key, value = query:unsqueeze(2), key:unsqueeze(2), value:unsqueeze(2)
    if kpm ~= nil then kpm = kpm:unsqueeze(1) end
  end
  local tgt_len, bsz, embed_dim = table.unpack(query:size())
  local src_len = key:size(1)
  if key:size(2) ~= bsz or value:size(1) ~= src_len or value:size(2) ~= bsz then
    E.raise(api, "query, key and value must share the batch size, and key and value the length: got %s, %s, %s",
      shape(query), shape(key), shape(value))
  end
  if kpm ~= nil and (kpm:size(1) ~= bsz or kpm:size(2) ~= src_len) then
    E.raise(api, "key_padding_mask must be (N, S) = (%d, %d), got %s", bsz, src_len, shape(o.key_padding_mask))
  end

  -- (2) in-projection
  local q, k, v = in_projection(self, query, key, value)

  -- (3) attention mask to 3-D
  if attn_mask ~= nil then attn_mask = prepare_attn_mask(self, api, attn_mask, bsz, tgt_len, src_len) end

  -- (4) bias_k and bias_v: one more key and value, along the length
  if self.bias_k ~= nil then
    k = torch.cat({ k, aten["repeat"](self.bias_k, { 1, bsz, 1 }) }, 1)
    v = torch.cat({ v, aten["repeat"](self.bias_v, { 1, bsz, 1 }) }, 1)
    attn_mask, kpm = pad_key(attn_mask), pad_key(kpm)
  end

  -- (5) heads: (L, N, E) -> (N * num_heads, L, head_dim)
  local heads, head_dim = self.num_heads, self.head_dim
  q = q:contiguous():view(tgt_len, bsz * heads, head_dim):transpose(1, 2)
  k = k:contiguous():view(k:size(1), bsz * heads, head_dim):transpose(1, 2)
  v = v:contiguous():view(v:size(1), bsz * heads, head_dim):transpose(1, 2)

  -- (6) add_zero_attn: one more key and value of zeros
  if self.add_zero_attn then
    local zeros = torch.zeros(bsz * heads, 1, head_dim, { dtype = k.dtype })
    k = torch.cat({ k, zeros }, 2)
    v = torch.cat({ v, zeros }, 2)
    attn_mask, kpm = pad_key(attn_mask), pad_key(kpm)
  end
  src_len = k:size(2)

  -- (7) one float mask of the key padding and attention masks
  attn_mask = merge_masks(self, attn_mask, kpm, bsz, src_len, q.dtype)

  -- (8) scaled dot-product attention: softmax(q k^T / sqrt(d) + mask) v,
  -- with dropout on the weights in training
  local p = self.training and self.dropout or 0.0
  local q_scaled = q / math.sqrt(head_dim)
  local weights
  if attn_mask ~= nil then
    weights = aten.baddbmm(attn_mask, q_scaled, k:transpose(2, 3))
  else
    weights = q_scaled:bmm(k:transpose(2, 3))
  end
  weights = weights:softmax(-1)
  if p > 0 then weights = aten.dropout(weights, p, true) end
  local out = weights:bmm(v)

  -- (9) heads back together, and the out-projection
  out = out:transpose(1, 2):contiguous():view(tgt_len * bsz, embed_dim)
  out = aten.linear(out, self.out_proj.weight, self.out_proj.bias)
  out = out:view(tgt_len, bsz, out:size(2))

  -- (10) the weights per head or averaged; the batch of one dropped again
  if o.need_weights then
    weights = weights:view(bsz, heads, tgt_len, src_len)
    if o.average_attn_weights then weights = weights:sum(2) / heads end
    if not is_batched then weights = weights:squeeze(1) end
  else
    weights = nil
  end
  if not is_batched then out = out:squeeze(2) end
  if batch_first then out = out:transpose(1, 2) end
  return out, weights
end

-- }======================================================

module.guard(MHA, WHO)
module.guard(NDQLinear, "NonDynamicallyQuantizableLinear")

return M
