-- The Transformer modules of PyTorch 1.13, written in Lua over
-- nn.MultiheadAttention and libtorch's Linear, LayerNorm and Dropout:
-- TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer,
-- TransformerDecoder, Transformer.  Children carry PyTorch's names
-- (layers.0.self_attn.in_proj_weight, linear1, norm1, ...), so a PyTorch
-- state_dict loads key for key.
--
--   local layer = nn.TransformerEncoderLayer(64, 4, {dim_feedforward = 128, batch_first = true})
--   local encoder = nn.TransformerEncoder(layer, 2)
--   local y = encoder(x, {src_key_padding_mask = pad})
--
-- Masks are MultiheadAttention's: true (or -inf) where not to attend.
-- PyTorch's fast paths (eval mode without gradients, nested tensors) are
-- the same arithmetic in fused kernels; clara always takes the plain path.
local torch = require "torch"
local native = require "torch.nn.native"
local module = require "torch.nn.module"
local containers = require "torch.nn.containers"
local attention = require "torch.nn.attention"
local nn_init = require "torch.nn.init_fns"
local E = require "clara.error"
local aten = require("torch.ops").aten

local int, bool, number = native.int, native.bool, native.number
local Module = module.Module
local M = {}

-- libtorch's modules, fetched when first needed (torch.nn loads this file
-- while it is itself being loaded)
local function nn() return require "torch.nn" end

local ACTIVATIONS = {
  relu = function(x) return x:relu() end,
  gelu = function(x) return aten.gelu(x) end,
}

-- activation: "relu", "gelu", a function of a tensor, or a module (which
-- becomes the child `activation`, as in PyTorch)
local function set_activation(self, who, a)
  if a == nil then a = "relu" end
  if type(a) == "string" then
    if not ACTIVATIONS[a] then native.raise(who, "activation must be 'relu' or 'gelu', got '%s'", a) end
    rawset(self, "activation", ACTIVATIONS[a])
  elseif module.is_module(a) then
    self.activation = a
  elseif type(a) == "function" then
    rawset(self, "activation", a)
  else
    native.raise(who, "activation must be 'relu', 'gelu', a function or a module, got %s", E.show(a))
  end
end

