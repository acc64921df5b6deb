-- Bad options tables on the torch side, generated: every nn constructor,
-- optimizer and scheduler option, and the tensor functions and methods
-- that take options, each given a misspelt key, a value of the wrong type,
-- NaN where a number is required and a negative where a non-negative one
-- is.  Every case must raise (never pass silently), name the API and the
-- option, and point at this file's line.  Huge counts come last: a clear
-- limit error, never an allocation the OOM killer ends.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_torch_options_spec.lua
local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"
local S = optim.lr_scheduler

local NAN = 0 / 0
local POS = "^spec/badcalls_torch_options_spec%.lua:%d+: "
local cases = {}

-- a value of another type than `kind` says
local WRONG = { number = "x", integer = "x", boolean = 5, string = 5, list = "x", enum = 5 }

-- {api, make(opts), {key = kind, ...}, {key = lower bound for "negative" cases}}
local function family(api, make, keys, nonneg, no_table_case)
  local names = {}
  for k in pairs(keys) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local kind = keys[k]
    cases[#cases + 1] = { api .. " misspelt " .. k, api, "unknown option", function()
      return make({ [k .. "x"] = 1 }) end }
    cases[#cases + 1] = { api .. " " .. k .. " of the wrong type", api, k, function()
      return make({ [k] = WRONG[kind] }) end }
    if kind == "number" or kind == "integer" then
      cases[#cases + 1] = { api .. " " .. k .. " = nan", api, k, function() return make({ [k] = NAN }) end }
    end
    if nonneg and nonneg[k] then
      cases[#cases + 1] = { api .. " " .. k .. " negative", api, k, function() return make({ [k] = -1.5 }) end }
    end
  end
  if not no_table_case then
    cases[#cases + 1] = { api .. " options not a table", api, "table", function() return make(7) end }
  end
end

-- {======================= nn constructors =======================
local function mod(name, ...)
  local args = table.pack(...)
  return function(o)
    args[args.n + 1] = o
    return nn[name](table.unpack(args, 1, args.n + 1))
  end
end
local I, N, B = "integer", "number", "boolean"
family("nn.Linear", mod("Linear", 3, 2), { bias = B })
family("nn.Bilinear", mod("Bilinear", 2, 3, 4), { bias = B })
family("nn.Embedding", mod("Embedding", 5, 3), { padding_idx = I, max_norm = N, norm_type = N, scale_grad_by_freq = B },
  { max_norm = true })
family("nn.Flatten", mod("Flatten"), { start_dim = I, end_dim = I })
for d = 1, 3 do
  local conv = { stride = I, padding = I, dilation = I, groups = I, bias = B, padding_mode = "enum" }
  local nonneg = { stride = true, padding = true, dilation = true, groups = true }
  family("nn.Conv" .. d .. "d", mod("Conv" .. d .. "d", 2, 4, 1), conv, nonneg)
  conv.output_padding, nonneg.output_padding = I, true
  conv.padding_mode = nil
  family("nn.ConvTranspose" .. d .. "d", mod("ConvTranspose" .. d .. "d", 2, 4, 1), conv, nonneg)
  family("nn.MaxPool" .. d .. "d", mod("MaxPool" .. d .. "d", 2), { stride = I, padding = I, dilation = I, ceil_mode = B },
    { stride = true, padding = true, dilation = true })
  local avg = { stride = I, padding = I, ceil_mode = B, count_include_pad = B }
  if d > 1 then avg.divisor_override = I end
  family("nn.AvgPool" .. d .. "d", mod("AvgPool" .. d .. "d", 2), avg, { stride = true, padding = true, divisor_override = true })
  family("nn.BatchNorm" .. d .. "d", mod("BatchNorm" .. d .. "d", 3), { eps = N, momentum = N, affine = B, track_running_stats = B },
    { eps = true, momentum = true })
end
family("nn.LayerNorm", mod("LayerNorm", 3), { eps = N, elementwise_affine = B }, { eps = true })
family("nn.GroupNorm", mod("GroupNorm", 1, 3), { eps = N, affine = B }, { eps = true })
family("nn.Dropout", mod("Dropout", 0.5), { inplace = B })
for _, name in ipairs { "LSTM", "GRU", "RNN" } do
  family("nn." .. name, mod(name, 2, 3), { num_layers = I, bias = B, batch_first = B, dropout = N, bidirectional = B },
    { num_layers = true, dropout = true }, true) -- a number there is num_layers
  cases[#cases + 1] = { "nn." .. name .. " options not a table", "nn." .. name, "table", function() return nn[name](2, 3, 1, 7) end }
end
for _, name in ipairs { "ReLU", "SiLU" } do family("nn." .. name, mod(name), { inplace = B }) end
family("nn.LeakyReLU", mod("LeakyReLU", 0.1), { inplace = B })
family("nn.ELU", mod("ELU", 1.0), { inplace = B })
family("nn.GELU", mod("GELU"), { approximate = "enum" })
-- positional numbers: NaN
for _, c in ipairs {
  { "nn.Dropout", function() return nn.Dropout(NAN) end }, { "nn.LeakyReLU", function() return nn.LeakyReLU(NAN) end },
  { "nn.ELU", function() return nn.ELU(NAN) end }, { "nn.Linear", function() return nn.Linear(NAN, 2) end },
  { "nn.Conv2d", function() return nn.Conv2d(2, 2, NAN) end }, { "nn.LSTM", function() return nn.LSTM(2, NAN) end },
} do cases[#cases + 1] = { c[1] .. " with a positional nan", c[1], "nan", c[2] } end
-- }=================================================================

-- {======================= optimizers =======================
local function params() return { torch.zeros(3, { requires_grad = true }) } end
for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS" } do
  local keys, nonneg = {}, {}
  for k, default in pairs(optim.kinds[name].defaults) do
    keys[k] = k == "betas" and "list" or type(default) == "boolean" and B or N
    if keys[k] == N then nonneg[k] = true end
  end
  local function make(o)
    o = type(o) == "table" and o or o
    if type(o) == "table" and o.lr == nil and name == "SGD" then o.lr = 0.1 end
    return optim[name](params(), o)
  end
  family("optim." .. name, make, keys, nonneg)
  if name ~= "LBFGS" then
    -- the same checks in a parameter group
    family("optim." .. name, function(o)
      if type(o) ~= "table" then o = { lr = o } end
      o.params = params()
      return optim[name]({ o }, { lr = 0.1 })
    end, { lr = N }, { lr = true }, true)
  end
  for _, v in ipairs { NAN, -1, "x" } do
    cases[#cases + 1] = { "optim." .. name .. ":set_lr(" .. tostring(v) .. ")", "set_lr", "learning rate", function()
      local o = optim[name](params(), { lr = 0.1 })
      local _ = o:set_lr(v)
    end }
  end
end
for _, name in ipairs { "SGD", "Adam", "AdamW" } do
  family("optim." .. name, function(o)
    if type(o) == "table" and o.lr == nil then o.lr = 0.1 end
    return optim.clear[name](params(), o)
  end, { lr = N, weight_decay = N }, { lr = true, weight_decay = true })
end
-- }=================================================================

-- {======================= schedulers =======================
local function opt() return optim.SGD(params(), { lr = 0.1, momentum = 0.9 }) end
local function sched(name, required)
  return function(o)
    if type(o) == "table" then for k, v in pairs(required) do if o[k] == nil then o[k] = v end end end
    return S[name](opt(), o)
  end
end
family("lr_scheduler.StepLR", sched("StepLR", { step_size = 2 }), { step_size = I, gamma = N, last_epoch = I, verbose = B })
family("lr_scheduler.MultiStepLR", sched("MultiStepLR", { milestones = { 1 } }), { milestones = "list", gamma = N, verbose = B })
family("lr_scheduler.ConstantLR", sched("ConstantLR", {}), { factor = N, total_iters = I, verbose = B }, { factor = true })
family("lr_scheduler.LinearLR", sched("LinearLR", {}), { start_factor = N, end_factor = N, total_iters = I },
  { start_factor = true, end_factor = true, total_iters = true })
family("lr_scheduler.ExponentialLR", sched("ExponentialLR", { gamma = 0.9 }), { gamma = N, verbose = B })
family("lr_scheduler.CosineAnnealingLR", sched("CosineAnnealingLR", { T_max = 3 }), { T_max = I, eta_min = N },
  { T_max = true })
family("lr_scheduler.OneCycleLR", sched("OneCycleLR", { max_lr = 1, total_steps = 10 }),
  { max_lr = N, total_steps = I, pct_start = N, anneal_strategy = "enum", cycle_momentum = B, base_momentum = N,
    max_momentum = N, div_factor = N, final_div_factor = N, three_phase = B },
  { total_steps = true, pct_start = true, div_factor = true, final_div_factor = true })
family("lr_scheduler.ReduceLROnPlateau", sched("ReduceLROnPlateau", {}),
  { mode = "enum", factor = N, patience = I, threshold = N, threshold_mode = "enum", cooldown = I, min_lr = N, eps = N },
  { patience = true, cooldown = true, threshold = true, eps = true })
family("lr_scheduler.LambdaLR", sched("LambdaLR", { lr_lambda = function() return 1 end }), { verbose = B })
-- }=================================================================

-- {======================= tensors =======================
local R = function() return torch.randn(2, 3) end
-- calls written out (t:sum(2, o), torch.zeros(2, 3, o)) so lauxlib names
-- the function; the chunk carries this file's name for the position check
local function call(code)
  return assert(load("local torch, t, o = ...; local _ = " .. code, "@spec/badcalls_torch_options_spec.lua"))
end
local function method(name, arg)
  local f = call(("t:%s(%s, o)"):format(name, arg or "2"))
  return function(o) return f(torch, R(), o) end
end
for _, name in ipairs { "sum", "mean", "prod" } do
  family(name, method(name), { keepdim = B, dtype = "string" })
  cases[#cases + 1] = { name .. " with an unknown dtype", name, "unknown dtype", function() return method(name)({ dtype = "float65" }) end }
end
for _, name in ipairs { "std", "var" } do
  family(name, method(name), { keepdim = B, unbiased = B, correction = N })
  cases[#cases + 1] = { name .. " with correction 2", name, "correction", function() return method(name)({ correction = 2 }) end }
end
for _, name in ipairs { "amax", "amin", "all", "any", "logsumexp", "norm" } do
  family(name, method(name), { keepdim = B })
end
for _, name in ipairs { "softmax", "log_softmax", "cumsum", "cumprod" } do
  family(name, method(name), { dtype = "string" })
  cases[#cases + 1] = { name .. " with dtype 'float65'", name, "unknown dtype", function() return method(name)("float65") end }
end
local backward = call("(t:requires_grad_() * 2):sum():backward(o)")
family("backward", function(o) return backward(torch, R(), o) end, { retain_graph = B, create_graph = B, inputs = "list" })
local function factory(code)
  local f = call(code)
  return function(o) return f(torch, R(), o) end
end
for _, name in ipairs { "zeros", "ones", "rand", "randn", "empty" } do
  family(name, factory("torch." .. name .. "(2, 3, o)"), { dtype = "string", requires_grad = B, device = "string" },
    nil, true) -- a number there is a size
end
family("tensor", factory("torch.tensor({ 1, 2 }, o)"), { dtype = "string", requires_grad = B })
family("full", factory("torch.full({ 2 }, 1.5, o)"), { dtype = "string", requires_grad = B })
family("arange", factory("torch.arange(0, 4, o)"), { dtype = "string", requires_grad = B }, nil, true)
family("zeros_like", factory("torch.zeros_like(t, o)"), { dtype = "string", requires_grad = B })
for _, c in ipairs {
  { "zeros", "dtyp", "dtype" }, { "randn", "requires_grd", "requires_grad" }, { "tensor", "dvice", "device" },
  { "sum", "keepdims", "keepdim" }, { "std", "corection", "correction" }, { "softmax", "dtpye", "dtype" },
} do
  local code = c[1] == "tensor" and "torch.tensor({1}, o)" or c[1] == "softmax" and "t:softmax(2, o)"
    or (c[1] == "sum" or c[1] == "std") and ("t:" .. c[1] .. "(o)") or ("torch." .. c[1] .. "(2, o)")
  local f = factory(code)
  cases[#cases + 1] = { c[1] .. " suggests " .. c[3], c[1], "did you mean '" .. c[3] .. "'", function() return f({ [c[2]] = 1 }) end }
end
-- }=================================================================

-- {======================= huge counts =======================
local BIG = 1 << 40
for _, c in ipairs {
  { "torch.zeros", function() return torch.zeros(BIG) end }, { "torch.zeros", function() return torch.zeros(1 << 62) end },
  { "torch.zeros", function() return torch.zeros(1 << 20, 1 << 20, 1 << 20) end },
  { "torch.ones", function() return torch.ones(BIG, 2) end }, { "torch.empty", function() return torch.empty(BIG) end },
  { "torch.rand", function() return torch.rand(BIG) end }, { "torch.randn", function() return torch.randn({ BIG }) end },
  { "torch.full", function() return torch.full({ BIG }, 1) end },
  { "torch.arange", function() return torch.arange(0, 1e18) end },
  { "torch.linspace", function() return torch.linspace(0, 1, BIG) end },
  { "torch.eye", function() return torch.eye(1 << 31) end }, { "torch.randperm", function() return torch.randperm(BIG) end },
  { "torch.randint", function() return torch.randint(0, 5, { BIG }) end },
  { "torch.repeat_tensor", function() return torch.zeros(2):repeat_tensor(BIG) end },
  { "torch.repeat_tensor", function() return torch.zeros(2, 3):repeat_tensor(1 << 30, 1 << 30) end },
  { "nn.Linear", function() return nn.Linear(BIG, 2) end }, { "nn.Linear", function() return nn.Linear(1 << 17, 1 << 17) end },
  { "nn.Bilinear", function() return nn.Bilinear(1 << 20, 1 << 20, 2) end },
  { "nn.Embedding", function() return nn.Embedding(BIG, 2) end },
  { "nn.Conv2d", function() return nn.Conv2d(1 << 20, 1 << 10, 3) end },
  { "nn.LSTM", function() return nn.LSTM(1 << 20, 1 << 14) end },
  { "nn.BatchNorm1d", function() return nn.BatchNorm1d(1 << 60) end },
} do
  cases[#cases + 1] = { c[1] .. " of a huge count", c[1], "clara.limits.tensor_bytes", c[2] }
end
-- }=================================================================

describe("bad options on the torch side", function()
  it("are hundreds of cases", function() assert.is_true(#cases >= 500, "only " .. #cases) end)
  for i, case in ipairs(cases) do
    it(("#%d %s"):format(i, case[1]), function()
      local ok, err = pcall(function() local _ = case[#case]() end)
      assert.is_false(ok, "accepted")
      assert.equal("string", type(err))
      assert.matches(POS, err)
      for k = 2, #case - 1 do assert.matches(case[k], err, 1, true) end
      assert.is_true(#err < 600, "message too long: " .. err)
    end)
  end

  it("backward{inputs=} accumulates only into the inputs, as PyTorch", function()
    local a = torch.ones(2, { requires_grad = true })
    local b = torch.ones(2, { requires_grad = true })
    local loss = (a * 3 + b * 5):sum()
    loss:backward({ inputs = { a } })
    assert.is_true(torch.equal(a.grad, torch.full({ 2 }, 3.0)))
    assert.is_nil(b.grad)
    loss = (a * 2):sum()
    loss:backward({ inputs = a })
    assert.is_true(torch.equal(a.grad, torch.full({ 2 }, 5.0)))
    local ok, err = pcall(function() local _ = (a * 2):sum():backward({ inputs = { a, 5 } }) end)
    assert.is_false(ok)
    assert.matches("entry 2 is a number", err, 1, true)
  end)

  it("dtype is honoured where PyTorch takes one", function()
    local x = torch.randn(2, 3)
    for _, name in ipairs { "softmax", "log_softmax", "cumsum", "cumprod" } do
      local y = x[name](x, 2, { dtype = "float64" })
      assert.equal("float64", y.dtype)
      -- the input is cast first, as PyTorch does
      assert.is_true(torch.allclose(x:double()[name](x:double(), 2), y))
      assert.equal("float64", x[name](x, 2, "float64").dtype)
    end
    for _, name in ipairs { "sum", "mean", "prod" } do
      assert.equal("float64", x[name](x, { dtype = "float64" }).dtype)
      assert.equal("float64", x[name](x, 2, { dtype = "float64", keepdim = true }).dtype)
    end
    assert.equal("int64", torch.tensor({ 1.5, 2.5 }):cumsum(1, { dtype = "int64" }).dtype)
    assert.equal("float64", nn.functional.softmax(x, 2, { dtype = "float64" }).dtype)
    assert.equal("float64", nn.functional.log_softmax(x, 2, "float64").dtype)
    assert.equal("float64", torch.softmax(x, 2, { dtype = "float64" }).dtype)
    assert.equal(0.0, (x:std(2, { correction = 0 }) - x:std(2, { unbiased = false })):abs():max():item())
  end)
end)
