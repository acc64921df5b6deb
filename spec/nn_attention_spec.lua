-- nn.MultiheadAttention and the Transformer modules (written in Lua,
-- stdlib/torch/nn/attention.lua and transformer.lua) against PyTorch 1.13:
-- outputs, gradients, state_dict keys and printing (spec/fixtures/
-- attention.lua, written by tests/fixtures/make_attention.py; compared
-- bitwise, see spec/helpers/module_cases.lua); train/eval and dropout;
-- initialization; the stacks' copies; bad calls.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/nn_attention_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local badcalls = require "spec.helpers.badcalls"

local fixture = dofile("spec/fixtures/attention.lua")
local cases = require "spec.helpers.module_cases"

describe("attention and Transformers against PyTorch", function()
  local n = cases.describe(fixture, "attention")
  it("has many cases", function() assert.is_true(n >= 30) end)
end)

describe("a state_dict saved by PyTorch's torch.save", function()
  it("loads into clara's TransformerEncoder key for key", function()
    local c
    for _, x in ipairs(fixture.cases) do if x.name == "TransformerEncoder of 2 layers with norm" then c = x end end
    local sd = torch.load("spec/fixtures/transformer_encoder_state.pt")
    local m = cases.make(c.lua)
    m:load_state_dict(sd) -- strict: the same names
    local n = 0
    for name, p in m:named_parameters() do
      n = n + 1
      assert.is_true(torch.equal(cases.T(c.state[name]), p:detach()), name)
    end
    assert.are.equal(#c.keys, n)
  end)
end)

describe("printing", function()
  for _, r in ipairs(fixture.reprs) do
    if not r[1]:find("Cell") then
      it(r[1], function() assert.are.equal(r[2], tostring(cases.make(r[1]))) end)
    end
  end
end)

local function enc_layer(p, o)
  o = o or {}
  o.dim_feedforward, o.dropout = 16, p
  return nn.TransformerEncoderLayer(8, 2, o)
end

describe("train and eval", function()
  -- dropout > 0: in training two calls differ and differ from eval; eval
  -- is deterministic and equals the same weights with dropout 0
  local function check(make_pair, call)
    torch.manual_seed(3)
    local m, m0 = make_pair()
    m0:load_state_dict(m:state_dict())
    m0:eval()
    local x = torch.randn(5, 3, 8)
    m:eval()
    local e1, e2 = call(m, x), call(m, x)
    assert.is_true(torch.equal(e1, e2), "eval is deterministic")
    assert.is_true(torch.equal(e1, call(m0, x)), "eval is dropout 0")
    m:train()
    local t1, t2 = call(m, x), call(m, x)
    assert.is_false(torch.equal(t1, t2), "training draws new masks")
    assert.is_false(torch.equal(t1, e1), "training drops out")
    for _, sub in m:named_modules() do assert.is_true(sub.training) end
    m:eval()
    for _, sub in m:named_modules() do assert.is_false(sub.training) end
  end

  it("MultiheadAttention drops attention weights in training only", function()
    check(function() return nn.MultiheadAttention(8, 2, { dropout = 0.5 }), nn.MultiheadAttention(8, 2) end,
      function(m, x) return (m(x, x, x)) end)
  end)

  it("TransformerEncoderLayer drops out in training only", function()
    check(function() return enc_layer(0.3), enc_layer(0) end, function(m, x) return m(x) end)
  end)

  it("Transformer drops out in training only", function()
    local o = { d_model = 8, nhead = 2, num_encoder_layers = 1, num_decoder_layers = 1, dim_feedforward = 8 }
    check(function()
      local o0 = { dropout = 0 }
      for k, v in pairs(o) do o0[k] = v end
      return nn.Transformer(o), nn.Transformer(o0)
    end, function(m, x) return m(x, x:narrow(1, 1, 3)) end)
  end)
end)

describe("MultiheadAttention", function()
  it("returns no weights when need_weights is false", function()
    local m, x = nn.MultiheadAttention(4, 2), torch.randn(3, 2, 4)
    local out, w = m(x, x, x, { need_weights = false })
    assert.are.same({ 3, 2, 4 }, out:size())
    assert.is_nil(w)
    local _, w2 = m(x, x, x)
    assert.are.same({ 2, 3, 3 }, w2:size())
    local _, w3 = m(x, x, x, { average_attn_weights = false })
    assert.are.same({ 2, 2, 3, 3 }, w3:size())
  end)

  it("gives masked keys no weight", function()
    local m, x = nn.MultiheadAttention(4, 2), torch.randn(3, 2, 4)
    local pad = torch.tensor { { false, false, true }, { false, true, true } }
    local _, w = m(x, x, x, { key_padding_mask = pad })
    assert.are.equal(0, w:masked_select(pad:unsqueeze(2):expand(2, 3, 3)):abs():sum():item())
    assert.is_true(torch.allclose(w:sum(3), torch.ones(2, 3)))
  end)

  it("adds a float key_padding_mask to the scores, as PyTorch", function()
    local m, x = nn.MultiheadAttention(4, 2), torch.randn(3, 2, 4)
    local bool_pad = torch.tensor { { false, false, true }, { false, true, true } }
    local float_pad = torch.zeros(2, 3):masked_fill(bool_pad, -math.huge)
    local a, wa = m(x, x, x, { key_padding_mask = bool_pad })
    local b, wb = m(x, x, x, { key_padding_mask = float_pad })
    assert.is_true(torch.equal(a, b))
    assert.is_true(torch.equal(wa, wb))
  end)

  it("initializes as PyTorch: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k", function()
    torch.manual_seed(0)
    local E = 128
    local m = nn.MultiheadAttention(E, 4, { add_bias_kv = true })
    local bound = math.sqrt(6 / (E + 3 * E))
    local w = m.in_proj_weight
    assert.is_true(w:abs():max():item() <= bound)
    assert.is_true(math.abs(w:std():item() - bound / math.sqrt(3)) < 0.02 * bound)
    assert.are.equal(0, m.in_proj_bias:abs():sum():item())
    assert.are.equal(0, m.out_proj.bias:abs():sum():item())
    -- out_proj.weight keeps Linear's kaiming_uniform_(a = sqrt(5)): bound 1/sqrt(E)
    assert.is_true(m.out_proj.weight:abs():max():item() <= 1 / math.sqrt(E))
    local bk = torch.cat({ m.bias_k, m.bias_v }, 1)
    assert.is_true(math.abs(bk:std():item() - math.sqrt(2 / (2 * E))) < 0.2 * math.sqrt(1 / E))
  end)

  it("has separate projections when kdim or vdim differ", function()
    local keys = {}
    for k in nn.MultiheadAttention(8, 2, { vdim = 3, bias = false }):named_parameters() do keys[#keys + 1] = k end
    assert.are.same({ "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight" }, keys)
  end)
end)

describe("Transformer stacks", function()
  it("copy the layer: equal weights at first, independent afterwards", function()
    local layer = enc_layer(0)
    local enc = nn.TransformerEncoder(layer, 2)
    local sd = enc:state_dict()
    for name, t in pairs(layer:state_dict()) do
      assert.is_true(torch.equal(t, sd["layers.0." .. name]))
      assert.is_true(torch.equal(t, sd["layers.1." .. name]))
    end
    torch.no_grad(function() enc.layers[1].linear1.weight:add_(1) end)
    assert.is_false(torch.equal(enc.layers[1].linear1.weight, enc.layers[2].linear1.weight))
    assert.is_false(torch.equal(enc.layers[1].linear1.weight, layer.linear1.weight))
    assert.are.equal(2, enc.num_layers)
  end)

  it("take a function that makes each layer", function()
    local enc = nn.TransformerEncoder(function() return enc_layer(0) end, 3, { norm = nn.LayerNorm(8) })
    assert.are.equal(3, #enc.layers)
    assert.are.same({ 4, 2, 8 }, enc(torch.randn(4, 2, 8)):size())
  end)

  it("Transformer initializes every matrix with xavier_uniform_", function()
    torch.manual_seed(0)
    local m = nn.Transformer { d_model = 16, nhead = 2, num_encoder_layers = 1, num_decoder_layers = 1,
      dim_feedforward = 32 }
    local w = m.encoder.layers[1].linear1.weight
    assert.is_true(w:abs():max():item() <= math.sqrt(6 / (16 + 32)))
    assert.is_true(w:abs():max():item() > 0.9 * math.sqrt(6 / (16 + 32)))
    local n = 0
    for _ in m:named_parameters() do n = n + 1 end
    -- encoder layer: attention 4, linears 4, norms 4; decoder layer: two
    -- attentions 8, linears 4, norms 6; the two final norms 4
    assert.are.equal(12 + 18 + 4, n)
  end)

  it("Transformer takes d_model and nhead in PyTorch's order too", function()
    local a = nn.Transformer(8, 2, { num_encoder_layers = 1, num_decoder_layers = 1, dim_feedforward = 8 })
    local b = nn.Transformer { d_model = 8, nhead = 2, num_encoder_layers = 1, num_decoder_layers = 1,
      dim_feedforward = 8 }
    assert.are.equal(tostring(b), tostring(a))
  end)

  it("generate_square_subsequent_mask is PyTorch's causal mask", function()
    local m = nn.Transformer.generate_square_subsequent_mask(3)
    local inf = math.huge
    assert.is_true(torch.equal(torch.tensor { { 0, -inf, -inf }, { 0, 0, -inf }, { 0, 0, 0 } }, m))
  end)

  it("accept a gelu module as activation, as a child like PyTorch's", function()
    local layer = nn.TransformerEncoderLayer(8, 2, { activation = nn.GELU(), dim_feedforward = 8 })
    assert.are.equal(nn.GELU, getmetatable(layer.activation).__class)
    local f = nn.TransformerEncoderLayer(8, 2, { activation = function(x) return x:tanh() end })
    assert.are.same({ 3, 1, 8 }, f(torch.randn(3, 1, 8)):size())
  end)
end)

describe("bad calls", function()
  local R = torch.randn
  local mha = nn.MultiheadAttention(8, 2)
  local x = R(4, 2, 8)
  badcalls({
    { "embed_dim not divisible by num_heads", "nn.MultiheadAttention", "divisible by num_heads",
      function() return nn.MultiheadAttention(10, 3) end },
    { "an unknown option", "nn.MultiheadAttention", "did you mean 'batch_first'",
      function() return nn.MultiheadAttention(8, 2, { bach_first = true }) end },
    { "a bad dropout", "nn.MultiheadAttention", "dropout must be in [0, 1]",
      function() return nn.MultiheadAttention(8, 2, { dropout = 2 }) end },
    { "a bad dtype", "nn.MultiheadAttention", "dtype must be 'float32' or 'float64'",
      function() return nn.MultiheadAttention(8, 2, { dtype = "int64" }) end },
    { "a 4-D query", "nn.MultiheadAttention", "query must be 2-D", function() return mha(R(1, 4, 2, 8), x, x) end },
    { "a key of another rank", "nn.MultiheadAttention", "key and value must be 3-D",
      function() return mha(x, R(4, 8), x) end },
    { "the wrong embedding size", "nn.MultiheadAttention", "embed_dim = 8, got shape (4, 2, 6)",
      function() local y = R(4, 2, 6) return mha(y, y, y) end },
    { "key and value of different lengths", "nn.MultiheadAttention", "share the batch size",
      function() return mha(x, R(5, 2, 8), R(4, 2, 8)) end },
    { "a key_padding_mask of the wrong shape", "nn.MultiheadAttention", "key_padding_mask must be (N, S) = (2, 4)",
      function() return mha(x, x, x, { key_padding_mask = torch.zeros(2, 5):bool() }) end },
    { "an int key_padding_mask", "nn.MultiheadAttention", "bool or floating point, got int64",
      function() return mha(x, x, x, { key_padding_mask = torch.zeros(2, 4):long() }) end },
    { "an attn_mask of the wrong shape", "nn.MultiheadAttention", "2-D attn_mask must be (L, S) = (4, 4)",
      function() return mha(x, x, x, { attn_mask = torch.zeros(3, 4) }) end },
    { "a 3-D attn_mask for another batch", "nn.MultiheadAttention", "(N*num_heads, L, S) = (4, 4, 4)",
      function() return mha(x, x, x, { attn_mask = torch.zeros(2, 4, 4) }) end },
    { "a mask that is no tensor", "nn.MultiheadAttention", "attn_mask must be a tensor",
      function() return mha(x, x, x, { attn_mask = { 1, 2 } }) end },
    { "a misspelt forward option", "nn.MultiheadAttention", "did you mean 'need_weights'",
      function() return mha(x, x, x, { need_weight = false }) end },
    { "no value", "nn.MultiheadAttention", "value must be a tensor", function() return mha(x, x) end },
    { "forward called with a dot", "nn.MultiheadAttention", "called with '.'", function() return mha.forward(x, x, x) end },
    { "d_model not divisible by nhead", "nn.TransformerDecoderLayer", "d_model (10) must be divisible by nhead (3)",
      function() return nn.TransformerDecoderLayer(10, 3) end },
    { "a bad activation", "nn.TransformerEncoderLayer", "'relu' or 'gelu', got 'tanh'",
      function() return nn.TransformerEncoderLayer(8, 2, { activation = "tanh" }) end },
    { "a misspelt layer option", "nn.TransformerEncoderLayer", "did you mean 'dim_feedforward'",
      function() return nn.TransformerEncoderLayer(8, 2, { dim_feed_forward = 8 }) end },
    { "a layer input of rank 4", "nn.TransformerEncoderLayer", "src must be 2-D (unbatched) or 3-D",
      function() return enc_layer(0)(R(1, 2, 3, 8)) end },
    { "an encoder option of the layer", "nn.TransformerEncoder", "unknown option 'src_mask' (known: mask",
      function() return nn.TransformerEncoder(enc_layer(0), 1)(x, { src_mask = torch.zeros(4, 4) }) end },
    { "a stack of something else", "nn.TransformerEncoder", "expects a TransformerEncoderLayer",
      function() return nn.TransformerEncoder(nn.Linear(2, 2), 2) end },
    { "a stack of no layers", "nn.TransformerDecoder", "num_layers must be >= 1",
      function() return nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2), 0) end },
    { "a decoder without memory", "nn.TransformerDecoderLayer", "memory must be a tensor",
      function() return nn.TransformerDecoderLayer(8, 2)(x) end },
    { "Transformer with src and tgt batches apart", "nn.Transformer", "same batch size",
      function()
        local t = nn.Transformer { d_model = 8, nhead = 2, num_encoder_layers = 1, num_decoder_layers = 1 }
        return t(R(4, 2, 8), R(3, 3, 8))
      end },
    { "Transformer with the wrong d_model", "nn.Transformer", "d_model = 8",
      function()
        local t = nn.Transformer { d_model = 8, nhead = 2, num_encoder_layers = 1, num_decoder_layers = 1 }
        return t(R(4, 2, 6), R(3, 2, 6))
      end },
    { "Transformer with d_model twice", "nn.Transformer", "d_model and nhead given twice",
      function() return nn.Transformer(8, 2, { d_model = 8 }) end },
    { "Transformer with a string d_model", "nn.Transformer", "d_model must be an integer",
      function() return nn.Transformer("8", 2) end },
    { "a negative mask size", "generate_square_subsequent_mask", "n must be >= 0",
      function() return nn.Transformer.generate_square_subsequent_mask(-1) end },
  })

  it("point at the caller's line", function()
    local ok, err = pcall(function()
      local y = mha(x, x, x, { attn_mask = torch.zeros(3, 3) })
      return y
    end)
    assert.is_false(ok)
    assert.matches("nn_attention_spec.lua:%d+: nn.MultiheadAttention: the 2%-D attn_mask", err)
  end)
end)