-- {======================================================
-- The layers
-- =======================================================

local LAYER_KNOWN = { "dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first", "norm_first" }

-- what both layers hold: self-attention, the feed-forward block, norms and
-- dropouts (`n` of them), children in PyTorch's order
local function build_layer(self, who, d_model, nhead, o, cross)
  o = native.opts(who, o, LAYER_KNOWN)
  d_model = int(who, "d_model", d_model, 1)
  nhead = int(who, "nhead", nhead, 1)
  if d_model % nhead ~= 0 then native.raise(who, "d_model (%d) must be divisible by nhead (%d)", d_model, nhead) end
  local ff = o.dim_feedforward == nil and 2048 or int(who, "dim_feedforward", o.dim_feedforward, 1)
  local p = o.dropout == nil and 0.1 or number(who, "dropout", o.dropout, 0, 1) + 0.0
  local eps = o.layer_norm_eps == nil and 1e-5 or number(who, "layer_norm_eps", o.layer_norm_eps, 0)
  local batch_first = bool(who, "batch_first", o.batch_first, false)
  local attn = { dropout = p, batch_first = batch_first }
  self.self_attn = attention.MultiheadAttention(d_model, nhead, attn)
  if cross then self.multihead_attn = attention.MultiheadAttention(d_model, nhead, attn) end
  self.linear1 = nn().Linear(d_model, ff)
  self.dropout = nn().Dropout(p)
  self.linear2 = nn().Linear(ff, d_model)
  self.norm_first = bool(who, "norm_first", o.norm_first, false)
  for i = 1, cross and 3 or 2 do self["norm" .. i] = nn().LayerNorm(d_model, { eps = eps }) end
  for i = 1, cross and 3 or 2 do self["dropout" .. i] = nn().Dropout(p) end
  set_activation(self, who, o.activation)
end

-- self-attention block: attention, then dropout
local function sa_block(self, x, attn_mask, key_padding_mask)
  local y = self.self_attn(x, x, x, { attn_mask = attn_mask, key_padding_mask = key_padding_mask,
    need_weights = false })
  return self.dropout1(y)
end

-- feed-forward block: linear, activation, dropout, linear, dropout
local function ff_block(self, x, last_dropout)
  local y = self.linear2(self.dropout(self.activation(self.linear1(x))))
  return last_dropout(y)
end

local function check_src(api, name, x)
  attention.tensor_arg(api, name, x)
  if x:dim() ~= 2 and x:dim() ~= 3 then
    E.raise(api, "%s must be 2-D (unbatched) or 3-D, got shape %s", name, attention.shape(x))
  end
end

-- nn.TransformerEncoderLayer(d_model, nhead, {dim_feedforward = 2048,
-- dropout = 0.1, activation = "relu", layer_norm_eps = 1e-5, batch_first =
-- false, norm_first = false}); layer(src, {src_mask, src_key_padding_mask})
local EncoderLayer = Module:extend("TransformerEncoderLayer")
M.TransformerEncoderLayer = EncoderLayer

function EncoderLayer:init(d_model, nhead, o) build_layer(self, "TransformerEncoderLayer", d_model, nhead, o) end

local ENCODER_LAYER_FORWARD = {
  src_mask = { type = "tensor", doc = "(S, S) or (N*nhead, S, S) attention mask" },
  src_key_padding_mask = { type = "tensor", doc = "(N, S): true where a position is padding" },
}

function EncoderLayer:forward(src, o)
  local api = "nn.TransformerEncoderLayer"
  o = E.options(api, o, ENCODER_LAYER_FORWARD)
  check_src(api, "src", src)
  local x, mask, kpm = src, o.src_mask, o.src_key_padding_mask
  if self.norm_first then
    x = x + sa_block(self, self.norm1(x), mask, kpm)
    x = x + ff_block(self, self.norm2(x), self.dropout2)
  else
    x = self.norm1(x + sa_block(self, x, mask, kpm))
    x = self.norm2(x + ff_block(self, x, self.dropout2))
  end
  return x
end

-- nn.TransformerDecoderLayer(d_model, nhead, {the encoder layer's options});
-- layer(tgt, memory, {tgt_mask, memory_mask, tgt_key_padding_mask,
-- memory_key_padding_mask})
local DecoderLayer = Module:extend("TransformerDecoderLayer")
M.TransformerDecoderLayer = DecoderLayer

function DecoderLayer:init(d_model, nhead, o) build_layer(self, "TransformerDecoderLayer", d_model, nhead, o, true) end

local DECODER_FORWARD = {
  tgt_mask = { type = "tensor", doc = "(T, T) or (N*nhead, T, T) attention mask of the target" },
  memory_mask = { type = "tensor", doc = "(T, S) or (N*nhead, T, S) attention mask over the memory" },
  tgt_key_padding_mask = { type = "tensor", doc = "(N, T): true where a target position is padding" },
  memory_key_padding_mask = { type = "tensor", doc = "(N, S): true where a memory position is padding" },
}

-- cross-attention block: attention over the memory, then dropout
local function mha_block(self, x, mem, attn_mask, key_padding_mask)
  local y = self.multihead_attn(x, mem, mem, { attn_mask = attn_mask, key_padding_mask = key_padding_mask,
    need_weights = false })
  return self.dropout2(y)
end

function DecoderLayer:forward(tgt, memory, o)
  local api = "nn.TransformerDecoderLayer"
  o = E.options(api, o, DECODER_FORWARD)
  check_src(api, "tgt", tgt)
  check_src(api, "memory", memory)
  local x = tgt
  if self.norm_first then
    x = x + sa_block(self, self.norm1(x), o.tgt_mask, o.tgt_key_padding_mask)
    x = x + mha_block(self, self.norm2(x), memory, o.memory_mask, o.memory_key_padding_mask)
    x = x + ff_block(self, self.norm3(x), self.dropout3)
  else
    x = self.norm1(x + sa_block(self, x, o.tgt_mask, o.tgt_key_padding_mask))
    x = self.norm2(x + mha_block(self, x, memory, o.memory_mask, o.memory_key_padding_mask))
    x = self.norm3(x + ff_block(self, x, self.dropout3))
  end
  return x
end

-- }======================================================

-- {======================================================
-- The stacks
-- =======================================================

-- num_layers copies of `layer`, as PyTorch's deepcopy (Module:clone: its
-- weights, mode and children, an activation module included, copied).  A
-- function instead of a layer is called for each copy.
local function clones(who, layer, n)
  n = int(who, "num_layers", n, 1)
  local list = containers.ModuleList()
  for _ = 1, n do
    local copy
    if type(layer) == "function" then
      copy = layer()
      if not module.is_module(copy) then native.raise(who, "the layer function returned %s", E.show(copy)) end
    else
      if not (module.is_module(layer) and layer:_get_name() == who .. "Layer") then
        native.raise(who, "expects a %sLayer or a function that makes a layer, got %s",
          who, E.show(layer))
      end
      copy = layer:clone()
    end
    list:append(copy)
  end
  return list, n
end

-- the third argument: a norm module, or {norm = m, ...}
local function stack_opts(who, norm, known)
  if module.is_module(norm) then return { norm = norm } end
  local o = native.opts(who, norm, known)
  if o.norm ~= nil and not module.is_module(o.norm) then
    native.raise(who, "norm must be a module (nn.LayerNorm), got %s", E.show(o.norm))
  end
  return o
end

-- nn.TransformerEncoder(encoder_layer, num_layers[, norm]) or
-- nn.TransformerEncoder(encoder_layer, num_layers, {norm, enable_nested_tensor,
-- mask_check}) (the last two are accepted and have no effect: clara has no
-- nested tensors); encoder(src, {mask, src_key_padding_mask})
local Encoder = Module:extend("TransformerEncoder")
M.TransformerEncoder = Encoder

function Encoder:init(layer, num_layers, norm)
  local who = "TransformerEncoder"
  local o = stack_opts(who, norm, { "norm", "enable_nested_tensor", "mask_check" })
  self.layers, self.num_layers = clones(who, layer, num_layers)
  self.norm = o.norm
  self.enable_nested_tensor = bool(who, "enable_nested_tensor", o.enable_nested_tensor, true)
  self.mask_check = bool(who, "mask_check", o.mask_check, true)
end

local ENCODER_FORWARD = {
  mask = { type = "tensor", doc = "(S, S) or (N*nhead, S, S) attention mask" },
  src_key_padding_mask = { type = "tensor", doc = "(N, S): true where a position is padding" },
}

function Encoder:forward(src, o)
  o = E.options("nn.TransformerEncoder", o, ENCODER_FORWARD)
  local x = src
  for _, layer in self.layers:named_children() do
    x = layer(x, { src_mask = o.mask, src_key_padding_mask = o.src_key_padding_mask })
  end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

-- nn.TransformerDecoder(decoder_layer, num_layers[, norm]);
-- decoder(tgt, memory, {tgt_mask, memory_mask, tgt_key_padding_mask,
-- memory_key_padding_mask})
local Decoder = Module:extend("TransformerDecoder")
M.TransformerDecoder = Decoder

function Decoder:init(layer, num_layers, norm)
  local o = stack_opts("TransformerDecoder", norm, { "norm" })
  self.layers, self.num_layers = clones("TransformerDecoder", layer, num_layers)
  self.norm = o.norm
end

function Decoder:forward(tgt, memory, o)
  o = E.options("nn.TransformerDecoder", o, DECODER_FORWARD)
  local x = tgt
  for _, layer in self.layers:named_children() do x = layer(x, memory, o) end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

-- }======================================================

-- {======================================================
-- The Transformer
-- =======================================================

local Transformer = Module:extend("Transformer")
M.Transformer = Transformer

local TRANSFORMER_KNOWN = { "d_model", "nhead", "num_encoder_layers", "num_decoder_layers", "dim_feedforward",
  "dropout", "activation", "custom_encoder", "custom_decoder", "layer_norm_eps", "batch_first", "norm_first" }

-- nn.Transformer{d_model = 512, nhead = 8, num_encoder_layers = 6,
-- num_decoder_layers = 6, dim_feedforward = 2048, dropout = 0.1,
-- activation = "relu", custom_encoder, custom_decoder, layer_norm_eps =
-- 1e-5, batch_first = false, norm_first = false}, or
-- nn.Transformer(d_model, nhead[, {the other options}]) as PyTorch's order
function Transformer:init(d_model, nhead, o)
  local who = "Transformer"
  if type(d_model) == "table" and nhead == nil then d_model, o = nil, d_model end
  o = native.opts(who, o, TRANSFORMER_KNOWN)
  if d_model ~= nil then
    if o.d_model ~= nil or o.nhead ~= nil then native.raise(who, "d_model and nhead given twice") end
    o.d_model, o.nhead = d_model, nhead
  end
  self.d_model = int(who, "d_model", o.d_model or 512, 1)
  self.nhead = int(who, "nhead", o.nhead or 8, 1)
  self.batch_first = bool(who, "batch_first", o.batch_first, false)
  local eps = o.layer_norm_eps == nil and 1e-5 or number(who, "layer_norm_eps", o.layer_norm_eps, 0)
  local layer_opts = { dim_feedforward = o.dim_feedforward, dropout = o.dropout, activation = o.activation,
    layer_norm_eps = eps, batch_first = self.batch_first, norm_first = o.norm_first }
  for _, part in ipairs { "encoder", "decoder" } do
    local custom = o["custom_" .. part]
    if custom ~= nil and not module.is_module(custom) then
      native.raise(who, "custom_%s must be a module, got %s", part, E.show(custom))
    end
    local Layer, Stack = part == "encoder" and EncoderLayer or DecoderLayer, part == "encoder" and Encoder or Decoder
    self[part] = custom or Stack(Layer(self.d_model, self.nhead, layer_opts),
      int(who, "num_" .. part .. "_layers", o["num_" .. part .. "_layers"] or 6, 1),
      nn().LayerNorm(self.d_model, { eps = eps }))
  end
  -- as PyTorch: xavier_uniform_ on every matrix (the custom parts too)
  for _, p in ipairs(self:parameters()) do
    if p:dim() > 1 then nn_init.xavier_uniform_(p) end
  end
end

local TRANSFORMER_FORWARD = {
  src_mask = ENCODER_FORWARD.mask,
  src_key_padding_mask = ENCODER_FORWARD.src_key_padding_mask,
}
for k, v in pairs(DECODER_FORWARD) do TRANSFORMER_FORWARD[k] = v end

-- model(src, tgt, {src_mask, tgt_mask, memory_mask, src_key_padding_mask,
-- tgt_key_padding_mask, memory_key_padding_mask}) -> output
function Transformer:forward(src, tgt, o)
  local api = "nn.Transformer"
  o = E.options(api, o, TRANSFORMER_FORWARD)
  check_src(api, "src", src)
  check_src(api, "tgt", tgt)
  local bdim = self.batch_first and 1 or 2
  if src:dim() == 3 and src:size(bdim) ~= tgt:size(bdim) then
    E.raise(api, "src and tgt must have the same batch size, got shapes %s and %s", attention.shape(src),
      attention.shape(tgt))
  end
  if src:size(-1) ~= self.d_model or tgt:size(-1) ~= self.d_model then
    E.raise(api, "the last dim of src and tgt must be d_model = %d, got shapes %s and %s", self.d_model,
      attention.shape(src), attention.shape(tgt))
  end
  local memory = self.encoder(src, { mask = o.src_mask, src_key_padding_mask = o.src_key_padding_mask })
  return self.decoder(tgt, memory, { tgt_mask = o.tgt_mask, memory_mask = o.memory_mask,
    tgt_key_padding_mask = o.tgt_key_padding_mask, memory_key_padding_mask = o.memory_key_padding_mask })
end

for name, class in pairs(M) do module.guard(class, name) end

-- Transformer.generate_square_subsequent_mask(n): the (n, n) causal mask,
-- -inf above the diagonal and 0 elsewhere (not a method: after the guard)
function Transformer.generate_square_subsequent_mask(n)
  n = int("Transformer.generate_square_subsequent_mask", "n", n, 0)
  return aten.triu(torch.full({ n, n }, -math.huge), 1)
end

return M
