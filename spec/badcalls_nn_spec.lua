-- Bad calls into nn modules: wrong input shapes and types, bad constructor
-- arguments, bad state_dicts.  Every one must raise a Lua error (never crash
-- the process) whose message names the module (or function) and says what
-- was wrong, with the shapes for forward errors, and never carries a C++
-- backtrace.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_nn_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local nn = require "torch.nn"

local R = torch.randn

-- { description, name the message must contain, what it must also contain
--   (a plain substring, case-insensitive), the bad call }
local cases = {
  -- forward: wrong shapes and types, named with the module and the shapes
  { "Linear with the wrong feature size", "Linear(in_features=784, out_features=256, bias=True)",
    "input of shape (2, 10): mat1 and mat2 shapes cannot be multiplied", function() return nn.Linear(784, 256)(R(2, 10)) end },
  { "Linear with an int64 input", "Linear(in_features=3", "(1, 3) int64", function() return nn.Linear(3, 2)(torch.tensor { { 1, 2, 3 } }) end },
  { "Linear with a number", "Linear(in_features=3", "input 1 must be a tensor, got number", function() return nn.Linear(3, 2)(5) end },
  { "Linear with nothing", "Linear(in_features=3", "input 1 must be a tensor, got nil", function() return nn.Linear(3, 2)() end },
  { "Bilinear with a wrong second input", "Bilinear(in1_features=2", "inputs of shapes (2, 2), (2, 2)", function() return nn.Bilinear(2, 3, 4)(R(2, 2), R(2, 2)) end },
  { "Bilinear with one input", "Bilinear(in1_features=2", "input 2 must be a tensor", function() return nn.Bilinear(2, 3, 4)(R(2, 2)) end },
  { "Conv2d with the wrong channels", "Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1))",
    "input of shape (2, 1, 28, 28): Given groups=1, weight of size [32, 3, 3, 3], expected input[2, 1, 28, 28] to have 3 channels", function() return nn.Conv2d(3, 32, 3)(R(2, 1, 28, 28)) end },
  { "Conv2d with a 1-d input", "Conv2d(3, 2", "input of shape (5)", function() return nn.Conv2d(3, 2, 3)(R(5)) end },
  { "Conv2d with a kernel larger than the input", "Conv2d(3, 2", "Kernel size can't be greater than actual input size", function() return nn.Conv2d(3, 2, 3)(R(1, 3, 2, 2)) end },
  { "Conv1d with a 4-d input", "Conv1d(2, 2", "input of shape (1, 2, 3, 3)", function() return nn.Conv1d(2, 2, 2)(R(1, 2, 3, 3)) end },
  { "ConvTranspose2d with the wrong channels", "ConvTranspose2d(2, 3", "to have 2 channels", function() return nn.ConvTranspose2d(2, 3, 3)(R(1, 3, 4, 4)) end },
  { "MaxPool2d on too small an input", "MaxPool2d(kernel_size=3", "Output size is too small", function() return nn.MaxPool2d(3)(R(1, 1, 2, 2)) end },
  { "AdaptiveAvgPool2d on a 1-d input", "AdaptiveAvgPool2d(output_size=2)", "input of shape (3)", function() return nn.AdaptiveAvgPool2d(2)(R(3)) end },
  { "BatchNorm1d with the wrong features", "BatchNorm1d(3", "running_mean should contain 4 elements not 3", function() return nn.BatchNorm1d(3)(R(2, 4)) end },
  { "BatchNorm1d with one sample in training", "BatchNorm1d(3", "Expected more than 1 value per channel when training", function() return nn.BatchNorm1d(3)(R(1, 3)) end },
  { "LayerNorm with the wrong last dim", "LayerNorm((4,)", "expected input with shape [*, 4]", function() return nn.LayerNorm(4)(R(2, 3)) end },
  { "GroupNorm with indivisible channels", "GroupNorm(2, 4", "divisible by num_groups", function() return nn.GroupNorm(2, 4)(R(2, 3, 5)) end },
  { "Embedding of floats", "Embedding(5, 3)", "'indices' to have one of the following scalar types", function() return nn.Embedding(5, 3)(R(2)) end },
  { "Embedding of an index out of range", "Embedding(5, 3)", "index out of range", function() return nn.Embedding(5, 3)(torch.tensor { 1, 7 }) end },
  { "LSTM with the wrong feature size", "LSTM(10, 20, num_layers=2, batch_first=True)",
    "input of shape (4, 7, 5): input.size(-1) must be equal to input_size. Expected 10, got 5", function() return nn.LSTM(10, 20, 2, { batch_first = true })(R(4, 7, 5)) end },
  { "LSTM with a 4-d input", "LSTM(3, 4)", "input must have 3 dimensions, got 4", function() return nn.LSTM(3, 4)(R(2, 1, 1, 3)) end },
  { "LSTM with a wrong h0", "LSTM(3, 4)", "inputs of shapes (2, 1, 3), (2, 1, 4), (1, 1, 4): Expected hidden[0] size", function()
      return nn.LSTM(3, 4)(R(2, 1, 3), { R(2, 1, 4), R(1, 1, 4) }) end },
  { "LSTM with a tensor as state", "LSTM(3, 4)", "state must be {h, c}", function() return nn.LSTM(3, 4)(R(2, 1, 3), R(1, 1, 4)) end },
  { "LSTM with half a state", "LSTM(3, 4)", "state must be {h, c}", function() return nn.LSTM(3, 4)(R(2, 1, 3), { R(1, 1, 4) }) end },
  { "GRU with a wrong h0", "GRU(3, 4)", "Expected hidden size", function() return nn.GRU(3, 4)(R(2, 1, 3), R(1, 2, 4)) end },
  { "GRU with a string state", "GRU(3, 4)", "input 2 must be a tensor, got string", function() return nn.GRU(3, 4)(R(2, 1, 3), "h") end },
  { "Softmax over a missing dim", "Softmax(dim=3)", "Dimension out of range", function() return nn.Softmax(3)(R(2, 3)) end },
  { "Unflatten into sizes that do not multiply up", "Unflatten(dim=2, unflattened_size=(2, 2))", "don't multiply up", function() return nn.Unflatten(2, { 2, 2 })(R(2, 6)) end },
  { "a shape error inside a Sequential", "Linear(in_features=8", "input of shape (3, 4)", function()
      return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(8, 1))(R(3, 2)) end },

  -- constructors
  { "Linear with a string size", "Linear", "in_features must be an integer, got 'a'", function() return nn.Linear("a", 3) end },
  { "Linear without out_features", "Linear", "out_features must be an integer, got nil", function() return nn.Linear(3) end },
  { "Linear with a fractional size", "Linear", "in_features must be an integer, got 2.5", function() return nn.Linear(2.5, 3) end },
  { "Linear with a negative size", "Linear", "in_features must be >= 0", function() return nn.Linear(-1, 3) end },
  { "Linear with a misspelt option", "Linear", "unknown option 'biass'", function() return nn.Linear(3, 3, { biass = true }) end },
  { "Linear with bias not a boolean", "Linear", "bias must be a boolean", function() return nn.Linear(3, 3, { bias = 1 }) end },
  { "Linear with options not a table", "Linear", "options must be a table", function() return nn.Linear(3, 3, "x") end },
  { "Bilinear with a zero size", "Bilinear", "in1_features must be >= 1", function() return nn.Bilinear(0, 2, 3) end },
  { "Conv2d without kernel_size", "Conv2d", "kernel_size must be a number or a list of 2 numbers, got nil", function() return nn.Conv2d(3, 2) end },
  { "Conv2d with three kernel sizes", "Conv2d", "kernel_size must be a number or a list of 2 numbers, got a list of 3", function() return nn.Conv2d(3, 2, { 3, 3, 3 }) end },
  { "Conv2d with a zero kernel", "Conv2d", "kernel_size must be >= 1", function() return nn.Conv2d(3, 2, 0) end },
  { "Conv2d with indivisible groups", "Conv2d", "in_channels (3) must be divisible by groups (2)", function() return nn.Conv2d(3, 2, 3, { groups = 2 }) end },
  { "Conv2d same padding with a stride", "Conv2d", "padding='same' is not supported for strided convolutions", function()
      return nn.Conv2d(3, 2, 3, { padding = "same", stride = 2 }) end },
  { "Conv2d with an unknown padding mode", "Conv2d", "padding_mode must be zeros, reflect, replicate or circular, got 'mirror'", function()
      return nn.Conv2d(3, 2, 3, { padding_mode = "mirror" }) end },
  { "Conv2d with a negative padding", "Conv2d", "padding must be >= 0", function() return nn.Conv2d(3, 2, 3, { padding = -1 }) end },
  { "ConvTranspose2d with same padding", "ConvTranspose2d", "padding must be numbers", function() return nn.ConvTranspose2d(2, 2, 3, { padding = "same" }) end },
  { "MaxPool2d with too much padding", "MaxPool2d", "should be at most half of kernel_size", function() return nn.MaxPool2d(2, { padding = 2 }) end },
  { "MaxPool2d with a string kernel", "MaxPool2d", "kernel_size must be a number", function() return nn.MaxPool2d("2") end },
  { "AvgPool1d with divisor_override", "AvgPool1d", "unknown option 'divisor_override'", function() return nn.AvgPool1d(2, { divisor_override = 2 }) end },
  { "AdaptiveAvgPool2d of a string", "AdaptiveAvgPool2d", "output_size must be a number or a list of 2", function() return nn.AdaptiveAvgPool2d("a") end },
  { "BatchNorm2d of zero features", "BatchNorm2d", "num_features must be >= 1", function() return nn.BatchNorm2d(0) end },
  { "BatchNorm2d with momentum 2", "BatchNorm2d", "momentum must be in [0, 1]", function() return nn.BatchNorm2d(3, { momentum = 2 }) end },
  { "BatchNorm1d with a string eps", "BatchNorm1d", "eps must be a number", function() return nn.BatchNorm1d(3, { eps = "small" }) end },
  { "LayerNorm of a string", "LayerNorm", "normalized_shape must be an integer", function() return nn.LayerNorm("x") end },
  { "GroupNorm with indivisible channels", "GroupNorm", "num_channels (4) must be divisible by num_groups (3)", function() return nn.GroupNorm(3, 4) end },
  { "Dropout with p above 1", "Dropout", "p must be in [0, 1], got 1.5", function() return nn.Dropout(1.5) end },
  { "Dropout with inplace a string", "Dropout", "inplace must be a boolean", function() return nn.Dropout(0.5, { inplace = "yes" }) end },
  { "Embedding with padding_idx out of range", "Embedding", "padding_idx must be within num_embeddings (5), got 5", function()
      return nn.Embedding(5, 3, { padding_idx = 5 }) end },
  { "LSTM without hidden_size", "LSTM", "hidden_size must be an integer, got nil", function() return nn.LSTM(3) end },
  { "LSTM with proj_size too large", "LSTM", "proj_size (4) must be smaller than hidden_size (4)", function() return nn.LSTM(3, 4, { proj_size = 4 }) end },
  { "GRU with proj_size", "GRU", "proj_size is only for LSTM", function() return nn.GRU(3, 4, { proj_size = 2 }) end },
  { "RNN with an unknown nonlinearity", "RNN", "nonlinearity must be 'tanh' or 'relu', got 'sigmoid'", function() return nn.RNN(3, 4, { nonlinearity = "sigmoid" }) end },
  { "LSTM with zero layers", "LSTM", "num_layers must be >= 1", function() return nn.LSTM(3, 4, 0) end },
  { "Softmax without dim", "Softmax", "dim is required", function() return nn.Softmax() end },
  { "LogSoftmax with dim 0", "LogSoftmax", "dim must not be 0 (dims are 1-based)", function() return nn.LogSoftmax(0) end },
  { "GELU with an unknown approximation", "GELU", "approximate must be 'none' or 'tanh', got 'fast'", function() return nn.GELU("fast") end },
  { "LeakyReLU with a string slope", "LeakyReLU", "negative_slope must be a number", function() return nn.LeakyReLU("x") end },
  { "Unflatten with a number of sizes", "Unflatten", "unflattened_size must be a list of sizes", function() return nn.Unflatten(2, 6) end },
  { "Flatten from dim 0", "Flatten", "start_dim must not be 0", function() return nn.Flatten({ start_dim = 0 }) end },
  { "Sequential of a number", "Sequential", "element 2 is not a module", function() return nn.Sequential(nn.ReLU(), 5) end },
  { "Parameter of a number", "Parameter", "expected a tensor", function() return nn.Parameter(3) end },
  { "register_buffer of a string", "buffer 'b' must be a tensor", "", function() return nn.Linear(2, 2):register_buffer("b", "x") end },
  { "a parameter name with a dot", "Linear", "bad parameter name 'a.b'", function()
      return nn.Linear(2, 2):register_parameter("a.b", torch.zeros(1)) end },

  -- state_dicts
  { "load_state_dict with a missing key", "load_state_dict", "missing keys {bias}", function()
      return nn.Linear(3, 2):load_state_dict({ weight = torch.zeros(2, 3) }) end },
  { "load_state_dict with an unexpected key", "load_state_dict", "unexpected keys {extra}", function()
      return nn.Linear(3, 2):load_state_dict({ weight = torch.zeros(2, 3), bias = torch.zeros(2), extra = torch.zeros(1) }) end },
  { "load_state_dict with a wrong shape", "load_state_dict",
    "size mismatch for 'weight': shape (2, 3) in the model, (3, 2) in the state", function()
      return nn.Linear(3, 2):load_state_dict({ weight = torch.zeros(3, 2), bias = torch.zeros(2) }) end },
  { "load_state_dict with a wrong nested shape", "load_state_dict", "size mismatch for '0.weight': shape (3, 2) in the model, (4, 2)", function()
      return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)):load_state_dict(
        nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4)):state_dict()) end },
  { "load_state_dict with a number", "load_state_dict", "'bias' is a number, not a tensor", function()
      return nn.Linear(3, 2):load_state_dict({ weight = torch.zeros(2, 3), bias = 1 }) end },
  { "load_state_dict of a string", "load_state_dict", "expected a table of tensors, got string", function()
      return nn.Linear(3, 2):load_state_dict("weights.pt") end },
  { "capture of a missing submodule", "capture", "no submodule 'fc9'", function()
      local m = nn.Sequential(nn.Linear(2, 2))
      return m:capture({ "fc9" }, R(1, 2)) end },
}

describe("bad calls into nn", function()
  it("are many", function() assert.is_true(#cases >= 60, "only " .. #cases .. " cases") end)

  badcalls(cases)

  it("leave modules usable", function()
    collectgarbage()
    local m = nn.Linear(3, 2)
    pcall(m, R(2, 5))
    assert.are.same({ 4, 2 }, m(R(4, 3)):size())
    assert.is_true(torch.is_grad_enabled())
  end)
end)
