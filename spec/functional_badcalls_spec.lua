-- Bad calls into nn.functional and the modules of issue 13: wrong option
-- names and types, wrong input ranks and shapes.  Each raises at the
-- caller's line a message naming the function (nn.functional.NAME) or the
-- module (its print), saying what was wrong, without C++ details.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/functional_badcalls_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local nn = require "torch.nn"
local badcalls = require "spec.helpers.badcalls"

local F = nn.functional
local R = torch.randn
local function I(...) return torch.tensor({ ... }, { dtype = "int64" }) end

-- { description, name the message must contain, what it must also say, the bad call }
-- (the calls are no tail calls, so that the caller's line is on the stack)
local functional = {
  -- the calling convention
  { "a misspelt option", "nn.functional.elu", "unknown option 'alpah' (did you mean 'alpha'?)",
    function() local _ = F.elu(R(3), { alpah = 1 }) end },
  { "an option of the wrong type", "nn.functional.elu", "alpha must be a number, got 'big'",
    function() local _ = F.elu(R(3), { alpha = "big" }) end },
  { "a string for the input", "nn.functional.relu", "input must be a tensor, got 'a'", function() local _ = F.relu("a") end },
  { "no input", "nn.functional.softsign", "input is required (a tensor)", function() local _ = F.softsign() end },
  { "too many arguments", "nn.functional.relu", "takes at most 2 arguments, got 3",
    function() local _ = F.relu(R(3), true, 3) end },
  { "an argument given twice", "nn.functional.elu", "alpha given twice",
    function() local _ = F.elu(R(3), 0.5, { alpha = 1 }) end },
  { "a required argument missing", "nn.functional.threshold", "value is required (a number)",
    function() local _ = F.threshold(R(3), 0.1) end },
  { "an enum value not allowed", "nn.functional.gelu", "approximate must be one of 'none', 'tanh', got 'fast'",
    function() local _ = F.gelu(R(3), { approximate = "fast" }) end },
  { "dim 0", "nn.functional.softmax", "dim must not be 0 (dims are 1-based)", function() local _ = F.softmax(R(3), 0) end },
  { "a dim out of range", "nn.functional.glu", "dimension", function() local _ = F.glu(R(2, 4), 3) end },
  { "prelu without weight", "nn.functional.prelu", "weight is required", function() local _ = F.prelu(R(3)) end },
  -- dropout
  { "dropout p over 1", "nn.functional.dropout", "p must be <= 1, got 1.5", function() local _ = F.dropout(R(3), 1.5) end },
  { "dropout2d on a 2D input", "nn.functional.dropout2d", "expected a 3D or 4D input, got a 2D input",
    function() local _ = F.dropout2d(R(3, 4)) end },
  { "dropout1d on a 4D input", "nn.functional.dropout1d", "expected a 2D or 3D input, got a 4D input",
    function() local _ = F.dropout1d(R(1, 2, 3, 4)) end },
  -- pooling
  { "max_pool2d on a 2D input", "nn.functional.max_pool2d", "expected a 3D or 4D input, got a 2D input",
    function() local _ = F.max_pool2d(R(4, 4), 2) end },
  { "max_pool2d without kernel_size", "nn.functional.max_pool2d", "kernel_size must be a number or a list of 2",
    function() local _ = F.max_pool2d(R(1, 4, 4)) end },
  { "max_pool2d with a kernel of 3 sizes", "nn.functional.max_pool2d", "kernel_size must be a number or a list of 2",
    function() local _ = F.max_pool2d(R(1, 4, 4), { 2, 2, 2 }) end },
  { "max_pool2d with a kernel of 0", "nn.functional.max_pool2d", "kernel_size must hold integers >= 1",
    function() local _ = F.max_pool2d(R(1, 4, 4), 0) end },
  { "avg_pool1d with divisor_override", "nn.functional.avg_pool1d", "unknown option 'divisor_override'",
    function() local _ = F.avg_pool1d(R(1, 4), 2, { divisor_override = 2 }) end },
  { "max_pool2d padding over half the kernel", "nn.functional.max_pool2d", "pad should be",
    function() local _ = F.max_pool2d(R(1, 4, 4), 2, { padding = 2 }) end },
  { "max_unpool2d to a size it cannot come from", "nn.functional.max_unpool2d", "output_size 9 in spatial dim 1 must be between 2 and 6",
    function()
      local y, i = F.max_pool2d(R(1, 4, 4), 2, { return_indices = true })
      local _ = F.max_unpool2d(y, i, 2, { output_size = { 9, 4 } })
    end },
  { "lp_pool2d without norm_type", "nn.functional.lp_pool2d", "norm_type is required",
    function() local _ = F.lp_pool2d(R(1, 4, 4), nil, 2) end },
  -- normalization
  { "batch_norm in training on one value per channel", "nn.functional.batch_norm", "more than 1 value per channel",
    function() local _ = F.batch_norm(R(1, 3), nil, nil, nil, nil, true) end },
  { "layer_norm over the wrong shape", "nn.functional.layer_norm", "normalized_shape",
    function() local _ = F.layer_norm(R(2, 3), { 4 }) end },
  { "group_norm with channels not divisible", "nn.functional.group_norm", "divisible by num_groups",
    function() local _ = F.group_norm(R(2, 5, 3), 2) end },
  { "local_response_norm on a 2D input", "nn.functional.local_response_norm", "expected 3D or higher input",
    function() local _ = F.local_response_norm(R(2, 3), 2) end },
  { "normalize over dim 0", "nn.functional.normalize", "dim must not be 0", function() local _ = F.normalize(R(2, 3), { dim = 0 }) end },
  -- conv
  { "conv2d with the wrong channels", "nn.functional.conv2d", "to have 2 channels, but got 3 channels",
    function() local _ = F.conv2d(R(1, 3, 5, 5), R(4, 2, 3, 3)) end },
  { "conv2d on a 2D input", "nn.functional.conv2d", "expected a 3D or 4D input, got a 2D input",
    function() local _ = F.conv2d(R(5, 5), R(4, 2, 3, 3)) end },
  { "conv2d with padding 'full'", "nn.functional.conv2d", "padding must be numbers, 'same' or 'valid', got 'full'",
    function() local _ = F.conv2d(R(1, 3, 5, 5), R(4, 3, 3, 3), nil, { padding = "full" }) end },
  { "conv1d without weight", "nn.functional.conv1d", "weight is required", function() local _ = F.conv1d(R(1, 3, 5)) end },
  { "linear with the wrong feature size", "nn.functional.linear", "input of size (2, 3) does not fit weight of size (4, 5)",
    function() local _ = F.linear(R(2, 3), R(4, 5)) end },
  { "fold with a size the blocks do not fill", "nn.functional.fold", "",
    function() local _ = F.fold(R(1, 12, 5), { 4, 5 }, 2) end },
  -- pad, interpolate, pixel shuffle
  { "pad with an odd count", "nn.functional.pad", "pad must hold pairs (before, after), got 3 sizes",
    function() local _ = F.pad(R(2, 3), { 1, 1, 1 }) end },
  { "pad reflect with a value", "nn.functional.pad", "value is only for mode 'constant'",
    function() local _ = F.pad(R(1, 2, 3), { 1, 1 }, "reflect", 2) end },
  { "pad with mode 'wrap'", "nn.functional.pad", "mode must be one of 'constant', 'reflect', 'replicate', 'circular', got 'wrap'",
    function() local _ = F.pad(R(1, 2, 3), { 1, 1 }, "wrap") end },
  { "pad reflect wider than the input", "nn.functional.pad", "Padding size should be less than",
    function() local _ = F.pad(R(1, 2, 3), { 3, 3 }, "reflect") end },
  { "pad reflect on a 4D input with one pair", "nn.functional.pad", "expected a 2D or 3D input, got a 4D input",
    function() local _ = F.pad(R(1, 2, 3, 3), { 1, 1 }, "reflect") end },
  { "interpolate with size and scale_factor", "nn.functional.interpolate", "give size or scale_factor, not both",
    function() local _ = F.interpolate(R(1, 1, 3, 3), { size = 4, scale_factor = 2 }) end },
  { "interpolate with neither", "nn.functional.interpolate", "size or scale_factor is required",
    function() local _ = F.interpolate(R(1, 1, 3, 3)) end },
  { "interpolate bilinear on a 3D input", "nn.functional.interpolate", "mode 'bilinear' needs a 4D input, got a 3D input",
    function() local _ = F.interpolate(R(1, 1, 3), { size = 4, mode = "bilinear" }) end },
  { "interpolate nearest with align_corners", "nn.functional.interpolate", "align_corners is only for the interpolating modes",
    function() local _ = F.interpolate(R(1, 1, 3), { size = 4, align_corners = true }) end },
  { "interpolate nearest with antialias", "nn.functional.interpolate", "antialias is only for modes bilinear and bicubic",
    function() local _ = F.interpolate(R(1, 1, 3, 3), { size = 4, antialias = true }) end },
  { "interpolate with a size per dim missing", "nn.functional.interpolate", "size must have one entry per spatial dim",
    function() local _ = F.interpolate(R(1, 1, 3, 3), { size = { 4 } }) end },
  { "interpolate with mode 'cubic'", "nn.functional.interpolate", "mode must be one of",
    function() local _ = F.interpolate(R(1, 1, 3, 3), { size = 4, mode = "cubic" }) end },
  { "interpolate with a negative scale", "nn.functional.interpolate", "scale_factor must be > 0, got -1",
    function() local _ = F.interpolate(R(1, 1, 3, 3), { scale_factor = -1 }) end },
  { "interpolate with recompute and a size", "nn.functional.interpolate", "recompute_scale_factor is not meaningful",
    function() local _ = F.interpolate(R(1, 1, 3, 3), { size = 4, recompute_scale_factor = true }) end },
  { "pixel_shuffle of channels not divisible", "nn.functional.pixel_shuffle", "divisible by the square of upscale_factor",
    function() local _ = F.pixel_shuffle(R(1, 3, 2, 2), 2) end },
  { "pixel_unshuffle of a 2D input", "nn.functional.pixel_unshuffle", "expected an input of 3 or more dims, got 2D",
    function() local _ = F.pixel_unshuffle(R(4, 4), 2) end },
  -- one_hot, embeddings, distances
  { "one_hot of floats", "nn.functional.one_hot", "index tensor", function() local _ = F.one_hot(R(3)) end },
  { "embedding index out of range", "nn.functional.embedding", "index out of range",
    function() local _ = F.embedding(I(0, 7), R(5, 2)) end },
  { "embedding padding_idx out of range", "nn.functional.embedding", "padding_idx must be within num_embeddings (5), got 5",
    function() local _ = F.embedding(I(0, 1), R(5, 2), 5) end },
  { "embedding_bag weights with mode mean", "nn.functional.embedding_bag", "per_sample_weights is only for mode 'sum'",
    function() local _ = F.embedding_bag(I(0, 1), R(5, 2), I(0), { per_sample_weights = R(2) }) end },
  { "embedding_bag of a 2D input with offsets", "nn.functional.embedding_bag", "offsets must be nil for a 2D input",
    function() local _ = F.embedding_bag(I(0, 1):view(1, 2), R(5, 2), I(0)) end },
  { "embedding_bag of a 1D input without offsets", "nn.functional.embedding_bag", "offsets is required for a 1D input",
    function() local _ = F.embedding_bag(I(0, 1), R(5, 2)) end },
  { "embedding_bag with mode 'median'", "nn.functional.embedding_bag", "mode must be one of 'sum', 'mean', 'max'",
    function() local _ = F.embedding_bag(I(0, 1), R(5, 2), I(0), { mode = "median" }) end },
  { "embedding_bag weights of another size", "nn.functional.embedding_bag", "must have the input's size (2)",
    function() local _ = F.embedding_bag(I(0, 1), R(5, 2), I(0), { mode = "sum", per_sample_weights = R(3) }) end },
  { "cosine_similarity of sizes that do not broadcast", "nn.functional.cosine_similarity", "",
    function() local _ = F.cosine_similarity(R(3, 4), R(2, 4)) end },
  { "pairwise_distance with p a string", "nn.functional.pairwise_distance", "p must be a number, got 'l2'",
    function() local _ = F.pairwise_distance(R(3, 4), R(3, 4), "l2") end },
}

local modules = {
  { "PReLU with 0 parameters", "nn.PReLU", "num_parameters must be >= 1, got 0", function() local _ = nn.PReLU(0) end },
  { "Softplus with a misspelt option", "nn.Softplus", "unknown option 'btea' (did you mean 'beta'?)",
    function() local _ = nn.Softplus { btea = 1 } end },
  { "Threshold without value", "nn.Threshold", "value is required", function() local _ = nn.Threshold(0.1) end },
  { "Dropout2d with p over 1", "nn.Dropout2d", "p must be <= 1, got 1.5", function() local _ = nn.Dropout2d(1.5) end },
  { "Dropout2d on a 1D input", "nn.Dropout2d(p=0.5, inplace=False)", "input of shape (3): expected a 3D or 4D input",
    function() local _ = nn.Dropout2d()(R(3)) end },
  { "GLU on an odd size", "nn.GLU(dim=-1)", "dim -1 has size 3, which glu cannot halve", function() local _ = nn.GLU()(R(3, 3)) end },
  { "PReLU on a string", "nn.PReLU(num_parameters=1)", "input 1 must be a tensor, got string",
    function() local _ = nn.PReLU()("x") end },
  { "ZeroPad2d with 2 sizes", "nn.ZeroPad2d", "padding must be a number or a list of 4 sizes, got 2",
    function() local _ = nn.ZeroPad2d { 1, 2 } end },
  { "ConstantPad1d without value", "nn.ConstantPad1d", "value is required", function() local _ = nn.ConstantPad1d(2) end },
  { "ReflectionPad2d wider than the input", "nn.ReflectionPad2d((5, 5, 5, 5))", "Padding size should be less than",
    function() local _ = nn.ReflectionPad2d(5)(R(1, 1, 3, 3)) end },
  { "Upsample without a target", "nn.Upsample", "give size or scale_factor", function() local _ = nn.Upsample {} end },
  { "Upsample linear on a 4D input", "nn.Upsample(scale_factor=2.0, mode=linear)", "mode 'linear' needs a 3D input",
    function() local _ = nn.Upsample { scale_factor = 2, mode = "linear" }(R(1, 1, 3, 3)) end },
  { "PixelShuffle by 0", "nn.PixelShuffle", "upscale_factor must be an integer >= 1, got 0", function() local _ = nn.PixelShuffle(0) end },
  { "EmbeddingBag with mode 'median'", "nn.EmbeddingBag", "mode must be one of 'sum', 'mean', 'max'",
    function() local _ = nn.EmbeddingBag(5, 3, { mode = "median" }) end },
  { "EmbeddingBag with padding_idx out of range", "nn.EmbeddingBag", "padding_idx must be within num_embeddings (5), got 7",
    function() local _ = nn.EmbeddingBag(5, 3, { padding_idx = 7 }) end },
  { "EmbeddingBag of float indices", "nn.EmbeddingBag(5, 3, mode=mean)", "input of shape (2, 3)",
    function() local _ = nn.EmbeddingBag(5, 3)(R(2, 3)) end },
  { "MaxUnpool2d without indices", "nn.MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))",
    "input 2 must be a tensor, got nil", function() local _ = nn.MaxUnpool2d(2)(R(1, 1, 2, 2)) end },
  { "MaxPool2d with return_indices a number", "nn.MaxPool2d", "return_indices must be a boolean, got 1",
    function() local _ = nn.MaxPool2d(2, { return_indices = 1 }) end },
  { "InstanceNorm1d on a 1D input", "nn.InstanceNorm1d(3, eps=1e-05", "expected a 2D or 3D input, got 1D",
    function() local _ = nn.InstanceNorm1d(3)(R(3)) end },
  { "InstanceNorm2d affine on the wrong channels", "nn.InstanceNorm2d(3, eps=1e-05", "input of shape (1, 4, 3, 3)",
    function() local _ = nn.InstanceNorm2d(3, { affine = true })(R(1, 4, 3, 3)) end },
  { "InstanceNorm3d with momentum a string", "nn.InstanceNorm3d", "momentum must be a number",
    function() local _ = nn.InstanceNorm3d(3, { momentum = "fast" }) end },
  { "CosineSimilarity with one input", "nn.CosineSimilarity()", "input 2 must be a tensor, got nil",
    function() local _ = nn.CosineSimilarity()(R(3, 4)) end },
}

local opts = { position = "functional_badcalls_spec%.lua:%d+:" }
describe("bad calls into nn.functional", function() badcalls(functional, opts) end)
describe("bad calls into the modules of issue 13", function() badcalls(modules, opts) end)
